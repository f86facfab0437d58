"""Samplers of the toolkit_aldi plugin against exact Gaussian moments.

Tolerances come from Monte Carlo error estimated over independent seeds: for
a statistic with per-seed values s_r, r = 1..R, the standard error of their
mean is sd_r(s_r) / sqrt(R). Standard errors of coordinates that affine
invariance makes exchangeable are pooled (root mean square over
coordinates), which gives D (R - 1) degrees of freedom. A check passes when
the deviation is below Z standard errors plus, for the unadjusted Langevin
samplers, a stated discretisation-bias allowance.
"""

import math

import numpy as np
import pytest
from pydantic import ValidationError
from toolkit_aldi._ensemble import (
    ensemble_deviations,
    gradient_drift_matrix,
    kalman_drift_matrix,
)
from toolkit_aldi.aldi import AldiKalmanSampler, AldiSampler
from toolkit_aldi.baselines import EmceeSampler, RandomWalkMetropolis
from toolkit_aldi.metrics import pooled_moments
from toolkit_aldi.targets import GaussianTarget, LinearInverseTarget
from toolkit_aldi.underdamped import (
    EnsembleUnderdampedKalmanSampler,
    EnsembleUnderdampedSampler,
)

# Five standard errors; with up to ten coordinates checked per test the
# chance of a false failure stays below 1e-5 for a normal statistic.
Z = 5.0
SEEDS = range(6)


