"""Render leaderboards: rich tables, Markdown, CSV, JSON and a PNG heatmap."""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

from toolkit.bench.leaderboard import Board, Row, _combination_key, boards

FORMATS = ("table", "markdown", "csv", "json", "html")

_STATUS_TEXT = {
    "failed": "FAILED",
    "not_applicable": "n/a",
    "missing": "not run",
    "partial": "partial",
}


def format_value(value: float | None, digits: int = 3) -> str:
    """Format a score with ``digits`` significant digits ("-" for none or NaN)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    magnitude = abs(value)
    if magnitude != 0 and (magnitude < 1e-3 or magnitude >= 1e5):
        return f"{value:.{digits - 1}e}"
    return f"{value:.{digits}g}"


def cell_text(row: Row | None) -> str:
    """Return 'mean ± std (#rank)' or the status word for a board cell."""
    if row is None:
        return ""
    if row.status == "failed":
        return f"FAILED ({len(row.errors)} seed{'s' if len(row.errors) > 1 else ''})"
    if row.mean is None:
        return _STATUS_TEXT.get(row.status, row.status)
    text = format_value(row.mean)
    if row.n > 1:
        text += f" ±{format_value(row.std, digits=2)}"
    if row.rank is not None:
        text += f" (#{row.rank})"
    if row.status != "ok":
        text += f" {_STATUS_TEXT.get(row.status, row.status)}"
    return text


def _board_title(board: Board) -> str:
    metrics = sorted(
        {
            row.metric + (" ↓" if row.direction == "lower" else " ↑")
            for row in board.cells.values()
        }
    )
    return f"suite {board.suite}: {' + '.join(board.slots)} ({', '.join(metrics)})"


def _table_cells(board: Board) -> tuple[list[str], list[list[str]]]:
    header = ["rank", " + ".join(board.slots), *board.tasks]
    body = []
    for combo in board.combinations:
        key = _combination_key(combo)
        rank = board.mean_rank[key]
        line = [
            "-" if rank is None else f"{rank:.2f}",
            " + ".join(combo.values()),
            *(cell_text(board.cells.get((task, key))) for task in board.tasks),
        ]
        body.append(line)
    return header, body


def render_rich(rows: list[Row], console) -> None:
    """Print one rich table per board, then the failures."""
    from rich.table import Table

    for board in boards(rows):
        table = Table(title=_board_title(board), title_justify="left")
        header, body = _table_cells(board)
        for position, name in enumerate(header):
            # Fold rather than truncate: two names may share a long prefix.
            table.add_column(
                name, justify="right" if position != 1 else "left", overflow="fold"
            )
        for line in body:
            styled = [
                f"[bold red]{text}[/]" if "FAILED" in text else text for text in line
            ]
            table.add_row(*styled)
        console.print(table)
    footer = _failure_lines(rows)
    if footer:
        console.print("[bold red]Failed cells:[/]")
        for line in footer:
            console.print(f"  {line}", markup=False, highlight=False, soft_wrap=True)


def _failure_lines(rows: list[Row]) -> list[str]:
    lines = []
    for row in rows:
        if row.status == "failed" and row.errors:
            first = row.errors[0].splitlines()[0]
            more = len(row.errors) - 1
            suffix = f" (and {more} more seed{'s' if more > 1 else ''})" if more else ""
            lines.append(f"{row.task} | {row.combination_label} | {first}{suffix}")
    return lines


def render_markdown(rows: list[Row]) -> str:
    parts = []
    for board in boards(rows):
        header, body = _table_cells(board)
        parts.append(f"### {_board_title(board)}\n")
        parts.append("| " + " | ".join(header) + " |")
        parts.append("|" + "|".join(" --- " for _ in header) + "|")
        for line in body:
            parts.append(
                "| " + " | ".join(text.replace("|", "\\|") for text in line) + " |"
            )
        parts.append("")
    failures = _failure_lines(rows)
    if failures:
        parts.append("Failed cells:\n")
        parts.extend(f"- {line}" for line in failures)
        parts.append("")
    return "\n".join(parts)


def render_csv(rows: list[Row]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    slots = sorted({slot for row in rows for slot in row.components})
    writer.writerow(
        [
            "suite",
            "task",
            *slots,
            "metric",
            "direction",
            "mean",
            "std",
            "n",
            "status",
            "rank",
        ]
    )
    for row in rows:
        writer.writerow(
            [
                row.suite,
                row.task,
                *(row.components.get(slot, "") for slot in slots),
                row.metric,
                row.direction,
                "" if row.mean is None else repr(row.mean),
                "" if row.std is None else repr(row.std),
                row.n,
                row.status,
                "" if row.rank is None else row.rank,
            ]
        )
    return buffer.getvalue()


def render_json(rows: list[Row]) -> str:
    return json.dumps([row.to_json() for row in rows], indent=2, allow_nan=False)


def plot_leaderboard(rows: list[Row], path: Path) -> Path:
    """Draw each board as a heatmap of per-task ranks, annotated with the scores."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    all_boards = boards(rows)
    heights = [max(2.0, 0.45 * len(b.combinations) + 1.5) for b in all_boards]
    widths = [max(6.0, 1.3 * len(b.tasks) + 3.0) for b in all_boards]
    figure, axes = plt.subplots(
        len(all_boards),
        1,
        figsize=(max(widths), sum(heights)),
        squeeze=False,
        gridspec_kw={"height_ratios": heights},
    )
    for axis, board in zip(axes[:, 0], all_boards):
        ranks = np.full((len(board.combinations), len(board.tasks)), np.nan)
        for i, combo in enumerate(board.combinations):
            key = _combination_key(combo)
            for j, task in enumerate(board.tasks):
                row = board.cells.get((task, key))
                if row is None:
                    continue
                if row.rank is not None:
                    ranks[i, j] = row.rank
                label = (
                    format_value(row.mean)
                    if row.mean is not None
                    else _STATUS_TEXT.get(row.status, row.status)
                )
                axis.text(j, i, label, ha="center", va="center", fontsize=7)
        axis.imshow(ranks, cmap="RdYlGn_r", aspect="auto")
        axis.set_xticks(
            range(len(board.tasks)), board.tasks, rotation=35, ha="right", fontsize=8
        )
        axis.set_yticks(
            range(len(board.combinations)),
            [" + ".join(c.values()) for c in board.combinations],
            fontsize=8,
        )
        axis.set_title(_board_title(board) + ", colour = rank", fontsize=9)
    figure.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path


