"""KAN layer forward pass, initialisation and fitting."""

import math

import pytest
import torch

from toolkit.training import TrainingConfig, train
from toolkit_kan import KAN
from toolkit_kan._network import KANLayer, KANNetwork
from toolkit_kan._spline import bspline_basis


def naive_edge_sum(layer: KANLayer, x: torch.Tensor) -> torch.Tensor:
    """Evaluate the layer edge by edge: phi_ij(x_i) summed over inputs i."""
    batch = x.shape[0]
    output = torch.zeros(batch, layer.out_features, dtype=x.dtype)
    for i in range(layer.in_features):
        column = x[:, i : i + 1]
        basis = bspline_basis(column, layer.knots[i : i + 1], layer.order)[:, 0, :]
        for j in range(layer.out_features):
            spline = basis @ layer.coef[i, j]
            base = torch.nn.functional.silu(column[:, 0])
            output[:, j] += (
                layer.scale_base[i, j] * base + layer.scale_spline[i, j] * spline
            )
    return output


def test_forward_equals_naive_per_edge():
    torch.manual_seed(0)
    layer = KANLayer(4, 3, grid_size=6, order=3).double()
    with torch.no_grad():
        layer.scale_spline.uniform_(-2, 2)
        layer.coef.normal_()
    x = torch.rand(200, 4, dtype=torch.float64) * 3 - 1.5
    torch.testing.assert_close(
        layer(x), naive_edge_sum(layer, x), rtol=1e-12, atol=1e-12
    )


def test_network_forward_equals_naive_layers():
    torch.manual_seed(1)
    network = KANNetwork([3, 4, 2], grid_size=5, order=2).double()
    x = torch.rand(50, 3, dtype=torch.float64) * 2 - 1
    hidden = naive_edge_sum(network.layers[0], x)
    expected = naive_edge_sum(network.layers[1], hidden)
    torch.testing.assert_close(network(x), expected, rtol=1e-12, atol=1e-12)


def test_outside_extended_knots_only_base_branch():
    torch.manual_seed(2)
    layer = KANLayer(2, 3, grid_size=5, order=3).double()
    # The extended knots of [-1, 1] with G=5, k=3 end at +-2.2.
    x = torch.tensor([[2.3, -2.3], [10.0, -7.5]], dtype=torch.float64)
    expected = torch.nn.functional.silu(x) @ layer.scale_base
    torch.testing.assert_close(layer(x), expected, rtol=1e-12, atol=1e-12)


def test_inside_extension_uses_spline():
    torch.manual_seed(3)
    layer = KANLayer(1, 1, grid_size=5, order=3).double()
    x = torch.tensor([[1.5]], dtype=torch.float64)
    base_only = torch.nn.functional.silu(x) @ layer.scale_base
    assert not torch.allclose(layer(x), base_only)


def test_initial_scales_follow_pykan():
    torch.manual_seed(4)
    layer = KANLayer(9, 7, grid_size=10, order=3, noise_scale=0.3)
    torch.testing.assert_close(layer.scale_spline, torch.full((9, 7), 1 / 3))
    assert layer.scale_base.abs().max() <= 1 / 3
    assert layer.scale_base.std() > 0.1
    interior = torch.linspace(-1, 1, 11).expand(9, 11).T
    spline = torch.einsum("bim,iom->bio", layer.basis(interior), layer.coef)
    # The initial spline interpolates noise of half-width noise_scale / (2 G).
    assert spline.abs().max() <= 0.3 / 20 * 1.01


def test_matches_pykan_layer():
    kan = pytest.importorskip("kan")
    torch.manual_seed(5)
    reference = kan.KANLayer(in_dim=3, out_dim=2, num=7, k=3)
    layer = KANLayer(3, 2, grid_size=7, order=3)
    with torch.no_grad():
        layer.knots.copy_(reference.grid)
        layer.coef.copy_(reference.coef)
        layer.scale_base.copy_(reference.scale_base)
        layer.scale_spline.copy_(reference.scale_sp)
    x = torch.rand(100, 3) * 5 - 2.5
    expected = reference(x)[0]
    torch.testing.assert_close(layer(x), expected, rtol=1e-5, atol=1e-6)


def test_one_edge_kan_fits_smooth_function():
    torch.manual_seed(6)
    x = torch.linspace(-1, 1, 201).unsqueeze(1)
    y = torch.exp(torch.sin(math.pi * x))
    architecture = KAN({"hidden": [], "grid": 20, "grid_update_every": 0})
    model = architecture.build(1, 1)
    config = TrainingConfig(optimizer="lbfgs", lr=1.0, steps=20, eval_every=10)
    result = train(architecture, model, x, y, config)
    assert result.train_rmse[0] > 0.5
    assert result.final_train_rmse < 1e-3
    x_test = torch.rand(300, 1) * 2 - 1
    with torch.no_grad():
        error = (model(x_test) - torch.exp(torch.sin(math.pi * x_test))).abs().max()
    assert float(error) < 5e-3


def test_non_finite_input_gives_nan_not_error():
    layer = KANLayer(2, 1, grid_size=5, order=3)
    x = torch.tensor([[float("nan"), 0.5], [float("inf"), 0.1], [0.2, 0.3]])
    output = layer(x)
    assert torch.isnan(output[0]).all()
    assert not torch.isfinite(output[1]).all()
    assert torch.isfinite(output[2]).all()


def test_layer_copy_drops_workspace():
    import copy
    import pickle

    layer = KANLayer(3, 2, grid_size=4, order=3)
    x = torch.rand(16, 3)
    layer(x).sum().backward()
    assert len(layer._workspace._free) == 1
    for clone in (copy.deepcopy(layer), pickle.loads(pickle.dumps(layer))):
        assert clone._workspace._free == []
        torch.testing.assert_close(clone(x), layer(x), rtol=0, atol=0)


@pytest.mark.parametrize("adapted", [False, True])
def test_empty_batch_gives_empty_output(adapted):
    layer = KANLayer(3, 2, grid_size=4, order=3)
    if adapted:
        samples = torch.randn(64, 3)
        layer.refit(samples, layer.adaptive_knots(samples, 0.02), context="test")
    x = torch.empty(0, 3, requires_grad=True)
    output = layer(x)
    output.sum().backward()
    assert output.shape == (0, 2)
    assert x.grad.shape == (0, 3)


def test_table_follows_writes_through_data():
    layer = KANLayer(2, 1, grid_size=5, order=3)
    x = torch.rand(10, 2) * 2 - 1
    before = layer(x)
    # Writes through .data bypass the version counter of the knots.
    layer.knots.data.mul_(2.0)
    after = layer(x)
    assert not torch.allclose(before, after)
    torch.testing.assert_close(after, naive_edge_sum(layer, x), rtol=1e-5, atol=1e-6)
