"""Ensemble statistics, drift matrices and bookkeeping shared by the samplers.

Notation follows the ensemble Kalman sampler literature (Garbuno-Inigo,
Hoffmann, Li, Stuart 2020, "Interacting Langevin diffusions: gradient
structure and ensemble Kalman sampler"): an ensemble is an array
``positions`` of shape ``(n_particles, dim)``, its covariance is normalised by
``1/J`` (not ``1/(J - 1)``), and the ``J x J`` matrix

    D_n[k, j] = (1/J) <G_k - Gbar, Gamma^{-1} (G_j - y)>

(Kalman form) or ``(1/J) <u_k - ubar, grad Phi(u_j)>`` (gradient form)
carries the drift, because ``C grad Phi(u_j) = sum_k D_n[k, j] (u_k - ubar)``.
Every function here is a pure function of its inputs.
"""

from __future__ import annotations

import math

import numpy as np
from toolkit import InverseProblem, Samples, Target

__all__ = [
    "HistoryRecorder",
    "check_finite_positions",
    "ensemble_deviations",
    "ensemble_noise",
    "gradient_drift_matrix",
    "kalman_drift_matrix",
    "plan_steps",
]


def ensemble_deviations(positions: np.ndarray) -> np.ndarray:
    """Return ``u_j - ubar`` for every particle, shape ``(n_particles, dim)``."""
    return positions - positions.mean(axis=0)


def ensemble_noise(deviations: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Draw ``B zeta_j`` for every particle with the ``dim x J`` square root ``B``.

    ``B = (1/sqrt(J)) [u_1 - ubar, ..., u_J - ubar]`` satisfies ``B B^T = C``,
    so each returned row is a draw from ``N(0, C)`` given the ensemble, and no
    matrix square root or Cholesky factor is needed.

    Parameters
    ----------
    deviations : ndarray, shape (n_particles, dim)
        ``u_j - ubar``.
    rng : numpy.random.Generator

    Returns
    -------
    ndarray, shape (n_particles, dim)
    """
    n_particles = len(deviations)
    zeta = rng.standard_normal((n_particles, n_particles))
    return zeta @ deviations / math.sqrt(n_particles)


def gradient_drift_matrix(
    deviations: np.ndarray, grad_log_density: np.ndarray
) -> np.ndarray:
    """Return ``D_n[k, j] = (1/J) <u_k - ubar, grad Phi(u_j)>``, shape ``(J, J)``.

    ``grad_log_density`` is ``-grad Phi``, shape ``(J, dim)``. Then
    ``-(D_n^T @ deviations)[j] = -C grad Phi(u_j)``, the preconditioned drift.
    """
    return -(deviations @ grad_log_density.T) / len(deviations)


def kalman_drift_matrix(
    outputs: np.ndarray, problem: InverseProblem, noise_precision: np.ndarray
) -> np.ndarray:
    """Return the statistical-linearisation matrix ``D_n``, shape ``(J, J)``.

    ``D_n[k, j] = (1/J) <G_k - Gbar, Gamma^{-1} (G_j - y)>``. For a linear
    forward map ``G(u) = A u`` it equals :func:`gradient_drift_matrix` of the
    data misfit exactly, because ``G_k - Gbar = A (u_k - ubar)``.

    Parameters
    ----------
    outputs : ndarray, shape (J, n_data)
        Forward-map values ``G(u_j)``.
    problem : InverseProblem
        Supplies the data ``y``.
    noise_precision : ndarray, shape (n_data, n_data)
        ``Gamma^{-1}``, computed once by the caller.
    """
    output_deviations = outputs - outputs.mean(axis=0)
    residuals = outputs - problem.data
    return output_deviations @ noise_precision @ residuals.T / len(outputs)


def plan_steps(target: Target, budget: int, per_step: int, initial: int) -> int:
    """Return how many steps of ``per_step`` evaluations fit after ``initial`` ones.

    The limit is the smaller of ``budget`` and what remains of the target's
    own budget, so a sampler that follows the plan never triggers
    :class:`toolkit.BudgetExhausted`.

    Raises
    ------
    ValueError
        If not even the initial evaluations and one step fit.
    """
    limit = min(budget, target.remaining)
    n_steps = int((limit - initial) // per_step)
    if n_steps < 1:
        msg = (
            f"budget of {budget} evaluations (target has {target.remaining} left) "
            f"is too small: the sampler needs {initial} evaluations to start and "
            f"{per_step} per step; raise the budget to at least "
            f"{initial + per_step} or use fewer particles"
        )
        raise ValueError(msg)
    return n_steps


def check_finite_positions(
    positions: np.ndarray, sampler: str, step: int, step_size: float
) -> None:
    """Raise :class:`FloatingPointError` when ``positions`` contain NaN or infinity."""
    if np.isfinite(positions).all():
        return
    msg = (
        f"sampler {sampler!r} diverged at step {step} (step size {step_size:.3g}): "
        "positions became non-finite; lower the step size or use more particles"
    )
    raise FloatingPointError(msg)


class HistoryRecorder:
    """Stores every ``thin``-th ensemble state so at most ``max_stored`` are kept.

    Parameters
    ----------
    n_steps : int
        Steps the sampler plans to take; the initial state is stored too.
    max_stored : int
        Upper bound on the number of stored states.
    """

    def __init__(self, n_steps: int, max_stored: int):
        self.thin = max(1, math.ceil((n_steps + 1) / max_stored))
        self._states: list[np.ndarray] = []

    def record(self, step: int, positions: np.ndarray) -> None:
        """Store a copy of ``positions`` when ``step`` is a multiple of ``thin``."""
        if step % self.thin == 0:
            self._states.append(np.array(positions, dtype=float, copy=True))

    def history(self) -> np.ndarray:
        """Return the stored states, shape ``(n_stored, n_chains, dim)``."""
        return np.stack(self._states)


def ensemble_samples(
    recorder: HistoryRecorder,
    target: Target,
    n_particles: int,
    step_sizes: list[float],
) -> Samples:
    """Package an ensemble run: its history, the target's counts and step sizes."""
    return Samples.from_target(
        recorder.history(),
        target,
        n_particles=n_particles,
        n_steps=len(step_sizes),
        thin=recorder.thin,
        mean_step_size=float(np.mean(step_sizes)),
        final_step_size=float(step_sizes[-1]),
    )
