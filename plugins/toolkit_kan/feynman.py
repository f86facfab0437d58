"""The AI Feynman equations and a regression task on them.

``data/FeynmanEquations.csv`` contains the 100 equations of Udrescu and
Tegmark, "AI Feynman: a physics-inspired method for symbolic regression"
(Science Advances 2020): an id, the formula in sympy syntax, a declared
number of variables, and each variable's name and uniform sampling range.

In six rows the declared number of variables differs from the variables
listed (I.18.12 declares 2 and lists r, F and theta). The listed variables
are the ones the formula uses, so they win; ``declared_n_variables`` keeps
the declared count.
"""

from __future__ import annotations

import csv
import dataclasses
import functools
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import Field, field_validator, model_validator

from toolkit import ComponentConfig, Metric, RunContext, Task
from toolkit_kan._common import (
    ChecksArchitectureDims,
    architecture_slot,
    count_parameters,
    merge_training,
    scale_to_unit_box,
)

__all__ = ["DEFAULT_EQUATIONS", "Equation", "Feynman", "load_equations"]

#: Default subset: twelve equations of 2 to 5 variables, I.18.12 included.
DEFAULT_EQUATIONS = (
    "I.6.2",
    "I.8.14",
    "I.10.7",
    "I.12.4",
    "I.12.11",
    "I.13.12",
    "I.14.3",
    "I.18.12",
    "I.26.2",
    "I.29.4",
    "I.34.8",
    "II.6.15b",
)

_MAX_VARIABLES = 10


