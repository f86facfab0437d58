"""Affine-invariant Langevin dynamics (ALDI), gradient-based and gradient-free.

ALDI (Garbuno-Inigo, Nüsken, Reich 2020, "Affine invariant interacting
Langevin dynamics for Bayesian inference", SIAM J. Appl. Dyn. Syst.) moves
``J`` particles ``u_j`` by

    du_j = [-C(U) grad Phi(u_j) + ((D + 1)/J)(u_j - ubar)] dt + sqrt(2) B dW_j,

with ``C = B B^T`` the ensemble covariance, ``B`` the ``D x J`` matrix of
scaled deviations and ``W_j`` a Brownian motion in ``R^J``. The correction
term ``((D + 1)/J)(u_j - ubar)`` is the divergence of ``C(U)`` with respect to
``u_j``; with it, ``pi^{⊗J}`` is invariant for every ``J > D + 1``. Without
it the dynamics are the ensemble Kalman sampler (EKS) of Garbuno-Inigo,
Hoffmann, Li, Stuart (2020, SIAM J. Appl. Dyn. Syst.), whose small
ensembles shrink variances by about ``(J - D - 1)/J``.

Two samplers live here:

* :class:`AldiSampler` (``aldi``) uses gradients and Euler–Maruyama with the
  affine-invariant step cap ``h_n = min(h, 1/||D_n||_F)``, where
  ``D_n[k, j] = (1/J) <u_k - ubar, grad Phi(u_j)>``.
* :class:`AldiKalmanSampler` (``aldi-kalman``) replaces ``C grad Phi`` by its
  statistical linearisation through forward-map values, treats the Gaussian
  prior term linearly implicitly and takes the EKS step
  ``dt_n = step / (||D_n||_F + eps)``, as CliMA's EnsembleKalmanProcesses.jl
  does (its ``Sampler`` with ``EKSStableScheduler``). As there, the ALDI
  correction is multiplied by ``dt_n``.

Example
-------
>>> from toolkit_aldi.targets import GaussianTarget
>>> samples = AldiSampler().sample(GaussianTarget(dim=4), budget=2000, seed=0)
>>> samples.positions.shape[1:]
(10, 4)
"""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np
from pydantic import Field
from toolkit import ComponentConfig, Sampler, Samples, Target

from toolkit_aldi._ensemble import (
    ensemble_samples,
    HistoryRecorder,
    check_finite_positions,
    ensemble_deviations,
    ensemble_noise,
    gradient_drift_matrix,
    kalman_drift_matrix,
    plan_steps,
)

__all__ = ["AldiKalmanSampler", "AldiSampler", "aldi_kalman_step", "aldi_step"]

_N_PARTICLES = Field(
    None,
    ge=3,
    le=100_000,
    description="Ensemble size J; None means 2 * dim + 2.",
)
_MAX_STORED = Field(
    2000,
    ge=10,
    le=1_000_000,
    description="Maximum number of ensemble states kept in the history (thinned).",
)
_CORRECTION = Field(
    True,
    description=(
        "Add the finite-ensemble correction ((D + 1)/J)(u_j - ubar); False gives "
        "the uncorrected ensemble Kalman sampler (EKS) for comparison."
    ),
)


def aldi_step(
    positions: np.ndarray,
    grad_log_density: np.ndarray,
    rng: np.random.Generator,
    step_size: float,
    correction: bool = True,
) -> tuple[np.ndarray, float]:
    """Take one Euler–Maruyama step of gradient-based ALDI.

    Parameters
    ----------
    positions : ndarray, shape (J, dim)
        Current ensemble.
    grad_log_density : ndarray, shape (J, dim)
        ``-grad Phi`` at ``positions``.
    rng : numpy.random.Generator
    step_size : float
        Maximum step ``h``; the step taken is ``min(h, 1/||D_n||_F)``.
    correction : bool
        Whether to add ``((D + 1)/J)(u_j - ubar)``.

    Returns
    -------
    positions : ndarray, shape (J, dim)
    h_n : float
        The step taken.
    """
    n_particles, dim = positions.shape
    deviations = ensemble_deviations(positions)
    drift_matrix = gradient_drift_matrix(deviations, grad_log_density)
    norm = float(np.linalg.norm(drift_matrix))
    h_n = step_size if norm * step_size <= 1.0 else 1.0 / norm

    drift = -drift_matrix.T @ deviations
    if correction:
        drift += (dim + 1) / n_particles * deviations
    noise = ensemble_noise(deviations, rng)
    return positions + h_n * drift + math.sqrt(2.0 * h_n) * noise, h_n


