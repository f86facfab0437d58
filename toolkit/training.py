"""The one training loop for Architectures on regression data.

Every Task that trains a network calls :func:`train`. It minimises the mean
squared error plus the Architecture's :meth:`~toolkit.Architecture.penalty`,
calls :meth:`~toolkit.Architecture.after_step` after every optimiser step,
and rebuilds the optimiser when that hook reports replaced parameters (a
KAN's grid extension, for example). Like pykan, it records the root mean
squared error (RMSE) of the training and evaluation sets.

This module imports torch at module level; import it lazily from code that
must start fast.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Literal

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:  # pragma: no cover
    from toolkit.interfaces import Architecture

__all__ = ["TrainingConfig", "TrainingResult", "train"]

logger = logging.getLogger("toolkit")


class TrainingConfig(BaseModel):
    """Settings of :func:`train`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    optimizer: Literal["adam", "lbfgs"] = Field(
        default="adam", description="Adam, or L-BFGS with a strong-Wolfe line search."
    )
    lr: float = Field(default=1e-3, gt=0.0, description="Learning rate (step size).")
    steps: int = Field(default=1000, ge=1, description="Number of optimiser steps.")
    batch_size: int | None = Field(
        default=None,
        ge=1,
        description=(
            "Rows drawn at random (without replacement) for each step; "
            "None uses the full training set."
        ),
    )
    eval_every: int = Field(
        default=100, ge=1, description="Record the RMSE every this many steps."
    )
    patience: int | None = Field(
        default=None,
        ge=1,
        description=(
            "Stop after this many evaluations without a lower monitored RMSE "
            "(the evaluation set's if given, else the training set's); None "
            "never stops early."
        ),
    )
    lbfgs_max_iter: int = Field(
        default=20,
        ge=1,
        description="L-BFGS iterations per step (pykan's per-step default is 20).",
    )
    lbfgs_history: int = Field(
        default=10, ge=1, description="L-BFGS history size (pykan uses 10)."
    )
    seed: int = Field(
        default=0, description="Seed of torch's generator and the batches."
    )


@dataclasses.dataclass
class TrainingResult:
    """History and cost of one training run.

    Attributes
    ----------
    eval_steps : list of int
        Steps at which the RMSE was recorded, starting with 0 (before training).
    train_rmse, test_rmse : list of float
        RMSE on the training and evaluation sets at each of ``eval_steps``;
        ``test_rmse`` is empty without an evaluation set.
    steps_run : int
        Optimiser steps taken (fewer than configured after early stopping).
    wall_time_s : float
        Seconds spent in :func:`train`, evaluations included.
    stopped_early : bool
        Whether the patience ran out.
    optimizer_rebuilds : int
        How often ``after_step`` replaced parameters.
    """

    eval_steps: list[int] = dataclasses.field(default_factory=list)
    train_rmse: list[float] = dataclasses.field(default_factory=list)
    test_rmse: list[float] = dataclasses.field(default_factory=list)
    steps_run: int = 0
    wall_time_s: float = 0.0
    stopped_early: bool = False
    optimizer_rebuilds: int = 0

    @property
    def final_train_rmse(self) -> float:
        """Training RMSE at the last evaluation."""
        return self.train_rmse[-1]

    @property
    def final_test_rmse(self) -> float:
        """Evaluation RMSE at the last evaluation, NaN without an evaluation set."""
        return self.test_rmse[-1] if self.test_rmse else math.nan


def _as_tensor(values, name: str, dtype: torch.dtype) -> torch.Tensor:
    tensor = torch.as_tensor(
        np.asarray(values) if not torch.is_tensor(values) else values
    )
    tensor = tensor.to(dtype)
    if tensor.ndim == 1:
        tensor = tensor.unsqueeze(1)
    if tensor.ndim != 2:
        shape = tuple(tensor.shape)
        msg = f"{name} must have shape (n_samples, n_features); received {shape}"
        raise ValueError(msg)
    return tensor


def _make_optimizer(
    model: torch.nn.Module, config: TrainingConfig
) -> torch.optim.Optimizer:
    parameters = [p for p in model.parameters() if p.requires_grad]
    if config.optimizer == "adam":
        return torch.optim.Adam(parameters, lr=config.lr)
    # Tolerances as pykan's fit: run all iterations of a step.
    return torch.optim.LBFGS(
        parameters,
        lr=config.lr,
        max_iter=config.lbfgs_max_iter,
        history_size=config.lbfgs_history,
        line_search_fn="strong_wolfe",
        tolerance_grad=1e-32,
        tolerance_change=1e-32,
    )


