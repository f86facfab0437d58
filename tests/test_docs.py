"""Docs that list hooks and commands agree with the code."""

from __future__ import annotations

import re
import subprocess

from toolkit import hookspecs
from toolkit.cli import COMMANDS
from tests.conftest import REPO


def test_plugin_guide_lists_every_hook():
    guide = (REPO / "docs" / "plugin-guide.md").read_text()
    for hook in hookspecs.HOOK_FOR_KIND.values():
        assert f"`{hook}()`" in guide, hook


def test_user_guide_mentions_every_command():
    guide = (REPO / "docs" / "user-guide.md").read_text() + (
        REPO / "README.md"
    ).read_text()
    for command in COMMANDS:
        assert f"toolkit {command}" in guide, command


def test_readme_has_main_and_test_commands():
    readme = (REPO / "README.md").read_text()
    commands = re.findall(r"^python3 -m venv .*$", readme, flags=re.MULTILINE)
    assert len(commands) == 2
    main_job, tests = commands
    assert main_job.endswith("toolkit bench")
    assert tests.endswith("python -m pytest")
    for command in commands:
        assert "pip install torch==2.13.0 &&" in command


def test_ci_runs_readme_test_command():
    # .ci/run extracts the command after the marker; check it finds the tests line.
    script = (REPO / ".ci" / "run").read_text()
    pattern = re.search(r"awk '(.*?)' README.md", script).group(1)
    found = subprocess.run(
        ["awk", pattern, "README.md"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert found.endswith("python -m pytest")