def aldi_kalman_step(
    positions: np.ndarray,
    outputs: np.ndarray,
    target: Target,
    noise_precision: np.ndarray,
    rng: np.random.Generator,
    step: float,
    max_step: float | None,
    norm_offset: float,
    correction: bool = True,
) -> tuple[np.ndarray, float]:
    """Take one linearly implicit step of gradient-free ALDI.

    Solves ``(I + dt C Gamma0^{-1}) u*_j = u_j - dt sum_k D_n[k, j](u_k - ubar)
    + dt C Gamma0^{-1} m0 + dt ((D + 1)/J)(u_j - ubar)`` and adds
    ``sqrt(2 dt) B zeta_j``. A flat prior (``prior_mean is None``) drops the
    prior terms and the solve.

    Parameters
    ----------
    positions : ndarray, shape (J, dim)
    outputs : ndarray, shape (J, n_data)
        Forward-map values at ``positions``.
    target : Target
        An inverse-problem target; supplies data and prior.
    noise_precision : ndarray, shape (n_data, n_data)
    rng : numpy.random.Generator
    step, max_step, norm_offset : float
        ``dt_n = min(step / (||D_n||_F + norm_offset), max_step)``.
    correction : bool
        Whether to add the ALDI correction.

    Returns
    -------
    positions : ndarray, shape (J, dim)
    dt_n : float
    """
    problem = target.inverse_problem
    n_particles, dim = positions.shape
    deviations = ensemble_deviations(positions)
    drift_matrix = kalman_drift_matrix(outputs, problem, noise_precision)
    dt = step / (float(np.linalg.norm(drift_matrix)) + norm_offset)
    if max_step is not None:
        dt = min(dt, max_step)

    rhs = positions - dt * (drift_matrix.T @ deviations)
    if correction:
        rhs += dt * (dim + 1) / n_particles * deviations
    if problem.prior_mean is None:
        explicit = rhs
    else:
        covariance = deviations.T @ deviations / n_particles
        scaled = covariance @ problem.prior_precision
        rhs += dt * (scaled @ problem.prior_mean)
        system = np.eye(dim) + dt * scaled
        explicit = np.linalg.solve(system, rhs.T).T

    noise = ensemble_noise(deviations, rng)
    return explicit + math.sqrt(2.0 * dt) * noise, dt


