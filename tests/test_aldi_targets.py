"""Targets of the toolkit_aldi plugin: moments, gradients and the elliptic reference."""

import math

import numpy as np
import pytest
from scipy import integrate
from toolkit_aldi.elliptic import (
    EllipticTarget,
    elliptic_problem,
    laplace_approximation,
    reference_moments,
)
from toolkit_aldi.targets import (
    BananaTarget,
    FunnelTarget,
    GaussianTarget,
    LinearInverseTarget,
)


def finite_difference_gradient(target, point, step=1e-6):
    grad = np.empty_like(point)
    for i in range(len(point)):
        shift = np.zeros_like(point)
        shift[i] = step
        upper = target._log_density((point + shift)[None])[0]
        lower = target._log_density((point - shift)[None])[0]
        grad[i] = (upper - lower) / (2 * step)
    return grad


@pytest.mark.parametrize(
    "target",
    [
        GaussianTarget(dim=4, condition_number=100.0),
        LinearInverseTarget(dim=3, n_data=5),
        BananaTarget(dim=3),
        FunnelTarget(dim=4),
        EllipticTarget(),
    ],
    ids=["gaussian", "linear", "banana", "funnel", "elliptic"],
)
def test_gradient_matches_finite_differences(target):
    rng = np.random.default_rng(1)
    point = target.initial_ensemble(rng, 1)[0] * 0.5
    analytic = target._grad_log_density(point[None])[0]
    numeric = finite_difference_gradient(target, point)
    assert np.allclose(analytic, numeric, rtol=1e-5, atol=1e-5)


def test_gaussian_spectrum_and_rotation():
    target = GaussianTarget(dim=6, condition_number=1e6, rotation_seed=4)
    eigenvalues = np.linalg.eigvalsh(target.true_covariance)
    assert np.allclose(eigenvalues, np.logspace(0, 6, 6), rtol=1e-8)
    assert np.allclose(target.precision @ target.true_covariance, np.eye(6), atol=1e-6)
    same = GaussianTarget(dim=6, condition_number=1e6, rotation_seed=4)
    assert np.array_equal(same.true_covariance, target.true_covariance)


def test_gaussian_overdispersed_start_whitened():
    target = GaussianTarget(dim=3, condition_number=1e4)
    draws = target.initial_ensemble(np.random.default_rng(0), 20000)
    whitened = np.linalg.solve(target.cholesky, draws.T).T
    # Whitened start is 2 xi + 1: mean 1 (se 2/sqrt(n) = 0.014), variance 4.
    assert np.allclose(whitened.mean(axis=0), 1.0, atol=0.07)
    assert np.allclose(whitened.var(axis=0), 4.0, rtol=0.06)


def test_gaussian_inverse_problem_same_density():
    target = GaussianTarget(dim=3, condition_number=10.0)
    points = np.random.default_rng(2).standard_normal((5, 3))
    problem = target.inverse_problem
    residual = problem.forward(points) - problem.data
    misfit = np.einsum("ni,ij,nj->n", residual, problem.noise_precision, residual)
    assert np.allclose(target.log_density(points), -0.5 * misfit)


def test_linear_posterior_closed_form():
    target = LinearInverseTarget(dim=3, n_data=4, noise_sd=0.5, prior_sd=2.0)
    # The log density is quadratic, so its gradient vanishes at the posterior
    # mean and its Hessian is minus the posterior precision.
    grad = target._grad_log_density(target.true_mean[None])[0]
    assert np.allclose(grad, 0.0, atol=1e-10)
    hessian = np.column_stack(
        [
            target._grad_log_density(target.true_mean[None] + np.eye(3)[i])[0]
            for i in range(3)
        ]
    )
    assert np.allclose(-hessian @ target.true_covariance, np.eye(3), atol=1e-8)


def test_banana_moments_by_exact_draws():
    target = BananaTarget(dim=3)
    rng = np.random.default_rng(0)
    n = 400_000
    x0 = rng.normal(0.0, 10.0, n)
    x1 = rng.normal(0.03 * (x0**2 - 100.0), 1.0)
    x2 = rng.standard_normal(n)
    draws = np.column_stack([x0, x1, x2])
    covariance = np.cov(draws.T)
    # Standard error of a variance estimate is about sd^2 sqrt(kurtosis-ish
    # factor / n); 5 such errors with a generous kurtosis factor of 10 give
    # a relative tolerance of 5 sqrt(10 / n) = 0.025.
    assert np.allclose(np.diag(covariance), np.diag(target.true_covariance), rtol=0.025)
    assert abs(covariance[0, 1]) < 5 * 10.0 * math.sqrt(19.0) * math.sqrt(10 / n)


def test_funnel_variance_by_quadrature():
    target = FunnelTarget(dim=3)
    # Var x_i = E[e^v] with v ~ N(0, 9).
    value, _ = integrate.quad(
        lambda v: math.exp(v) * math.exp(-(v**2) / 18) / math.sqrt(18 * math.pi),
        -60,
        60,
    )
    assert target.true_covariance[1, 1] == pytest.approx(value, rel=1e-8)
    assert target.true_covariance[0, 0] == 9.0


def test_funnel_far_point_reports_non_finite():
    target = FunnelTarget(dim=3)
    with pytest.raises(FloatingPointError, match="non-finite gradient"):
        target.grad_log_density(np.array([[-1000.0, 1.0, 1.0]]))


def test_elliptic_jacobian_matches_finite_differences():
    problem = elliptic_problem()
    point = np.array([[-2.5, 104.0]])
    jac = problem.jacobian(point)[0]
    for i in range(2):
        shift = np.zeros((1, 2))
        shift[0, i] = 1e-6
        column = (problem.forward(point + shift) - problem.forward(point - shift))[
            0
        ] / 2e-6
        assert np.allclose(jac[:, i], column, rtol=1e-6)


def test_elliptic_quadrature_converges():
    coarse_mean, coarse_cov = reference_moments(201, 8.0)
    fine_mean, fine_cov = reference_moments(401, 8.0)
    wide_mean, wide_cov = reference_moments(401, 10.0)
    sd = np.sqrt(np.diag(fine_cov))
    # Refining or widening the grid changes the moments by less than 1e-4 sd,
    # far below the sampling error of any benchmark run.
    assert np.all(np.abs(coarse_mean - fine_mean) < 1e-4 * sd)
    assert np.all(np.abs(wide_mean - fine_mean) < 1e-4 * sd)
    assert np.allclose(coarse_cov, fine_cov, rtol=1e-4)
    assert np.allclose(wide_cov, fine_cov, rtol=1e-4)


def test_elliptic_reference_near_laplace():
    mode, laplace_cov = laplace_approximation()
    mean, covariance = reference_moments()
    sd = np.sqrt(np.diag(laplace_cov))
    # The posterior is close to Gaussian: exp(-u1) has about 10% relative
    # spread, so the mean moves by a fraction of an sd from the mode and the
    # covariance stays within 20% of the Laplace one.
    assert np.all(np.abs(mean - mode) < 0.5 * sd)
    assert np.allclose(covariance, laplace_cov, rtol=0.2)
    # The data pin u2 ~ 104.4 and exp(-u1) ~ 14.9, i.e. u1 ~ -2.7.
    assert mean[0] == pytest.approx(-2.7, abs=0.1)
    assert mean[1] == pytest.approx(104.4, abs=0.3)
