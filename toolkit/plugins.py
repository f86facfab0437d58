"""Plugin manager: load the ``toolkit`` entry-point group and index components.

Loading follows pluggy's model with one difference: each entry point is
loaded and registered inside its own ``try``, so a plugin that fails to
import (or whose hooks raise) is recorded as a :class:`BrokenPlugin` and the
others still load. Strict mode (``strict=True``, ``--strict-plugins`` or
``TOOLKIT_STRICT_PLUGINS=1``) turns the first failure into an error, for CI.
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import logging
import os
import sys
import traceback
from collections.abc import Iterable
from typing import Any

import pluggy

from toolkit import hookspecs
from toolkit.interfaces import KINDS, Component

logger = logging.getLogger("toolkit")

ENTRY_POINT_GROUP = "toolkit"
STRICT_ENV = "TOOLKIT_STRICT_PLUGINS"
EXTRA_ENV = "TOOLKIT_PLUGINS"


class PluginError(RuntimeError):
    """A plugin failed to load in strict mode, or plugins conflict."""


class UnknownComponentError(LookupError):
    """No registered component has the requested kind and name."""


@dataclasses.dataclass
class PluginInfo:
    """One plugin as ``toolkit plugins`` lists it."""

    name: str
    distribution: str | None
    version: str | None
    status: str  # "ok" or "broken"
    provides: dict[str, list[str]] = dataclasses.field(default_factory=dict)
    error: str | None = None
    traceback: str | None = None

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class ComponentEntry:
    """A component class and the plugin that provides it."""

    kind: str
    name: str
    cls: type[Component]
    plugin: str
    distribution: str | None
    version: str | None


def strict_from_env() -> bool:
    """Return whether ``TOOLKIT_STRICT_PLUGINS`` requests strict loading."""
    return os.environ.get(STRICT_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


class PluginManager:
    """Loads plugins and indexes the components they provide.

    Parameters
    ----------
    strict : bool or None
        Raise :class:`PluginError` on the first broken plugin; ``None`` reads
        ``TOOLKIT_STRICT_PLUGINS``.
    """

    def __init__(self, strict: bool | None = None):
        self.strict = strict_from_env() if strict is None else strict
        self._pm = pluggy.PluginManager("toolkit")
        self._pm.add_hookspecs(hookspecs)
        self.plugins: dict[str, PluginInfo] = {}
        self._components: dict[tuple[str, str], ComponentEntry] = {}
        self.conflicts: list[str] = []
        #: Modules loaded by import path, which worker processes load again.
        self.extra_modules: list[str] = []

    # -- loading ----------------------------------------------------------

    def load_entry_points(self) -> None:
        """Load every entry point of the ``toolkit`` group, isolating failures."""
        for entry_point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
            if entry_point.name in self.plugins:
                continue
            dist = entry_point.dist
            distribution = dist.metadata["Name"] if dist is not None else None
            version = dist.version if dist is not None else None
            try:
                module = entry_point.load()
            except Exception as error:  # noqa: BLE001 - any import failure
                self._record_broken(entry_point.name, distribution, version, error)
                continue
            self.register(module, entry_point.name, distribution, version)

    def load_module(self, module_name: str) -> None:
        """Import ``module_name`` and register it as a plugin of that name."""
        if module_name in self.plugins:
            return
        self.extra_modules.append(module_name)
        # Like `python -m`, find local modules relative to the working folder.
        if "" not in sys.path and os.getcwd() not in sys.path:
            sys.path.insert(0, os.getcwd())
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as error:
            missing = error.name or ""
            if module_name == missing or module_name.startswith(missing + "."):
                # The named module itself is missing: a typo, not a broken
                # plugin, so fail even when broken plugins are skipped.
                msg = (
                    f"plugin module {module_name!r} not found; check the name given "
                    "to --plugin / TOOLKIT_PLUGINS and that its folder is the "
                    "working folder or on PYTHONPATH"
                )
                raise PluginError(msg) from None
            self._record_broken(module_name, None, None, error)
            return
        except Exception as error:  # noqa: BLE001 - any import failure
            self._record_broken(module_name, None, None, error)
            return
        self.register(module, module_name)

    def register(
        self,
        plugin: object,
        name: str,
        distribution: str | None = None,
        version: str | None = None,
    ) -> PluginInfo | None:
        """Register ``plugin`` (a module or object with hook implementations).

        Returns the plugin's listing, or ``None`` when it is broken (and not
        strict).
        """
        try:
            self._pm.register(plugin, name=name)
        except Exception as error:  # noqa: BLE001 - pluggy validation errors
            self._record_broken(name, distribution, version, error)
            return None
        provides: dict[str, list[str]] = {}
        entries: list[ComponentEntry] = []
        try:
            _check_hook_names(plugin, name)
            for kind, hook_name in hookspecs.HOOK_FOR_KIND.items():
                hook_impl = getattr(plugin, hook_name, None)
                if hook_impl is None:
                    continue
                classes = list(hook_impl() or [])
                for cls in classes:
                    _check_component_class(cls, kind, name, hook_name)
                    entries.append(
                        ComponentEntry(kind, cls.name, cls, name, distribution, version)
                    )
                if classes:
                    provides[kind] = [cls.name for cls in classes]
        except Exception as error:  # noqa: BLE001 - a hook raising is a broken plugin
            self._pm.unregister(name=name)
            self._record_broken(name, distribution, version, error)
            return None
        for entry in entries:
            self._add_component(entry)
        info = PluginInfo(name, distribution, version, "ok", provides)
        self.plugins[name] = info
        return info

    def _record_broken(
        self,
        name: str,
        distribution: str | None,
        version: str | None,
        error: BaseException,
    ) -> None:
        text = f"{type(error).__name__}: {error}"
        if self.strict:
            origin = f" (distribution {distribution})" if distribution else ""
            fix = (
                f"fix or uninstall it (pip uninstall {distribution})"
                if distribution
                else "fix the module or drop it from --plugin / TOOLKIT_PLUGINS"
            )
            msg = (
                f"plugin {name!r}{origin} failed to load: {text}; {fix}, or unset "
                f"{STRICT_ENV} and drop --strict-plugins to skip broken plugins"
            )
            raise PluginError(msg) from error
        tb = "".join(
            traceback.format_exception(type(error), error, error.__traceback__)
        )
        self.plugins[name] = PluginInfo(
            name, distribution, version, "broken", {}, text, tb
        )
        fix = (
            f"pip uninstall {distribution}"
            if distribution
            else "drop it from --plugin / TOOLKIT_PLUGINS"
        )
        logger.warning(
            "plugin %r failed to load and is skipped: %s (run 'toolkit plugins' "
            "for details, or %s)",
            name,
            text,
            fix,
        )

    def _add_component(self, entry: ComponentEntry) -> None:
        key = (entry.kind, entry.name)
        other = self._components.get(key)
        if other is not None and other.cls is not entry.cls:
            msg = (
                f"two plugins register a {entry.kind} named {entry.name!r}: "
                f"{other.plugin!r} ({other.cls.__module__}.{other.cls.__qualname__}) "
                f"and {entry.plugin!r} ({entry.cls.__module__}."
                f"{entry.cls.__qualname__}); uninstall one or rename its component"
            )
            self.conflicts.append(msg)
            return
        self._components[key] = entry

    # -- lookup -----------------------------------------------------------

    def check_conflicts(self) -> None:
        """Raise :class:`PluginError` if two plugins claimed one component name."""
        if self.conflicts:
            raise PluginError("\n".join(self.conflicts))

    def components(self, kind: str | None = None) -> list[ComponentEntry]:
        """Return the registered components, of one kind or all, sorted by name."""
        entries = [e for e in self._components.values() if kind in (None, e.kind)]
        return sorted(entries, key=lambda e: (KINDS.index(e.kind), e.name))

    def get(self, kind: str, name: str) -> ComponentEntry:
        """Return the component ``name`` of ``kind``, or raise a clear error."""
        try:
            return self._components[(kind, name)]
        except KeyError:
            pass
        known = [e.name for e in self.components(kind)]
        msg = f"unknown {kind} {name!r}"
        close = _close_matches(name, known)
        if close:
            msg += f"; did you mean {', '.join(repr(c) for c in close)}?"
        else:
            msg += "."
        msg += f" Registered {kind}s: {', '.join(known) or 'none'}."
        broken = [p.name for p in self.plugins.values() if p.status == "broken"]
        if broken:
            msg += (
                f" Broken plugins that may have provided it: {', '.join(broken)} "
                "(see 'toolkit plugins')."
            )
        raise UnknownComponentError(msg)

    def broken(self) -> list[PluginInfo]:
        return [p for p in self.plugins.values() if p.status == "broken"]


def _check_component_class(cls: Any, kind: str, plugin: str, hook: str) -> None:
    if not (isinstance(cls, type) and issubclass(cls, Component)):
        msg = (
            f"hook {hook} of plugin {plugin!r} returned {cls!r}, not a component class"
        )
        raise TypeError(msg)
    if cls.kind != kind:
        msg = (
            f"hook {hook} of plugin {plugin!r} returned {cls.__qualname__}, a "
            f"{cls.kind or 'component without kind'}, where a {kind} is expected"
        )
        raise TypeError(msg)
    if not cls.name:
        msg = f"{cls.__qualname__} from plugin {plugin!r} has no `name`"
        raise TypeError(msg)


def _check_hook_names(plugin: object, name: str) -> None:
    """Reject attributes that look like hooks but match no specification."""
    known = set(hookspecs.HOOK_FOR_KIND.values())
    for attribute in dir(plugin):
        if not attribute.startswith("toolkit_") or attribute in known:
            continue
        if callable(getattr(plugin, attribute)) and not isinstance(
            getattr(plugin, attribute), type
        ):
            close = _close_matches(attribute, known)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            msg = f"plugin {name!r} defines unknown hook {attribute!r}{hint}"
            raise TypeError(msg)


def _close_matches(name: str, known: Iterable[str]) -> list[str]:
    import difflib

    return difflib.get_close_matches(name, list(known), n=3, cutoff=0.6)


def extra_plugins_from_env() -> tuple[str, ...]:
    """Return the module names listed in ``TOOLKIT_PLUGINS`` (comma-separated)."""
    value = os.environ.get(EXTRA_ENV, "")
    return tuple(name.strip() for name in value.split(",") if name.strip())


def load_plugins(
    strict: bool | None = None, extra: Iterable[str] = ()
) -> PluginManager:
    """Return a manager with every installed ``toolkit`` plugin loaded.

    ``extra`` names further plugin modules to import by dotted path, for local
    code that is not installed (``--plugin`` and ``TOOLKIT_PLUGINS``).
    """
    manager = PluginManager(strict=strict)
    manager.load_entry_points()
    for module_name in (*extra, *extra_plugins_from_env()):
        manager.load_module(module_name)
    return manager
