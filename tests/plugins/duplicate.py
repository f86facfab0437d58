"""A plugin that registers a sampler under a name the toy plugin already uses."""

from toolkit import hookimpl
from tests.plugins.toy import ToyMetropolis


class AnotherMetropolis(ToyMetropolis):
    name = "toy-metropolis"


@hookimpl
def toolkit_samplers():
    return [AnotherMetropolis]
