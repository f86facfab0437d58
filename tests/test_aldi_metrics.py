"""Metric functions of the toolkit_aldi plugin against hand computations."""

import math

import numpy as np
import pytest
from toolkit_aldi import metrics


def test_pooled_moments_divide_by_n():
    history = np.array([[[0.0, 0.0], [2.0, 0.0]], [[0.0, 2.0], [2.0, 2.0]]])
    mean, covariance = metrics.pooled_moments(history)
    assert np.allclose(mean, [1.0, 1.0])
    assert np.allclose(covariance, np.eye(2))


def test_whitened_mean_error_by_hand():
    covariance = np.diag([4.0, 9.0])
    error = metrics.whitened_mean_error(np.array([2.0, 3.0]), np.zeros(2), covariance)
    # (2/2)^2 + (3/3)^2 = 2.
    assert error == pytest.approx(math.sqrt(2.0))


def test_whitened_covariance_error_by_hand():
    covariance = np.diag([4.0, 1.0])
    estimate = np.diag([8.0, 1.0])
    # Whitened estimate diag(2, 1); ||diag(1, 0)||_F / sqrt(2).
    error = metrics.whitened_covariance_error(estimate, covariance)
    assert error == pytest.approx(1.0 / math.sqrt(2.0))


def test_whitened_covariance_error_rotation_invariant():
    rng = np.random.default_rng(3)
    factor = rng.standard_normal((3, 3))
    covariance = factor @ factor.T + np.eye(3)
    estimate = 1.3 * covariance
    # Sigma^{-1/2} (1.3 Sigma) Sigma^{-1/2} - I = 0.3 I, norm 0.3 sqrt(3) / sqrt(3).
    assert metrics.whitened_covariance_error(estimate, covariance) == pytest.approx(0.3)


def test_relative_errors_by_hand():
    covariance = np.diag([9.0, 16.0])
    # Zero mean: the floor sqrt(trace) = 5 is the scale.
    error = metrics.relative_mean_error(np.array([3.0, 4.0]), np.zeros(2), covariance)
    assert error == pytest.approx(1.0)
    large_mean = np.array([30.0, 40.0])
    error = metrics.relative_mean_error(large_mean + [3.0, 4.0], large_mean, covariance)
    assert error == pytest.approx(0.1)
    estimate = np.diag([9.0, 4.0])
    assert metrics.relative_covariance_error(estimate, covariance) == pytest.approx(
        12.0 / math.sqrt(81.0 + 256.0)
    )


def test_bulk_ess_independent_draws():
    rng = np.random.default_rng(0)
    history = rng.standard_normal((1000, 4, 3))
    ess = metrics.bulk_ess(history)
    # Independent draws give ESS near n = 4000; the minimum over three
    # coordinates of a noisy estimate stays within a third of it.
    assert 2700 < ess < 5000


def test_bulk_ess_detects_correlation():
    rng = np.random.default_rng(0)
    noise = rng.standard_normal((4000, 4, 2))
    history = np.empty_like(noise)
    history[0] = noise[0]
    for step in range(1, len(noise)):
        history[step] = 0.9 * history[step - 1] + math.sqrt(1 - 0.81) * noise[step]
    # AR(1) with rho = 0.9 has ESS = n (1 - rho) / (1 + rho) = 16000 / 19.
    ess = metrics.bulk_ess(history)
    assert ess == pytest.approx(16000 / 19, rel=0.35)
