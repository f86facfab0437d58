"""The two-parameter elliptic inverse problem and its quadrature reference posterior.

The model is the boundary-value problem ``-(exp(u1) p'(x))' = 1`` on
``(0, 1)`` with ``p(0) = 0`` and ``p(1) = u2``, whose solution is
``p(x) = u2 x + exp(-u1)(x/2 - x^2/2)``. It is observed at ``x = 0.25`` and
``x = 0.75`` with data ``(27.5, 79.7)``, noise ``Gamma = 0.1^2 I`` and prior
``N(0, 10^2 I)``, as in the first experiment of Garbuno-Inigo, Hoffmann, Li,
Stuart (2020, "Interacting Langevin diffusions: gradient structure and
ensemble Kalman sampler", SIAM J. Appl. Dyn. Syst.).

No closed-form posterior exists, so :func:`reference_moments` integrates the
density on a tensor grid in the eigenbasis of the Laplace approximation.
"""

from __future__ import annotations

import functools

import numpy as np
from scipy import optimize
from toolkit import InverseProblem, Target

__all__ = ["EllipticTarget", "elliptic_problem", "reference_moments"]

OBSERVATION_POINTS = np.array([0.25, 0.75])
DATA = np.array([27.5, 79.7])
NOISE_SD = 0.1
PRIOR_SD = 10.0


def _forward(positions: np.ndarray) -> np.ndarray:
    u1 = positions[:, :1]
    u2 = positions[:, 1:2]
    x = OBSERVATION_POINTS
    return u2 * x + np.exp(-u1) * (x / 2.0 - x**2 / 2.0)


def _jacobian(positions: np.ndarray) -> np.ndarray:
    x = OBSERVATION_POINTS
    jac = np.empty((len(positions), len(x), 2))
    jac[:, :, 0] = -np.exp(-positions[:, :1]) * (x / 2.0 - x**2 / 2.0)
    jac[:, :, 1] = x
    return jac


def elliptic_problem() -> InverseProblem:
    """Return the inverse problem with the closed-form forward map and Jacobian."""
    return InverseProblem(
        forward=_forward,
        data=DATA.copy(),
        noise_covariance=NOISE_SD**2 * np.eye(2),
        prior_mean=np.zeros(2),
        prior_covariance=PRIOR_SD**2 * np.eye(2),
        jacobian=_jacobian,
    )


def _potential(positions: np.ndarray) -> np.ndarray:
    residual = _forward(positions) - DATA
    prior = (positions**2).sum(axis=1) / PRIOR_SD**2
    return 0.5 * ((residual / NOISE_SD) ** 2).sum(axis=1) + 0.5 * prior


def laplace_approximation() -> tuple[np.ndarray, np.ndarray]:
    """Locate the posterior mode and return it with the inverse Hessian of ``Phi``.

    Returns
    -------
    mode : ndarray, shape (2,)
    covariance : ndarray, shape (2, 2)
    """
    # The outputs are linear in (exp(-u1), u2), so the data alone fix a good
    # starting point: p(0.75) - 3 p(0.25) = -2 * 0.09375 exp(-u1).
    scale = (3.0 * DATA[0] - DATA[1]) / 2.0 / 0.09375
    start = np.array([-np.log(scale), (DATA[1] - DATA[0]) / 0.5])
    result = optimize.minimize(
        lambda u: float(_potential(u[None, :])[0]),
        start,
        jac=lambda u: _gradient(u),
        method="BFGS",
        options={"gtol": 1e-10},
    )
    mode = result.x
    covariance = np.linalg.inv(_hessian(mode))
    return mode, 0.5 * (covariance + covariance.T)


def _gradient(u: np.ndarray) -> np.ndarray:
    residual = _forward(u[None, :])[0] - DATA
    jac = _jacobian(u[None, :])[0]
    return jac.T @ residual / NOISE_SD**2 + u / PRIOR_SD**2


def _hessian(u: np.ndarray) -> np.ndarray:
    residual = _forward(u[None, :])[0] - DATA
    jac = _jacobian(u[None, :])[0]
    hessian = jac.T @ jac / NOISE_SD**2 + np.eye(2) / PRIOR_SD**2
    # Only d^2 G / du1^2 = -dG/du1 is non-zero among the second derivatives.
    hessian[0, 0] += -(jac[:, 0] @ residual) / NOISE_SD**2
    return hessian


@functools.lru_cache(maxsize=8)
def reference_moments(
    n_points: int = 401, half_width: float = 8.0
) -> tuple[np.ndarray, np.ndarray]:
    """Compute the posterior mean and covariance by quadrature on a grid.

    The grid has ``n_points`` nodes per axis over ``+-half_width`` Laplace
    standard deviations along each eigenvector of the Laplace covariance.
    Uniform weights equal the trapezoidal rule here, because the density is
    negligible at the grid's edges. Results are cached.

    Returns
    -------
    mean : ndarray, shape (2,)
    covariance : ndarray, shape (2, 2)
    """
    mode, laplace_covariance = laplace_approximation()
    eigenvalues, eigenvectors = np.linalg.eigh(laplace_covariance)
    axis = np.linspace(-half_width, half_width, n_points)
    grid_a, grid_b = np.meshgrid(axis, axis, indexing="ij")
    standard = np.column_stack([grid_a.ravel(), grid_b.ravel()])
    points = mode + (standard * np.sqrt(eigenvalues)) @ eigenvectors.T

    log_weights = -_potential(points)
    weights = np.exp(log_weights - log_weights.max())
    weights /= weights.sum()
    mean = weights @ points
    offsets = points - mean
    covariance = (offsets * weights[:, None]).T @ offsets
    return mean, 0.5 * (covariance + covariance.T)


class EllipticTarget(Target):
    """Posterior of the two-parameter elliptic problem.

    The initial ensemble draws ``u1 ~ N(0, 1)`` and ``u2 ~ U(90, 110)``.

    Parameters
    ----------
    budget : int or None
    quadrature_points : int
        Grid nodes per axis for :func:`reference_moments`.
    """

    def __init__(self, budget: int | None = None, quadrature_points: int = 401):
        mean, covariance = reference_moments(quadrature_points)
        super().__init__(
            2,
            inverse_problem=elliptic_problem(),
            budget=budget,
            true_mean=mean,
            true_covariance=covariance,
        )

    def initial_ensemble(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """Draw ``n`` starting points, shape ``(n, 2)``."""
        return np.column_stack([rng.standard_normal(n), rng.uniform(90.0, 110.0, n)])
