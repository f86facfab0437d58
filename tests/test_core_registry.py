"""Registry files: bad input fails before anything runs, with the value and the fix."""

from __future__ import annotations

import pytest

from toolkit.bench.plan import plan_suite
from toolkit.registry import RegistryError, load_registry

GOOD = """
suites:
  toy:
    seeds: 2
    tasks:
      - task: toy-normal
        config: {budget: 500}
    components:
      sampler:
        - name: toy-metropolis
"""


def plan(manager, path, suite="toy"):
    return plan_suite(suite, load_registry(path).suite(suite), manager)


def test_seed_count_expands_to_list(manager, write_registry):
    cells = plan(manager, write_registry(GOOD))
    assert [cell.seed for cell in cells] == [0, 1]


def test_cell_keys_depend_on_config_and_seed(manager, write_registry):
    first = plan(manager, write_registry(GOOD))
    again = plan(manager, write_registry(GOOD, "same.yaml"))
    changed = plan(manager, write_registry(GOOD.replace("500", "600"), "changed.yaml"))
    assert [c.key for c in first] == [c.key for c in again]
    assert first[0].key != first[1].key
    assert {c.key for c in first}.isdisjoint({c.key for c in changed})


def test_default_config_written_or_not_gives_same_key(manager, write_registry):
    implicit = plan(manager, write_registry(GOOD))
    explicit = plan(
        manager,
        write_registry(
            GOOD.replace("{budget: 500}", "{budget: 500, mean: 1.0}"), "b.yaml"
        ),
    )
    assert [c.key for c in implicit] == [c.key for c in explicit]


def test_malformed_yaml_names_line(write_registry):
    path = write_registry("suites:\n  toy: [unclosed\n")
    with pytest.raises(RegistryError, match=r"not valid YAML at line \d+"):
        load_registry(path)


def test_missing_suites_key(write_registry):
    with pytest.raises(RegistryError, match="top-level 'suites' key"):
        load_registry(write_registry("tasks: []\n"))


def test_missing_file_suggests_option(tmp_path):
    with pytest.raises(RegistryError, match="--registry FILE"):
        load_registry(tmp_path / "nope.yaml")


def test_unknown_suite_lists_available(write_registry):
    with pytest.raises(RegistryError, match="available suites: toy"):
        load_registry(write_registry(GOOD)).suite("quik")


def test_schema_error_names_field(write_registry):
    path = write_registry(GOOD.replace("seeds: 2", "seeds: 2\n    timeout: -5"))
    with pytest.raises(
        RegistryError, match=r"suites\.toy\.timeout: Input should be greater than 0"
    ):
        load_registry(path)


def test_invalid_component_config_names_field_and_valid_fields(manager, write_registry):
    path = write_registry(
        GOOD.replace(
            "- name: toy-metropolis",
            "- name: toy-metropolis\n          config: {step: -1}",
        )
    )
    with pytest.raises(RegistryError) as error:
        plan(manager, path)
    message = str(error.value)
    assert "config.step: Input should be greater than 0 (received -1)" in message
    assert "Valid fields of 'toy-metropolis': step" in message


def test_unknown_component_and_task(manager, write_registry):
    with pytest.raises(
        RegistryError, match="unknown sampler 'toy-metropolls'.*did you mean"
    ):
        plan(
            manager,
            write_registry(
                GOOD.replace("name: toy-metropolis", "name: toy-metropolls")
            ),
        )
    with pytest.raises(RegistryError, match="unknown task 'toy-nrmal'"):
        plan(
            manager,
            write_registry(
                GOOD.replace("task: toy-normal", "task: toy-nrmal"), "t.yaml"
            ),
        )


def test_unknown_metric_lists_reported_metrics(manager, write_registry):
    path = write_registry(GOOD.replace("config: {budget: 500}", "metric: accuracy"))
    with pytest.raises(
        RegistryError, match="no metric 'accuracy'; it reports: mean_error, evaluations"
    ):
        plan(manager, path)


def test_task_slot_without_components(manager, write_registry):
    path = write_registry(
        GOOD.replace(
            "      - task: toy-normal",
            "      - task: toy-probe\n      - task: toy-normal",
        )
    )
    with pytest.raises(RegistryError, match="needs components for slot 'probe'"):
        plan(manager, path)


def test_duplicate_labels_rejected(manager, write_registry):
    path = write_registry(GOOD + "        - name: toy-metropolis\n")
    with pytest.raises(RegistryError, match="share the label 'toy-metropolis'"):
        plan(manager, path)


def test_all_expands_to_every_registered_component(manager, write_registry):
    path = write_registry(
        GOOD.replace("sampler:\n        - name: toy-metropolis", "sampler: all")
    )
    names = {cell.components["sampler"]["name"] for cell in plan(manager, path)}
    assert {"toy-metropolis", "toy-needs-gradient"} <= names


def test_repository_registry_plans(manager):
    from tests.conftest import REPO

    registry = load_registry(REPO / "registry.yaml")
    assert "quick" in registry.suites
    for name, suite in registry.suites.items():
        assert plan_suite(name, suite, manager), name


def test_registry_folder_is_rejected(tmp_path):
    with pytest.raises(RegistryError, match="is a folder"):
        load_registry(tmp_path)


def test_registry_not_utf8(tmp_path):
    path = tmp_path / "registry.yaml"
    path.write_bytes(b"\xff\xfesuites: {}")
    with pytest.raises(RegistryError, match="is not UTF-8 text"):
        load_registry(path)


def test_empty_registry_file(write_registry):
    with pytest.raises(RegistryError, match="is empty"):
        load_registry(write_registry(""))


def test_missing_suites_names_found_keys(write_registry):
    with pytest.raises(RegistryError, match="keys found: 'suite'"):
        load_registry(write_registry("suite: {}\n"))


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("seeds: 2", "seeds: []", "seeds must not be empty"),
        ("seeds: 2", "seeds: 0", "seeds must be a positive count"),
        (
            "    tasks:\n      - task: toy-normal\n        config: {budget: 500}\n",
            "    tasks: []\n",
            "tasks must not be empty",
        ),
    ],
)
def test_empty_suite_parts_rejected(write_registry, old, new, message):
    with pytest.raises(RegistryError, match=message):
        load_registry(write_registry(GOOD.replace(old, new)))


def test_empty_component_list_rejected(manager, write_registry):
    path = write_registry(
        GOOD.replace("sampler:\n        - name: toy-metropolis", "sampler: []")
    )
    with pytest.raises(RegistryError, match="lists no components for slot 'sampler'"):
        plan(manager, path)


def test_unused_slot_is_still_validated(manager, write_registry):
    path = write_registry(GOOD + "      probe:\n        - name: toy-linear-prob\n")
    with pytest.raises(RegistryError, match="unknown probe 'toy-linear-prob'"):
        plan(manager, path)


def test_task_check_runs_at_plan_time(manager, write_registry):
    path = write_registry(
        """
        suites:
          toy:
            tasks:
              - task: spectral-bias
            components:
              architecture:
                - name: kan
                  config: {width: [3, 5, 7]}
        """
    )
    with pytest.raises(RegistryError) as error:
        plan(manager, path)
    message = str(error.value)
    assert "kan cannot run on task 'spectral-bias'" in message
    assert "maps 3 inputs to 7 outputs" in message
