"""Hook specifications of the ``toolkit`` plugin system.

A plugin is a module (or object) registered under the ``toolkit`` entry-point
group that implements some of these hooks with ``@toolkit.hookimpl``. Each
hook returns a list of component classes; the plugin manager collects them
and checks that no two share a name within a kind.
"""

from __future__ import annotations

import pluggy

hookspec = pluggy.HookspecMarker("toolkit")
hookimpl = pluggy.HookimplMarker("toolkit")


@hookspec
def toolkit_samplers() -> list[type]:
    """Return the :class:`~toolkit.interfaces.Sampler` classes this plugin provides."""


@hookspec
def toolkit_architectures() -> list[type]:
    """Return the :class:`~toolkit.interfaces.Architecture` classes this plugin provides."""


@hookspec
def toolkit_probes() -> list[type]:
    """Return the :class:`~toolkit.interfaces.Probe` classes this plugin provides."""


@hookspec
def toolkit_distillers() -> list[type]:
    """Return the :class:`~toolkit.interfaces.Distiller` classes this plugin provides."""


@hookspec
def toolkit_tasks() -> list[type]:
    """Return the :class:`~toolkit.interfaces.Task` classes this plugin provides."""


#: Hook name for each component kind, in listing order.
HOOK_FOR_KIND = {
    "sampler": "toolkit_samplers",
    "architecture": "toolkit_architectures",
    "probe": "toolkit_probes",
    "distiller": "toolkit_distillers",
    "task": "toolkit_tasks",
}
