"""Plugin loading: broken plugins are isolated, strict mode fails, names never clash."""

from __future__ import annotations

import json

import pytest

from toolkit.plugins import (
    PluginError,
    PluginManager,
    UnknownComponentError,
    load_plugins,
)
from tests.conftest import TOY


def test_first_party_plugin_loads_from_entry_point():
    manager = load_plugins(strict=True)
    assert manager.plugins["aldi"].status == "ok"
    assert manager.plugins["aldi"].distribution == "interp-toolkit"


def test_toy_plugin_provides_each_kind(manager):
    provides = manager.plugins[TOY].provides
    assert set(provides) == {"sampler", "architecture", "probe", "distiller", "task"}


def test_broken_plugin_is_listed_and_others_load():
    manager = load_plugins(strict=False, extra=("tests.plugins.broken", TOY))
    broken = manager.plugins["tests.plugins.broken"]
    assert broken.status == "broken"
    assert "some_missing_dependency" in broken.error
    assert manager.get("sampler", "toy-metropolis").plugin == TOY


def test_strict_mode_raises_naming_plugin():
    with pytest.raises(
        PluginError, match="plugin 'tests.plugins.broken'.*failed to load"
    ):
        load_plugins(strict=True, extra=("tests.plugins.broken",))


def test_strict_mode_from_environment(monkeypatch):
    monkeypatch.setenv("TOOLKIT_STRICT_PLUGINS", "1")
    with pytest.raises(PluginError):
        load_plugins(extra=("tests.plugins.broken",))


def test_duplicate_component_names_both_plugins():
    manager = load_plugins(strict=True, extra=(TOY, "tests.plugins.duplicate"))
    with pytest.raises(PluginError) as error:
        manager.check_conflicts()
    message = str(error.value)
    assert "'tests.plugins.toy'" in message
    assert "'tests.plugins.duplicate'" in message
    assert "toy-metropolis" in message


def test_misspelt_hook_is_reported_with_suggestion():
    manager = load_plugins(strict=False, extra=("tests.plugins.misspelt",))
    info = manager.plugins["tests.plugins.misspelt"]
    assert info.status == "broken"
    assert "did you mean 'toolkit_samplers'" in info.error


def test_hook_returning_non_component_is_broken():
    import types

    from toolkit import hookimpl

    plugin = types.SimpleNamespace(toolkit_samplers=hookimpl(lambda: [object]))
    manager = PluginManager(strict=False)
    manager.register(plugin, "bad-hook")
    assert manager.plugins["bad-hook"].status == "broken"
    assert "not a component class" in manager.plugins["bad-hook"].error
    assert manager.components() == []


def test_unknown_component_suggests_close_names(manager):
    with pytest.raises(UnknownComponentError, match="did you mean 'toy-metropolis'"):
        manager.get("sampler", "toy-metropolis2")


def test_plugins_json_lists_status_and_provides(run_cli, monkeypatch):
    monkeypatch.delenv("TOOLKIT_STRICT_PLUGINS", raising=False)
    code, out, _ = run_cli(
        "plugins", "--json", "--plugin", TOY, "--plugin", "tests.plugins.broken"
    )
    assert code == 0
    listing = {item["name"]: item for item in json.loads(out)}
    assert listing[TOY]["status"] == "ok"
    assert "toy-metropolis" in listing[TOY]["provides"]["sampler"]
    assert listing["tests.plugins.broken"]["status"] == "broken"
    assert "some_missing_dependency" in listing["tests.plugins.broken"]["error"]


def test_list_json_shows_config_fields(run_cli):
    code, out, _ = run_cli("list", "--json", "--kind", "task", "--plugin", TOY)
    assert code == 0
    tasks = {item["name"]: item for item in json.loads(out)}
    fields = {f["name"]: f for f in tasks["toy-normal"]["config"]}
    assert fields["budget"]["default"] == 2000
    assert tasks["toy-normal"]["slots"] == {"sampler": "sampler"}
    assert {m["name"] for m in tasks["toy-normal"]["metrics"]} == {
        "mean_error",
        "evaluations",
    }