@dataclasses.dataclass(frozen=True)
class Equation:
    """One row of the AI Feynman table.

    Attributes
    ----------
    equation_id : str
        Id from the Feynman Lectures, e.g. ``"I.6.2"``.
    output : str
        Name of the output quantity.
    formula : str
        Formula in sympy syntax.
    variables : tuple of str
        Names of the inputs, in column order.
    lows, highs : tuple of float
        Uniform sampling range of each variable.
    declared_n_variables : int
        The table's "# variables" column, which may differ from
        ``len(variables)``.
    """

    equation_id: str
    output: str
    formula: str
    variables: tuple[str, ...]
    lows: tuple[float, ...]
    highs: tuple[float, ...]
    declared_n_variables: int

    @functools.cached_property
    def function(self):
        """The formula as a numpy function of one array per variable."""
        import sympy
        from sympy.parsing.sympy_parser import parse_expr

        symbols = {name: sympy.Symbol(name) for name in self.variables}
        namespace = {
            "exp": sympy.exp,
            "sqrt": sympy.sqrt,
            "sin": sympy.sin,
            "cos": sympy.cos,
            "tanh": sympy.tanh,
            "arcsin": sympy.asin,
            "ln": sympy.log,
            "pi": sympy.pi,
            **symbols,
        }
        expression = parse_expr(self.formula, local_dict=namespace)
        unknown = {str(s) for s in expression.free_symbols} - set(self.variables)
        if unknown:
            msg = (
                f"Feynman equation {self.equation_id} uses {sorted(unknown)}, which "
                f"are not among its listed variables {list(self.variables)}"
            )
            raise ValueError(msg)
        ordered = [symbols[name] for name in self.variables]
        return sympy.lambdify(ordered, expression, modules="numpy")

    def sample(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Draw ``n`` inputs uniformly in their ranges and evaluate the formula.

        Returns
        -------
        inputs : ndarray, shape (n, n_variables)
        outputs : ndarray, shape (n,)
        """
        lows, highs = np.asarray(self.lows), np.asarray(self.highs)
        inputs = rng.uniform(lows, highs, size=(n, len(self.variables)))
        with np.errstate(all="ignore"):
            outputs = np.asarray(self.function(*inputs.T), dtype=float)
        outputs = np.broadcast_to(outputs, (n,)).copy()
        if not np.isfinite(outputs).all():
            bad = int((~np.isfinite(outputs)).sum())
            msg = (
                f"Feynman equation {self.equation_id} is not finite at {bad} of {n} "
                f"sampled points; check its variable ranges"
            )
            raise FloatingPointError(msg)
        return inputs, outputs


def _read_row(row: dict[str, str]) -> Equation:
    variables, lows, highs = [], [], []
    for index in range(1, _MAX_VARIABLES + 1):
        name = (row.get(f"v{index}_name") or "").strip()
        if not name:
            continue
        variables.append(name)
        lows.append(float(row[f"v{index}_low"]))
        highs.append(float(row[f"v{index}_high"]))
    return Equation(
        equation_id=row["Filename"].strip(),
        output=row["Output"].strip(),
        formula=row["Formula"].strip(),
        variables=tuple(variables),
        lows=tuple(lows),
        highs=tuple(highs),
        declared_n_variables=int(row["# variables"]),
    )


def load_equations(path: str | Path | None = None) -> dict[str, Equation]:
    """Read the equation table, keyed by equation id, in file order.

    Parameters
    ----------
    path : path, optional
        A CSV in the AI Feynman layout; defaults to the copy in this package.
    """
    if path is None:
        source = resources.files("toolkit_kan") / "data" / "FeynmanEquations.csv"
        text = source.read_text(encoding="utf-8")
    else:
        text = Path(path).read_text(encoding="utf-8")
    rows = csv.DictReader(text.splitlines())
    equations = [_read_row(row) for row in rows if (row.get("Filename") or "").strip()]
    return {equation.equation_id: equation for equation in equations}


class FeynmanConfig(ComponentConfig):
    """Configuration of the ``feynman`` task."""

    equations: Literal["default", "all"] | list[str] = Field(
        default="default",
        description="Equation ids, or 'default' (12 equations) or 'all' (100).",
    )
    n_train: int = Field(
        default=1000, ge=10, description="Training points per equation."
    )
    n_test: int = Field(default=1000, ge=1, description="Test points per equation.")
    noise: float = Field(
        default=0.0,
        ge=0.0,
        description="Gaussian noise on training targets, in units of the target std.",
    )
    training: dict[str, Any] = Field(
        default_factory=dict,
        description="TrainingConfig overrides (default: Adam, lr 1e-2, 300 steps).",
    )

    @field_validator("equations")
    @classmethod
    def _check_ids(cls, value):
        if isinstance(value, str):
            return value
        known = load_equations()
        unknown = [eq for eq in value if eq not in known]
        if unknown or not value:
            msg = (
                f"unknown Feynman equation ids {unknown or value}; use ids from the "
                f"table such as {list(known)[:3]}, or 'default' or 'all'"
            )
            raise ValueError(msg)
        return value

    @model_validator(mode="after")
    def _check(self) -> FeynmanConfig:
        self.training_config()
        return self

    def training_config(self):
        """Return the TrainingConfig with this task's overrides applied."""
        base = {"optimizer": "adam", "lr": 1e-2, "steps": 300, "eval_every": 100}
        return merge_training(base, self.training)

    def equation_ids(self) -> list[str]:
        """Return the selected equation ids."""
        if self.equations == "default":
            return list(DEFAULT_EQUATIONS)
        if self.equations == "all":
            return list(load_equations())
        return list(self.equations)


class Feynman(ChecksArchitectureDims, Task):
    """Normalised test RMSE over AI Feynman equations, data generated on the fly.

    Inputs are mapped from each variable's sampling range onto ``[-1, 1]``.
    Targets are standardised with the training mean and standard deviation,
    so every RMSE here is in units of the target's standard deviation (1 is
    no better than predicting the mean). Each equation trains
    a fresh network built by the Architecture; parameter counts are matched
    by the configs of the compared components (see ``mlp``'s ``match_kan``).
    """

    name = "feynman"
    description = "AI Feynman equations: normalised test RMSE"
    Config = FeynmanConfig
    slots = {"architecture": "architecture"}
    metrics = (
        Metric("test_rmse", "lower", "Mean normalised test RMSE over equations."),
        Metric("median_test_rmse", "lower", "Median normalised test RMSE."),
        Metric("train_rmse", "lower", "Mean normalised training RMSE."),
        Metric("n_params", "lower", "Mean trainable parameters per equation."),
        Metric("train_seconds", "lower", "Wall-clock seconds spent training."),
    )
    primary_metric = "test_rmse"

    def io_dims(self) -> list[tuple[int, int]]:
        table = load_equations()
        return sorted(
            {(len(table[i].variables), 1) for i in self.config.equation_ids()}
        )

    def run(self, components, context: RunContext) -> dict[str, float]:
        architecture = architecture_slot(components)
        table = load_equations()
        ids = self.config.equation_ids()
        rows = []
        for index, equation_id in enumerate(ids):
            context.progress(index / len(ids), f"equation {equation_id}")
            rows.append(self._fit_one(architecture, table[equation_id], context.seed))
        if context.artifacts is not None:
            _write_table(Path(context.artifacts) / "feynman.csv", ids, rows)
        test = np.array([row["test_rmse"] for row in rows])
        return {
            "test_rmse": float(test.mean()),
            "median_test_rmse": float(np.median(test)),
            "train_rmse": float(np.mean([row["train_rmse"] for row in rows])),
            "n_params": float(np.mean([row["n_params"] for row in rows])),
            "train_seconds": float(sum(row["train_seconds"] for row in rows)),
        }

    def _fit_one(self, architecture, equation: Equation, seed: int) -> dict[str, float]:
        import torch

        from toolkit.training import train

        config = self.config
        rng = np.random.default_rng([seed, _stable_hash(equation.equation_id)])
        inputs, outputs = equation.sample(config.n_train + config.n_test, rng)
        lows, highs = np.asarray(equation.lows), np.asarray(equation.highs)
        inputs = scale_to_unit_box(inputs, lows, highs)
        train_outputs = outputs[: config.n_train]
        mean, std = train_outputs.mean(), train_outputs.std()
        std = std if std > 0 else 1.0
        outputs = (outputs - mean) / std
        noisy = outputs[: config.n_train] + config.noise * rng.standard_normal(
            config.n_train
        )

        as_tensor = functools.partial(torch.as_tensor, dtype=torch.float32)
        torch.manual_seed(seed)
        model = architecture.build(len(equation.variables), 1)
        training = config.training_config().model_copy(update={"seed": seed})
        result = train(
            architecture,
            model,
            as_tensor(inputs[: config.n_train]),
            as_tensor(noisy).unsqueeze(1),
            training,
            eval_inputs=as_tensor(inputs[config.n_train :]),
            eval_targets=as_tensor(outputs[config.n_train :]).unsqueeze(1),
        )
        return {
            "test_rmse": result.final_test_rmse,
            "train_rmse": result.final_train_rmse,
            "n_params": float(count_parameters(model)),
            "train_seconds": result.wall_time_s,
        }


def _stable_hash(text: str) -> int:
    """Return a process-independent integer for ``text`` (``hash`` is salted)."""
    return int.from_bytes(text.encode("utf-8"), "little") % (2**63)


def _write_table(path: Path, ids: list[str], rows: list[dict[str, float]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            ["equation", "test_rmse", "train_rmse", "n_params", "train_seconds"]
        )
        for equation_id, row in zip(ids, rows):
            writer.writerow(
                [equation_id]
                + [
                    f"{row[key]:.6g}"
                    for key in ("test_rmse", "train_rmse", "n_params", "train_seconds")
                ]
            )
