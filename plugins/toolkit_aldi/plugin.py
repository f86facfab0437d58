"""Entry point of the ``toolkit_aldi`` plugin (filled in by the sampler work)."""

from toolkit import hookimpl


@hookimpl
def toolkit_samplers():
    return []


@hookimpl
def toolkit_tasks():
    return []