def whitened_moments(sampler, make_target, budget, seeds=SEEDS):
    """Return per-seed whitened means (R, D) and whitened covariances (R, D, D)."""
    means, covariances = [], []
    for seed in seeds:
        target = make_target()
        samples = sampler.sample(target, budget, seed)
        mean, covariance = pooled_moments(
            samples.positions[len(samples.positions) // 2 :]
        )
        factor = np.linalg.cholesky(target.true_covariance)
        means.append(np.linalg.solve(factor, mean - target.true_mean))
        left = np.linalg.solve(factor, covariance)
        covariances.append(np.linalg.solve(factor, left.T))
    return np.array(means), np.array(covariances)


def pooled_standard_error(values):
    """Pooled standard error of the seed average of each column of ``values`` (R, K)."""
    return math.sqrt(values.var(axis=0, ddof=1).mean() / len(values))


def check_moments(means, covariances, bias_allowance):
    mean_error = np.abs(means.mean(axis=0))
    assert mean_error.max() <= Z * pooled_standard_error(means)

    variances = np.diagonal(covariances, axis1=1, axis2=2)
    variance_error = np.abs(variances.mean(axis=0) - 1.0)
    limit = Z * pooled_standard_error(variances) + bias_allowance
    assert variance_error.max() <= limit

    dim = means.shape[1]
    upper = np.triu_indices(dim, k=1)
    off_diagonal = covariances[:, upper[0], upper[1]]
    limit = Z * pooled_standard_error(off_diagonal) + bias_allowance
    assert np.abs(off_diagonal.mean(axis=0)).max() <= limit


def gaussian(dim=10, condition_number=100.0):
    return lambda: GaussianTarget(dim=dim, condition_number=condition_number)


# Stationary variance bias of the unadjusted samplers at their defaults on
# this Gaussian (J = 22) was measured at +1.6% (ALDI, h = 0.1) and -1% (second
# order, h = 0.2) in a reference prototype; 5% allows three times that.
UNADJUSTED_BIAS = 0.05


@pytest.mark.parametrize(
    ("sampler", "bias"),
    [
        (AldiSampler(), UNADJUSTED_BIAS),
        (AldiKalmanSampler(), UNADJUSTED_BIAS),
        (EnsembleUnderdampedSampler(), UNADJUSTED_BIAS),
        (EnsembleUnderdampedKalmanSampler(), UNADJUSTED_BIAS),
        (RandomWalkMetropolis(), 0.0),
        (EmceeSampler(), 0.0),
    ],
    ids=lambda value: getattr(value, "name", str(value)),
)
def test_gaussian_moments(sampler, bias):
    means, covariances = whitened_moments(sampler, gaussian(), budget=40_000)
    check_moments(means, covariances, bias)


@pytest.mark.parametrize(
    "sampler",
    [AldiKalmanSampler(), EnsembleUnderdampedKalmanSampler()],
    ids=lambda value: value.name,
)
def test_linear_inverse_posterior(sampler):
    means, covariances = whitened_moments(sampler, LinearInverseTarget, budget=40_000)
    check_moments(means, covariances, UNADJUSTED_BIAS)


def variance_factors(sampler, budget):
    """Seed-wise mean whitened variance on N(0, Sigma), D = 2, kappa = 100."""
    _, covariances = whitened_moments(
        sampler, gaussian(dim=2, condition_number=100.0), budget, seeds=range(4)
    )
    return np.diagonal(covariances, axis1=1, axis2=2).mean(axis=1)


@pytest.mark.parametrize(
    ("sampler_class", "step_size", "uncorrected_factor"),
    [
        # Without the correction ALDI is EKS, whose variances shrink by
        # (J - D - 1)/J = 0.5 at J = 6, D = 2.
        (AldiSampler, 0.05, 0.5),
        # The second-order system has no closed form for the uncorrected
        # factor; a long reference run measured 0.55, near (J - D - 1)/J.
        (EnsembleUnderdampedSampler, 0.1, 0.55),
    ],
    ids=["aldi", "ensemble-underdamped"],
)
def test_finite_ensemble_correction(sampler_class, step_size, uncorrected_factor):
    config = {"n_particles": 6, "step_size": step_size}
    corrected = variance_factors(sampler_class(config), budget=60_000)
    plain = variance_factors(
        sampler_class({**config, "finite_ensemble_correction": False}), budget=60_000
    )
    # Bias allowance 0.05 for the step size, as for the moment tests.
    corrected_se = corrected.std(ddof=1) / math.sqrt(len(corrected))
    plain_se = plain.std(ddof=1) / math.sqrt(len(plain))
    assert abs(corrected.mean() - 1.0) <= Z * corrected_se + UNADJUSTED_BIAS
    assert abs(plain.mean() - uncorrected_factor) <= Z * plain_se + UNADJUSTED_BIAS


def test_kalman_drift_equals_gradient_drift_linear():
    target = LinearInverseTarget(dim=5, n_data=8)
    positions = np.random.default_rng(0).standard_normal((12, 5))
    problem = target.inverse_problem
    deviations = ensemble_deviations(positions)
    covariance = deviations.T @ deviations / len(positions)

    gradient_matrix = gradient_drift_matrix(
        deviations, target.grad_log_density(positions)
    )
    gradient_drift = -gradient_matrix.T @ deviations

    outputs = target.forward(positions)
    kalman_matrix = kalman_drift_matrix(outputs, problem, problem.noise_precision)
    prior_drift = (
        (positions - problem.prior_mean) @ problem.prior_precision @ covariance
    )
    kalman_drift = -kalman_matrix.T @ deviations - prior_drift

    scale = np.abs(gradient_drift).max()
    assert np.abs(kalman_drift - gradient_drift).max() <= 1e-10 * scale


def test_aldi_kalman_matches_gradient_on_gaussian():
    # G = identity with a flat prior: the Kalman drift and step equal the
    # gradient ones up to the 1e-8 offset in the step rule.
    gradient = AldiSampler().sample(GaussianTarget(dim=4), 2000, 3)
    kalman = AldiKalmanSampler().sample(GaussianTarget(dim=4), 2000, 3)
    assert np.allclose(gradient.positions, kalman.positions, rtol=1e-6, atol=1e-8)


def cov_errors(sampler, condition_number, seeds):
    from toolkit_aldi.metrics import whitened_covariance_error

    errors = []
    for seed in seeds:
        target = GaussianTarget(condition_number=condition_number)
        samples = sampler.sample(target, 40_000, seed)
        _, covariance = pooled_moments(samples.positions[len(samples.positions) // 2 :])
        errors.append(whitened_covariance_error(covariance, target.true_covariance))
    return np.array(errors)


def test_affine_invariance_underdamped_vs_rwm():
    seeds = range(5)
    sampler = EnsembleUnderdampedSampler()
    well = cov_errors(sampler, 1.0, seeds)
    stiff = cov_errors(sampler, 1e6, seeds)
    noise = math.sqrt((well.var(ddof=1) + stiff.var(ddof=1)) / len(well))
    assert abs(stiff.mean() - well.mean()) <= Z * noise

    rwm = RandomWalkMetropolis()
    rwm_well = cov_errors(rwm, 1.0, seeds)
    rwm_stiff = cov_errors(rwm, 1e6, seeds)
    # The stiff errors vary too much across seeds for a standard-error test,
    # so compare order statistics: every stiff run is worse than three times
    # the worst well-conditioned run.
    assert rwm_stiff.min() > 3 * rwm_well.max()


ALL_SAMPLERS = [
    AldiSampler(),
    AldiKalmanSampler(),
    EnsembleUnderdampedSampler(),
    EnsembleUnderdampedKalmanSampler(),
    RandomWalkMetropolis(),
    EmceeSampler(),
]


@pytest.mark.parametrize("sampler", ALL_SAMPLERS, ids=lambda value: value.name)
@pytest.mark.parametrize("budget", [1000, 1237])
def test_budget_respected(sampler, budget):
    target = GaussianTarget(dim=3, budget=budget)
    samples = sampler.sample(target, budget, 0)
    per_step = 8 if sampler.name != "rwm" else 4
    assert samples.n_evaluations <= budget
    assert samples.n_evaluations > budget - per_step
    assert samples.n_evaluations == target.n_evaluations
    assert samples.n_density_evals == target.n_density_evals
    assert samples.n_gradient_evals == target.n_gradient_evals
    assert samples.n_forward_evals == target.n_forward_evals
    assert samples.positions.shape[1:] == (per_step, 3)


@pytest.mark.parametrize("sampler", ALL_SAMPLERS, ids=lambda value: value.name)
def test_budget_argument_below_target_budget(sampler):
    target = GaussianTarget(dim=3, budget=10_000)
    samples = sampler.sample(target, 500, 0)
    assert 500 - 8 < samples.n_evaluations <= 500


@pytest.mark.parametrize("sampler", ALL_SAMPLERS, ids=lambda value: value.name)
def test_budget_too_small_raises(sampler):
    with pytest.raises(ValueError, match="too small"):
        sampler.sample(GaussianTarget(dim=3), 5, 0)


def test_history_thinned_to_max_stored():
    samples = AldiSampler({"max_stored": 50}).sample(GaussianTarget(dim=3), 8000, 0)
    assert len(samples.positions) <= 50
    assert samples.info["thin"] * len(samples.positions) >= samples.info["n_steps"]


def test_same_seed_same_history():
    first = EnsembleUnderdampedSampler().sample(GaussianTarget(dim=3), 2000, 7)
    second = EnsembleUnderdampedSampler().sample(GaussianTarget(dim=3), 2000, 7)
    assert np.array_equal(first.positions, second.positions)


class HoleTarget(GaussianTarget):
    """Gaussian whose density and gradient are NaN where the first coordinate > 1."""

    def _log_density(self, positions):
        values = super()._log_density(positions)
        return np.where(positions[:, 0] > 1.0, np.nan, values)

    def _grad_log_density(self, positions):
        values = super()._grad_log_density(positions)
        return np.where(positions[:, :1] > 1.0, np.nan, values)


@pytest.mark.parametrize(
    "sampler",
    [
        AldiSampler(),
        EnsembleUnderdampedSampler(),
        RandomWalkMetropolis(),
        EmceeSampler(),
    ],
    ids=lambda value: value.name,
)
def test_nan_target_raises_clear_error(sampler):
    with pytest.raises(FloatingPointError, match="HoleTarget returned a non-finite"):
        sampler.sample(HoleTarget(dim=3), 5000, 0)


@pytest.mark.parametrize(
    ("sampler_class", "config"),
    [
        (AldiSampler, {"step_size": -0.1}),
        (AldiSampler, {"n_particles": 1}),
        (AldiKalmanSampler, {"max_step": 0.0}),
        (EnsembleUnderdampedSampler, {"friction": 0.0}),
        (EnsembleUnderdampedKalmanSampler, {"step_size": 50.0}),
        (RandomWalkMetropolis, {"adapt_fraction": 1.5}),
        (EmceeSampler, {"stretch_scale": 1.0}),
        (EmceeSampler, {"n_walker": 10}),
    ],
)
def test_invalid_config_raises(sampler_class, config):
    with pytest.raises(ValidationError):
        sampler_class(config)


def test_underdamped_rejects_small_ensemble():
    sampler = EnsembleUnderdampedSampler({"n_particles": 4})
    with pytest.raises(ValueError, match="n_particles > dim"):
        sampler.sample(GaussianTarget(dim=3), 1000, 0)


def test_emcee_rejects_too_few_walkers():
    with pytest.raises(ValueError, match="n_walkers >= 2"):
        EmceeSampler({"n_walkers": 4}).sample(GaussianTarget(dim=3), 1000, 0)


def test_emcee_missing_names_install_command(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "emcee", None)
    with pytest.raises(ImportError, match=r"interp-toolkit\[peers\]"):
        EmceeSampler().sample(GaussianTarget(dim=3), 1000, 0)


def test_info_is_json_serialisable():
    import json

    for sampler in ALL_SAMPLERS:
        samples = sampler.sample(GaussianTarget(dim=3), 2000, 0)
        json.dumps(samples.info)