class AldiSampler(Sampler):
    """Gradient-based ALDI with Euler–Maruyama and an affine-invariant step cap."""

    name: ClassVar[str] = "aldi"
    description: ClassVar[str] = (
        "Affine-invariant Langevin dynamics (ALDI), gradient-based, Euler-Maruyama"
    )
    requires: ClassVar[frozenset[str]] = frozenset({"gradient"})

    class Config(ComponentConfig):
        n_particles: int | None = _N_PARTICLES
        step_size: float = Field(
            0.1,
            gt=0.0,
            le=10.0,
            description=(
                "Maximum time step h in whitened time units; each step is "
                "min(h, 1/||D_n||_F)."
            ),
        )
        finite_ensemble_correction: bool = _CORRECTION
        max_stored: int = _MAX_STORED

    def sample(self, target: Target, budget: int, seed: int) -> Samples:
        """Run ALDI until the next batch of gradients would pass ``budget``.

        Returns
        -------
        Samples
            History of shape ``(n_stored, J, dim)``; ``info`` contains the
            ensemble size, steps taken, thinning and the mean step.
        """
        config = self.config
        rng = np.random.default_rng(seed)
        n_particles = config.n_particles or 2 * target.dim + 2
        positions = target.initial_ensemble(rng, n_particles)
        n_steps = plan_steps(target, budget, per_step=n_particles, initial=0)
        recorder = HistoryRecorder(n_steps, config.max_stored)
        recorder.record(0, positions)

        step_sizes = []
        for step in range(1, n_steps + 1):
            grads = target.grad_log_density(positions)
            with np.errstate(over="ignore", invalid="ignore"):
                positions, h_n = aldi_step(
                    positions,
                    grads,
                    rng,
                    config.step_size,
                    config.finite_ensemble_correction,
                )
            check_finite_positions(positions, self.name, step, h_n)
            step_sizes.append(h_n)
            recorder.record(step, positions)

        return ensemble_samples(recorder, target, n_particles, step_sizes)


class AldiKalmanSampler(Sampler):
    """Gradient-free ALDI for inverse problems (statistical linearisation).

    With ``finite_ensemble_correction=False`` the noise stays ``B zeta_j``
    rather than EKS's ``C^{1/2} xi_j``; both are ``N(0, C)`` given the
    ensemble, so the two schemes have the same law.
    """

    name: ClassVar[str] = "aldi-kalman"
    description: ClassVar[str] = (
        "Gradient-free ALDI with the linearly implicit EKS step, for inverse problems"
    )
    requires: ClassVar[frozenset[str]] = frozenset({"forward_model"})

    class Config(ComponentConfig):
        n_particles: int | None = _N_PARTICLES
        step: float = Field(
            1.0,
            gt=0.0,
            le=100.0,
            description=(
                "Numerator alpha of the adaptive step dt_n = alpha / "
                "(||D_n||_F + norm_offset), dimensionless."
            ),
        )
        max_step: float | None = Field(
            0.1,
            gt=0.0,
            le=100.0,
            description=(
                "Upper bound on dt_n in whitened time units; None leaves the "
                "adaptive step unbounded, as in EnsembleKalmanProcesses.jl."
            ),
        )
        norm_offset: float = Field(
            1e-8,
            gt=0.0,
            le=1.0,
            description="Offset eps added to ||D_n||_F so dt_n stays finite.",
        )
        finite_ensemble_correction: bool = _CORRECTION
        max_stored: int = _MAX_STORED

    def sample(self, target: Target, budget: int, seed: int) -> Samples:
        """Run gradient-free ALDI until the next forward batch would pass ``budget``.

        Returns
        -------
        Samples
            History of shape ``(n_stored, J, dim)``; ``info`` contains the
            ensemble size, steps taken, thinning and the mean step.
        """
        config = self.config
        rng = np.random.default_rng(seed)
        n_particles = config.n_particles or 2 * target.dim + 2
        positions = target.initial_ensemble(rng, n_particles)
        n_steps = plan_steps(target, budget, per_step=n_particles, initial=0)
        recorder = HistoryRecorder(n_steps, config.max_stored)
        recorder.record(0, positions)
        noise_precision = target.inverse_problem.noise_precision

        step_sizes = []
        for step in range(1, n_steps + 1):
            outputs = target.forward(positions)
            with np.errstate(over="ignore", invalid="ignore"):
                positions, dt = aldi_kalman_step(
                    positions,
                    outputs,
                    target,
                    noise_precision,
                    rng,
                    config.step,
                    config.max_step,
                    config.norm_offset,
                    config.finite_ensemble_correction,
                )
            check_finite_positions(positions, self.name, step, dt)
            step_sizes.append(dt)
            recorder.record(step, positions)

        return ensemble_samples(recorder, target, n_particles, step_sizes)
