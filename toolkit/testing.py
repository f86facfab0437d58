"""Conformance checks for component authors, in the spirit of scikit-learn's
``check_estimator``.

Call them from a plugin's own tests::

    from toolkit.testing import check_component, check_sampler

    def test_my_sampler_conforms():
        check_sampler(MySampler)

Each check raises ``AssertionError`` with the rule that was broken.
"""

from __future__ import annotations

import numpy as np

from toolkit.interfaces import (
    KINDS,
    ComponentConfig,
    Component,
    InverseProblem,
    Sampler,
    Samples,
    Target,
)

__all__ = ["check_component", "check_sampler", "standard_normal_target"]


def check_component(cls: type[Component]) -> None:
    """Check the class-level contract every component shares."""
    assert isinstance(cls, type) and issubclass(cls, Component), (
        f"{cls!r} must subclass toolkit.Component"
    )
    assert cls.kind in KINDS, f"{cls.__qualname__}.kind must be one of {KINDS}"
    assert isinstance(cls.name, str) and cls.name, f"{cls.__qualname__} needs a name"
    assert not any(character.isspace() for character in cls.name), (
        f"component name {cls.name!r} must not contain whitespace"
    )
    assert issubclass(cls.Config, ComponentConfig), (
        f"{cls.__qualname__}.Config must subclass toolkit.ComponentConfig"
    )
    config = cls.Config()
    instance = cls(config)
    assert instance.config == config, "the constructor must keep the validated config"
    dumped = config.model_dump(mode="json")
    assert cls.Config.model_validate(dumped) == config, (
        "the config must survive a JSON round trip (the harness stores it as JSON)"
    )


def standard_normal_target(dim: int, budget: int | None = None) -> Target:
    """Return N(0, I) in ``dim`` dimensions as an identity-map inverse problem.

    It has a density, a gradient and a forward map, so every sampler runs on
    it. Its exact mean is 0 and its covariance is the identity.
    """
    identity = np.eye(dim)
    problem = InverseProblem(
        forward=lambda positions: positions,
        data=np.zeros(dim),
        noise_covariance=identity,
        jacobian=lambda positions: np.broadcast_to(
            identity, (len(positions), dim, dim)
        ),
    )
    return Target(
        dim,
        inverse_problem=problem,
        budget=budget,
        true_mean=np.zeros(dim),
        true_covariance=identity,
    )


def check_sampler(
    cls: type[Sampler], dim: int = 3, budget: int = 20_000, seed: int = 0
) -> Samples:
    """Run ``cls`` with its default config on N(0, I) and check the contract.

    Checks: the budget is respected, the counts in :class:`Samples` equal
    the target's counters, positions have shape ``(n_stored, n_chains,
    dim)`` and are finite, the same seed gives the same positions, and the
    second half of the history has a mean within 0.5 and variances within a
    factor 2 of the truth (loose bounds: a conformance check, not an
    accuracy benchmark).
    """
    check_component(cls)
    assert cls.kind == "sampler"
    target = standard_normal_target(dim, budget)
    samples = cls().sample(target, budget, seed)
    assert isinstance(samples, Samples), "sample() must return toolkit.Samples"
    assert target.n_evaluations <= budget, (
        f"spent {target.n_evaluations} evaluations with a budget of {budget}"
    )
    counts = (
        samples.n_density_evals,
        samples.n_gradient_evals,
        samples.n_forward_evals,
    )
    expected = (target.n_density_evals, target.n_gradient_evals, target.n_forward_evals)
    assert counts == expected, (
        f"Samples counts {counts} differ from the target's counters {expected}; "
        "build the result with Samples.from_target"
    )
    positions = samples.positions
    shape_rule = f"positions must have shape (n_stored, n_chains, {dim})"
    assert positions.ndim == 3, f"{shape_rule}; got {positions.shape}"
    assert positions.shape[2] == dim, f"{shape_rule}; got {positions.shape}"
    assert np.isfinite(positions).all(), "positions contain NaN or infinity"

    again = cls().sample(standard_normal_target(dim, budget), budget, seed)
    np.testing.assert_array_equal(
        again.positions, positions, err_msg="the same seed must give the same samples"
    )

    kept = positions[len(positions) // 2 :].reshape(-1, dim)
    mean, variance = kept.mean(axis=0), kept.var(axis=0)
    assert np.all(np.abs(mean) < 0.5), f"mean {mean} is far from 0"
    assert np.all((variance > 0.5) & (variance < 2.0)), (
        f"variances {variance} are far from 1"
    )
    return samples
