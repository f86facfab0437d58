"""The command line: help everywhere, lazy imports, readable errors."""

from __future__ import annotations

import subprocess
import sys

import pytest

from toolkit import cli
from tests.conftest import REPO


@pytest.mark.parametrize("command", ["bench", "results", "plugins", "list"])
def test_every_command_has_help(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main([command, "--help"])
    assert exit_info.value.code == 0
    assert "usage: toolkit" in capsys.readouterr().out


def test_help_loads_no_heavy_modules():
    # `toolkit --help` must stay instant: it may not import numpy, pydantic,
    # torch, rich or the plugins.
    script = (
        "import sys\n"
        "from toolkit import cli\n"
        "try:\n"
        "    cli.main(['--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = [m for m in ('numpy', 'pydantic', 'torch', 'rich', 'toolkit_aldi') "
        "if m in sys.modules]\n"
        "print('HEAVY', heavy)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=True,
    )
    assert "HEAVY []" in result.stdout


def test_no_command_prints_help_and_exits_2(capsys):
    assert cli.main([]) == 2
    assert "bench" in capsys.readouterr().out


def test_unknown_option_is_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["bench", "--sweet", "quick"])
    assert exit_info.value.code == 2
    assert "unrecognized arguments: --sweet" in capsys.readouterr().err


def test_dry_run_lists_cells_without_running(run_cli, tmp_path):
    code, out, _ = run_cli("bench", "--dry-run", "--results", str(tmp_path))
    assert code == 0
    assert out.strip().endswith("cells")
    assert not (tmp_path / "toolkit.sqlite").exists()


def test_missing_plugin_module_is_an_error(run_cli):
    code, _, err = run_cli("bench", "--dry-run", "--plugin", "no_such_plugin_module")
    assert code == 2
    assert "plugin module 'no_such_plugin_module' not found" in err


def test_unsupported_plot_type(run_cli, tmp_path):
    code, _, err = run_cli("bench", "--dry-run", "--plot", str(tmp_path / "board.txt"))
    assert code == 2
    assert "unsupported file type" in err


def test_list_of_empty_kind_says_so(run_cli):
    code, out, _ = run_cli("list", "--kind", "probe")
    assert code == 0
    assert "no probe components are registered" in out
