"""Grid update and grid extension of KAN networks."""

import numpy as np
import pytest
import torch

from toolkit_kan import KAN
from toolkit_kan._network import GridFitWarning, KANNetwork


def trained_like_network(widths, grid_size, seed=0):
    """Build a network with random, non-trivial splines."""
    torch.manual_seed(seed)
    network = KANNetwork(widths, grid_size, 3).double()
    with torch.no_grad():
        for layer in network.layers:
            layer.coef.normal_(0.0, 0.5)
    return network


@pytest.mark.parametrize("new_size", [10, 20])
def test_extension_keeps_output_on_training_range(new_size):
    network = trained_like_network([2, 3, 1], 5)
    x = torch.rand(2000, 2, dtype=torch.float64) * 2 - 1
    # Adapt the grids first, so every layer's samples lie inside its knots.
    network.update_grid(x)
    with torch.no_grad():
        before = network(x)
        assert network.extend_grid(x, new_size)
        after = network(x)
    assert network.grid_size == new_size
    assert network.layers[1].coef.shape == (3, 1, new_size + 3)
    # The new knots contain the old ones, so the old splines are representable.
    torch.testing.assert_close(after, before, rtol=0, atol=1e-6)


def test_extension_covers_samples_beyond_grid():
    network = trained_like_network([1, 1], 4)
    x = torch.linspace(-1.6, 1.6, 1000, dtype=torch.float64).unsqueeze(1)
    with torch.no_grad():
        before = network(x)
        network.extend_grid(x, 40)
        error = float((network(x) - before).abs().max())
    interior = network.layers[0].knots[0, 3:-3]
    assert float(interior[0]) == pytest.approx(-1.6)
    assert float(interior[-1]) == pytest.approx(1.6)
    # Non-nested knots: the error is the approximation error on the finer grid.
    assert error < 1e-3


def test_extension_non_nested_grid_close():
    network = trained_like_network([1, 1], 3)
    x = torch.linspace(-1, 1, 1000, dtype=torch.float64).unsqueeze(1)
    with torch.no_grad():
        before = network(x)
        network.extend_grid(x, 50)
        error = float((network(x) - before).abs().max())
    # A cubic on a grid of 3 intervals, approximated on 50: about h^4 error.
    assert error < 1e-4


def test_extension_few_samples_warns_without_nan():
    network = trained_like_network([2, 2, 1], 5)
    x = torch.rand(8, 2, dtype=torch.float64) * 2 - 1
    with pytest.warns(GridFitWarning, match="too few samples"):
        assert network.extend_grid(x, 50)
    for parameter in network.parameters():
        assert torch.isfinite(parameter).all()
    dense = torch.rand(500, 2, dtype=torch.float64) * 2 - 1
    assert torch.isfinite(network(dense)).all()


def test_extension_duplicate_samples_warns_without_nan():
    network = trained_like_network([1, 1], 5)
    x = torch.full((300, 1), 0.25, dtype=torch.float64)
    with pytest.warns(GridFitWarning):
        network.extend_grid(x, 20)
    assert torch.isfinite(network.layers[0].coef).all()
    torch.testing.assert_close(network(x[:1]), network(x[:1]))


def test_non_finite_inputs_skip_update():
    network = trained_like_network([2, 1], 5)
    knots = network.layers[0].knots.clone()
    coef = network.layers[0].coef.detach().clone()
    x = torch.rand(100, 2, dtype=torch.float64)
    x[3, 1] = float("nan")
    with pytest.warns(GridFitWarning, match="skipped"):
        assert not network.extend_grid(x, 10)
    with pytest.warns(GridFitWarning, match="skipped"):
        assert not network.update_grid(x)
    torch.testing.assert_close(network.layers[0].knots, knots)
    torch.testing.assert_close(network.layers[0].coef, coef)


def test_grid_update_places_knots_at_quantile_mix():
    network = trained_like_network([1, 1], 4)
    network.grid_eps = 0.25
    x = torch.tensor(np.random.default_rng(0).beta(2, 5, size=(400, 1)))
    with torch.no_grad():
        before = network(x)
    network.update_grid(x)
    values = np.sort(x[:, 0].numpy())
    quantiles = np.append(values[[0, 100, 200, 300]], values[-1])
    uniform = np.linspace(values[0], values[-1], 5)
    expected = 0.25 * uniform + 0.75 * quantiles
    np.testing.assert_allclose(network.layers[0].knots[0, 3:-3].numpy(), expected)
    # The refit reproduces the old spline closely on the samples.
    with torch.no_grad():
        assert float((network(x) - before).abs().max()) < 0.05


def test_refined_knots_keep_uniform_grid_uniform():
    network = KANNetwork([2, 1], 4, 3)
    knots = network.layers[0].refined_knots(8)
    expected = torch.linspace(-1, 1, 9)
    torch.testing.assert_close(knots[0, 3:-3], expected)
    torch.testing.assert_close(knots[0, :3], torch.tensor([-1.75, -1.5, -1.25]))


def test_after_step_follows_schedule():
    architecture = KAN(
        {
            "hidden": [],
            "grid": 3,
            "grid_schedule": [5, 10],
            "grid_milestones": [4, 8],
            "grid_update_every": 0,
        }
    )
    torch.manual_seed(0)
    model = architecture.build(1, 1)
    x = torch.linspace(-1, 1, 200).unsqueeze(1)
    replaced = [architecture.after_step(model, step, x) for step in range(1, 10)]
    assert replaced == [False, False, False, True, False, False, False, True, False]
    assert model.grid_size == 10


def test_after_step_grid_update_steps():
    architecture = KAN(
        {"hidden": [], "grid": 5, "grid_update_every": 2, "grid_update_until": 4}
    )
    torch.manual_seed(0)
    model = architecture.build(1, 1)
    changed = []
    for step in range(1, 8):
        x = torch.rand(200, 1) * 0.5
        knots = model.layers[0].knots.clone()
        assert not architecture.after_step(model, step, x)
        changed.append(not torch.equal(knots, model.layers[0].knots))
    assert changed == [False, True, False, True, False, False, False]