def _rmse(model: torch.nn.Module, inputs: torch.Tensor, targets: torch.Tensor) -> float:
    with torch.no_grad():
        return float(torch.sqrt(torch.mean((model(inputs) - targets) ** 2)))


def train(
    architecture: Architecture,
    model: torch.nn.Module,
    train_inputs,
    train_targets,
    config: TrainingConfig | None = None,
    *,
    eval_inputs=None,
    eval_targets=None,
    callback: Callable[[int, torch.nn.Module], None] | None = None,
    progress: Callable[[float, str], None] | None = None,
) -> TrainingResult:
    """Fit ``model`` to the targets by minimising the mean squared error.

    Parameters
    ----------
    architecture : Architecture
        The component that built ``model``. Its ``penalty`` is added to the
        loss at every loss evaluation. Its ``after_step`` runs after every
        optimiser step with the full training inputs.
    model : torch.nn.Module
        Maps ``(batch, n_inputs)`` to ``(batch, n_outputs)``.
    train_inputs, train_targets : array or Tensor, shape (n, n_inputs), (n, n_outputs)
        Training data; 1-D arrays are read as one column.
    config : TrainingConfig, optional
        Optimiser and schedule; defaults to ``TrainingConfig()``.
    eval_inputs, eval_targets : array or Tensor, optional
        Held-out data, scored at every evaluation.
    callback : callable, optional
        ``callback(step, model)`` at every evaluation, step 0 included.
    progress : callable, optional
        ``progress(fraction, message)`` at every evaluation.

    Returns
    -------
    TrainingResult

    Raises
    ------
    FloatingPointError
        When the loss becomes NaN or infinite.
    """
    config = config or TrainingConfig()
    torch.manual_seed(config.seed)
    batch_generator = torch.Generator().manual_seed(config.seed)
    dtype = next(model.parameters()).dtype
    inputs = _as_tensor(train_inputs, "train_inputs", dtype)
    targets = _as_tensor(train_targets, "train_targets", dtype)
    if inputs.shape[0] != targets.shape[0]:
        msg = (
            f"train_inputs has {inputs.shape[0]} rows but train_targets has "
            f"{targets.shape[0]}; pass one target row per input row"
        )
        raise ValueError(msg)
    has_eval = eval_inputs is not None and eval_targets is not None
    if has_eval:
        eval_x = _as_tensor(eval_inputs, "eval_inputs", dtype)
        eval_y = _as_tensor(eval_targets, "eval_targets", dtype)

    result = TrainingResult()
    start = time.perf_counter()
    best = math.inf
    evaluations_without_gain = 0

    def evaluate(step: int) -> None:
        nonlocal best, evaluations_without_gain
        result.eval_steps.append(step)
        result.train_rmse.append(_rmse(model, inputs, targets))
        if has_eval:
            result.test_rmse.append(_rmse(model, eval_x, eval_y))
        if callback is not None:
            callback(step, model)
        monitored = result.test_rmse[-1] if has_eval else result.train_rmse[-1]
        if monitored < best:
            best = monitored
            evaluations_without_gain = 0
        else:
            evaluations_without_gain += 1
        if progress is not None:
            progress(
                step / config.steps, f"step {step}/{config.steps}, rmse {monitored:.3g}"
            )

    model.train()
    evaluate(0)
    optimizer = _make_optimizer(model, config)
    n_rows = inputs.shape[0]
    for step in range(1, config.steps + 1):
        if config.batch_size is None or config.batch_size >= n_rows:
            batch_x, batch_y = inputs, targets
        else:
            rows = torch.randperm(n_rows, generator=batch_generator)[
                : config.batch_size
            ]
            batch_x, batch_y = inputs[rows], targets[rows]

        def closure() -> torch.Tensor:
            optimizer.zero_grad()
            loss = torch.mean((model(batch_x) - batch_y) ** 2)
            penalty = architecture.penalty(model)
            if penalty is not None:
                loss = loss + penalty
            loss.backward()
            return loss

        loss = optimizer.step(closure).detach()
        if not torch.isfinite(loss):
            msg = (
                f"training loss became {float(loss)} at step {step} with "
                f"{config.optimizer} at lr={config.lr}; lower the learning rate "
                "or normalise the inputs and targets"
            )
            raise FloatingPointError(msg)
        result.steps_run = step

        if architecture.after_step(model, step, inputs):
            optimizer = _make_optimizer(model, config)
            result.optimizer_rebuilds += 1
            logger.debug("step %d: parameters replaced, optimiser rebuilt", step)

        if step % config.eval_every == 0 or step == config.steps:
            evaluate(step)
            if (
                config.patience is not None
                and evaluations_without_gain >= config.patience
            ):
                result.stopped_early = True
                break

    result.wall_time_s = time.perf_counter() - start
    return result
