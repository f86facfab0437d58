"""Contracts for the five kinds of component: Sampler, Architecture, Probe,
Distiller and Task.

A component is a class with a unique ``name``, a pydantic ``Config`` model and
the methods of its kind. Plugins return component classes from their hooks
(see :mod:`toolkit.hookspecs`); the harness instantiates them with a validated
config and hands them to a :class:`Task`, which scores them on one seed.

This module imports numpy but never torch, so that listing components stays
fast. Architectures build torch modules; they import torch themselves.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = [
    "Architecture",
    "Component",
    "ComponentConfig",
    "Distiller",
    "InverseProblem",
    "Metric",
    "NotApplicable",
    "Probe",
    "ProbeFit",
    "Program",
    "RunContext",
    "Sampler",
    "Samples",
    "Target",
    "Task",
    "BudgetExhausted",
]

KINDS = ("sampler", "architecture", "probe", "distiller", "task")


class ComponentConfig(BaseModel):
    """Base of every component's ``Config``: typed, validated, immutable.

    Unknown fields are rejected, so a misspelt option in ``registry.yaml``
    fails loudly instead of being ignored.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)


class Component:
    """Base class of every component.

    Subclasses set ``name`` (unique within their kind), ``Config`` and a
    one-line ``description``. The constructor validates the config.
    """

    kind: ClassVar[str] = ""
    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    Config: ClassVar[type[ComponentConfig]] = ComponentConfig

    def __init__(self, config: ComponentConfig | Mapping[str, Any] | None = None):
        if config is None:
            config = self.Config()
        elif not isinstance(config, self.Config):
            config = self.Config.model_validate(dict(config))
        self.config = config

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.config!r})"


# --------------------------------------------------------------------------
# Sampler
# --------------------------------------------------------------------------


class BudgetExhausted(RuntimeError):
    """Raised by a :class:`Target` when a call would exceed its evaluation budget."""


@dataclasses.dataclass(frozen=True)
class InverseProblem:
    """A Bayesian inverse problem ``y = G(u) + eta``, ``eta ~ N(0, noise_covariance)``.

    Parameters
    ----------
    forward : callable
        Forward map ``G``: positions ``(n, dim)`` to outputs ``(n, n_data)``.
    data : ndarray, shape (n_data,)
        Observed data ``y``.
    noise_covariance : ndarray, shape (n_data, n_data)
        Observation-noise covariance ``Gamma``.
    prior_mean, prior_covariance : ndarray or None
        Gaussian prior ``N(m0, Gamma0)``; ``None`` means a flat prior.
    jacobian : callable or None
        ``DG``: positions ``(n, dim)`` to ``(n, n_data, dim)``, used only by
        gradient-based samplers.
    """

    forward: Callable[[np.ndarray], np.ndarray]
    data: np.ndarray
    noise_covariance: np.ndarray
    prior_mean: np.ndarray | None = None
    prior_covariance: np.ndarray | None = None
    jacobian: Callable[[np.ndarray], np.ndarray] | None = None

    @property
    def noise_precision(self) -> np.ndarray:
        return np.linalg.inv(self.noise_covariance)

    @property
    def prior_precision(self) -> np.ndarray | None:
        if self.prior_covariance is None:
            return None
        return np.linalg.inv(self.prior_covariance)


