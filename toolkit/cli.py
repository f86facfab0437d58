"""The ``toolkit`` command: bench, results, plugins, list.

Exit status: 0 on success, 1 when a benchmark cell failed, 2 on invalid
input (unknown names, invalid configs, a malformed registry), 130 when
interrupted. Heavy modules are imported inside the commands so that
``toolkit --help`` returns at once.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence

from toolkit import __version__

EXIT_FAILED_CELLS = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class InputError(Exception):
    """An error in what the user passed; printed without a traceback."""


def _add_plugin_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--strict-plugins",
        action="store_true",
        default=None,
        help="fail when any plugin cannot be loaded (also TOOLKIT_STRICT_PLUGINS=1)",
    )
    parser.add_argument(
        "--plugin",
        action="append",
        default=[],
        metavar="MODULE",
        help="also load the plugin module MODULE by import path (repeatable; "
        "also TOOLKIT_PLUGINS=a,b)",
    )


def _add_results_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--results",
        metavar="DIR",
        help="results folder holding toolkit.sqlite (default: $TOOLKIT_RESULTS or "
        "./toolkit-results)",
    )


def _add_format_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--format",
        choices=("table", "markdown", "csv", "json", "html"),
        default="table",
        help="leaderboard format on standard output (default: table)",
    )
    parser.add_argument(
        "--plot",
        metavar="FILE",
        help="also draw the leaderboard as a heatmap (.png, .svg or .pdf)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="toolkit",
        description="Benchmark and compare AI-for-science methods provided by plugins.",
    )
    parser.add_argument("--version", action="version", version=f"toolkit {__version__}")
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="log more (repeat for debug)"
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    bench = commands.add_parser(
        "bench",
        help="run a benchmark suite and print its leaderboard",
        description="Run every cell (task x components x seed) of a suite that is not "
        "stored yet, store each result as it finishes, and print the leaderboard.",
    )
    bench.add_argument("--suite", default="quick", help="suite name (default: quick)")
    bench.add_argument(
        "--registry",
        metavar="FILE",
        help="registry YAML file (default: $TOOLKIT_REGISTRY, ./registry.yaml, or the "
        "toolkit's own)",
    )
    _add_results_option(bench)
    bench.add_argument(
        "--jobs",
        "-j",
        type=int,
        default=1,
        metavar="N",
        help="run cells in N local processes (default: 1, in this process)",
    )
    bench.add_argument(
        "--force", action="store_true", help="rerun cells that are already stored"
    )
    bench.add_argument(
        "--dry-run",
        action="store_true",
        help="validate the suite and list its cells without running them",
    )
    bench.add_argument(
        "--no-progress", action="store_true", help="hide the progress bar"
    )
    _add_format_options(bench)
    _add_plugin_options(bench)

    results = commands.add_parser(
        "results",
        help="print a stored leaderboard again",
        description="Print a suite's leaderboard from the results store, running nothing.",
    )
    results.add_argument(
        "--suite", default=None, help="suite name (default: every stored suite)"
    )
    _add_results_option(results)
    _add_format_options(results)

    plugins = commands.add_parser(
        "plugins",
        help="list installed plugins, their versions and components",
        description="List every plugin of the 'toolkit' entry-point group, what it "
        "provides, and the error of each plugin that failed to load.",
    )
    plugins.add_argument("--json", action="store_true", help="print JSON")
    _add_plugin_options(plugins)

    listing = commands.add_parser(
        "list",
        help="list components and tasks with their config fields",
        description="List registered components and tasks with their config fields.",
    )
    listing.add_argument(
        "--kind",
        choices=("sampler", "architecture", "probe", "distiller", "task"),
        help="only this kind",
    )
    listing.add_argument("--json", action="store_true", help="print JSON")
    _add_plugin_options(listing)
    return parser


# -- commands --------------------------------------------------------------


def _manager(args: argparse.Namespace):
    from toolkit.plugins import load_plugins

    return load_plugins(strict=args.strict_plugins, extra=tuple(args.plugin))


def _stderr_console():
    from rich.console import Console

    return Console(stderr=True)


PLOT_SUFFIXES = (".png", ".svg", ".pdf")


def _check_plot_path(args: argparse.Namespace) -> None:
    """Reject a --plot file type matplotlib cannot write, before any work."""
    from pathlib import Path

    if args.plot and Path(args.plot).suffix.lower() not in PLOT_SUFFIXES:
        msg = (
            f"--plot {args.plot}: unsupported file type; end the name with "
            f"{', '.join(PLOT_SUFFIXES)}"
        )
        raise InputError(msg)


def _print_rows(args: argparse.Namespace, rows) -> None:
    """Write ``rows`` (one or more suites) in the requested format."""
    from rich.console import Console

    from toolkit.bench import report

    if args.format == "table":
        # Off a terminal rich assumes 80 columns, which folds wide boards.
        width = None if sys.stdout.isatty() else 200
        report.render_rich(rows, Console(width=width))
    elif args.format == "markdown":
        sys.stdout.write(report.render_markdown(rows))
    elif args.format == "csv":
        sys.stdout.write(report.render_csv(rows))
    elif args.format == "html":
        sys.stdout.write(report.render_html(rows))
    else:
        sys.stdout.write(report.render_json(rows) + "\n")
    if args.plot:
        path = report.plot_leaderboard(rows, args.plot)
        _stderr_console().print(f"leaderboard plot written to {path}")


def cmd_bench(args: argparse.Namespace) -> int:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    from toolkit.bench import build_rows, default_results_folder, pending_cells, plan
    from toolkit.bench.execute import Runner
    from toolkit.bench.store import Store

    if args.jobs < 1:
        msg = f"--jobs must be at least 1; received {args.jobs}"
        raise InputError(msg)
    _check_plot_path(args)
    manager = _manager(args)
    manager.check_conflicts()
    console = _stderr_console()
    cells = plan(args.suite, args.registry, manager)
    if args.dry_run:
        for cell in cells:
            sys.stdout.write(f"{cell.key[:12]}  {cell.title}\n")
        sys.stdout.write(f"{len(cells)} cells\n")
        return 0
    folder = args.results or default_results_folder()
    failed = 0
    with Store(folder) as store:
        store.set_suite(args.suite, cells)
        todo = pending_cells(store, cells, args.force)
        reused = len({c.key for c in cells}) - len(todo)
        console.print(
            f"suite {args.suite}: {len(cells)} cells, {reused} reused from "
            f"{store.path}, {len(todo)} to run"
            + (f" in {args.jobs} processes" if args.jobs > 1 and todo else ""),
            highlight=False,
            soft_wrap=True,
        )
        progress = Progress(
            TextColumn("[progress.description]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            disable=args.no_progress or not todo,
            transient=False,
        )

        def on_start(cell) -> None:
            progress.update(bar, description=cell.title)

        def on_result(cell, result) -> None:
            nonlocal failed
            if result["status"] == "failed":
                failed += 1
                first = (result["error"] or "").splitlines()[0]
                progress.console.print(
                    f"[red]FAILED[/] {cell.title}: {first}",
                    highlight=False,
                    soft_wrap=True,
                )
            progress.advance(bar)

        runner = Runner(
            store,
            manager,
            jobs=args.jobs,
            on_start=on_start,
            on_result=on_result,
        )
        with progress:
            bar = progress.add_task("running", total=len(todo))
            try:
                runner.run(todo)
            except KeyboardInterrupt:
                progress.stop()
                console.print(
                    "\ninterrupted: every finished cell is stored in "
                    f"{store.path}; run the same command again to resume",
                    highlight=False,
                    soft_wrap=True,
                )
                return EXIT_INTERRUPTED
        rows = build_rows(args.suite, store.suite_rows(args.suite))
    _print_rows(args, rows)
    failed_rows = [r for r in rows if r.status == "failed"]
    if failed_rows:
        console.print(
            f"[red]{len(failed_rows)} leaderboard entries have failed cells[/]; "
            "they are retried on the next run",
            highlight=False,
        )
        return EXIT_FAILED_CELLS
    return 0


def cmd_results(args: argparse.Namespace) -> int:
    _check_plot_path(args)
    from toolkit.bench import build_rows, default_results_folder
    from toolkit.bench.store import Store

    folder = args.results or default_results_folder()
    from pathlib import Path

    from toolkit.bench.store import DB_NAME

    if not (Path(folder) / DB_NAME).is_file():
        msg = (
            f"no results store in {folder}; run 'toolkit bench' first or pass the "
            "folder it used with --results DIR"
        )
        raise InputError(msg)
    with Store(folder) as store:
        suites = store.suites()
        if args.suite is not None and args.suite not in suites:
            known = ", ".join(suites) or "none"
            msg = f"no stored results for suite {args.suite!r} in {folder}; stored suites: {known}"
            raise InputError(msg)
        if not suites:
            msg = (
                f"the results store in {folder} holds no suite yet; run 'toolkit bench'"
            )
            raise InputError(msg)
        chosen = [args.suite] if args.suite else suites
        rows = [
            row
            for suite in chosen
            for row in build_rows(suite, store.suite_rows(suite))
        ]
    _print_rows(args, rows)
    return 0


def cmd_plugins(args: argparse.Namespace) -> int:
    manager = _manager(args)
    infos = sorted(manager.plugins.values(), key=lambda p: p.name)
    if args.json:
        payload = [info.to_json() for info in infos]
        for item in payload:
            item.pop("traceback", None)
        sys.stdout.write(json.dumps(payload, indent=2) + "\n")
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(title="toolkit plugins", title_justify="left")
    for column in ("plugin", "distribution", "version", "status", "provides"):
        table.add_column(column, overflow="fold")
    for info in infos:
        provides = "; ".join(
            f"{kind}: {', '.join(names)}" for kind, names in info.provides.items()
        )
        status = "ok" if info.status == "ok" else f"[red]broken[/]: {info.error}"
        table.add_row(
            info.name, info.distribution or "-", info.version or "-", status, provides
        )
    console = Console()
    console.print(table)
    for conflict in manager.conflicts:
        console.print(f"[red]conflict:[/] {conflict}", highlight=False)
    return 0


def _describe_fields(config_cls) -> list[dict[str, object]]:
    fields = []
    for name, field in config_cls.model_fields.items():
        default = field.get_default(call_default_factory=True)
        try:
            json.dumps(default)
        except TypeError:
            default = repr(default)
        annotation = field.annotation
        # A plain class shows as its name; Literal and unions show their values.
        if isinstance(annotation, type):
            annotation = annotation.__name__
        else:
            annotation = str(annotation)
        fields.append(
            {
                "name": name,
                "type": annotation.replace("typing.", ""),
                "default": default,
                "description": field.description or "",
            }
        )
    return fields


def cmd_list(args: argparse.Namespace) -> int:
    manager = _manager(args)
    manager.check_conflicts()
    entries = manager.components(args.kind)
    if not entries and not args.json:
        kind = f"{args.kind} " if args.kind else ""
        sys.stdout.write(
            f"no {kind}components are registered; install a plugin that provides "
            "them ('toolkit plugins' lists what is installed)\n"
        )
        return 0
    if args.json:
        payload = []
        for entry in entries:
            item = {
                "kind": entry.kind,
                "name": entry.name,
                "plugin": entry.plugin,
                "description": entry.cls.description,
                "config": _describe_fields(entry.cls.Config),
            }
            if entry.kind == "task":
                item["slots"] = dict(entry.cls.slots)
                item["metrics"] = [
                    {
                        "name": m.name,
                        "direction": m.direction,
                        "description": m.description,
                    }
                    for m in entry.cls.metrics
                ]
                item["primary_metric"] = entry.cls.primary_metric
            payload.append(item)
        sys.stdout.write(json.dumps(payload, indent=2) + "\n")
        return 0
    from rich.console import Console
    from rich.markup import escape

    console = Console()
    for entry in entries:
        console.print(
            f"[bold]{entry.kind}[/] [cyan]{entry.name}[/] ({entry.plugin}): "
            f"{escape(entry.cls.description)}",
            highlight=False,
        )
        if entry.kind == "task":
            metrics = ", ".join(
                f"{m.name} ({'lower' if m.direction == 'lower' else 'higher'} is better)"
                for m in entry.cls.metrics
            )
            console.print(
                f"    slots: {dict(entry.cls.slots)}; metrics: {metrics}",
                highlight=False,
            )
        for field in _describe_fields(entry.cls.Config):
            console.print(
                f"    {field['name']}: {escape(str(field['type']))} = {field['default']!r}"
                f"  {escape(str(field['description']))}",
                highlight=False,
            )
    return 0


COMMANDS = {
    "bench": cmd_bench,
    "results": cmd_results,
    "plugins": cmd_plugins,
    "list": cmd_list,
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    level = logging.WARNING - 10 * min(args.verbose, 2)
    logging.basicConfig(level=level, format="toolkit: %(levelname)s: %(message)s")

    from pydantic import ValidationError

    from toolkit.bench.store import StoreError
    from toolkit.plugins import PluginError, UnknownComponentError
    from toolkit.registry import RegistryError

    try:
        return COMMANDS[args.command](args)
    except (
        InputError,
        RegistryError,
        PluginError,
        StoreError,
        UnknownComponentError,
        ValidationError,
    ) as error:
        text = error.args[0] if error.args else str(error)
        sys.stderr.write(f"toolkit {args.command}: error: {text}\n")
        return EXIT_USAGE
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        return EXIT_INTERRUPTED


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
