"""Load ``registry.yaml``: benchmark suites, their tasks, components and seeds.

A registry file has one top-level key, ``suites``, mapping each suite name to
a :class:`SuiteSpec`::

    suites:
      quick:
        description: Every first-party plugin, in a few minutes.
        seeds: [0, 1]
        timeout: 300
        tasks:
          - task: gaussian
            label: gaussian-k1e6
            config: {condition_number: 1.0e6}
        components:
          sampler:
            - name: aldi
            - name: ensemble-underdamped
              config: {friction: 1.0}
          architecture: all

A task uses the component lists of its slots; ``all`` (or ``"*"``) means
every registered component of that slot's kind with its default config.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

REGISTRY_ENV = "TOOLKIT_REGISTRY"
#: Component name that stands for every registered component of a slot's kind.
WILDCARD = "*"


class RegistryError(ValueError):
    """The registry file is missing, malformed or names something unknown."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ComponentSpec(_Strict):
    """One component to compare: a registered name, a config and a display label."""

    name: str = Field(description="Registered component name, as `toolkit list` shows.")
    label: str | None = Field(
        None, description="Name shown on the leaderboard; defaults to `name`."
    )
    config: dict[str, Any] = Field(default_factory=dict)

    @property
    def display(self) -> str:
        return self.label or self.name


class TaskSpec(_Strict):
    """One task of a suite."""

    task: str = Field(description="Registered task name.")
    label: str | None = Field(None, description="Column name on the leaderboard.")
    config: dict[str, Any] = Field(default_factory=dict)
    metric: str | None = Field(
        None, description="Primary metric; defaults to the suite's, then the task's."
    )
    seeds: list[int] | None = Field(None, description="Overrides the suite's seeds.")

    @property
    def display(self) -> str:
        return self.label or self.task


class SuiteSpec(_Strict):
    """A named benchmark: tasks x component combinations x seeds."""

    description: str = ""
    seeds: list[int] = Field(default_factory=lambda: [0])
    timeout: float = Field(
        600.0, gt=0, description="Time limit of one cell, in seconds."
    )
    metric: str | None = None
    tasks: list[TaskSpec]
    components: dict[str, list[ComponentSpec]] = Field(default_factory=dict)

    @field_validator("seeds", mode="before")
    @classmethod
    def _expand_seed_count(cls, value: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            if value < 1:
                msg = "seeds must be a positive count or a non-empty list of ints"
                raise ValueError(msg)
            return list(range(value))
        return value

    @field_validator("seeds", "tasks")
    @classmethod
    def _require_entries(cls, value: list[Any], info: Any) -> list[Any]:
        if not value:
            msg = f"{info.field_name} must not be empty; a suite needs at least one"
            raise ValueError(msg)
        return value

    @field_validator("components", mode="before")
    @classmethod
    def _expand_wildcards(cls, value: Any) -> Any:
        """Turn ``all`` (or ``*``) into the one-entry list ``[{name: "*"}]``."""
        if not isinstance(value, dict):
            return value
        expanded = {}
        for slot, entry in value.items():
            if isinstance(entry, str):
                if entry not in ("all", "*"):
                    msg = (
                        f"components.{slot} must be a list of components or 'all'; "
                        f"received {entry!r}"
                    )
                    raise ValueError(msg)
                entry = [{"name": WILDCARD}]
            expanded[slot] = entry
        return expanded

    def components_for(self, slot: str) -> list[ComponentSpec] | None:
        return self.components.get(slot)


class Registry(_Strict):
    """The parsed registry file."""

    suites: dict[str, SuiteSpec]
    source: str | None = None

    def suite(self, name: str) -> SuiteSpec:
        try:
            return self.suites[name]
        except KeyError:
            known = ", ".join(sorted(self.suites)) or "none"
            where = f" in {self.source}" if self.source else ""
            msg = (
                f"unknown suite {name!r}{where}; available suites: {known}. "
                "Pass one of them with --suite, or another file with --registry."
            )
            raise RegistryError(msg) from None


def default_registry_path() -> Path:
    """Return the registry used without ``--registry``.

    Order: ``$TOOLKIT_REGISTRY``, ``./registry.yaml``, then the file at the
    root of the toolkit source tree (an editable install or a checkout).
    """
    env = os.environ.get(REGISTRY_ENV)
    if env:
        return Path(env)
    local = Path("registry.yaml")
    if local.is_file():
        return local
    return Path(__file__).resolve().parents[1] / "registry.yaml"


def load_registry(path: str | os.PathLike[str] | None = None) -> Registry:
    """Parse and validate a registry file, with errors that name the fix."""
    import yaml

    path = Path(path) if path is not None else default_registry_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        msg = (
            f"registry file not found: {path}. Pass an existing file with "
            f"--registry FILE or set {REGISTRY_ENV}."
        )
        raise RegistryError(msg) from None
    except IsADirectoryError:
        msg = f"registry path {path} is a folder; pass a YAML file with --registry FILE"
        raise RegistryError(msg) from None
    except UnicodeDecodeError as error:
        msg = (
            f"registry file {path} is not UTF-8 text ({error.reason} at byte "
            f"{error.start}); save it as UTF-8 YAML"
        )
        raise RegistryError(msg) from None
    except OSError as error:
        msg = f"cannot read registry file {path}: {error.strerror}"
        raise RegistryError(msg) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(error, "problem", None) or str(error)
        msg = f"registry file {path} is not valid YAML{where}: {problem}"
        raise RegistryError(msg) from None
    if data is None:
        msg = f"registry file {path} is empty; it needs a top-level 'suites' mapping"
        raise RegistryError(msg)
    if not isinstance(data, dict):
        msg = (
            f"registry file {path} must be a mapping with a top-level 'suites' key; "
            f"its top level is a {type(data).__name__}"
        )
        raise RegistryError(msg)
    if "suites" not in data:
        found = ", ".join(repr(key) for key in data) or "none"
        msg = (
            f"registry file {path} has no top-level 'suites' key (keys found: "
            f"{found}); put the suites under 'suites:'"
        )
        raise RegistryError(msg)
    try:
        return Registry.model_validate({**data, "source": str(path)})
    except ValidationError as error:
        msg = f"registry file {path} is invalid:\n{format_validation_error(error)}"
        raise RegistryError(msg) from None


def format_validation_error(error: ValidationError, prefix: str = "") -> str:
    """Render a pydantic error as a short list: location, problem, value received."""
    lines = []
    for item in error.errors():
        location = ".".join(str(part) for part in item["loc"])
        location = f"{prefix}{location}" if location else prefix.rstrip(".") or "value"
        problem = item["msg"].removeprefix("Value error, ")
        received = item.get("input")
        line = f"  - {location}: {problem}"
        if item["type"] != "missing" and not isinstance(received, dict):
            line += f" (received {received!r})"
        lines.append(line)
    return "\n".join(lines)
