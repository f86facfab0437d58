"""Fitting a sample of a Gaussian random field (GRF) in 1 to 3 dimensions.

Points are drawn uniformly in ``[0, 1]^d`` and the targets are one draw of a
zero-mean Gaussian process with covariance ``exp(-|x - y|^2 / (2 l^2))``,
where ``l`` is the correlation length: the smaller ``l``, the more
high-frequency content. This follows the GRF experiment of Wang et al. 2024
("On the expressiveness and spectral bias of KANs", arXiv:2410.01803).
A suite sweeps ``l`` by listing the task once per length.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import Field, model_validator

from toolkit import ComponentConfig, RunContext, Task
from toolkit_kan._common import (
    ChecksArchitectureDims,
    REGRESSION_METRICS,
    architecture_slot,
    count_parameters,
    merge_training,
)


class GRFConfig(ComponentConfig):
    """Configuration of the ``grf`` task."""

    dim: int = Field(default=1, ge=1, le=3, description="Input dimension d.")
    correlation_length: float = Field(
        default=0.1,
        gt=0.0,
        description="Correlation length l, in units of the box side.",
    )
    n_points: int = Field(
        default=500, ge=10, le=5000, description="Points in train and test together."
    )
    test_fraction: float = Field(
        default=0.2, gt=0.0, lt=1.0, description="Share of the points held out."
    )
    jitter: float = Field(
        default=1e-6,
        gt=0.0,
        description="Initial diagonal jitter added to the covariance for Cholesky.",
    )
    training: dict[str, Any] = Field(
        default_factory=dict,
        description="TrainingConfig overrides (default: Adam, lr 1e-2, 1000 steps).",
    )

    @model_validator(mode="after")
    def _check(self) -> GRFConfig:
        self.training_config()
        return self

    def training_config(self):
        """Return the TrainingConfig with this task's overrides applied."""
        base = {"optimizer": "adam", "lr": 1e-2, "steps": 1000, "eval_every": 100}
        return merge_training(base, self.training)


def sample_grf(config: GRFConfig, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Draw points ``(n, d)`` uniformly in the unit box and a field sample ``(n,)``."""
    rng = np.random.default_rng(seed)
    points = rng.uniform(0.0, 1.0, size=(config.n_points, config.dim))
    values = sample_field(points, config.correlation_length, config.jitter, rng)
    return points, values


def sample_field(
    points: np.ndarray,
    correlation_length: float,
    jitter: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """Draw the zero-mean Gaussian field at ``points (n, d)``; returns ``(n,)``.

    The jitter grows tenfold, up to 1e-2, until the Cholesky factorisation
    succeeds; the field then has that much extra white-noise variance.
    """
    squared = np.sum((points[:, None, :] - points[None, :, :]) ** 2, axis=-1)
    covariance = np.exp(-squared / (2.0 * correlation_length**2))
    while True:
        try:
            factor = np.linalg.cholesky(covariance + jitter * np.eye(len(points)))
            break
        except np.linalg.LinAlgError:
            if jitter >= 1e-2:
                msg = (
                    f"GRF covariance is not positive definite even with jitter "
                    f"{jitter}; use fewer points or a longer correlation length"
                )
                raise ValueError(msg) from None
            jitter *= 10.0
    return factor @ rng.standard_normal(len(points))


class GRF(ChecksArchitectureDims, Task):
    """Train and test RMSE of a network fitted to one GRF sample.

    Inputs are mapped from ``[0, 1]^d`` to ``[-1, 1]^d``, the default grid
    range of a KAN. The field has unit variance, so an RMSE of 1 is no fit.
    """

    name = "grf"
    description = "Gaussian random field regression in 1-3 dimensions"
    Config = GRFConfig
    slots = {"architecture": "architecture"}
    metrics = REGRESSION_METRICS
    primary_metric = "test_rmse"

    def io_dims(self) -> list[tuple[int, int]]:
        return [(self.config.dim, 1)]

    def run(self, components, context: RunContext) -> dict[str, float]:
        import torch

        from toolkit.training import train

        architecture = architecture_slot(components)
        config = self.config
        points, values = sample_grf(config, context.seed)
        n_test = max(1, round(config.test_fraction * len(points)))
        inputs = torch.as_tensor(2.0 * points - 1.0, dtype=torch.float32)
        targets = torch.as_tensor(values, dtype=torch.float32).unsqueeze(1)

        torch.manual_seed(context.seed)
        model = architecture.build(config.dim, 1)
        training = config.training_config().model_copy(update={"seed": context.seed})
        result = train(
            architecture,
            model,
            inputs[n_test:],
            targets[n_test:],
            training,
            eval_inputs=inputs[:n_test],
            eval_targets=targets[:n_test],
            progress=context.progress,
        )
        return {
            "test_rmse": result.final_test_rmse,
            "train_rmse": result.final_train_rmse,
            "n_params": float(count_parameters(model)),
            "train_seconds": result.wall_time_s,
        }
