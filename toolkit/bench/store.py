"""SQLite store of benchmark cells.

One file, ``toolkit.sqlite``, under the results folder. Every finished cell is
written in its own transaction, so a crash or a kill never leaves half a
result and never loses a finished one. Large artifacts of a cell go in
``artifacts/<key>/`` beside the database.

Tables
------
``cells``
    One row per cell key: task, components, seed, status (``ok``,
    ``failed`` or ``not_applicable``), metrics as JSON, error text, timing
    and versions.
``suite_cells``
    Which cells make up each suite's leaderboard, with the labels and the
    primary metric the registry gave them when the suite last ran.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from toolkit.bench.plan import Cell

DB_NAME = "toolkit.sqlite"
SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS cells (
    key TEXT PRIMARY KEY,
    task TEXT NOT NULL,
    spec TEXT NOT NULL,
    seed INTEGER NOT NULL,
    status TEXT NOT NULL,
    metrics TEXT NOT NULL,
    error TEXT,
    started REAL NOT NULL,
    duration REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS suite_cells (
    suite TEXT NOT NULL,
    position INTEGER NOT NULL,
    key TEXT NOT NULL,
    task_label TEXT NOT NULL,
    combination TEXT NOT NULL,
    seed INTEGER NOT NULL,
    metric TEXT NOT NULL,
    direction TEXT NOT NULL,
    PRIMARY KEY (suite, key)
);
"""


class StoreError(RuntimeError):
    """The results database cannot be opened or has an unknown layout."""


class Store:
    """The results database of one results folder."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            msg = f"cannot create results folder {self.folder}: {error}; pass another with --results DIR"
            raise StoreError(msg) from None
        self.path = self.folder / DB_NAME
        try:
            self._db = sqlite3.connect(self.path, timeout=30)
            self._db.executescript(_SCHEMA)
            self._check_schema()
        except sqlite3.DatabaseError as error:
            msg = (
                f"cannot use results database {self.path}: {error}. Move it aside "
                "or pass another folder with --results DIR"
            )
            raise StoreError(msg) from None

    def _check_schema(self) -> None:
        with self._db:
            row = self._db.execute(
                "SELECT value FROM meta WHERE name = 'schema'"
            ).fetchone()
            if row is None:
                self._db.execute(
                    "INSERT INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),)
                )
            elif int(row[0]) != SCHEMA_VERSION:
                msg = (
                    f"results database {self.path} has schema {row[0]}, this toolkit "
                    f"reads schema {SCHEMA_VERSION}; use a new --results folder"
                )
                raise StoreError(msg)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def artifact_folder(self, key: str) -> Path:
        return self.folder / "artifacts" / key

    # -- cells ------------------------------------------------------------

    def finished(self, keys: Iterable[str]) -> dict[str, str]:
        """Return the status of each key that has a stored result."""
        keys = list(keys)
        found: dict[str, str] = {}
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self._db.execute(
                f"SELECT key, status FROM cells WHERE key IN ({marks})", chunk
            )
            found.update(dict(rows.fetchall()))
        return found

    def save_result(self, cell: Cell, result: dict[str, Any]) -> None:
        """Write one cell's result in a single transaction."""
        spec = {
            "task": {"name": cell.task, "config": cell.task_config},
            "components": cell.components,
            "seed": cell.seed,
        }
        with self._db:
            self._db.execute(
                "INSERT OR REPLACE INTO cells VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    cell.key,
                    cell.task,
                    json.dumps(spec, sort_keys=True),
                    cell.seed,
                    result["status"],
                    json.dumps(result.get("metrics", {}), sort_keys=True),
                    result.get("error"),
                    result.get("started", time.time()),
                    result.get("duration", 0.0),
                ),
            )

    def set_suite(self, suite: str, cells: list[Cell]) -> None:
        """Record that ``cells`` make up ``suite``'s leaderboard, replacing the old list."""
        with self._db:
            self._db.execute("DELETE FROM suite_cells WHERE suite = ?", (suite,))
            self._db.executemany(
                "INSERT OR REPLACE INTO suite_cells VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        suite,
                        position,
                        cell.key,
                        cell.task_label,
                        json.dumps(cell.combination),
                        cell.seed,
                        cell.metric,
                        cell.direction,
                    )
                    for position, cell in enumerate(cells)
                ],
            )

    def suites(self) -> list[str]:
        rows = self._db.execute("SELECT DISTINCT suite FROM suite_cells ORDER BY suite")
        return [row[0] for row in rows]

    def suite_rows(self, suite: str) -> list[dict[str, Any]]:
        """Return the suite's cells in plan order, joined with their results."""
        query = """
            SELECT s.key, s.task_label, s.combination, s.seed, s.metric, s.direction,
                   c.status, c.metrics, c.error, c.duration
            FROM suite_cells AS s LEFT JOIN cells AS c ON c.key = s.key
            WHERE s.suite = ? ORDER BY s.position
        """
        rows = []
        for row in self._db.execute(query, (suite,)):
            key, task_label, combination, seed, metric, direction = row[:6]
            status, metrics, error, duration = row[6:]
            rows.append(
                {
                    "key": key,
                    "task": task_label,
                    "components": json.loads(combination),
                    "seed": seed,
                    "metric": metric,
                    "direction": direction,
                    "status": status or "missing",
                    "metrics": json.loads(metrics) if metrics else {},
                    "error": error,
                    "duration": duration,
                }
            )
        return rows
