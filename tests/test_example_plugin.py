"""The example third-party plugin installs with pip and joins the leaderboard."""

from __future__ import annotations

import json
import os
import shutil
import site
import subprocess
import sys
import textwrap
import venv

import pytest

from tests.conftest import REPO

EXAMPLE = REPO / "examples" / "toolkit-example-plugin"


@pytest.fixture(scope="module")
def plugin_env(tmp_path_factory):
    """A fresh virtual environment that can import this environment's packages.

    A ``.pth`` file adds the current site-packages (toolkit, numpy, ...), so
    only the example plugin itself is installed, with pip, into the new one.
    """
    root = tmp_path_factory.mktemp("venv")
    venv.create(root, with_pip=True)
    python = root / "bin" / "python"
    new_site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    parents = [path for path in site.getsitepackages() if os.path.isdir(path)]
    with open(os.path.join(new_site, "toolkit-parent.pth"), "w") as handle:
        # `site.addsitedir` also runs the parent's own .pth files, which is
        # where an editable install of toolkit lives.
        for path in parents:
            handle.write(f"import site; site.addsitedir({path!r})\n")
    # Build the wheel with this environment's setuptools (no download), then
    # install it with the new environment's own pip.
    wheels = root / "wheels"
    source = root / "source"
    shutil.copytree(EXAMPLE, source)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "--wheel-dir",
            str(wheels),
            str(source),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    (wheel,) = wheels.glob("toolkit_example_plugin-*.whl")
    subprocess.run(
        [
            python,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-index",
            str(wheel),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    return python


def toolkit(python, *args, cwd):
    return subprocess.run(
        [python, "-m", "toolkit.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, "TOOLKIT_STRICT_PLUGINS": "1"},
    )


def test_plugins_json_lists_example(plugin_env, tmp_path):
    result = toolkit(plugin_env, "plugins", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    listing = {item["name"]: item for item in json.loads(result.stdout)}
    assert listing["example"]["distribution"] == "toolkit-example-plugin"
    assert listing["example"]["version"] == "0.1.0"
    assert listing["example"]["provides"] == {"sampler": ["adaptive-metropolis"]}
    assert listing["aldi"]["status"] == "ok"


def test_bench_ranks_example_sampler(plugin_env, tmp_path):
    registry = tmp_path / "registry.yaml"
    registry.write_text(
        textwrap.dedent(
            """
        suites:
          third-party:
            seeds: [0, 1]
            tasks:
              - task: gaussian
                label: gaussian-k100
                config: {condition_number: 100.0, dim: 4, budget: 8000}
            components:
              sampler:
                - name: adaptive-metropolis
                - name: rwm
        """
        )
    )
    result = toolkit(
        plugin_env,
        "bench",
        "--registry",
        str(registry),
        "--suite",
        "third-party",
        "--results",
        str(tmp_path / "results"),
        "--format",
        "json",
        "--no-progress",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    rows = {row["components"]["sampler"]: row for row in json.loads(result.stdout)}
    assert rows["adaptive-metropolis"]["status"] == "ok"
    assert rows["adaptive-metropolis"]["rank"] in (1, 2)
    assert rows["adaptive-metropolis"]["n"] == 2
