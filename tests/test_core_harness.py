"""The harness end to end: store, reuse, failures, time limits, processes, resume."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from toolkit.bench import load_results, run_suite
from tests.conftest import REPO, TOY

SUITE = """
suites:
  toy:
    seeds: [0, 1, 2]
    timeout: 30
    tasks:
      - task: toy-normal
        config: {budget: 1500}
      - task: toy-probe
      - task: toy-distill
      - task: toy-regression
        config: {steps: 150}
    components:
      sampler:
        - name: toy-metropolis
        - name: toy-metropolis
          label: small-step
          config: {step: 0.05}
        - name: toy-needs-gradient
      probe: all
      distiller: all
      architecture: [{name: toy-linear}]
"""


def count_runs(manager, registry, results, **options):
    ran = []
    rows = run_suite(
        "toy",
        registry=registry,
        results=results,
        manager=manager,
        on_result=lambda cell, result: ran.append((cell, result)),
        **options,
    )
    return rows, ran


def test_second_run_reuses_every_cell(manager, write_registry, tmp_path):
    registry = write_registry(SUITE)
    rows, ran = count_runs(manager, registry, tmp_path)
    assert len(ran) == 3 * (3 + 1 + 1 + 1)
    again, ran_again = count_runs(manager, registry, tmp_path)
    assert ran_again == []
    assert [r.to_json() for r in rows] == [r.to_json() for r in again]


def test_leaderboard_ranks_by_declared_direction(manager, write_registry, tmp_path):
    rows, _ = count_runs(manager, write_registry(SUITE), tmp_path)
    normal = {r.components["sampler"]: r for r in rows if r.task == "toy-normal"}
    # A step of 0.05 mixes far slower than 1.0 on a unit normal, so its error
    # of the mean is larger. The rank must follow the "lower is better" metric.
    assert normal["toy-metropolis"].mean < normal["small-step"].mean
    assert normal["toy-metropolis"].rank == 1
    assert normal["small-step"].rank == 2
    assert normal["toy-needs-gradient"].status == "not_applicable"
    assert normal["toy-needs-gradient"].rank is None
    probe = next(r for r in rows if r.task == "toy-probe")
    assert probe.direction == "higher"
    assert probe.mean > 0.99


def test_failed_cell_is_stored_and_retried(manager, write_registry, tmp_path):
    registry = write_registry(
        """
        suites:
          toy:
            seeds: [0, 1]
            tasks:
              - task: toy-sleep
                config: {fail_seeds: [1]}
            components:
              sampler: [{name: toy-metropolis}]
        """
    )
    rows, ran = count_runs(manager, registry, tmp_path)
    statuses = sorted(result["status"] for _, result in ran)
    assert statuses == ["failed", "ok"]
    assert rows[0].status == "failed"
    assert rows[0].rank is None
    assert "seed 1 is set to fail" in rows[0].errors[0]
    _, ran_again = count_runs(manager, registry, tmp_path)
    assert [cell.seed for cell, _ in ran_again] == [1]


def test_time_limit_fails_the_cell(manager, write_registry, tmp_path):
    registry = write_registry(
        """
        suites:
          toy:
            timeout: 0.3
            tasks:
              - task: toy-sleep
                config: {seconds: 5}
            components:
              sampler: [{name: toy-metropolis}]
        """
    )
    start = time.perf_counter()
    rows, _ = count_runs(manager, registry, tmp_path)
    assert time.perf_counter() - start < 4
    assert rows[0].status == "failed"
    assert "timed out after 0.3 s" in rows[0].errors[0]


def test_processes_give_same_results_as_serial(manager, write_registry, tmp_path):
    registry = write_registry(SUITE)
    serial, _ = count_runs(manager, registry, tmp_path / "serial")
    parallel, ran = count_runs(manager, registry, tmp_path / "parallel", jobs=2)
    assert len(ran) == 18
    assert [r.to_json() for r in serial] == [r.to_json() for r in parallel]


def test_force_reruns_everything(manager, write_registry, tmp_path):
    registry = write_registry(SUITE)
    count_runs(manager, registry, tmp_path)
    _, ran = count_runs(manager, registry, tmp_path, force=True)
    assert len(ran) == 18


def test_results_formats_from_store(manager, write_registry, tmp_path, run_cli):
    registry = write_registry(SUITE)
    count_runs(manager, registry, tmp_path)

    code, out, _ = run_cli("results", "--results", str(tmp_path), "--format", "json")
    assert code == 0
    rows = json.loads(out)
    required = {"suite", "task", "components", "metric", "mean", "std", "n", "status"}
    assert all(required <= set(row) for row in rows)
    assert {row["task"] for row in rows} == {
        "toy-normal",
        "toy-probe",
        "toy-distill",
        "toy-regression",
    }

    code, out, _ = run_cli("results", "--results", str(tmp_path), "--format", "csv")
    table = list(csv.DictReader(io.StringIO(out)))
    assert len(table) == len(rows)
    assert {"sampler", "probe", "mean", "rank"} <= set(table[0])

    code, out, _ = run_cli(
        "results", "--results", str(tmp_path), "--format", "markdown"
    )
    assert "| rank | sampler |" in out

    code, out, _ = run_cli("results", "--results", str(tmp_path), "--format", "html")
    assert out.startswith("<!DOCTYPE html>")
    assert "toy-metropolis" in out
    assert "data:image/png;base64," in out

    plot = tmp_path / "board.png"
    code, _, err = run_cli("results", "--results", str(tmp_path), "--plot", str(plot))
    assert code == 0
    assert plot.read_bytes()[:4] == b"\x89PNG"


def test_results_without_store_explains(run_cli, tmp_path):
    code, _, err = run_cli("results", "--results", str(tmp_path / "empty"))
    assert code == 2
    assert "run 'toolkit bench' first" in err


def test_results_unknown_suite_lists_stored(manager, write_registry, tmp_path, run_cli):
    count_runs(manager, write_registry(SUITE), tmp_path)
    code, _, err = run_cli("results", "--results", str(tmp_path), "--suite", "other")
    assert code == 2
    assert "stored suites: toy" in err


def test_bench_cli_exit_codes(write_registry, tmp_path, run_cli):
    registry = write_registry(SUITE)
    common = (
        "--registry",
        str(registry),
        "--suite",
        "toy",
        "--results",
        str(tmp_path),
        "--plugin",
        TOY,
    )
    code, out, err = run_cli("bench", *common, "--no-progress")
    assert code == 0
    assert "toy-metropolis" in out
    code, _, err = run_cli("bench", *common, "--no-progress")
    assert "18 reused" in err

    failing = write_registry(
        SUITE.replace(
            "config: {steps: 150}",
            "config: {steps: 150}\n      - task: toy-sleep\n        config: {fail_seeds: [0]}",
        ),
        "f.yaml",
    )
    code, out, err = run_cli(
        "bench",
        "--registry",
        str(failing),
        "--suite",
        "toy",
        "--results",
        str(tmp_path),
        "--plugin",
        TOY,
        "--no-progress",
    )
    assert code == 1
    assert "FAILED" in out


def test_bench_cli_bad_input_exits_2(write_registry, tmp_path, run_cli):
    registry = write_registry(SUITE.replace("step: 0.05", "step: fast"))
    code, _, err = run_cli(
        "bench",
        "--registry",
        str(registry),
        "--suite",
        "toy",
        "--results",
        str(tmp_path),
        "--plugin",
        TOY,
    )
    assert code == 2
    assert "config.step" in err
    code, _, err = run_cli(
        "bench", "--registry", str(registry), "--suite", "nope", "--plugin", TOY
    )
    assert code == 2
    assert "unknown suite 'nope'" in err
    code, _, err = run_cli("bench", "--jobs", "0", "--registry", str(registry))
    assert code == 2
    assert "--jobs must be at least 1; received 0" in err


def test_bad_input_keeps_stored_results(manager, write_registry, tmp_path, run_cli):
    count_runs(manager, write_registry(SUITE), tmp_path)
    broken = write_registry("suites: [", "broken.yaml")
    code, _, err = run_cli(
        "bench", "--registry", str(broken), "--results", str(tmp_path)
    )
    assert code == 2
    assert len(load_results(tmp_path, "toy")) == 6


def _stored(path, status="ok"):
    database = path / "toolkit.sqlite"
    if not database.exists():
        return 0
    connection = sqlite3.connect(database)
    try:
        return connection.execute(
            "SELECT COUNT(*) FROM cells WHERE status = ?", (status,)
        ).fetchone()[0]
    except sqlite3.OperationalError:
        # The benchmark process has created the file but not its tables yet.
        return 0
    finally:
        connection.close()


SLOW_SUITE = """
suites:
  toy:
    seeds: [0, 1, 2, 3, 4, 5, 6, 7]
    tasks:
      - task: toy-sleep
        config: {seconds: 0.4}
    components:
      sampler: [{name: toy-metropolis}]
