"""The shared training loop: optimisers, hooks, history and stopping."""

import numpy as np
import pytest
import torch
from pydantic import ValidationError

from toolkit import Architecture
from toolkit.training import TrainingConfig, train


class LinearArchitecture(Architecture):
    """A linear model that records the hook calls of the training loop."""

    name = "linear-test"

    def __init__(self, replace_at=(), ridge=0.0):
        super().__init__()
        self.replace_at = set(replace_at)
        self.ridge = ridge
        self.after_step_calls = []
        self.penalty_calls = 0

    def build(self, input_dim, output_dim):
        return torch.nn.Linear(input_dim, output_dim, dtype=torch.float64)

    def penalty(self, model):
        self.penalty_calls += 1
        if not self.ridge:
            return None
        return self.ridge * model.weight.pow(2).sum()

    def after_step(self, model, step, inputs):
        self.after_step_calls.append((step, inputs.shape[0]))
        if step in self.replace_at:
            model.weight = torch.nn.Parameter(torch.zeros_like(model.weight))
            return True
        return False


def linear_data(n=200, seed=0):
    rng = np.random.default_rng(seed)
    inputs = rng.normal(size=(n, 3))
    weights = np.array([[1.5], [-2.0], [0.5]])
    targets = inputs @ weights + 0.25
    return inputs, targets, weights


@pytest.mark.parametrize(
    "config",
    [
        TrainingConfig(optimizer="adam", lr=0.05, steps=600, eval_every=100),
        TrainingConfig(optimizer="lbfgs", lr=1.0, steps=5, eval_every=1),
    ],
    ids=["adam", "lbfgs"],
)
def test_optimizers_recover_linear_solution(config):
    inputs, targets, weights = linear_data()
    architecture = LinearArchitecture()
    torch.manual_seed(0)
    model = architecture.build(3, 1)
    result = train(architecture, model, inputs, targets, config)
    assert result.final_train_rmse < result.train_rmse[0] * 1e-3
    np.testing.assert_allclose(model.weight.detach().numpy().T, weights, atol=1e-3)
    np.testing.assert_allclose(model.bias.item(), 0.25, atol=1e-3)


def test_penalty_gives_ridge_solution():
    inputs, targets, _ = linear_data()
    ridge = 0.3
    architecture = LinearArchitecture(ridge=ridge)
    model = architecture.build(3, 1)
    config = TrainingConfig(optimizer="lbfgs", lr=1.0, steps=10, eval_every=10)
    train(architecture, model, inputs, targets, config)
    # Minimiser of mean((X w + b - y)^2) + ridge |w|^2, bias not penalised.
    n = len(inputs)
    centred = inputs - inputs.mean(0)
    expected = np.linalg.solve(
        centred.T @ centred / n + ridge * np.eye(3),
        centred.T @ (targets - targets.mean()) / n,
    )
    np.testing.assert_allclose(model.weight.detach().numpy().T, expected, atol=1e-6)
    assert architecture.penalty_calls > 10


def test_after_step_called_every_step_with_training_inputs():
    inputs, targets, _ = linear_data()
    architecture = LinearArchitecture()
    model = architecture.build(3, 1)
    config = TrainingConfig(steps=7, batch_size=50, eval_every=3)
    result = train(architecture, model, inputs, targets, config)
    assert architecture.after_step_calls == [(step, 200) for step in range(1, 8)]
    assert result.eval_steps == [0, 3, 6, 7]
    assert len(result.train_rmse) == 4
    assert result.test_rmse == []
    assert result.steps_run == 7


def test_replaced_parameters_rebuild_optimizer():
    inputs, targets, weights = linear_data()
    architecture = LinearArchitecture(replace_at={50})
    model = architecture.build(3, 1)
    config = TrainingConfig(optimizer="adam", lr=0.05, steps=600, eval_every=50)
    result = train(architecture, model, inputs, targets, config)
    assert result.optimizer_rebuilds == 1
    # The new weight Parameter trains only if the optimiser was rebuilt.
    np.testing.assert_allclose(model.weight.detach().numpy().T, weights, atol=1e-3)


def test_eval_set_and_callback():
    inputs, targets, _ = linear_data()
    test_inputs, test_targets, _ = linear_data(seed=1)
    architecture = LinearArchitecture()
    model = architecture.build(3, 1)
    seen = []
    fractions = []
    config = TrainingConfig(optimizer="adam", lr=0.05, steps=20, eval_every=10)
    result = train(
        architecture,
        model,
        inputs,
        targets,
        config,
        eval_inputs=test_inputs,
        eval_targets=test_targets,
        callback=lambda step, network: seen.append((step, network is model)),
        progress=lambda fraction, message: fractions.append(fraction),
    )
    assert seen == [(0, True), (10, True), (20, True)]
    assert fractions == [0.0, 0.5, 1.0]
    with torch.no_grad():
        prediction = model(torch.as_tensor(test_inputs))
    expected = float(
        torch.sqrt(torch.mean((prediction - torch.as_tensor(test_targets)) ** 2))
    )
    assert result.final_test_rmse == pytest.approx(expected)


def test_patience_stops_early():
    inputs, targets, _ = linear_data()
    architecture = LinearArchitecture()
    model = architecture.build(3, 1)
    # A step size this large diverges slowly, so the RMSE never improves.
    config = TrainingConfig(
        optimizer="adam", lr=50.0, steps=1000, eval_every=1, patience=3
    )
    result = train(architecture, model, inputs, targets, config)
    assert result.stopped_early
    assert result.steps_run < 1000


def test_non_finite_loss_raises():
    inputs, targets, _ = linear_data()
    targets[0, 0] = np.nan
    architecture = LinearArchitecture()
    model = architecture.build(3, 1)
    with pytest.raises(FloatingPointError, match="lower the learning rate"):
        train(architecture, model, inputs, targets, TrainingConfig(steps=3))


def test_same_seed_same_result():
    inputs, targets, _ = linear_data()
    results = []
    for _ in range(2):
        architecture = LinearArchitecture()
        torch.manual_seed(0)
        model = architecture.build(3, 1)
        config = TrainingConfig(lr=0.01, steps=30, batch_size=16, seed=3)
        results.append(train(architecture, model, inputs, targets, config).train_rmse)
    assert results[0] == results[1]


def test_mismatched_rows_rejected():
    inputs, targets, _ = linear_data()
    architecture = LinearArchitecture()
    with pytest.raises(ValueError, match="one target row per input row"):
        train(architecture, architecture.build(3, 1), inputs, targets[:10])


def test_invalid_config_rejected():
    with pytest.raises(ValidationError):
        TrainingConfig(optimizer="sgd")
    with pytest.raises(ValidationError):
        TrainingConfig(lr=0.0)
    with pytest.raises(ValidationError):
        TrainingConfig(steps=0)
