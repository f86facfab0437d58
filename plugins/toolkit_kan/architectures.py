"""The ``kan`` and ``mlp`` Architectures and parameter matching between them."""

from __future__ import annotations

import itertools
import math
from typing import TYPE_CHECKING, Literal

from pydantic import Field, model_validator

from toolkit import Architecture, ComponentConfig

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = [
    "KAN",
    "MLP",
    "KANConfig",
    "MLPConfig",
    "count_kan_parameters",
    "count_mlp_parameters",
    "mlp_matching_kan",
]


def _check_widths(values: list[int] | None, field: str) -> None:
    if values is None:
        return
    bad = [width for width in values if width < 1]
    if bad:
        msg = f"{field} must contain widths of at least 1; received {values}"
        raise ValueError(msg)


def _resolve_widths(
    kind: str,
    width: list[int] | None,
    hidden: list[int],
    input_dim: int,
    output_dim: int,
) -> list[int]:
    """Return the full layer widths, checking them against the task's dimensions."""
    for name, value in (("input_dim", input_dim), ("output_dim", output_dim)):
        if not isinstance(value, int) or value < 1:
            msg = (
                f"{kind} build needs a positive integer {name}; received {value!r}. "
                "Pass the number of input and output features of the task."
            )
            raise ValueError(msg)
    if width is None:
        return [input_dim, *hidden, output_dim]
    if width[0] != input_dim or width[-1] != output_dim:
        msg = (
            f"{kind} width {width} maps {_count(width[0], 'input')} to "
            f"{_count(width[-1], 'output')}, but the task has "
            f"{_count(input_dim, 'input')} and {_count(output_dim, 'output')}; set "
            f"width to [{input_dim}, ..., {output_dim}] or give only the hidden widths"
        )
        raise ValueError(msg)
    return list(width)


def _count(number: int, noun: str) -> str:
    """Return ``number`` with ``noun``, plural unless the number is 1."""
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


#: Largest magnitude of a grid_range end. Knots are stored in the layer's
#: dtype (float32 by default), and a KAN expects normalised inputs.
MAX_GRID_END = 1e6

#: Smallest grid interval, relative to the larger grid_range end (at least
#: 1). Finer knots lose their spacing to float32 rounding.
MIN_RELATIVE_SPACING = 1e-5


def _check_grid_range(grid_range: tuple[float, float], grid: int) -> None:
    """Raise a ValueError unless float32 knots can resolve ``grid_range``."""
    low, high = grid_range
    if not (abs(low) <= MAX_GRID_END and abs(high) <= MAX_GRID_END):
        msg = (
            f"grid_range {grid_range} is outside [-{MAX_GRID_END:g}, "
            f"{MAX_GRID_END:g}]; rescale the inputs to order 1 and set grid_range "
            "to their range"
        )
        raise ValueError(msg)
    scale = max(1.0, abs(low), abs(high))
    if (high - low) / grid < MIN_RELATIVE_SPACING * scale:
        msg = (
            f"grid_range {grid_range} with {grid} intervals gives a knot spacing "
            f"of {(high - low) / grid:.3g}, below {MIN_RELATIVE_SPACING:g} of "
            f"{scale:g}, which float32 knots cannot resolve; rescale the inputs "
            "to order 1 and widen grid_range"
        )
        raise ValueError(msg)