"""


def _start_bench(registry, results, *extra):
    env = {**os.environ, "TOOLKIT_PLUGINS": TOY, "PYTHONPATH": str(REPO)}
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "toolkit.cli",
            "bench",
            "--registry",
            str(registry),
            "--suite",
            "toy",
            "--results",
            str(results),
            "--no-progress",
            *extra,
        ],
        env=env,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for(results, count, process, limit=60):
    deadline = time.monotonic() + limit
    while _stored(results) < count:
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "benchmark made no progress"
        time.sleep(0.05)


@pytest.mark.parametrize(
    ("how", "jobs"), [("kill", "1"), ("interrupt", "1"), ("interrupt", "2")]
)
def test_interrupted_run_keeps_cells_and_resumes(write_registry, tmp_path, how, jobs):
    registry = write_registry(SLOW_SUITE)
    process = _start_bench(registry, tmp_path, "--jobs", jobs)
    _wait_for(tmp_path, 2, process)
    process.send_signal(signal.SIGKILL if how == "kill" else signal.SIGINT)
    _, err = process.communicate(timeout=30)
    finished = _stored(tmp_path)
    assert 2 <= finished < 8
    if how == "interrupt":
        assert process.returncode == 130
        assert "run the same command again to resume" in err

    process = _start_bench(registry, tmp_path)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    assert f"{finished} reused" in err
    assert _stored(tmp_path) == 8


def test_infinite_scores_rank_last():
    from toolkit.bench.leaderboard import build_rows

    def cell(label, seed, value):
        return {
            "task": "t",
            "components": {"sampler": label},
            "seed": seed,
            "metric": "error",
            "direction": "lower",
            "status": "ok",
            "metrics": {"error": value},
            "error": None,
        }

    rows = build_rows(
        "s",
        [
            cell("diverges", 0, float("inf")),
            cell("diverges", 1, 0.1),
            cell("fine", 0, 0.3),
            cell("fine", 1, 0.2),
        ],
    )
    by_label = {row.components["sampler"]: row for row in rows}
    assert by_label["fine"].rank == 1
    assert by_label["diverges"].rank == 2
    assert by_label["diverges"].mean == float("inf")
    assert by_label["diverges"].to_json()["mean"] is None


def test_results_of_several_suites_in_one_output(
    manager, write_registry, tmp_path, run_cli
):
    registry = write_registry(
        SUITE + SUITE.replace("  toy:", "  toy2:").replace("suites:\n", "")
    )
    for suite in ("toy", "toy2"):
        run_suite(suite, registry=registry, results=tmp_path, manager=manager)
    code, out, _ = run_cli("results", "--results", str(tmp_path), "--format", "csv")
    lines = out.strip().splitlines()
    assert lines[0].startswith("suite,task,")
    assert sum(line.startswith("suite,") for line in lines) == 1
    assert {line.split(",")[0] for line in lines[1:]} == {"toy", "toy2"}
    code, out, _ = run_cli("results", "--results", str(tmp_path), "--format", "html")
    assert out.count("<!DOCTYPE html>") == 1
    assert "suite toy2:" in out
