"""Helpers shared by the regression tasks of this plugin."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from toolkit import Architecture, Component, Metric, NotApplicable

if TYPE_CHECKING:  # pragma: no cover
    import torch

#: Metrics every regression task of this plugin reports.
REGRESSION_METRICS = (
    Metric("test_rmse", "lower", "Root mean squared error on held-out points."),
    Metric("train_rmse", "lower", "Root mean squared error on the training points."),
    Metric("n_params", "lower", "Trainable parameters at the end of training."),
    Metric("train_seconds", "lower", "Wall-clock seconds spent training."),
)


def architecture_slot(components: Mapping[str, Component]) -> Architecture:
    """Return the component in the ``architecture`` slot, checking its kind."""
    component = components.get("architecture")
    if not isinstance(component, Architecture):
        msg = (
            "this task needs an Architecture in its 'architecture' slot; received "
            f"{type(component).__name__}"
        )
        raise NotApplicable(msg)
    return component


class ChecksArchitectureDims:
    """Mixin for tasks: check the architecture against :meth:`io_dims` at plan time."""

    def io_dims(self) -> list[tuple[int, int]]:
        """Return every (input_dim, output_dim) the task builds a network for."""
        raise NotImplementedError

    def check(self, components: Mapping[str, Component]) -> None:
        architecture = components.get("architecture")
        if isinstance(architecture, Architecture):
            for input_dim, output_dim in self.io_dims():
                architecture.check_dims(input_dim, output_dim)


def count_parameters(model: torch.nn.Module) -> int:
    """Count the trainable parameters of ``model``."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def scale_to_unit_box(values, low, high):
    """Map ``values`` from ``[low, high]`` affinely onto ``[-1, 1]`` (per column)."""
    return 2.0 * (values - low) / (high - low) - 1.0


def merge_training(defaults: Mapping[str, object], overrides: Mapping[str, object]):
    """Return the TrainingConfig of ``defaults`` updated by ``overrides``.

    Raises
    ------
    ValueError
        Naming each invalid ``training.<field>`` and the valid field names,
        because pydantic would report the fields without the ``training``
        prefix.
    """
    from pydantic import ValidationError

    from toolkit.training import TrainingConfig

    try:
        return TrainingConfig.model_validate({**defaults, **overrides})
    except ValidationError as error:
        problems = "; ".join(
            f"training.{'.'.join(str(part) for part in item['loc'])}: {item['msg']}"
            f" (received {item.get('input')!r})"
            for item in error.errors()
        )
        fields = ", ".join(TrainingConfig.model_fields)
        msg = f"{problems}. Valid training fields: {fields}"
        raise ValueError(msg) from None