class KANConfig(ComponentConfig):
    """Configuration of the ``kan`` Architecture."""

    hidden: list[int] = Field(
        default=[5],
        description="Widths of the hidden layers; an empty list is a single layer.",
    )
    width: list[int] | None = Field(
        default=None,
        min_length=2,
        description=(
            "Full widths including input and output, as in pykan's `width`; "
            "overrides `hidden` and must match the task's dimensions."
        ),
    )
    grid: int = Field(default=5, ge=1, description="Number of grid intervals G.")
    spline_order: int = Field(
        default=3, ge=1, description="B-spline order k (3 is cubic)."
    )
    grid_range: tuple[float, float] = Field(
        default=(-1.0, 1.0), description="Interval [a, b] of the initial grid."
    )
    grid_eps: float = Field(
        default=0.02,
        ge=0.0,
        le=1.0,
        description="Uniform share of the knots in a grid update (0 = quantiles).",
    )
    grid_update_every: int = Field(
        default=5,
        ge=0,
        description=(
            "Adapt the knots to the training inputs every this many steps "
            "(0 = never); pykan's default is 5."
        ),
    )
    grid_update_until: int = Field(
        default=50,
        ge=0,
        description="Last step at which a grid update may happen; pykan's is 50.",
    )
    grid_schedule: list[int] = Field(
        default=[],
        description=(
            "Grid sizes to extend to, in increasing order; empty keeps the grid fixed."
        ),
    )
    grid_milestones: list[int] = Field(
        default=[],
        description="Training steps at which to extend to each `grid_schedule` size.",
    )
    base_function: Literal["silu", "identity", "zero"] = Field(
        default="silu", description="Function b of the base branch scale_base * b(x)."
    )
    noise_scale: float = Field(
        default=0.3, ge=0.0, description="Scale of the random initial splines."
    )

    @model_validator(mode="after")
    def _check(self) -> KANConfig:
        _check_widths(self.hidden, "hidden")
        _check_widths(self.width, "width")
        low, high = self.grid_range
        if not low < high:
            msg = f"grid_range must be increasing; received {self.grid_range}"
            raise ValueError(msg)
        if len(self.grid_schedule) != len(self.grid_milestones):
            msg = (
                f"grid_schedule {self.grid_schedule} and grid_milestones "
                f"{self.grid_milestones} must have the same length: one step per size"
            )
            raise ValueError(msg)
        sizes = [self.grid, *self.grid_schedule]
        if any(b <= a for a, b in itertools.pairwise(sizes)):
            msg = (
                f"grid_schedule {self.grid_schedule} must increase and start above "
                f"grid={self.grid}"
            )
            raise ValueError(msg)
        steps = self.grid_milestones
        if any(step < 1 for step in steps) or any(
            b <= a for a, b in itertools.pairwise(steps)
        ):
            msg = f"grid_milestones must be increasing positive steps; received {steps}"
            raise ValueError(msg)
        _check_grid_range(self.grid_range, self.final_grid)
        return self

    @property
    def final_grid(self) -> int:
        """Grid size after the last extension."""
        return self.grid_schedule[-1] if self.grid_schedule else self.grid


class KAN(Architecture):
    """Kolmogorov-Arnold network with pykan's B-spline edges.

    The training hooks adapt the grid to the training inputs every
    ``grid_update_every`` steps up to ``grid_update_until``, and extend it to
    ``grid_schedule[i]`` intervals after step ``grid_milestones[i]``.

    NOTE: pykan's sparsity regulariser is not implemented, so ``penalty``
    returns ``None``, which matches pykan's default ``lamb=0``.
    """

    name = "kan"
    description = "Kolmogorov-Arnold network (pykan B-spline edges), grid extension"
    Config = KANConfig

    def check_dims(self, input_dim: int, output_dim: int) -> None:
        config = self.config
        _resolve_widths("KAN", config.width, config.hidden, input_dim, output_dim)

    def build(self, input_dim: int, output_dim: int) -> torch.nn.Module:
        from toolkit_kan._network import KANNetwork

        config = self.config
        widths = _resolve_widths(
            "KAN", config.width, config.hidden, input_dim, output_dim
        )
        return KANNetwork(
            widths,
            config.grid,
            config.spline_order,
            grid_range=tuple(config.grid_range),
            noise_scale=config.noise_scale,
            grid_eps=config.grid_eps,
            base_function=config.base_function,
        )

    def after_step(
        self, model: torch.nn.Module, step: int, inputs: torch.Tensor
    ) -> bool:
        from toolkit_kan._network import KANNetwork

        if not isinstance(model, KANNetwork):
            msg = (
                f"the kan Architecture trains only networks it built; received "
                f"{type(model).__name__}"
            )
            raise TypeError(msg)
        config = self.config
        if step in config.grid_milestones:
            grid_size = config.grid_schedule[config.grid_milestones.index(step)]
            return model.extend_grid(inputs, grid_size)
        # NOTE: steps count from the start of training, whereas pykan restarts
        # its grid-update count at every fit() call, e.g. after each refine.
        every = config.grid_update_every
        if every and step % every == 0 and step <= config.grid_update_until:
            # The coefficients change in place, so the optimiser keeps its state.
            model.update_grid(inputs)
        return False


def count_kan_parameters(config: KANConfig, input_dim: int, output_dim: int) -> int:
    """Count the trainable parameters of a KAN after its last grid extension.

    Each edge has ``G + k`` coefficients, a base scale and a spline scale.
    """
    widths = _resolve_widths("KAN", config.width, config.hidden, input_dim, output_dim)
    per_edge = config.final_grid + config.spline_order + 2
    return sum(a * b * per_edge for a, b in itertools.pairwise(widths))


#: Hidden widths of an MLP whose config sets neither widths nor match_kan.
DEFAULT_MLP_HIDDEN = [32, 32]


