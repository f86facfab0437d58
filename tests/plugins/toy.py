"""A small but real plugin: one component of each kind, and tasks that score them.

The harness tests use it to exercise the five contracts end to end without
the heavier first-party plugins.
"""

from __future__ import annotations

import math
import time
from typing import Literal

import numpy as np
from pydantic import Field

from toolkit import (
    Architecture,
    BudgetExhausted,
    ComponentConfig,
    Distiller,
    Metric,
    NotApplicable,
    Probe,
    ProbeFit,
    Program,
    Sampler,
    Samples,
    Target,
    Task,
    hookimpl,
)


class ToyMetropolis(Sampler):
    """Random-walk Metropolis with one chain and a fixed step."""

    name = "toy-metropolis"
    description = "Random-walk Metropolis, one chain, fixed isotropic step."

    class Config(ComponentConfig):
        step: float = Field(1.0, gt=0, description="Proposal standard deviation.")

    def sample(self, target: Target, budget: int, seed: int) -> Samples:
        rng = np.random.default_rng(seed)
        position = target.initial_ensemble(rng, 1)
        log_p = target.log_density(position)
        history = [position.copy()]
        try:
            while True:
                proposal = position + self.config.step * rng.standard_normal(
                    position.shape
                )
                log_q = target.log_density(proposal)
                if math.log(rng.uniform()) < log_q[0] - log_p[0]:
                    position, log_p = proposal, log_q
                history.append(position.copy())
        except BudgetExhausted:
            pass
        return Samples.from_target(np.stack(history), target)


class NeedsGradient(ToyMetropolis):
    """A sampler that declares it needs a gradient, for applicability tests."""

    name = "toy-needs-gradient"
    requires = frozenset({"gradient"})


class NormalTarget(Target):
    def __init__(self, mean: float, scale: float, budget: int, nan: bool = False):
        super().__init__(1, budget=budget)
        self.mean, self.scale, self.nan = mean, scale, nan

    def _log_density(self, positions):
        values = -0.5 * ((positions[:, 0] - self.mean) / self.scale) ** 2
        if self.nan:
            values = np.where(positions[:, 0] > self.mean, np.nan, values)
        return values


