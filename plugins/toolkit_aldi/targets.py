"""Benchmark targets with exact means and covariances.

* :class:`GaussianTarget`: ``N(0, Sigma)`` with ``Sigma = Q diag(lambda) Q^T``,
  ``Q`` Haar-random (QR of a Gaussian matrix with the sign fix of Mezzadri
  2007, "How to generate random matrices from the classical compact groups")
  and ``lambda = logspace(0, log10 kappa, D)``. It is also an inverse problem
  with ``G = I``, data = mean, noise covariance ``Sigma`` and a flat prior, so
  statistical linearisation is exact on it.
* :class:`LinearInverseTarget`: ``y = A u + eta`` with a Gaussian prior and the
  closed-form posterior ``Sigma_post = (A^T Gamma^{-1} A + Gamma0^{-1})^{-1}``.
* :class:`BananaTarget`: Haario, Saksman, Tamminen (1999) banana,
  ``x0 ~ N(0, 10^2)``, ``x1 | x0 ~ N(b (x0^2 - 100), 1)``, extra ``N(0, 1)``
  coordinates. Mean 0, ``Var x1 = 1 + 2 b^2 10^4``, ``Cov(x0, x1) = b E[x0^3]
  = 0``.
* :class:`FunnelTarget`: Neal's funnel (Neal 2003, "Slice sampling"),
  ``v ~ N(0, 9)``, ``x_i | v ~ N(0, e^v)``, so ``Var x_i = E e^v = e^{4.5}``.

The tasks build these targets. The harness receives only scores.
"""

from __future__ import annotations

import numpy as np
from toolkit import InverseProblem, Target

__all__ = ["BananaTarget", "FunnelTarget", "GaussianTarget", "LinearInverseTarget"]


def haar_rotation(dim: int, seed: int) -> np.ndarray:
    """Draw a Haar-distributed orthogonal matrix, shape ``(dim, dim)``."""
    rng = np.random.default_rng(seed)
    q, r = np.linalg.qr(rng.standard_normal((dim, dim)))
    # Multiplying column i by sign(r_ii) makes the QR factor unique, hence Haar.
    return q * np.sign(np.diag(r))