class MLPConfig(ComponentConfig):
    """Configuration of the ``mlp`` Architecture."""

    hidden: list[int] | None = Field(
        default=None,
        description=(
            f"Widths of the hidden layers; None means {DEFAULT_MLP_HIDDEN} "
            "unless match_kan is set."
        ),
    )
    width: list[int] | None = Field(
        default=None,
        min_length=2,
        description="Full widths including input and output; overrides `hidden`.",
    )
    activation: Literal["relu", "tanh", "silu"] = Field(
        default="relu", description="Activation after every hidden layer."
    )
    match_kan: KANConfig | None = Field(
        default=None,
        description=(
            "Choose equal hidden widths so that the parameter count matches "
            "this KAN's (after its last grid extension) on the task's dimensions."
        ),
    )
    match_depth: int = Field(
        default=2, ge=1, description="Number of hidden layers when matching a KAN."
    )

    @model_validator(mode="after")
    def _check(self) -> MLPConfig:
        _check_widths(self.hidden, "hidden")
        _check_widths(self.width, "width")
        if self.match_kan is not None and (
            self.hidden is not None or self.width is not None
        ):
            msg = (
                "set either match_kan or the widths (hidden, width) of the MLP, "
                "not both"
            )
            raise ValueError(msg)
        return self


def count_mlp_parameters(widths: list[int]) -> int:
    """Count weights and biases of a fully connected network of ``widths``."""
    return sum((a + 1) * b for a, b in itertools.pairwise(widths))


def mlp_matching_kan(
    kan_config: KANConfig | dict,
    input_dim: int,
    output_dim: int,
    depth: int = 2,
    activation: str = "relu",
) -> MLPConfig:
    """Choose an MLP of ``depth`` equal hidden layers with a KAN's parameter count.

    The width is the integer whose parameter count is closest to
    :func:`count_kan_parameters`; ties go to the smaller width.

    Returns
    -------
    MLPConfig
        With ``hidden = [width] * depth`` and the given activation.
    """
    if not isinstance(kan_config, KANConfig):
        kan_config = KANConfig.model_validate(dict(kan_config))
    if depth < 1:
        msg = f"depth must be at least 1 hidden layer; received {depth}"
        raise ValueError(msg)
    target = count_kan_parameters(kan_config, input_dim, output_dim)

    def count(width: int) -> int:
        return count_mlp_parameters([input_dim, *[width] * depth, output_dim])

    # The count is increasing in the width, so the best width is next to the
    # real root of (depth - 1) w^2 + (input + output + depth) w + output - target.
    quadratic = depth - 1
    linear = input_dim + output_dim + depth
    constant = output_dim - target
    if quadratic == 0:
        root = -constant / linear
    else:
        root = (-linear + math.sqrt(linear**2 - 4 * quadratic * constant)) / (
            2 * quadratic
        )
    candidates = {max(1, math.floor(root)), max(1, math.ceil(root))}
    width = min(sorted(candidates), key=lambda w: abs(count(w) - target))
    return MLPConfig(hidden=[width] * depth, activation=activation)


class MLP(Architecture):
    """Fully connected network with ReLU, tanh or SiLU activations."""

    name = "mlp"
    description = "Multilayer perceptron, optionally parameter-matched to a KAN"
    Config = MLPConfig

    def resolved_config(self, input_dim: int, output_dim: int) -> MLPConfig:
        """Return the config with matched widths when ``match_kan`` is set."""
        config = self.config
        if config.match_kan is None:
            return config
        return mlp_matching_kan(
            config.match_kan,
            input_dim,
            output_dim,
            config.match_depth,
            config.activation,
        )

    def check_dims(self, input_dim: int, output_dim: int) -> None:
        config = self.resolved_config(input_dim, output_dim)
        hidden = DEFAULT_MLP_HIDDEN if config.hidden is None else config.hidden
        _resolve_widths("MLP", config.width, hidden, input_dim, output_dim)

    def build(self, input_dim: int, output_dim: int) -> torch.nn.Module:
        from torch import nn

        config = self.resolved_config(input_dim, output_dim)
        hidden = DEFAULT_MLP_HIDDEN if config.hidden is None else config.hidden
        widths = _resolve_widths("MLP", config.width, hidden, input_dim, output_dim)
        activation = {"relu": nn.ReLU, "tanh": nn.Tanh, "silu": nn.SiLU}[
            config.activation
        ]
        layers: list[nn.Module] = []
        for index, (n_in, n_out) in enumerate(itertools.pairwise(widths)):
            if index > 0:
                layers.append(activation())
            layers.append(nn.Linear(n_in, n_out))
        return nn.Sequential(*layers)
