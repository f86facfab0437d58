"""Fused KAN layer product and per-span polynomial tables, on both knot kinds."""

import pytest
import torch

from toolkit_kan._network import KANLayer
from toolkit_kan._spline import (
    _bucket_search,
    _find_rows,
    bspline_basis,
    is_uniform,
    span_polynomials,
    uniform_knots,
)


def naive_edge_sum(layer: KANLayer, x: torch.Tensor) -> torch.Tensor:
    """Evaluate the layer edge by edge: phi_ij(x_i) summed over inputs i."""
    base_functions = {
        "silu": torch.nn.functional.silu,
        "identity": lambda values: values,
        "zero": torch.zeros_like,
    }
    base_function = base_functions[layer.base_function]
    output = torch.zeros(x.shape[0], layer.out_features, dtype=x.dtype)
    for i in range(layer.in_features):
        column = x[:, i : i + 1]
        basis = bspline_basis(column, layer.knots[i : i + 1], layer.order)[:, 0, :]
        base = base_function(column[:, 0])
        for j in range(layer.out_features):
            spline = basis @ layer.coef[i, j]
            output[:, j] += (
                layer.scale_base[i, j] * base + layer.scale_spline[i, j] * spline
            )
    return output


def adapted_layer(base_function="silu", seed=0):
    """Build a float64 layer whose knots were moved to sample quantiles."""
    torch.manual_seed(seed)
    layer = KANLayer(3, 2, grid_size=6, order=3, base_function=base_function).double()
    samples = torch.randn(500, 3, dtype=torch.float64).clamp(-1, 1)
    layer.refit(samples, layer.adaptive_knots(samples, 0.02), context="test")
    with torch.no_grad():
        layer.coef.normal_()
        layer.scale_spline.uniform_(-2, 2)
    return layer


def uniform_layer(base_function="silu", seed=0):
    torch.manual_seed(seed)
    layer = KANLayer(3, 2, grid_size=6, order=3, base_function=base_function).double()
    with torch.no_grad():
        # Knots made in float32 are not equally spaced to float64 rounding.
        layer.knots.copy_(uniform_knots(6, 3, (-1.0, 1.0), 3, dtype=torch.float64))
        layer.coef.normal_()
        layer.scale_spline.uniform_(-2, 2)
    return layer


LAYERS = {"uniform": uniform_layer, "adapted": adapted_layer}


@pytest.mark.parametrize("knots", ["uniform", "adapted"])
@pytest.mark.parametrize("base_function", ["silu", "identity", "zero"])
def test_fused_forward_equals_naive(knots, base_function):
    layer = LAYERS[knots](base_function)
    assert is_uniform(layer.knots) == (knots == "uniform")
    x = torch.rand(300, 3, dtype=torch.float64) * 5 - 2.5
    torch.testing.assert_close(
        layer(x), naive_edge_sum(layer, x), rtol=1e-12, atol=1e-12
    )


@pytest.mark.parametrize("knots", ["uniform", "adapted"])
def test_fused_gradients_match_finite_differences(knots):
    layer = LAYERS[knots]()
    # Points away from the knots, where the cubic spline is smooth in x.
    x = torch.rand(12, 3, dtype=torch.float64) * 1.6 - 0.8
    x.requires_grad_(True)
    parameters = (layer.coef, layer.scale_base, layer.scale_spline)

    def evaluate(inputs, coef, scale_base, scale_spline):
        return torch.func.functional_call(
            layer,
            {"coef": coef, "scale_base": scale_base, "scale_spline": scale_spline},
            (inputs,),
        )

    assert torch.autograd.gradcheck(evaluate, (x, *parameters))


@pytest.mark.parametrize("knots", ["uniform", "adapted"])
def test_fused_gradients_equal_naive_gradients(knots):
    layer = LAYERS[knots]()
    x = torch.rand(200, 3, dtype=torch.float64) * 5 - 2.5
    weights = torch.randn(200, 2, dtype=torch.float64)
    parameters = [layer.coef, layer.scale_base, layer.scale_spline]

    x_fused = x.clone().requires_grad_(True)
    fused = torch.autograd.grad(
        (layer(x_fused) * weights).sum(), [x_fused, *parameters]
    )
    x_naive = x.clone().requires_grad_(True)
    naive = torch.autograd.grad(
        (naive_edge_sum(layer, x_naive) * weights).sum(), [x_naive, *parameters]
    )
    for fused_grad, naive_grad in zip(fused, naive, strict=True):
        torch.testing.assert_close(fused_grad, naive_grad, rtol=1e-10, atol=1e-10)


def test_bucket_search_equals_searchsorted():
    torch.manual_seed(7)
    layer = adapted_layer()
    table = span_polynomials(layer.knots, layer.order)
    assert table.bucket_rows is not None
    knots = layer.knots
    x = torch.cat(
        [
            torch.rand(400, 3, dtype=torch.float64) * 6 - 3,
            knots.T,  # inputs exactly at the knots
            torch.tensor([[float("nan"), float("inf"), -float("inf")]] * 2).double(),
        ]
    )
    n_rows = knots.shape[1] + 1
    count = torch.searchsorted(knots, x.T.contiguous(), right=True).T
    expected = count + torch.arange(3) * n_rows
    found = _bucket_search(x, table)
    finite = torch.isfinite(x) | (x == float("inf"))
    assert torch.equal(found[finite], expected[finite])
    # NaN lands in a zero row: left of the knots.
    assert torch.equal(found[x.isnan()] % n_rows, torch.zeros(2, dtype=torch.long))


def test_clustered_knots_fall_back_to_searchsorted():
    interior = torch.tensor(
        [[0.0, 1e-9, 2e-9, 3e-9, 4e-9, 5e-9, 1.0]], dtype=torch.float64
    )
    knots = torch.cat([interior[:, :1] - 1, interior, interior[:, -1:] + 1], dim=1)
    table = span_polynomials(knots, 1)
    assert table.bucket_rows is None
    x = torch.linspace(-1.5, 2.5, 101, dtype=torch.float64).unsqueeze(1)
    rows, _ = _find_rows(x, table)
    count = torch.searchsorted(knots, x.T.contiguous(), right=True).T
    assert torch.equal(rows, count)


def test_float32_table_close_to_float64():
    layer = adapted_layer()
    x = torch.rand(500, 3, dtype=torch.float64) * 5 - 2.5
    expected = layer(x)
    single = layer.float()
    torch.testing.assert_close(
        single(x.float()).double(), expected, rtol=1e-5, atol=1e-5
    )
