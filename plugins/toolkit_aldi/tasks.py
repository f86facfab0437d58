"""Sampler benchmark tasks: one target each, scored by moment errors and ESS.

Every task builds its target with the evaluation budget of its config, runs
the sampler in the ``sampler`` slot with the cell's seed, discards the first
half of the stored history as warm-up and compares the pooled mean and
covariance of the rest with the target's exact ones.
"""

from __future__ import annotations

import math

import logging
from collections.abc import Mapping
from typing import ClassVar, Literal

import numpy as np
from pydantic import Field
from toolkit import (
    Component,
    ComponentConfig,
    Metric,
    NotApplicable,
    RunContext,
    Sampler,
    Target,
    Task,
)

from toolkit_aldi import metrics
from toolkit_aldi.elliptic import EllipticTarget
from toolkit_aldi.targets import (
    BananaTarget,
    FunnelTarget,
    GaussianTarget,
    LinearInverseTarget,
)

__all__ = [
    "BananaTask",
    "EllipticInverseTask",
    "FunnelTask",
    "GaussianTask",
    "LinearInverseTask",
    "score_history",
]

logger = logging.getLogger("toolkit")

METRICS = (
    Metric(
        "mean_error", "lower", "Whitened mean error sqrt((m - m*)^T Sigma^-1 (m - m*))."
    ),
    Metric(
        "cov_error",
        "lower",
        "Whitened covariance error ||Sigma^-1/2 C Sigma^-1/2 - I||_F / sqrt(D).",
    ),
    Metric("rel_mean_error", "lower", "||m - m*|| / max(||m*||, sqrt(trace Sigma))."),
    Metric("rel_cov_error", "lower", "||C - Sigma||_F / ||Sigma||_F."),
    Metric(
        "ess_per_eval", "higher", "Minimum bulk ESS over coordinates per evaluation."
    ),
    Metric(
        "evaluations", "lower", "Evaluations spent (density, gradient and forward map)."
    ),
    Metric(
        "diverged",
        "lower",
        "1 when the sampler diverged (errors are then infinite), else 0.",
    ),
)

_BUDGET_DESCRIPTION = "Evaluations (density, gradient or forward map) per run."