class GaussianTarget(Target):
    """Rotated ill-conditioned Gaussian ``N(0, Q diag(lambda) Q^T)``.

    Parameters
    ----------
    dim : int
        Dimension ``D``.
    condition_number : float
        ``kappa``; eigenvalues are ``logspace(0, log10 kappa, D)``.
    rotation_seed : int
        Seed of the rotation ``Q``, fixed so the problem is the same for every
        sampler seed.
    initial : {"overdispersed", "standard"}
        ``"overdispersed"`` starts at ``L (2 xi + 1)`` with ``L L^T = Sigma``,
        the same ensemble in whitened units for every ``kappa``;
        ``"standard"`` starts at ``N(0, I)``.
    budget : int or None
        Evaluation budget.
    """

    def __init__(
        self,
        dim: int = 10,
        condition_number: float = 1.0,
        rotation_seed: int = 0,
        initial: str = "overdispersed",
        budget: int | None = None,
    ):
        if initial not in ("overdispersed", "standard"):
            msg = f"initial must be 'overdispersed' or 'standard'; received {initial!r}"
            raise ValueError(msg)
        eigenvalues = np.logspace(0.0, np.log10(condition_number), dim)
        rotation = haar_rotation(dim, rotation_seed)
        covariance = (rotation * eigenvalues) @ rotation.T
        covariance = 0.5 * (covariance + covariance.T)
        self.precision = (rotation / eigenvalues) @ rotation.T
        self.cholesky = rotation * np.sqrt(eigenvalues)
        self.initial = initial
        mean = np.zeros(dim)
        problem = InverseProblem(
            forward=lambda positions: positions,
            data=mean,
            noise_covariance=covariance,
            jacobian=lambda positions: np.broadcast_to(
                np.eye(dim), (len(positions), dim, dim)
            ),
        )
        super().__init__(
            dim,
            inverse_problem=problem,
            budget=budget,
            true_mean=mean,
            true_covariance=covariance,
        )

    def _log_density(self, positions: np.ndarray) -> np.ndarray:
        offsets = positions - self.true_mean
        return -0.5 * np.einsum("ni,ij,nj->n", offsets, self.precision, offsets)

    def _grad_log_density(self, positions: np.ndarray) -> np.ndarray:
        return -(positions - self.true_mean) @ self.precision

    def initial_ensemble(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """Draw ``n`` starting points, shape ``(n, dim)``."""
        xi = rng.standard_normal((n, self.dim))
        if self.initial == "standard":
            return xi
        return self.true_mean + (2.0 * xi + 1.0) @ self.cholesky.T


class LinearInverseTarget(Target):
    """Posterior of ``y = A u + eta`` with a Gaussian prior, in closed form.

    Parameters
    ----------
    dim, n_data : int
        Parameters and observations.
    noise_sd, prior_sd : float
        ``Gamma = noise_sd^2 I`` and ``Gamma0 = prior_sd^2 I``.
    problem_seed : int
        Seed of ``A`` (standard normal entries over ``sqrt(dim)``), the true
        parameter and the noise.
    budget : int or None
    """

    def __init__(
        self,
        dim: int = 10,
        n_data: int = 20,
        noise_sd: float = 0.1,
        prior_sd: float = 1.0,
        problem_seed: int = 0,
        budget: int | None = None,
    ):
        rng = np.random.default_rng(problem_seed)
        matrix = rng.standard_normal((n_data, dim)) / np.sqrt(dim)
        truth = rng.normal(0.0, prior_sd, dim)
        data = matrix @ truth + rng.normal(0.0, noise_sd, n_data)
        noise_covariance = noise_sd**2 * np.eye(n_data)
        prior_covariance = prior_sd**2 * np.eye(dim)
        prior_mean = np.zeros(dim)

        posterior_precision = (
            matrix.T @ matrix / noise_sd**2 + np.eye(dim) / prior_sd**2
        )
        posterior_covariance = np.linalg.inv(posterior_precision)
        posterior_covariance = 0.5 * (posterior_covariance + posterior_covariance.T)
        posterior_mean = posterior_covariance @ (matrix.T @ data / noise_sd**2)
        self.matrix = matrix
        problem = InverseProblem(
            forward=lambda positions: positions @ matrix.T,
            data=data,
            noise_covariance=noise_covariance,
            prior_mean=prior_mean,
            prior_covariance=prior_covariance,
            jacobian=lambda positions: np.broadcast_to(
                matrix, (len(positions), n_data, dim)
            ),
        )
        super().__init__(
            dim,
            inverse_problem=problem,
            budget=budget,
            true_mean=posterior_mean,
            true_covariance=posterior_covariance,
        )
        self.prior_sd = prior_sd

    def initial_ensemble(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """Draw ``n`` starting points from the prior, shape ``(n, dim)``."""
        return rng.normal(0.0, self.prior_sd, (n, self.dim))


class BananaTarget(Target):
    """Haario's banana in ``dim >= 2`` dimensions, also as an inverse problem.

    The inverse-problem form has ``G(x) = (x0, x1 - b (x0^2 - 100), x2, ...)``,
    data 0, ``Gamma = diag(100, 1, ..., 1)`` and a flat prior, which gives the
    same density.

    Parameters
    ----------
    dim : int
    curvature : float
        ``b``.
    budget : int or None
    """

    def __init__(
        self, dim: int = 2, curvature: float = 0.03, budget: int | None = None
    ):
        if dim < 2:
            msg = f"banana needs dim >= 2; received {dim}"
            raise ValueError(msg)
        self.curvature = curvature
        variances = np.ones(dim)
        variances[0] = 100.0
        variances[1] = 1.0 + 2.0 * curvature**2 * 1e4
        problem = InverseProblem(
            forward=self._forward,
            data=np.zeros(dim),
            noise_covariance=np.diag(np.where(np.arange(dim) == 0, 100.0, 1.0)),
            jacobian=self._jacobian,
        )
        super().__init__(
            dim,
            inverse_problem=problem,
            budget=budget,
            true_mean=np.zeros(dim),
            true_covariance=np.diag(variances),
        )

    def _forward(self, positions: np.ndarray) -> np.ndarray:
        outputs = np.array(positions, dtype=float, copy=True)
        outputs[:, 1] -= self.curvature * (positions[:, 0] ** 2 - 100.0)
        return outputs

    def _jacobian(self, positions: np.ndarray) -> np.ndarray:
        jac = np.broadcast_to(np.eye(self.dim), (len(positions), self.dim, self.dim))
        jac = jac.copy()
        jac[:, 1, 0] = -2.0 * self.curvature * positions[:, 0]
        return jac

    def _log_density(self, positions: np.ndarray) -> np.ndarray:
        bend = positions[:, 1] - self.curvature * (positions[:, 0] ** 2 - 100.0)
        rest = (positions[:, 2:] ** 2).sum(axis=1)
        return -0.5 * (positions[:, 0] ** 2 / 100.0 + bend**2 + rest)

    def _grad_log_density(self, positions: np.ndarray) -> np.ndarray:
        bend = positions[:, 1] - self.curvature * (positions[:, 0] ** 2 - 100.0)
        grad = -np.array(positions, dtype=float, copy=True)
        grad[:, 0] = (
            -positions[:, 0] / 100.0 + 2.0 * self.curvature * positions[:, 0] * bend
        )
        grad[:, 1] = -bend
        return grad


class FunnelTarget(Target):
    """Neal's funnel: ``v ~ N(0, 9)``, ``x_i | v ~ N(0, e^v)``; no forward model.

    Parameters
    ----------
    dim : int
        ``1 + `` the number of ``x_i``.
    budget : int or None
    """

    def __init__(self, dim: int = 10, budget: int | None = None):
        if dim < 2:
            msg = f"funnel needs dim >= 2; received {dim}"
            raise ValueError(msg)
        variances = np.full(dim, np.exp(4.5))
        variances[0] = 9.0
        super().__init__(
            dim,
            budget=budget,
            true_mean=np.zeros(dim),
            true_covariance=np.diag(variances),
        )

    def _log_density(self, positions: np.ndarray) -> np.ndarray:
        v = positions[:, 0]
        x = positions[:, 1:]
        # A far-out particle may overflow exp(-v) to inf; the target then
        # reports the non-finite value instead of numpy warning about it.
        with np.errstate(over="ignore", invalid="ignore"):
            quadratic = (x**2).sum(axis=1) * np.exp(-v)
        return -(v**2) / 18.0 - 0.5 * quadratic - 0.5 * (self.dim - 1) * v

    def _grad_log_density(self, positions: np.ndarray) -> np.ndarray:
        v = positions[:, 0]
        x = positions[:, 1:]
        grad = np.empty_like(positions, dtype=float)
        with np.errstate(over="ignore", invalid="ignore"):
            scale = np.exp(-v)
            grad[:, 0] = (
                -v / 9.0 + 0.5 * (x**2).sum(axis=1) * scale - 0.5 * (self.dim - 1)
            )
            grad[:, 1:] = -x * scale[:, None]
        return grad
