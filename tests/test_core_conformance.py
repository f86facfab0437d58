"""Every registered component passes the conformance kit in toolkit.testing."""

from __future__ import annotations

import sys

import pytest

from toolkit.plugins import load_plugins
from toolkit.testing import check_component, check_sampler
from tests.conftest import REPO, TOY

MANAGER = load_plugins(strict=True, extra=(TOY,))

sys.path.insert(0, str(REPO / "examples" / "toolkit-example-plugin"))
from toolkit_example.plugin import AdaptiveMetropolis  # noqa: E402


@pytest.mark.parametrize(
    "entry", MANAGER.components(), ids=lambda e: f"{e.kind}:{e.name}"
)
def test_component_contract(entry):
    check_component(entry.cls)


@pytest.mark.parametrize(
    "entry",
    [
        e
        for e in MANAGER.components("sampler")
        if not e.cls.requires - {"density", "gradient", "forward_model"}
    ],
    ids=lambda e: e.name,
)
def test_sampler_contract(entry):
    check_sampler(entry.cls)


def test_example_plugin_sampler_contract():
    check_sampler(AdaptiveMetropolis)


def test_check_sampler_catches_wrong_counts():
    from toolkit import Samples
    from tests.plugins.toy import ToyMetropolis

    class Liar(ToyMetropolis):
        name = "liar"

        def sample(self, target, budget, seed):
            samples = super().sample(target, budget, seed)
            return Samples(samples.positions, n_density_evals=1)

    with pytest.raises(AssertionError, match="differ from the target's counters"):
        check_sampler(Liar)