def render_html(rows: list[Row]) -> str:
    """Return a self-contained HTML page: the tables, failures and the heatmap."""
    import base64
    import html
    import tempfile

    suites = ", ".join(dict.fromkeys(row.suite for row in rows))
    parts = [
        "<!DOCTYPE html>",
        f"<html><head><meta charset='utf-8'><title>toolkit: {html.escape(suites)}</title>",
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;"
        "margin-bottom:2em}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}"
        "td:nth-child(2),th:nth-child(2){text-align:left}.failed{color:#b00}</style>",
        "</head><body>",
        f"<h1>Leaderboard: {html.escape(suites)}</h1>",
    ]
    for board in boards(rows):
        header, body = _table_cells(board)
        parts.append(f"<h2>{html.escape(_board_title(board))}</h2><table>")
        parts.append(
            "<tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in header) + "</tr>"
        )
        for line in body:
            cells = "".join(
                f"<td class='failed'>{html.escape(t)}</td>"
                if "FAILED" in t
                else f"<td>{html.escape(t)}</td>"
                for t in line
            )
            parts.append(f"<tr>{cells}</tr>")
        parts.append("</table>")
    failures = _failure_lines(rows)
    if failures:
        parts.append("<h2>Failed cells</h2><ul>")
        parts.extend(f"<li>{html.escape(line)}</li>" for line in failures)
        parts.append("</ul>")
    if any(row.rank is not None for row in rows):
        with tempfile.TemporaryDirectory() as folder:
            image = plot_leaderboard(rows, Path(folder) / "board.png").read_bytes()
        encoded = base64.b64encode(image).decode()
        parts.append(
            f"<h2>Ranks</h2><img alt='leaderboard heatmap' src='data:image/png;base64,{encoded}'>"
        )
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
