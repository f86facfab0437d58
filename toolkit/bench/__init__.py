"""The benchmark harness: plan cells, run them, store results, rank them.

Python API::

    from toolkit.bench import run_suite, load_results
    rows = run_suite("quick", results="toolkit-results")
    rows = load_results("toolkit-results", "quick")  # from the store only
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from toolkit.bench.leaderboard import Row, build_rows
from toolkit.bench.plan import Cell, plan_suite
from toolkit.bench.store import Store

RESULTS_ENV = "TOOLKIT_RESULTS"
DEFAULT_RESULTS = "toolkit-results"

__all__ = [
    "Cell",
    "Row",
    "default_results_folder",
    "load_results",
    "pending_cells",
    "plan",
    "run_suite",
]


def default_results_folder() -> Path:
    """Return ``$TOOLKIT_RESULTS`` or ``./toolkit-results``."""
    return Path(os.environ.get(RESULTS_ENV) or DEFAULT_RESULTS)


def plan(suite: str, registry: str | os.PathLike[str] | None, manager) -> list[Cell]:
    """Load the registry and return the suite's cells, validated."""
    from toolkit.registry import load_registry

    spec = load_registry(registry).suite(suite)
    return plan_suite(suite, spec, manager)


def pending_cells(store: Store, cells: list[Cell], force: bool = False) -> list[Cell]:
    """Return the cells to run: not stored yet, or stored as failed.

    Finished (``ok``) and not-applicable cells are reused; ``force`` reruns
    everything.
    """
    if force:
        return list(cells)
    done = store.finished(cell.key for cell in cells)
    unique = {}
    for cell in cells:
        if done.get(cell.key) in ("ok", "not_applicable"):
            continue
        unique.setdefault(cell.key, cell)
    return list(unique.values())


def run_suite(
    suite: str,
    *,
    registry: str | os.PathLike[str] | None = None,
    results: str | os.PathLike[str] | None = None,
    jobs: int = 1,
    force: bool = False,
    manager=None,
    on_start: Callable[[Cell], None] | None = None,
    on_result: Callable[[Cell, dict[str, Any]], None] | None = None,
) -> list[Row]:
    """Run ``suite`` (reusing stored cells) and return its leaderboard rows."""
    from toolkit.bench.execute import Runner
    from toolkit.plugins import load_plugins

    manager = manager or load_plugins()
    manager.check_conflicts()
    cells = plan(suite, registry, manager)
    with Store(results or default_results_folder()) as store:
        store.set_suite(suite, cells)
        todo = pending_cells(store, cells, force)
        Runner(store, manager, jobs=jobs, on_start=on_start, on_result=on_result).run(
            todo
        )
        return build_rows(suite, store.suite_rows(suite))


def load_results(results: str | os.PathLike[str] | None, suite: str) -> list[Row]:
    """Return the leaderboard rows of ``suite`` from the store, without running."""
    with Store(results or default_results_folder()) as store:
        return build_rows(suite, store.suite_rows(suite))
