"""The spectral-bias and grf tasks."""

import numpy as np
import pytest
from pydantic import ValidationError

from toolkit import RunContext
from toolkit_kan import KAN, MLP
from toolkit_kan._grf import GRF, GRFConfig, sample_field, sample_grf
from toolkit_kan._spectral import (
    SpectralBias,
    SpectralBiasConfig,
    frequency_errors,
    make_target,
)


def test_frequency_errors_against_known_residuals():
    config = SpectralBiasConfig(frequencies=[5, 10, 15], n_points=64)
    x, target = make_target(config, seed=0)
    frequencies = np.array([5, 10, 15])
    np.testing.assert_allclose(
        frequency_errors(target, target, frequencies), 0, atol=1e-12
    )
    np.testing.assert_allclose(frequency_errors(0 * target, target, frequencies), 1)
    # Drop the k=10 component: only its error becomes 1.
    missing = target - np.sin(2 * np.pi * 10 * x + _phase(config, 1))
    np.testing.assert_allclose(
        frequency_errors(missing, target, frequencies), [0, 1, 0], atol=1e-9
    )


def _phase(config, index):
    rng = np.random.default_rng(0)
    return rng.uniform(0.0, 2.0 * np.pi, size=len(config.frequencies))[index]


def test_spectral_config_rejects_bad_frequencies():
    with pytest.raises(ValidationError, match="multiples of 5"):
        SpectralBiasConfig(frequencies=[7])
    with pytest.raises(ValidationError, match="cannot resolve frequency 50"):
        SpectralBiasConfig(n_points=64)
    with pytest.raises(ValidationError, match="lr"):
        SpectralBiasConfig(training={"lr": -1})


def test_spectral_task_metrics_and_artifacts(tmp_path):
    task = SpectralBias(
        {
            "frequencies": [5, 10],
            "n_points": 64,
            "training": {"steps": 40, "eval_every": 10},
        }
    )
    architecture = KAN({"hidden": [], "grid": 20, "grid_update_every": 0})
    metrics = task.run(
        {"architecture": architecture}, RunContext(seed=0, artifacts=tmp_path)
    )
    declared = {metric.name for metric in SpectralBias.metrics}
    assert set(metrics) <= declared
    assert {"learning_step_k5", "learning_step_k10", "mean_learning_step"} <= set(
        metrics
    )
    assert 0 <= metrics["mean_learning_step"] <= 40
    assert (tmp_path / "spectral_errors.png").stat().st_size > 0
    table = np.loadtxt(tmp_path / "spectral_errors.csv", delimiter=",", skiprows=1)
    assert table.shape == (5, 3)
    np.testing.assert_array_equal(table[:, 0], [0, 10, 20, 30, 40])


def test_grf_field_covariance_matches_kernel():
    rng = np.random.default_rng(0)
    points = rng.uniform(0, 1, size=(6, 2))
    draws = np.array([sample_field(points, 0.3, 1e-6, rng) for _ in range(20000)])
    squared = np.sum((points[:, None] - points[None]) ** 2, axis=-1)
    expected = np.exp(-squared / (2 * 0.3**2))
    np.testing.assert_allclose(np.cov(draws.T), expected, atol=0.05)


def test_grf_points_in_unit_box():
    points, values = sample_grf(GRFConfig(dim=3, n_points=50), seed=1)
    assert points.shape == (50, 3)
    assert values.shape == (50,)
    assert points.min() >= 0
    assert points.max() <= 1


@pytest.mark.parametrize("dim", [1, 3])
def test_grf_task_runs(dim):
    task = GRF(
        {"dim": dim, "n_points": 100, "training": {"steps": 20, "eval_every": 10}}
    )
    metrics = task.run({"architecture": MLP({"hidden": [8]})}, RunContext(seed=0))
    assert set(metrics) == {metric.name for metric in GRF.metrics}
    assert np.isfinite(list(metrics.values())).all()


def test_grf_config_bounds():
    with pytest.raises(ValidationError, match="dim"):
        GRFConfig(dim=4)
    with pytest.raises(ValidationError, match="correlation_length"):
        GRFConfig(correlation_length=0.0)
