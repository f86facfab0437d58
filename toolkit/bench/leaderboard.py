"""Build leaderboards from stored cells: aggregate seeds, rank combinations.

A leaderboard row (the stable JSON form) is one task x component
combination::

    {"suite": "quick", "task": "gaussian-k1e6",
     "components": {"sampler": "aldi"}, "metric": "cov_error",
     "direction": "lower", "mean": 0.071, "std": 0.012, "n": 2,
     "status": "ok", "rank": 1, "metrics": {"cov_error": 0.071, ...},
     "errors": []}

``status`` is ``ok`` when every seed finished, ``failed`` when any seed
failed (``errors`` lists why), ``partial`` when some seeds have not run,
``not_applicable`` when the combination cannot run on the task and
``missing`` when nothing is stored. ``mean`` and ``std`` use the seeds that
finished; ``std`` is the sample standard deviation (0 for one seed). Ranks
are per task, 1 is best, ties share the lower rank, and only rows whose
every seed finished are ranked.
"""

from __future__ import annotations

import dataclasses
import math
import statistics
from typing import Any


@dataclasses.dataclass
class Row:
    """One task x combination entry of a leaderboard."""

    suite: str
    task: str
    components: dict[str, str]
    metric: str
    direction: str
    mean: float | None
    std: float | None
    n: int
    status: str
    rank: int | None = None
    metrics: dict[str, float] = dataclasses.field(default_factory=dict)
    errors: list[str] = dataclasses.field(default_factory=list)

    @property
    def combination_label(self) -> str:
        return " + ".join(self.components.values())

    def to_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        for name in ("mean", "std"):
            value = data[name]
            if value is not None and not math.isfinite(value):
                data[name] = None
        data["metrics"] = {
            k: (v if math.isfinite(v) else None) for k, v in data["metrics"].items()
        }
        return data


def _combination_key(components: dict[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(components.items()))


def build_rows(suite: str, cells: list[dict[str, Any]]) -> list[Row]:
    """Aggregate stored cells (from :meth:`Store.suite_rows`) into ranked rows."""
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for cell in cells:
        key = (cell["task"], _combination_key(cell["components"]))
        groups.setdefault(key, []).append(cell)

    rows = []
    for (task, _), members in groups.items():
        first = members[0]
        finished = [m for m in members if m["status"] == "ok"]
        values = [m["metrics"][first["metric"]] for m in finished]
        statuses = {m["status"] for m in members}
        if "failed" in statuses:
            status = "failed"
        elif statuses == {"ok"}:
            status = "ok"
        elif statuses == {"not_applicable"}:
            status = "not_applicable"
        elif statuses == {"missing"}:
            status = "missing"
        else:
            status = "partial"
        metric_names = sorted({name for m in finished for name in m["metrics"]})
        means = {
            name: statistics.fmean(
                m["metrics"][name] for m in finished if name in m["metrics"]
            )
            for name in metric_names
        }
        errors = sorted(
            {
                f"seed {m['seed']}: {m['error']}"
                for m in members
                if m["status"] == "failed"
            }
        )
        if status == "not_applicable":
            errors = sorted({m["error"] for m in members if m["error"]})
        rows.append(
            Row(
                suite=suite,
                task=task,
                components=dict(first["components"]),
                metric=first["metric"],
                direction=first["direction"],
                mean=statistics.fmean(values) if values else None,
                std=_sample_std(values),
                n=len(values),
                status=status,
                metrics=means,
                errors=errors,
            )
        )
    _rank(rows)
    return rows


def _sample_std(values: list[float]) -> float | None:
    """Return the sample standard deviation: 0 for one value, None for none."""
    if not values:
        return None
    if len(values) == 1:
        return 0.0
    if not all(math.isfinite(value) for value in values):
        # An infinite score (a diverged run) has no meaningful spread.
        return math.nan
    return statistics.stdev(values)


def _rank(rows: list[Row]) -> None:
    by_task: dict[str, list[Row]] = {}
    for row in rows:
        if row.status == "ok" and row.mean is not None and not math.isnan(row.mean):
            by_task.setdefault(row.task, []).append(row)
    for task_rows in by_task.values():
        sign = 1.0 if task_rows[0].direction == "lower" else -1.0
        ordered = sorted(task_rows, key=lambda r: sign * r.mean)
        previous, previous_rank = None, 0
        for position, row in enumerate(ordered, start=1):
            if previous is not None and row.mean == previous:
                row.rank = previous_rank
            else:
                row.rank = position
                previous, previous_rank = row.mean, position


@dataclasses.dataclass
class Board:
    """A wide view for one suite and set of slots: combinations x tasks, mean rank."""

    suite: str
    slots: tuple[str, ...]
    tasks: list[str]
    combinations: list[dict[str, str]]
    cells: dict[tuple[str, tuple], Row]
    mean_rank: dict[tuple, float | None]


def boards(rows: list[Row]) -> list[Board]:
    """Group rows into one wide board per suite and slot signature (samplers, ...).

    Combinations are ordered by mean rank over the tasks where they have a
    rank (best first; unranked last).
    """
    grouped: dict[tuple[str, tuple[str, ...]], list[Row]] = {}
    for row in rows:
        grouped.setdefault((row.suite, tuple(sorted(row.components))), []).append(row)
    result = []
    for (suite, slots), members in grouped.items():
        tasks = list(dict.fromkeys(r.task for r in members))
        combos: dict[tuple, dict[str, str]] = {}
        cells = {}
        for row in members:
            key = _combination_key(row.components)
            combos.setdefault(key, row.components)
            cells[(row.task, key)] = row
        mean_rank = {}
        for key in combos:
            ranks = [cells[(t, key)].rank for t in tasks if (t, key) in cells]
            ranks = [r for r in ranks if r is not None]
            mean_rank[key] = statistics.fmean(ranks) if ranks else None
        order = sorted(
            combos,
            key=lambda k: (mean_rank[k] is None, mean_rank[k] or 0.0, str(k)),
        )
        result.append(
            Board(
                suite=suite,
                slots=slots,
                tasks=tasks,
                combinations=[combos[k] for k in order],
                cells=cells,
                mean_rank=mean_rank,
            )
        )
    return result
