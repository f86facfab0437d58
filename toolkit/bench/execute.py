"""Run cells: one at a time in this process, or in a pool of local processes.

A cell that raises, or runs past its time limit, becomes a ``failed`` result
with its error; it never stops the run. Each result is stored the moment it
arrives, so an interrupted run (Ctrl-C, a killed process) keeps every
finished cell and the next run resumes from there.
"""

from __future__ import annotations

import contextlib
import logging
import math
import multiprocessing
import random
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from pathlib import Path
from typing import Any

from toolkit.bench.plan import Cell
from toolkit.bench.store import Store
from toolkit.interfaces import NotApplicable, RunContext
from toolkit.plugins import PluginManager

logger = logging.getLogger("toolkit")


class CellTimeout(Exception):
    """A cell ran past its time limit."""


@contextlib.contextmanager
def _time_limit(seconds: float) -> Iterator[None]:
    """Raise :class:`CellTimeout` in this thread after ``seconds``.

    NOTE: this uses SIGALRM, so it works only in a main thread on POSIX. It
    interrupts Python code but not a long call inside a C extension, which
    is timed out when it returns.
    """
    usable = (
        hasattr(signal, "setitimer")
        and threading.current_thread() is threading.main_thread()
        and math.isfinite(seconds)
    )
    if not usable:
        yield
        return

    def _expire(signum: int, frame: Any) -> None:
        msg = f"cell timed out after {seconds:g} s (raise the suite's 'timeout:')"
        raise CellTimeout(msg)

    previous = signal.signal(signal.SIGALRM, _expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _seed_global_generators(seed: int, uses_torch: bool) -> None:
    """Seed the global generators too, for components that use them.

    torch is imported first when a component is an Architecture, so that
    its generator is seeded whether or not an earlier cell in this process
    imported it. Otherwise a worker process and a serial run would differ.
    """
    if uses_torch:
        import torch  # noqa: F401 - imported for its global generator

    random.seed(seed)
    try:
        import numpy as np

        np.random.seed(seed % 2**32)
    except ImportError:  # pragma: no cover - numpy is a dependency
        pass
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.manual_seed(seed)


def run_cell(
    cell: Cell, manager: PluginManager, artifacts: Path | None = None
) -> dict[str, Any]:
    """Run one cell in this process and return its result record.

    Every ``Exception`` from the task becomes a ``failed`` record;
    ``KeyboardInterrupt`` and ``SystemExit`` propagate.
    """
    started = time.time()
    clock = time.perf_counter()
    try:
        with _time_limit(cell.timeout):
            task_entry = manager.get("task", cell.task)
            task = task_entry.cls(
                task_entry.cls.Config.model_validate(cell.task_config)
            )
            components = {}
            for slot, spec in cell.components.items():
                entry = manager.get(spec["kind"], spec["name"])
                components[slot] = entry.cls(
                    entry.cls.Config.model_validate(spec["config"])
                )
            if artifacts is not None:
                artifacts.mkdir(parents=True, exist_ok=True)
            uses_torch = any(
                spec["kind"] == "architecture" for spec in cell.components.values()
            )
            _seed_global_generators(cell.seed, uses_torch)
            context = RunContext(seed=cell.seed, artifacts=artifacts)
            raw = task.run(components, context)
        metrics = _check_metrics(cell, raw)
        status, error = "ok", None
    except NotApplicable as reason:
        metrics, status, error = {}, "not_applicable", str(reason)
    except Exception as exc:  # noqa: BLE001 - any failure of a cell is recorded
        metrics, status = {}, "failed"
        error = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        logger.debug("cell %s failed:\n%s", cell.title, traceback.format_exc())
    return {
        "status": status,
        "metrics": metrics,
        "error": error,
        "started": started,
        "duration": time.perf_counter() - clock,
    }


def _check_metrics(cell: Cell, raw: Any) -> dict[str, float]:
    if not isinstance(raw, dict):
        msg = f"task {cell.task!r} returned {type(raw).__name__}, expected a dict of metrics"
        raise TypeError(msg)
    metrics = {str(name): float(value) for name, value in raw.items()}
    if cell.metric not in metrics:
        msg = (
            f"task {cell.task!r} returned no value for its primary metric "
            f"{cell.metric!r}; it returned: {', '.join(sorted(metrics)) or 'nothing'}"
        )
        raise ValueError(msg)
    if math.isnan(metrics[cell.metric]):
        msg = f"primary metric {cell.metric!r} is NaN"
        raise ValueError(msg)
    return metrics


# -- worker processes ------------------------------------------------------

_WORKER_MANAGER: PluginManager | None = None


def _worker_init(strict: bool, extra_plugins: tuple[str, ...]) -> None:
    global _WORKER_MANAGER
    # The parent handles Ctrl-C; workers finish or are cancelled.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    from toolkit.plugins import load_plugins

    _WORKER_MANAGER = load_plugins(strict=strict, extra=extra_plugins)


def _worker_run(cell: Cell, artifacts: Path | None) -> dict[str, Any]:
    assert _WORKER_MANAGER is not None
    return run_cell(cell, _WORKER_MANAGER, artifacts)


# -- the run ---------------------------------------------------------------


class Runner:
    """Run the pending cells of a plan and store each result as it arrives.

    Parameters
    ----------
    store : Store
        Where results go.
    manager : PluginManager
        Plugins for serial runs; worker processes load their own.
    jobs : int
        1 runs cells in this process; more uses that many processes.
    on_result : callable
        ``on_result(cell, result)`` after each stored result (progress bars).
    on_start : callable
        ``on_start(cell)`` when a cell starts (serial runs only).
    keep_artifacts : bool
        Give each cell a folder ``artifacts/<key>`` under the results folder.
    """

    def __init__(
        self,
        store: Store,
        manager: PluginManager,
        *,
        jobs: int = 1,
        on_result: Callable[[Cell, dict[str, Any]], None] | None = None,
        on_start: Callable[[Cell], None] | None = None,
        keep_artifacts: bool = True,
    ):
        if jobs < 1:
            msg = f"--jobs must be at least 1; received {jobs}"
            raise ValueError(msg)
        self.store = store
        self.manager = manager
        self.jobs = jobs
        self.on_result = on_result or (lambda cell, result: None)
        self.on_start = on_start or (lambda cell: None)
        self.keep_artifacts = keep_artifacts

    def _artifacts(self, cell: Cell) -> Path | None:
        return self.store.artifact_folder(cell.key) if self.keep_artifacts else None

    def _finish(self, cell: Cell, result: dict[str, Any]) -> None:
        self.store.save_result(cell, result)
        self.on_result(cell, result)

    def run(self, cells: list[Cell]) -> None:
        """Run ``cells`` (already filtered to those that need running)."""
        if self.jobs == 1 or len(cells) <= 1:
            for cell in cells:
                self.on_start(cell)
                self._finish(cell, run_cell(cell, self.manager, self._artifacts(cell)))
            return
        self._run_pool(cells)

    def _run_pool(self, cells: list[Cell]) -> None:
        context = multiprocessing.get_context("spawn")
        executor = ProcessPoolExecutor(
            max_workers=min(self.jobs, len(cells)),
            mp_context=context,
            initializer=_worker_init,
            initargs=(self.manager.strict, tuple(self.manager.extra_modules)),
        )
        pending: dict[Future, Cell] = {}
        try:
            for cell in cells:
                future = executor.submit(_worker_run, cell, self._artifacts(cell))
                pending[future] = cell
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    cell = pending.pop(future)
                    try:
                        result = future.result()
                    except Exception as exc:  # noqa: BLE001 - a worker died
                        result = {
                            "status": "failed",
                            "metrics": {},
                            "error": f"worker process failed: {type(exc).__name__}: {exc}",
                            "started": time.time(),
                            "duration": 0.0,
                        }
                    self._finish(cell, result)
        except KeyboardInterrupt:
            # Stop the cells still running: their results would be discarded
            # anyway, and waiting for them could take as long as a cell's
            # time limit. The private `_processes` map is the only handle on
            # them that ProcessPoolExecutor offers (Python 3.10 to 3.13).
            for process in list(getattr(executor, "_processes", {}).values()):
                process.terminate()
            raise
        finally:
            executor.shutdown(wait=True, cancel_futures=True)
