"""Shared fixtures: a plugin manager with the toy plugin, registry files, a CLI runner."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from toolkit import cli
from toolkit.plugins import PluginManager, load_plugins

REPO = Path(__file__).resolve().parents[1]
TOY = "tests.plugins.toy"


@pytest.fixture
def manager() -> PluginManager:
    """Installed plugins plus the toy plugin, loaded strictly."""
    return load_plugins(strict=True, extra=(TOY,))


@pytest.fixture
def write_registry(tmp_path):
    """Write a registry file from YAML text and return its path."""

    def write(text: str, name: str = "registry.yaml") -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text))
        return path

    return write


@pytest.fixture
def run_cli(capsys, monkeypatch):
    """Run the toolkit CLI in-process; return (exit code, stdout, stderr)."""
    monkeypatch.chdir(REPO)

    def run(*argv: str) -> tuple[int, str, str]:
        code = cli.main(list(argv))
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


def json_rows(stdout: str) -> list[dict]:
    return json.loads(stdout)
