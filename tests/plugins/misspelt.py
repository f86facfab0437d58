"""A plugin whose hook name has a typo."""

from toolkit import hookimpl


@hookimpl
def toolkit_sampler():
    return []
