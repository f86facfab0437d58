"""Expand a suite into cells: task x component combination x seed.

Every config is validated here, before anything runs, so a typo in
``registry.yaml`` fails in a second with the field and the fix, not after an
hour of benchmarking. Each cell gets a key: the SHA-256 of the canonical JSON
of its task, component configs (defaults filled in), seed and versions.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import logging
from typing import Any

from pydantic import ValidationError

import toolkit
from toolkit.interfaces import KINDS
from toolkit.plugins import ComponentEntry, PluginManager, UnknownComponentError
from toolkit.registry import (
    ComponentSpec,
    WILDCARD,
    RegistryError,
    SuiteSpec,
    format_validation_error,
)


logger = logging.getLogger("toolkit")


@dataclasses.dataclass(frozen=True)
class Cell:
    """One unit of benchmark work, picklable for worker processes."""

    key: str
    suite: str
    task: str
    task_label: str
    task_config: dict[str, Any]
    components: dict[str, dict[str, Any]]  # slot -> {kind, name, label, config}
    seed: int
    metric: str
    direction: str
    timeout: float

    @property
    def combination(self) -> dict[str, str]:
        """Slot to component label, as leaderboards show it."""
        return {slot: spec["label"] for slot, spec in self.components.items()}

    @property
    def title(self) -> str:
        parts = ", ".join(f"{label}" for label in self.combination.values())
        return f"{self.task_label} | {parts} | seed {self.seed}"


def canonical_json(value: Any) -> str:
    """Serialise ``value`` with sorted keys and no whitespace, for hashing."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def cell_key(material: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_json(material).encode()).hexdigest()


def _validated_config(entry: ComponentEntry, config: dict[str, Any], where: str):
    try:
        return entry.cls.Config.model_validate(config)
    except ValidationError as error:
        fields = ", ".join(entry.cls.Config.model_fields) or "none"
        msg = (
            f"invalid config for {entry.kind} {entry.name!r} (in {where}):\n"
            f"{format_validation_error(error, prefix='config.')}\n"
            f"Valid fields of {entry.name!r}: {fields} (see 'toolkit list')."
        )
        raise RegistryError(msg) from None


def _version_tag(entry: ComponentEntry) -> str:
    return f"{entry.distribution or entry.plugin}=={entry.version or 'unknown'}"


def _slot_components(
    suite_name: str,
    suite: SuiteSpec,
    slot: str,
    kind: str,
    task_label: str,
    manager: PluginManager,
) -> list[tuple[ComponentSpec, ComponentEntry, dict[str, Any]]]:
    declared = suite.components_for(slot)
    if declared is None:
        msg = (
            f"task {task_label!r} in suite {suite_name!r} needs components for slot "
            f"{slot!r} ({kind}); add 'components: {{{slot}: [...]}}' to the suite"
        )
        raise RegistryError(msg)
    if [spec.name for spec in declared] == [WILDCARD]:
        declared = [ComponentSpec(name=e.name) for e in manager.components(kind)]
    if not declared:
        msg = (
            f"suite {suite_name!r} lists no components for slot {slot!r}, which task "
            f"{task_label!r} needs; add at least one {kind}"
        )
        raise RegistryError(msg)
    resolved = []
    labels: dict[str, str] = {}
    for spec in declared:
        where = f"suite {suite_name!r}, components.{slot}"
        try:
            entry = manager.get(kind, spec.name)
        except UnknownComponentError as error:
            raise RegistryError(f"{error} (in {where})") from None
        config = _validated_config(entry, spec.config, where)
        if spec.display in labels:
            msg = (
                f"two components in {where} share the label {spec.display!r}; give "
                "each a distinct 'label:'"
            )
            raise RegistryError(msg)
        labels[spec.display] = spec.name
        resolved.append((spec, entry, config.model_dump(mode="json")))
    return resolved