class Target:
    """A probability density ``pi(u) ∝ exp(-Phi(u))`` on ``R^dim`` that counts its use.

    Every call to :meth:`log_density`, :meth:`grad_log_density` and
    :meth:`forward` adds one evaluation per row to its counter, which is the
    cost axis of every sampler comparison. A gradient counts as one
    evaluation.

    NOTE: a reverse-mode gradient costs 2 to 4 density evaluations in
    practice; counting it as one favours gradient-based samplers slightly.

    Subclasses implement :meth:`_log_density` and optionally
    :meth:`_grad_log_density`; targets of inverse problems pass an
    :class:`InverseProblem` and get both for free.

    Parameters
    ----------
    dim : int
        Dimension of the state space.
    budget : int or None
        Maximum number of evaluations of all kinds together; a call that
        would pass it raises :class:`BudgetExhausted` and evaluates nothing.
    """

    def __init__(
        self,
        dim: int,
        *,
        inverse_problem: InverseProblem | None = None,
        budget: int | None = None,
        true_mean: np.ndarray | None = None,
        true_covariance: np.ndarray | None = None,
    ):
        self.dim = int(dim)
        self.inverse_problem = inverse_problem
        self.budget = budget
        self.true_mean = true_mean
        self.true_covariance = true_covariance
        self.n_density_evals = 0
        self.n_gradient_evals = 0
        self.n_forward_evals = 0

    # -- counting ---------------------------------------------------------

    @property
    def n_evaluations(self) -> int:
        """Evaluations of every kind spent so far."""
        return self.n_density_evals + self.n_gradient_evals + self.n_forward_evals

    @property
    def remaining(self) -> int | float:
        """Evaluations left in the budget (``inf`` without a budget)."""
        if self.budget is None:
            return math.inf
        return self.budget - self.n_evaluations

    def _charge(self, n: int) -> None:
        if self.budget is not None and self.n_evaluations + n > self.budget:
            msg = (
                f"evaluation budget of {self.budget} exhausted: {self.n_evaluations} "
                f"spent, {n} more requested"
            )
            raise BudgetExhausted(msg)

    def _check_positions(self, positions: np.ndarray) -> np.ndarray:
        positions = np.asarray(positions, dtype=float)
        if positions.ndim != 2 or positions.shape[1] != self.dim:
            msg = (
                f"positions must have shape (n, {self.dim}); received {positions.shape}"
            )
            raise ValueError(msg)
        return positions

    # -- public, counted --------------------------------------------------

    @property
    def has_gradient(self) -> bool:
        """Whether :meth:`grad_log_density` is available."""
        if self.inverse_problem is not None:
            return self.inverse_problem.jacobian is not None
        return type(self)._grad_log_density is not Target._grad_log_density

    @property
    def has_forward_model(self) -> bool:
        """Whether the target is an inverse problem with a forward map."""
        return self.inverse_problem is not None

    def log_density(self, positions: np.ndarray) -> np.ndarray:
        """Evaluate ``log pi`` up to a constant; ``(n, dim) -> (n,)``."""
        positions = self._check_positions(positions)
        self._charge(len(positions))
        self.n_density_evals += len(positions)
        return self._check_finite(
            self._log_density(positions), positions, "log density"
        )

    def grad_log_density(self, positions: np.ndarray) -> np.ndarray:
        """Evaluate ``grad log pi = -grad Phi``; ``(n, dim) -> (n, dim)``."""
        positions = self._check_positions(positions)
        if not self.has_gradient:
            msg = f"{type(self).__name__} has no gradient; use a gradient-free sampler"
            raise NotImplementedError(msg)
        self._charge(len(positions))
        self.n_gradient_evals += len(positions)
        values = self._grad_log_density(positions)
        return self._check_finite(values, positions, "gradient", allow_inf=False)

    def forward(self, positions: np.ndarray) -> np.ndarray:
        """Evaluate the forward map ``G``; ``(n, dim) -> (n, n_data)``."""
        positions = self._check_positions(positions)
        if self.inverse_problem is None:
            msg = (
                f"{type(self).__name__} is not an inverse problem and has no forward "
                "map; use a sampler that needs only the density"
            )
            raise NotImplementedError(msg)
        self._charge(len(positions))
        self.n_forward_evals += len(positions)
        values = np.asarray(self.inverse_problem.forward(positions), dtype=float)
        return self._check_finite(values, positions, "forward map", allow_inf=False)

    def _check_finite(
        self,
        values: np.ndarray,
        positions: np.ndarray,
        what: str,
        allow_inf: bool = True,
    ) -> np.ndarray:
        """Raise a clear error on NaN (and on infinities where ``allow_inf`` is off).

        A log density of ``-inf`` is legitimate (a point outside the
        support); NaN never is.
        """
        values = np.asarray(values, dtype=float)
        bad = np.isnan(values) if allow_inf else ~np.isfinite(values)
        if bad.any():
            row = int(np.argwhere(bad)[0][0])
            msg = (
                f"{type(self).__name__} returned a non-finite {what} "
                f"({float(values.reshape(len(positions), -1)[row][0])}) at position "
                f"{np.array2string(positions[row], precision=4)}; check the "
                "target's formula and domain, or start the sampler inside its support"
            )
            raise FloatingPointError(msg)
        return values

    # -- to implement -----------------------------------------------------

    def _log_density(self, positions: np.ndarray) -> np.ndarray:
        problem = self.inverse_problem
        if problem is None:
            raise NotImplementedError
        residual = problem.forward(positions) - problem.data
        misfit = np.einsum("ni,ij,nj->n", residual, problem.noise_precision, residual)
        log_pi = -0.5 * misfit
        if problem.prior_mean is not None:
            offset = positions - problem.prior_mean
            log_pi -= 0.5 * np.einsum(
                "ni,ij,nj->n", offset, problem.prior_precision, offset
            )
        return log_pi

    def _grad_log_density(self, positions: np.ndarray) -> np.ndarray:
        problem = self.inverse_problem
        if problem is None or problem.jacobian is None:
            raise NotImplementedError
        residual = problem.forward(positions) - problem.data
        jac = problem.jacobian(positions)
        weighted = residual @ problem.noise_precision
        grad = -np.einsum("nk,nki->ni", weighted, jac)
        if problem.prior_mean is not None:
            grad -= (positions - problem.prior_mean) @ problem.prior_precision
        return grad

    def initial_ensemble(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """Draw ``n`` starting points, shape ``(n, dim)``; the same for every sampler."""
        return rng.standard_normal((n, self.dim))


@dataclasses.dataclass
class Samples:
    """Sampler output: the chain or ensemble history and its cost.

    Attributes
    ----------
    positions : ndarray, shape (n_stored, n_chains, dim)
        Stored states, oldest first. Ensemble samplers store every particle
        as a chain; a sampler may thin its history to bound memory.
    n_density_evals, n_gradient_evals, n_forward_evals : int
        Evaluations spent, copied from the target's counters.
    info : dict
        Sampler-specific diagnostics (acceptance rate, step sizes, ...),
        JSON-serialisable.
    """

    positions: np.ndarray
    n_density_evals: int = 0
    n_gradient_evals: int = 0
    n_forward_evals: int = 0
    info: dict[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def n_evaluations(self) -> int:
        return self.n_density_evals + self.n_gradient_evals + self.n_forward_evals

    @classmethod
    def from_target(cls, positions: np.ndarray, target: Target, **info: Any) -> Samples:
        """Package ``positions`` with the evaluation counts of ``target``."""
        return cls(
            positions=np.asarray(positions, dtype=float),
            n_density_evals=target.n_density_evals,
            n_gradient_evals=target.n_gradient_evals,
            n_forward_evals=target.n_forward_evals,
            info=dict(info),
        )


class Sampler(Component):
    """Draws samples from a :class:`Target` within an evaluation budget.

    ``requires`` names what the sampler needs from a target: ``"density"``,
    ``"gradient"`` or ``"forward_model"``. The harness marks a
    sampler-target pair that lacks one as not applicable instead of running
    it.
    """

    kind: ClassVar[str] = "sampler"
    requires: ClassVar[frozenset[str]] = frozenset({"density"})

    def sample(self, target: Target, budget: int, seed: int) -> Samples:
        """Spend at most ``budget`` evaluations of ``target``; return the history.

        Implementations stop cleanly before the budget is passed (the target
        raises :class:`BudgetExhausted` on the call that would pass it).
        """
        raise NotImplementedError

    @classmethod
    def missing_requirements(cls, target: Target) -> list[str]:
        """List what ``target`` lacks of :attr:`requires`, empty when it fits."""
        available = {"density"}
        if target.has_gradient:
            available.add("gradient")
        if target.has_forward_model:
            available.add("forward_model")
        return sorted(cls.requires - available)


# --------------------------------------------------------------------------
# Architecture
# --------------------------------------------------------------------------


class Architecture(Component):
    """Builds a torch network and may take part in its training.

    The one training loop, :func:`toolkit.training.train`, calls
    :meth:`penalty` on every step and :meth:`after_step` after every
    optimiser step.
    """

    kind: ClassVar[str] = "architecture"

    def build(self, input_dim: int, output_dim: int) -> torch.nn.Module:
        """Return a fresh module mapping ``(batch, input_dim)`` to ``(batch, output_dim)``."""
        raise NotImplementedError

    def check_dims(self, input_dim: int, output_dim: int) -> None:
        """Raise ``ValueError`` if the config cannot map ``input_dim`` to ``output_dim``.

        The harness calls this (through :meth:`Task.check`) before any cell
        runs, so a width that does not fit a task fails at once, as an input
        error, without building a network.
        """

    def penalty(self, model: torch.nn.Module) -> torch.Tensor | None:
        """Return a scalar added to the loss, or ``None`` for no regularisation."""
        return None

    def after_step(
        self, model: torch.nn.Module, step: int, inputs: torch.Tensor
    ) -> bool:
        """Act on the model after optimiser step ``step`` (counted from 1).

        ``inputs`` is the training input tensor. Return ``True`` when the
        model's parameters were replaced (a new grid, a new shape), so that
        the training loop rebuilds its optimiser.
        """
        return False


# --------------------------------------------------------------------------
# Probe
# --------------------------------------------------------------------------


@dataclasses.dataclass
class ProbeFit:
    """A fitted probe and its held-out scores.

    Attributes
    ----------
    r2 : ndarray, shape (n_targets,)
        Coefficient of determination per target on held-out rows.
    predict : callable
        Activations ``(n, width)`` to predicted targets ``(n, n_targets)``.
    params : dict
        Fitted parameters (directions, generators), for inspection.
    """

    r2: np.ndarray
    predict: Callable[[np.ndarray], np.ndarray]
    params: dict[str, Any] = dataclasses.field(default_factory=dict)


class Probe(Component):
    """Finds what a network's activations encode."""

    kind: ClassVar[str] = "probe"

    def fit(self, activations: np.ndarray, targets: np.ndarray, seed: int) -> ProbeFit:
        """Fit on ``activations (n, width)`` against ``targets (n, n_targets)``.

        Implementations hold out part of the rows and report R^2 on them.
        """
        raise NotImplementedError

    def intervene(
        self, fit: ProbeFit, activations: np.ndarray, values: np.ndarray
    ) -> np.ndarray:
        """Edit ``activations`` so the probe reads ``values``; optional."""
        msg = f"probe {self.name!r} does not support interventions"
        raise NotImplementedError(msg)


# --------------------------------------------------------------------------
# Distiller
# --------------------------------------------------------------------------


@dataclasses.dataclass
class Program:
    """Python source distilled from a model, runnable on its own.

    Attributes
    ----------
    source : str
        A self-contained module that defines ``entry_point``.
    symbolic : str
        The symbolic form the source came from (a formula, a state table).
    entry_point : str
        Name of the function to call.
    """

    source: str
    symbolic: str = ""
    entry_point: str = "f"

    def load(self) -> Callable[..., Any]:
        """Execute the source in a fresh namespace and return the entry point."""
        namespace: dict[str, Any] = {"__name__": "toolkit_distilled"}
        exec(compile(self.source, "<distilled program>", "exec"), namespace)
        try:
            return namespace[self.entry_point]
        except KeyError:
            msg = f"distilled program defines no function {self.entry_point!r}"
            raise ValueError(msg) from None


class Distiller(Component):
    """Turns a trained model into a :class:`Program`."""

    kind: ClassVar[str] = "distiller"

    def distill(self, model: Any, task_data: Any) -> Program:
        """Return a program that reproduces ``model`` on ``task_data``."""
        raise NotImplementedError


# --------------------------------------------------------------------------
# Task
# --------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Metric:
    """A named score with a declared direction."""

    name: str
    direction: Literal["lower", "higher"]
    description: str = ""

    def better(self, a: float, b: float) -> bool:
        """Return whether score ``a`` beats score ``b``."""
        return a < b if self.direction == "lower" else a > b


@dataclasses.dataclass
class RunContext:
    """Context the harness gives a task for one cell.

    Attributes
    ----------
    seed : int
        The cell's seed; every random draw derives from it.
    artifacts : Path or None
        A folder for plots, programs or checkpoints of this cell, or ``None``
        when artifacts are not kept.
    progress : callable
        ``progress(fraction, message)`` reports progress in [0, 1].
    """

    seed: int
    artifacts: Path | None = None
    progress: Callable[[float, str], None] = lambda fraction, message: None


class NotApplicable(Exception):
    """Raised by a task when a component combination cannot run on it."""


class Task(Component):
    """A benchmark problem that scores components on one seed.

    ``slots`` maps each slot name to the component kind it takes, e.g.
    ``{"sampler": "sampler"}``. ``metrics`` declares every metric the task
    returns and its direction; ``primary_metric`` names the default one for
    leaderboards.
    """

    kind: ClassVar[str] = "task"
    slots: ClassVar[Mapping[str, str]] = {}
    metrics: ClassVar[tuple[Metric, ...]] = ()
    primary_metric: ClassVar[str] = ""

    def check(self, components: Mapping[str, Component]) -> None:
        """Raise ``ValueError`` if ``components`` cannot run on this task's config.

        Called once per combination when a suite is planned, before anything
        runs; keep it cheap. The default accepts everything.
        """

    def run(
        self, components: Mapping[str, Component], context: RunContext
    ) -> dict[str, float]:
        """Score ``components`` (slot name to component) and return every metric.

        Raise :class:`NotApplicable` when the combination cannot run here.
        """
        raise NotImplementedError

    @classmethod
    def metric(cls, name: str) -> Metric:
        """Return the declared metric called ``name``."""
        for metric in cls.metrics:
            if metric.name == name:
                return metric
        known = ", ".join(m.name for m in cls.metrics)
        msg = f"task {cls.name!r} has no metric {name!r}; it reports: {known}"
        raise KeyError(msg)
