"""Component contracts: targets count and guard evaluations, configs validate."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import Field, ValidationError

from toolkit import (
    BudgetExhausted,
    ComponentConfig,
    InverseProblem,
    Metric,
    Program,
    Sampler,
    Target,
)


def linear_problem(seed=0, dim=3, n_data=5):
    rng = np.random.default_rng(seed)
    matrix = rng.standard_normal((n_data, dim))
    return InverseProblem(
        forward=lambda u: u @ matrix.T,
        data=rng.standard_normal(n_data),
        noise_covariance=np.diag(rng.uniform(0.5, 2.0, n_data)),
        prior_mean=rng.standard_normal(dim),
        prior_covariance=np.eye(dim) * 4.0,
        jacobian=lambda u: np.broadcast_to(matrix, (len(u), n_data, dim)),
    )


def test_target_counts_each_row():
    target = Target(3, inverse_problem=linear_problem())
    target.log_density(np.zeros((4, 3)))
    target.grad_log_density(np.zeros((2, 3)))
    target.forward(np.zeros((5, 3)))
    assert target.n_density_evals == 4
    assert target.n_gradient_evals == 2
    assert target.n_forward_evals == 5
    assert target.n_evaluations == 11


def test_budget_blocks_the_call_that_passes_it():
    target = Target(3, inverse_problem=linear_problem(), budget=10)
    target.log_density(np.zeros((8, 3)))
    with pytest.raises(BudgetExhausted, match="budget of 10"):
        target.log_density(np.zeros((3, 3)))
    assert target.n_evaluations == 8
    target.log_density(np.zeros((2, 3)))
    assert target.remaining == 0


def test_inverse_problem_gradient_matches_finite_differences():
    problem = linear_problem()
    target = Target(3, inverse_problem=problem)
    point = np.array([[0.3, -0.7, 1.1]])
    gradient = target.grad_log_density(point)[0]
    step = 1e-6
    numeric = [
        (
            target.log_density(point + step * e)[0]
            - target.log_density(point - step * e)[0]
        )
        / (2 * step)
        for e in np.eye(3)[:, None, :]
    ]
    np.testing.assert_allclose(gradient, numeric, rtol=1e-6, atol=1e-6)


def test_inverse_problem_log_density_is_gaussian_posterior():
    problem = linear_problem()
    target = Target(3, inverse_problem=problem)
    matrix = problem.jacobian(np.zeros((1, 3)))[0]
    precision = matrix.T @ problem.noise_precision @ matrix + problem.prior_precision
    mean = np.linalg.solve(
        precision,
        matrix.T @ problem.noise_precision @ problem.data
        + problem.prior_precision @ problem.prior_mean,
    )
    points = np.random.default_rng(1).standard_normal((6, 3))
    log_p = target.log_density(points) - target.log_density(mean[None])[0]
    expected = -0.5 * np.einsum("ni,ij,nj->n", points - mean, precision, points - mean)
    np.testing.assert_allclose(log_p, expected, rtol=1e-10, atol=1e-10)


def test_nan_density_raises_naming_position():
    class Broken(Target):
        def _log_density(self, positions):
            return np.full(len(positions), np.nan)

    with pytest.raises(FloatingPointError, match=r"non-finite log density \(nan\)"):
        Broken(2).log_density(np.ones((1, 2)))


def test_minus_infinity_density_is_allowed():
    class Bounded(Target):
        def _log_density(self, positions):
            return np.where(positions[:, 0] > 0, 0.0, -np.inf)

    values = Bounded(1).log_density(np.array([[1.0], [-1.0]]))
    assert values[1] == -np.inf


def test_wrong_shape_names_expected_shape():
    with pytest.raises(ValueError, match=r"shape \(n, 3\); received \(2, 2\)"):
        Target(3, inverse_problem=linear_problem()).log_density(np.zeros((2, 2)))


def test_gradient_free_target_rejects_gradient():
    class DensityOnly(Target):
        def _log_density(self, positions):
            return -0.5 * (positions**2).sum(axis=1)

    target = DensityOnly(2)
    assert not target.has_gradient
    with pytest.raises(NotImplementedError, match="gradient-free sampler"):
        target.grad_log_density(np.zeros((1, 2)))


def test_sampler_requirements_against_target():
    class GradientSampler(Sampler):
        name = "gradient-sampler"
        requires = frozenset({"gradient", "forward_model"})

    class DensityOnly(Target):
        def _log_density(self, positions):
            return np.zeros(len(positions))

    assert GradientSampler.missing_requirements(DensityOnly(1)) == [
        "forward_model",
        "gradient",
    ]
    assert (
        GradientSampler.missing_requirements(
            Target(3, inverse_problem=linear_problem())
        )
        == []
    )


def test_component_config_rejects_bad_values():
    class Bounded(Sampler):
        name = "bounded"

        class Config(ComponentConfig):
            step: float = Field(0.1, gt=0)

    assert Bounded({"step": 0.5}).config.step == 0.5
    with pytest.raises(ValidationError, match="greater than 0"):
        Bounded({"step": -1.0})
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        Bounded({"stpe": 0.5})


def test_program_load_runs_source():
    program = Program(source="def f(x):\n    return 2 * x + 1\n", symbolic="2*x + 1")
    assert program.load()(3) == 7


def test_program_without_entry_point_raises():
    with pytest.raises(ValueError, match="defines no function 'f'"):
        Program(source="def g(x):\n    return x\n").load()


def test_metric_direction():
    assert Metric("error", "lower").better(0.1, 0.2)
    assert Metric("score", "higher").better(0.3, 0.2)
    assert not Metric("score", "higher").better(0.1, 0.2)