class ToyNormalTask(Task):
    """Sample a 1-D normal; score the error of the mean in standard deviations."""

    name = "toy-normal"
    description = "1-D normal target with known mean."
    slots = {"sampler": "sampler"}
    metrics = (
        Metric("mean_error", "lower", "|estimate - mean| / sd"),
        Metric("evaluations", "lower", "density evaluations spent"),
    )
    primary_metric = "mean_error"

    class Config(ComponentConfig):
        mean: float = 1.0
        scale: float = Field(1.0, gt=0)
        budget: int = Field(2000, ge=10)
        nan: bool = Field(False, description="Return NaN right of the mean.")

    def run(self, components, context):
        sampler = components["sampler"]
        target = NormalTarget(
            self.config.mean, self.config.scale, self.config.budget, self.config.nan
        )
        missing = sampler.missing_requirements(target)
        if missing:
            raise NotApplicable(f"target lacks {', '.join(missing)}")
        samples = sampler.sample(target, self.config.budget, context.seed)
        estimate = samples.positions[len(samples.positions) // 2 :].mean()
        return {
            "mean_error": abs(estimate - self.config.mean) / self.config.scale,
            "evaluations": samples.n_evaluations,
        }


class SleepTask(Task):
    """Sleep, then report the seed: for timeout and resume tests."""

    name = "toy-sleep"
    slots = {"sampler": "sampler"}
    metrics = (Metric("value", "higher"),)
    primary_metric = "value"

    class Config(ComponentConfig):
        seconds: float = Field(0.0, ge=0)
        fail_seeds: list[int] = Field(default_factory=list)

    def run(self, components, context):
        time.sleep(self.config.seconds)
        if context.seed in self.config.fail_seeds:
            raise RuntimeError(f"seed {context.seed} is set to fail")
        return {"value": float(context.seed)}


class LeastSquaresProbe(Probe):
    """Linear probe fitted by least squares on 70% of rows, scored on the rest."""

    name = "toy-linear-probe"

    class Config(ComponentConfig):
        holdout: float = Field(0.3, gt=0, lt=1)

    def fit(self, activations, targets, seed):
        rng = np.random.default_rng(seed)
        order = rng.permutation(len(activations))
        cut = int(len(order) * (1 - self.config.holdout))
        train, test = order[:cut], order[cut:]
        design = np.c_[activations, np.ones(len(activations))]
        weights, *_ = np.linalg.lstsq(design[train], targets[train], rcond=None)
        predicted = design[test] @ weights
        residual = ((targets[test] - predicted) ** 2).sum(axis=0)
        total = ((targets[test] - targets[test].mean(axis=0)) ** 2).sum(axis=0)
        return ProbeFit(
            r2=1 - residual / total,
            predict=lambda a: np.c_[a, np.ones(len(a))] @ weights,
            params={"weights": weights},
        )


class ToyProbeTask(Task):
    """Recover a planted linear feature from random activations."""

    name = "toy-probe"
    slots = {"probe": "probe"}
    metrics = (Metric("r2", "higher", "held-out R^2 of the planted feature"),)
    primary_metric = "r2"

    class Config(ComponentConfig):
        noise: float = Field(0.01, ge=0)

    def run(self, components, context):
        rng = np.random.default_rng(context.seed)
        activations = rng.standard_normal((400, 8))
        direction = rng.standard_normal(8)
        feature = activations @ direction + self.config.noise * rng.standard_normal(400)
        fit = components["probe"].fit(activations, feature[:, None], context.seed)
        return {"r2": float(fit.r2[0])}


class PolynomialDistiller(Distiller):
    """Fit a polynomial to a 1-D model and emit it as Python source."""

    name = "toy-polynomial"

    class Config(ComponentConfig):
        degree: int = Field(2, ge=0, le=10)

    def distill(self, model, task_data):
        coefficients = np.polyfit(task_data, model(task_data), self.config.degree)
        terms = " + ".join(
            f"({float(c)!r}) * x ** {self.config.degree - i}"
            for i, c in enumerate(coefficients)
        )
        return Program(source=f"def f(x):\n    return {terms}\n", symbolic=terms)


class ToyDistillTask(Task):
    """Distil a known quadratic; the harness checks the program on fresh inputs."""

    name = "toy-distill"
    slots = {"distiller": "distiller"}
    metrics = (Metric("max_error", "lower", "max |program - model| on fresh inputs"),)
    primary_metric = "max_error"

    def run(self, components, context):
        def model(x):
            return 3.0 * x**2 - 2.0 * x + 0.5

        rng = np.random.default_rng(context.seed)
        program = components["distiller"].distill(model, rng.uniform(-1, 1, 50))
        function = program.load()
        fresh = rng.uniform(-1, 1, 200)
        return {"max_error": float(np.max(np.abs(function(fresh) - model(fresh))))}


class LinearArchitecture(Architecture):
    """A single affine layer (torch.nn.Linear)."""

    name = "toy-linear"

    class Config(ComponentConfig):
        bias: bool = True

    def build(self, input_dim, output_dim):
        import torch

        return torch.nn.Linear(input_dim, output_dim, bias=self.config.bias)


class ToyRegressionTask(Task):
    """Fit y = A x + b with the architecture; score the test RMSE."""

    name = "toy-regression"
    slots = {"architecture": "architecture"}
    metrics = (Metric("test_rmse", "lower"),)
    primary_metric = "test_rmse"

    class Config(ComponentConfig):
        steps: int = Field(300, ge=1)
        optimizer: Literal["adam", "lbfgs"] = "adam"

    def run(self, components, context):
        import torch

        generator = torch.Generator().manual_seed(context.seed)
        weight = torch.randn(3, 2, generator=generator)
        inputs = torch.randn(256, 3, generator=generator)
        targets = inputs @ weight + 0.5
        model = components["architecture"].build(3, 2)
        optimiser = torch.optim.Adam(model.parameters(), lr=0.05)
        for step in range(1, self.config.steps + 1):
            optimiser.zero_grad()
            loss = torch.mean((model(inputs) - targets) ** 2)
            loss.backward()
            optimiser.step()
            components["architecture"].after_step(model, step, inputs)
        with torch.no_grad():
            test = torch.randn(128, 3, generator=generator)
            rmse = torch.sqrt(torch.mean((model(test) - (test @ weight + 0.5)) ** 2))
        return {"test_rmse": float(rmse)}


@hookimpl
def toolkit_samplers():
    return [ToyMetropolis, NeedsGradient]


@hookimpl
def toolkit_probes():
    return [LeastSquaresProbe]


@hookimpl
def toolkit_distillers():
    return [PolynomialDistiller]


@hookimpl
def toolkit_architectures():
    return [LinearArchitecture]


@hookimpl
def toolkit_tasks():
    return [ToyNormalTask, SleepTask, ToyProbeTask, ToyDistillTask, ToyRegressionTask]
