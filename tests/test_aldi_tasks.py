"""Tasks and plugin hooks of the toolkit_aldi plugin."""

import numpy as np
import pytest
from pydantic import ValidationError
from toolkit import NotApplicable, RunContext, Sampler, Task
from toolkit_aldi import plugin
from toolkit_aldi.aldi import AldiKalmanSampler, AldiSampler
from toolkit_aldi.tasks import (
    BananaTask,
    EllipticInverseTask,
    FunnelTask,
    GaussianTask,
    LinearInverseTask,
    score_history,
)
from toolkit_aldi.targets import GaussianTarget

SAMPLER_NAMES = {
    "aldi",
    "aldi-kalman",
    "ensemble-underdamped",
    "ensemble-underdamped-kalman",
    "rwm",
    "emcee",
}
TASK_NAMES = {"gaussian", "linear-inverse", "elliptic-inverse", "banana", "funnel"}


def test_hooks_return_component_classes():
    samplers = plugin.toolkit_samplers()
    tasks = plugin.toolkit_tasks()
    assert {cls.name for cls in samplers} == SAMPLER_NAMES
    assert {cls.name for cls in tasks} == TASK_NAMES
    assert all(issubclass(cls, Sampler) for cls in samplers)
    assert all(issubclass(cls, Task) for cls in tasks)


@pytest.mark.parametrize("task_class", plugin.toolkit_tasks(), ids=lambda cls: cls.name)
def test_task_declares_metrics(task_class):
    names = {metric.name for metric in task_class.metrics}
    assert task_class.primary_metric == "cov_error"
    assert names == {
        "mean_error",
        "cov_error",
        "rel_mean_error",
        "rel_cov_error",
        "ess_per_eval",
        "evaluations",
        "diverged",
    }
    assert task_class.slots == {"sampler": "sampler"}


@pytest.mark.parametrize(
    "task",
    [
        GaussianTask({"budget": 3000, "condition_number": 1e4}),
        LinearInverseTask({"budget": 3000}),
        EllipticInverseTask({"budget": 3000}),
        BananaTask({"budget": 3000}),
        FunnelTask({"budget": 3000}),
    ],
    ids=lambda task: task.name,
)
def test_task_runs_and_reports_every_metric(task):
    scores = task.run({"sampler": AldiSampler()}, RunContext(seed=0))
    assert set(scores) == {metric.name for metric in task.metrics}
    assert all(np.isfinite(value) for value in scores.values())
    assert scores["evaluations"] <= 3000


def test_funnel_not_applicable_to_kalman():
    with pytest.raises(NotApplicable, match="forward_model"):
        FunnelTask({"budget": 3000}).run(
            {"sampler": AldiKalmanSampler()}, RunContext(seed=0)
        )


def test_score_history_exact_draws():
    target = GaussianTarget(dim=3, condition_number=100.0)
    rng = np.random.default_rng(0)
    draws = rng.standard_normal((2000, 10, 3)) @ target.cholesky.T
    scores = score_history(draws, target, evaluations=20_000)
    # 10000 independent kept draws: the whitened mean error is about
    # sqrt(D / n) = 0.017 and the covariance error about sqrt((D + 1) / n)
    # = 0.02; five times those bound a correct implementation.
    assert scores["mean_error"] < 5 * np.sqrt(3 / 10_000)
    assert scores["cov_error"] < 5 * np.sqrt(4 / 10_000)
    # Independent draws: ESS near 10000 of 20000 evaluations.
    assert 0.35 < scores["ess_per_eval"] < 0.65


class DivergingTask(GaussianTask):
    name = "diverging"

    def build_target(self):
        return ExplodingTarget(dim=3, budget=self.config.budget)


class ExplodingTarget(GaussianTarget):
    """Gaussian whose gradient is infinite, as after an overflow."""

    def _grad_log_density(self, positions):
        return np.full_like(positions, np.inf)


def test_task_reports_broken_target():
    # The gradient is infinite at the true mean too, so the target, not the
    # sampler, is at fault: that must fail the cell.
    with pytest.raises(RuntimeError, match="task 'diverging' has a broken target"):
        DivergingTask({"budget": 20_000}).run(
            {"sampler": AldiSampler()}, RunContext(seed=0)
        )


class NaNSampler(AldiSampler):
    """ALDI whose history ends in NaN, as a sampler that blew up."""

    name = "nan-aldi"

    def sample(self, target, budget, seed):
        samples = super().sample(target, budget, seed)
        samples.positions[-1] = np.nan
        return samples


class OverflowTarget(GaussianTarget):
    """Gaussian whose gradient overflows far from the mean, as exp(-u) does."""

    def _grad_log_density(self, positions):
        gradient = super()._grad_log_density(positions)
        far = np.abs(positions).max(axis=1) > 0.5
        gradient[far] = np.inf
        return gradient


class OverflowTask(GaussianTask):
    name = "overflowing"

    def build_target(self):
        return OverflowTarget(dim=3, budget=self.config.budget)


@pytest.mark.parametrize(
    ("task", "sampler"),
    [
        (GaussianTask({"dim": 3, "budget": 5_000}), NaNSampler()),
        (OverflowTask({"dim": 3, "budget": 5_000}), AldiSampler()),
    ],
    ids=["nan-history", "overflow"],
)
def test_divergence_is_a_scored_result(task, sampler):
    scores = task.run({"sampler": sampler}, RunContext(seed=0))
    assert scores["diverged"] == 1.0
    assert scores["cov_error"] == np.inf
    assert scores["ess_per_eval"] == 0.0


def test_converged_run_reports_no_divergence():
    scores = GaussianTask({"dim": 3, "budget": 5_000}).run(
        {"sampler": AldiSampler()}, RunContext(seed=0)
    )
    assert scores["diverged"] == 0.0


@pytest.mark.parametrize(
    ("task_class", "config"),
    [
        (GaussianTask, {"condition_number": 0.5}),
        (GaussianTask, {"initial": "uniform"}),
        (GaussianTask, {"budget": 0}),
        (LinearInverseTask, {"noise_sd": 0.0}),
        (BananaTask, {"dim": 1}),
        (FunnelTask, {"unknown": 1}),
    ],
)
def test_invalid_task_config_raises(task_class, config):
    with pytest.raises(ValidationError):
        task_class(config)