def _check_combination(task_cls, task_config, combination, where: str) -> None:
    """Run the task's plan-time check on one combination, as an input error."""
    task = task_cls(task_config)
    components = {
        slot: entry.cls(entry.cls.Config.model_validate(config))
        for slot, spec, entry, config in combination
    }
    try:
        task.check(components)
    except ValueError as error:
        labels = ", ".join(spec.display for _, spec, _, _ in combination)
        msg = f"{labels} cannot run on {where}: {error}"
        raise RegistryError(msg) from None


def _check_unused_slots(
    suite_name: str, suite: SuiteSpec, used: set[str], manager: PluginManager
) -> None:
    """Validate component lists that no task uses, so typos there still fail."""
    for slot, declared in suite.components.items():
        if slot in used:
            continue
        logger.warning(
            "suite %r lists components for slot %r, which none of its tasks uses",
            suite_name,
            slot,
        )
        if slot in KINDS:
            for spec in declared:
                if spec.name == WILDCARD:
                    continue
                where = f"suite {suite_name!r}, components.{slot}"
                try:
                    entry = manager.get(slot, spec.name)
                except UnknownComponentError as error:
                    raise RegistryError(f"{error} (in {where})") from None
                _validated_config(entry, spec.config, where)


def plan_suite(suite_name: str, suite: SuiteSpec, manager: PluginManager) -> list[Cell]:
    """Return every cell of ``suite``, validating tasks, configs and metrics."""
    cells: list[Cell] = []
    task_labels: set[str] = set()
    for task_spec in suite.tasks:
        where = f"task {task_spec.display!r} of suite {suite_name!r}"
        if task_spec.display in task_labels:
            msg = f"two tasks in suite {suite_name!r} share the label {task_spec.display!r}; give each a distinct 'label:'"
            raise RegistryError(msg)
        task_labels.add(task_spec.display)
        try:
            task_entry = manager.get("task", task_spec.task)
        except UnknownComponentError as error:
            raise RegistryError(f"{error} (in {where})") from None
        task_cls = task_entry.cls
        task_config = _validated_config(task_entry, task_spec.config, where)
        metric_name = task_spec.metric or suite.metric or task_cls.primary_metric
        try:
            metric = task_cls.metric(metric_name)
        except KeyError as error:
            raise RegistryError(f"{error.args[0]} (in {where})") from None

        slot_options = [
            [
                (slot, spec, entry, config)
                for spec, entry, config in _slot_components(
                    suite_name, suite, slot, kind, task_spec.display, manager
                )
            ]
            for slot, kind in task_cls.slots.items()
        ]
        for combination in itertools.product(*slot_options):
            _check_combination(task_cls, task_config, combination, where)
            for seed in task_spec.seeds or suite.seeds:
                components = {
                    slot: {
                        "kind": entry.kind,
                        "name": entry.name,
                        "label": spec.display,
                        "config": config,
                    }
                    for slot, spec, entry, config in combination
                }
                task_dump = task_config.model_dump(mode="json")
                material = {
                    "task": {"name": task_cls.name, "config": task_dump},
                    "components": {
                        slot: {"name": c["name"], "config": c["config"]}
                        for slot, c in components.items()
                    },
                    "seed": seed,
                    "versions": sorted(
                        {f"toolkit=={toolkit.__version__}", _version_tag(task_entry)}
                        | {_version_tag(entry) for _, _, entry, _ in combination}
                    ),
                }
                cells.append(
                    Cell(
                        key=cell_key(material),
                        suite=suite_name,
                        task=task_cls.name,
                        task_label=task_spec.display,
                        task_config=task_dump,
                        components=components,
                        seed=seed,
                        metric=metric.name,
                        direction=metric.direction,
                        timeout=suite.timeout,
                    )
                )
    used = {slot for t in suite.tasks for slot in manager.get("task", t.task).cls.slots}
    _check_unused_slots(suite_name, suite, used, manager)
    return cells
