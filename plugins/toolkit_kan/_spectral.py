"""Spectral bias in 1D: which frequencies does a network learn first?

The target is ``f(x) = sum_i A_i sin(2 pi k_i x + phi_i)`` on ``N`` equally
spaced points ``x_n = n / N`` (the setting of Rahaman et al. 2019, "On the
spectral bias of neural networks", arXiv:1806.08734, as used for KANs by
Wang et al. 2024, arXiv:2410.01803). Every ``eval_every`` steps, the relative
error of frequency ``k_i`` is ``|FFT(model - f)[k_i]| / |FFT(f)[k_i]|``, and
its learning step is the first recorded step where that error is below the
threshold. Spectral bias shows as learning steps that grow with ``k_i``.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import Field, field_validator, model_validator

from toolkit import Architecture, ComponentConfig, Metric, RunContext, Task
from toolkit_kan._common import (
    ChecksArchitectureDims,
    architecture_slot,
    count_parameters,
    merge_training,
)

#: Frequencies that have a declared per-frequency metric.
DECLARED_FREQUENCIES = tuple(range(5, 105, 5))


def _default_training():
    from toolkit.training import TrainingConfig

    return TrainingConfig(optimizer="adam", lr=1e-2, steps=1500, eval_every=25)


class SpectralBiasConfig(ComponentConfig):
    """Configuration of the ``spectral-bias`` task."""

    n_points: int = Field(
        default=256, ge=8, description="Equally spaced samples of [0, 1)."
    )
    frequencies: list[int] = Field(
        default=list(range(5, 55, 5)),
        min_length=1,
        description="Frequencies k_i in cycles per unit: multiples of 5 up to 100.",
    )
    amplitudes: Literal["equal", "increasing"] = Field(
        default="equal",
        description="'equal' sets A_i = 1; 'increasing' sets A_i = i / n (i from 1).",
    )
    threshold: float = Field(
        default=0.1,
        gt=0.0,
        lt=1.0,
        description="Relative error below which a frequency counts as learned.",
    )
    training: dict[str, Any] = Field(
        default_factory=dict,
        description="TrainingConfig overrides (default: Adam, lr 1e-2, 1500 steps).",
    )

    @field_validator("frequencies")
    @classmethod
    def _check_frequencies(cls, values: list[int]) -> list[int]:
        bad = [k for k in values if k not in DECLARED_FREQUENCIES]
        if bad or len(set(values)) != len(values):
            msg = (
                f"frequencies must be distinct multiples of 5 from 5 to 100; "
                f"received {values}"
            )
            raise ValueError(msg)
        return sorted(values)

    @model_validator(mode="after")
    def _check_nyquist(self) -> SpectralBiasConfig:
        if 2 * max(self.frequencies) >= self.n_points:
            msg = (
                f"n_points={self.n_points} cannot resolve frequency "
                f"{max(self.frequencies)}; use n_points > {2 * max(self.frequencies)}"
            )
            raise ValueError(msg)
        self.training_config()
        return self

    def training_config(self):
        """Return the TrainingConfig with this task's overrides applied."""
        return merge_training(_default_training().model_dump(), self.training)


@dataclasses.dataclass
class SpectralRun:
    """Per-frequency learning curves of one trained network.

    Attributes
    ----------
    frequencies : ndarray, shape (n_freq,)
    steps : ndarray, shape (n_evals,)
    errors : ndarray, shape (n_evals, n_freq)
        Relative error of each frequency at each recorded step.
    learning_steps : ndarray, shape (n_freq,)
        First recorded step with error below the threshold; NaN if never.
    n_params : int
    train_rmse : float
    train_seconds : float
    """

    frequencies: np.ndarray
    steps: np.ndarray
    errors: np.ndarray
    learning_steps: np.ndarray
    n_params: int
    train_rmse: float
    train_seconds: float