def score_history(
    history: np.ndarray, target: Target, evaluations: int
) -> dict[str, float]:
    """Score the post-warm-up half of ``history`` against ``target``'s exact moments.

    Parameters
    ----------
    history : ndarray, shape (n_stored, n_chains, dim)
    target : Target
        Supplies ``true_mean`` and ``true_covariance``.
    evaluations : int
        Evaluations the sampler spent.

    Returns
    -------
    dict
        Every metric of :data:`METRICS`.
    """
    kept = history[len(history) // 2 :]
    mean, covariance = metrics.pooled_moments(kept)
    true_mean, true_covariance = target.true_mean, target.true_covariance
    return {
        "mean_error": metrics.whitened_mean_error(mean, true_mean, true_covariance),
        "cov_error": metrics.whitened_covariance_error(covariance, true_covariance),
        "rel_mean_error": metrics.relative_mean_error(mean, true_mean, true_covariance),
        "rel_cov_error": metrics.relative_covariance_error(covariance, true_covariance),
        "ess_per_eval": metrics.bulk_ess(kept) / evaluations,
        "evaluations": float(evaluations),
        "diverged": 0.0,
    }


def diverged_scores(evaluations: int) -> dict[str, float]:
    """Return the scores of a run that diverged: infinite errors, no ESS."""
    return {
        "mean_error": math.inf,
        "cov_error": math.inf,
        "rel_mean_error": math.inf,
        "rel_cov_error": math.inf,
        "ess_per_eval": 0.0,
        "evaluations": float(evaluations),
        "diverged": 1.0,
    }


class _SamplerTask(Task):
    """Runs the sampler in the ``sampler`` slot on the target of :meth:`build_target`."""

    slots: ClassVar[Mapping[str, str]] = {"sampler": "sampler"}
    metrics: ClassVar[tuple[Metric, ...]] = METRICS
    primary_metric: ClassVar[str] = "cov_error"

    def build_target(self) -> Target:
        """Return a fresh target with the configured budget."""
        raise NotImplementedError

    def _target_is_finite_at_mean(self) -> bool:
        """Return whether the density and gradient are finite at the true mean."""
        probe = self.build_target()
        probe.budget = None
        point = np.asarray(probe.true_mean, dtype=float)[None, :]
        try:
            probe.log_density(point)
            if probe.has_gradient:
                probe.grad_log_density(point)
        except FloatingPointError:
            return False
        return True

    def run(
        self, components: Mapping[str, Component], context: RunContext
    ) -> dict[str, float]:
        """Sample the target with the ``sampler`` component and score the history.

        Raises
        ------
        NotApplicable
            If the target lacks what the sampler requires.
        RuntimeError
            If the sampler diverges (non-finite positions).
        """
        sampler = components["sampler"]
        if not isinstance(sampler, Sampler):
            msg = f"slot 'sampler' needs a Sampler; received {type(sampler).__name__}"
            raise TypeError(msg)
        target = self.build_target()
        missing = sampler.missing_requirements(target)
        if missing:
            msg = (
                f"sampler {sampler.name!r} needs {', '.join(missing)}, which task "
                f"{self.name!r} does not provide"
            )
            raise NotApplicable(msg)

        budget = self.config.budget
        try:
            samples = sampler.sample(target, budget, context.seed)
        except FloatingPointError as error:
            if not self._target_is_finite_at_mean():
                msg = f"task {self.name!r} has a broken target: {error}"
                raise RuntimeError(msg) from error
            # The target is sound where the mass is, so the sampler moved to
            # where it overflows: a result about the sampler, not a failure.
            logger.info("sampler %s diverged on %s: %s", sampler.name, self.name, error)
            return diverged_scores(target.n_evaluations)
        positions = samples.positions
        if not np.isfinite(positions).all():
            logger.info(
                "sampler %s diverged on %s: non-finite positions",
                sampler.name,
                self.name,
            )
            return diverged_scores(samples.n_evaluations)
        if samples.n_evaluations > budget:
            msg = (
                f"sampler {sampler.name!r} reports {samples.n_evaluations} "
                f"evaluations, more than the budget of {budget}"
            )
            raise RuntimeError(msg)
        logger.debug(
            "%s on %s spent %d evaluations",
            sampler.name,
            self.name,
            samples.n_evaluations,
        )
        return score_history(positions, target, samples.n_evaluations)


class GaussianTask(_SamplerTask):
    """Rotated Gaussian with log-spaced eigenvalues and a chosen condition number."""

    name: ClassVar[str] = "gaussian"
    description: ClassVar[str] = "Rotated ill-conditioned Gaussian, exact moments"

    class Config(ComponentConfig):
        dim: int = Field(10, ge=2, le=1000, description="Dimension D.")
        condition_number: float = Field(
            1.0, ge=1.0, le=1e12, description="Ratio of largest to smallest eigenvalue."
        )
        rotation_seed: int = Field(
            0,
            ge=0,
            description="Seed of the Haar rotation; fixed across sampler seeds.",
        )
        initial: Literal["overdispersed", "standard"] = Field(
            "overdispersed",
            description=(
                "Initial ensemble: 'overdispersed' is mean + L (2 xi + 1) with "
                "L L^T = Sigma; 'standard' is N(0, I)."
            ),
        )
        budget: int = Field(40_000, ge=100, le=10**9, description=_BUDGET_DESCRIPTION)

    def build_target(self) -> Target:
        config = self.config
        return GaussianTarget(
            config.dim,
            config.condition_number,
            config.rotation_seed,
            config.initial,
            budget=config.budget,
        )


class LinearInverseTask(_SamplerTask):
    """Linear-Gaussian inverse problem with a closed-form posterior."""

    name: ClassVar[str] = "linear-inverse"
    description: ClassVar[str] = (
        "Linear-Gaussian inverse problem, closed-form posterior"
    )

    class Config(ComponentConfig):
        dim: int = Field(10, ge=1, le=1000, description="Number of parameters.")
        n_data: int = Field(20, ge=1, le=100_000, description="Number of observations.")
        noise_sd: float = Field(
            0.1, gt=0.0, le=1e6, description="Observation-noise standard deviation."
        )
        prior_sd: float = Field(
            1.0, gt=0.0, le=1e6, description="Prior standard deviation per parameter."
        )
        problem_seed: int = Field(
            0, ge=0, description="Seed of the forward matrix, truth and noise."
        )
        budget: int = Field(40_000, ge=100, le=10**9, description=_BUDGET_DESCRIPTION)

    def build_target(self) -> Target:
        config = self.config
        return LinearInverseTarget(
            config.dim,
            config.n_data,
            config.noise_sd,
            config.prior_sd,
            config.problem_seed,
            budget=config.budget,
        )


class EllipticInverseTask(_SamplerTask):
    """Two-parameter elliptic boundary-value inverse problem, quadrature reference."""

    name: ClassVar[str] = "elliptic-inverse"
    description: ClassVar[str] = "2-parameter elliptic BVP inverse problem"

    class Config(ComponentConfig):
        budget: int = Field(40_000, ge=100, le=10**9, description=_BUDGET_DESCRIPTION)

    def build_target(self) -> Target:
        return EllipticTarget(budget=self.config.budget)


class BananaTask(_SamplerTask):
    """Haario's banana (twisted Gaussian)."""

    name: ClassVar[str] = "banana"
    description: ClassVar[str] = "Haario banana, exact moments"

    class Config(ComponentConfig):
        dim: int = Field(
            2, ge=2, le=1000, description="Dimension; coordinates past 2 are N(0, 1)."
        )
        curvature: float = Field(
            0.03,
            ge=0.0,
            le=1.0,
            description="Bend b of x1 | x0 ~ N(b (x0^2 - 100), 1).",
        )
        budget: int = Field(40_000, ge=100, le=10**9, description=_BUDGET_DESCRIPTION)

    def build_target(self) -> Target:
        config = self.config
        return BananaTarget(config.dim, config.curvature, budget=config.budget)


class FunnelTask(_SamplerTask):
    """Neal's funnel; no forward model, so Kalman samplers do not apply."""

    name: ClassVar[str] = "funnel"
    description: ClassVar[str] = "Neal's funnel, exact moments"

    class Config(ComponentConfig):
        dim: int = Field(
            10, ge=2, le=1000, description="Dimension, v plus dim - 1 coordinates x_i."
        )
        budget: int = Field(40_000, ge=100, le=10**9, description=_BUDGET_DESCRIPTION)

    def build_target(self) -> Target:
        config = self.config
        return FunnelTarget(config.dim, budget=config.budget)