def make_target(config: SpectralBiasConfig, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Sample the phases and return ``(x, f(x))``, each of shape ``(n_points,)``."""
    rng = np.random.default_rng(seed)
    x = np.arange(config.n_points) / config.n_points
    frequencies = np.asarray(config.frequencies)
    phases = rng.uniform(0.0, 2.0 * math.pi, size=len(frequencies))
    if config.amplitudes == "equal":
        amplitudes = np.ones(len(frequencies))
    else:
        amplitudes = np.arange(1, len(frequencies) + 1) / len(frequencies)
    waves = np.sin(2.0 * math.pi * frequencies[:, None] * x + phases[:, None])
    return x, amplitudes @ waves


def frequency_errors(
    prediction: np.ndarray, target: np.ndarray, frequencies: np.ndarray
) -> np.ndarray:
    """Return ``|FFT(prediction - target)[k]| / |FFT(target)[k]|`` for each ``k``."""
    residual = np.fft.rfft(prediction - target)
    reference = np.fft.rfft(target)
    return np.abs(residual[frequencies]) / np.abs(reference[frequencies])


def run_spectral_bias(
    architecture: Architecture, config: SpectralBiasConfig, seed: int, progress=None
) -> SpectralRun:
    """Train a fresh network on the sinusoid sum and record per-frequency errors.

    Inputs ``x`` in ``[0, 1)`` are mapped to ``2 x - 1`` in ``[-1, 1)``, the
    default grid range of a KAN.
    """
    import torch

    from toolkit.training import train

    x, target = make_target(config, seed)
    inputs = torch.as_tensor(2.0 * x - 1.0, dtype=torch.float32).unsqueeze(1)
    targets = torch.as_tensor(target, dtype=torch.float32).unsqueeze(1)
    frequencies = np.asarray(config.frequencies)
    training = config.training_config().model_copy(update={"seed": seed})

    torch.manual_seed(seed)
    model = architecture.build(1, 1)
    history: list[np.ndarray] = []

    def record(step: int, network) -> None:
        with torch.no_grad():
            prediction = network(inputs).squeeze(1).double().numpy()
        history.append(frequency_errors(prediction, target, frequencies))

    result = train(
        architecture,
        model,
        inputs,
        targets,
        training,
        callback=record,
        progress=progress,
    )
    steps = np.asarray(result.eval_steps)
    errors = np.vstack(history)
    learned = errors < config.threshold
    learning_steps = np.where(
        learned.any(axis=0), steps[np.argmax(learned, axis=0)], np.nan
    )
    return SpectralRun(
        frequencies=frequencies,
        steps=steps,
        errors=errors,
        learning_steps=learning_steps.astype(float),
        n_params=count_parameters(model),
        train_rmse=result.final_train_rmse,
        train_seconds=result.wall_time_s,
    )


def plot_errors(axis, run: SpectralRun, title: str) -> object:
    """Draw a heatmap of relative error (frequency by step) on ``axis``."""
    image = axis.imshow(
        np.clip(run.errors.T, 0.0, 1.0),
        aspect="auto",
        origin="lower",
        cmap="viridis",
        vmin=0.0,
        vmax=1.0,
        extent=(run.steps[0], run.steps[-1], -0.5, len(run.frequencies) - 0.5),
        interpolation="nearest",
    )
    axis.set_yticks(range(len(run.frequencies)), [str(k) for k in run.frequencies])
    axis.set_xlabel("training step")
    axis.set_ylabel("frequency k")
    axis.set_title(title)
    return image


def write_artifacts(folder: Path, run: SpectralRun, label: str) -> None:
    """Write the error table (CSV) and the heatmap (PNG) into ``folder``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    header = "step," + ",".join(f"error_k{k}" for k in run.frequencies)
    table = np.column_stack([run.steps, run.errors])
    np.savetxt(
        folder / "spectral_errors.csv", table, delimiter=",", header=header, comments=""
    )
    figure, axis = plt.subplots(figsize=(6, 4))
    image = plot_errors(axis, run, label)
    figure.colorbar(image, ax=axis, label="relative error")
    figure.tight_layout()
    figure.savefig(folder / "spectral_errors.png", dpi=120)
    plt.close(figure)


class SpectralBias(ChecksArchitectureDims, Task):
    """Per-frequency learning times of a network fitting a sum of sinusoids.

    A frequency never learned within the step budget gets the budget as its
    learning step (a censored value, a lower bound on the true time), and
    ``fraction_learned`` reports how many were learned.
    """

    name = "spectral-bias"
    description = "1D sum of sinusoids: per-frequency error and learning time"
    Config = SpectralBiasConfig
    slots = {"architecture": "architecture"}
    metrics = (
        Metric("mean_learning_step", "lower", "Mean learning step over frequencies."),
        Metric(
            "high_freq_error", "lower", "Mean final relative error, upper half of k."
        ),
        Metric(
            "low_freq_error", "lower", "Mean final relative error, lower half of k."
        ),
        Metric("fraction_learned", "higher", "Share of frequencies below threshold."),
        Metric("train_rmse", "lower", "Final RMSE on the sample points."),
        Metric("n_params", "lower", "Trainable parameters at the end of training."),
        Metric("train_seconds", "lower", "Wall-clock seconds spent training."),
        *(
            Metric(f"learning_step_k{k}", "lower", f"Learning step of frequency {k}.")
            for k in DECLARED_FREQUENCIES
        ),
    )
    primary_metric = "mean_learning_step"

    def io_dims(self) -> list[tuple[int, int]]:
        return [(1, 1)]

    def run(self, components, context: RunContext) -> dict[str, float]:
        architecture = architecture_slot(components)
        run = run_spectral_bias(
            architecture, self.config, context.seed, context.progress
        )
        budget = float(run.steps[-1])
        censored = np.where(np.isnan(run.learning_steps), budget, run.learning_steps)
        half = len(run.frequencies) // 2
        final = run.errors[-1]
        metrics = {
            "mean_learning_step": float(censored.mean()),
            "high_freq_error": float(final[half:].mean()),
            "low_freq_error": float(final[:half].mean())
            if half
            else float(final.mean()),
            "fraction_learned": float(np.mean(~np.isnan(run.learning_steps))),
            "train_rmse": run.train_rmse,
            "n_params": float(run.n_params),
            "train_seconds": run.train_seconds,
        }
        for k, step in zip(run.frequencies, censored):
            metrics[f"learning_step_k{k}"] = float(step)
        if context.artifacts is not None:
            write_artifacts(Path(context.artifacts), run, architecture.name)
        return metrics
