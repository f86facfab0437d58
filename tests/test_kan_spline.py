"""B-spline basis of the KAN plugin against a direct Cox-de Boor evaluation."""

import numpy as np
import pytest
import torch

from toolkit_kan._spline import (
    FeatureWorkspace,
    bspline_basis,
    extend_knots,
    is_uniform,
    span_polynomials,
    spline_features,
    spline_linear,
    uniform_knots,
)


def cox_de_boor(x: float, knots: list[float], m: int, degree: int) -> float:
    """Evaluate basis function ``m`` of ``degree`` at ``x`` by plain recursion."""
    if degree == 0:
        return 1.0 if knots[m] <= x < knots[m + 1] else 0.0
    value = 0.0
    left = knots[m + degree] - knots[m]
    if left != 0:
        value += (x - knots[m]) / left * cox_de_boor(x, knots, m, degree - 1)
    right = knots[m + degree + 1] - knots[m + 1]
    if right != 0:
        value += (
            (knots[m + degree + 1] - x)
            / right
            * cox_de_boor(x, knots, m + 1, degree - 1)
        )
    return value


def assert_matches_cox_de_boor(basis, x, knots, order):
    """Check every basis value of every input against :func:`cox_de_boor`."""
    n_basis = knots.shape[1] - order - 1
    for i in range(x.shape[1]):
        row = knots[i].tolist()
        for b in range(x.shape[0]):
            point = float(x[b, i])
            expected = [cox_de_boor(point, row, m, order) for m in range(n_basis)]
            np.testing.assert_allclose(basis[b, i].numpy(), expected, atol=1e-12)


def random_knots(rng, n_inputs, grid_size, order):
    steps = rng.uniform(0.2, 1.0, size=(n_inputs, grid_size))
    interior = np.concatenate(
        [np.zeros((n_inputs, 1)), np.cumsum(steps, axis=1)], axis=1
    )
    interior = interior - 1.0
    return extend_knots(torch.tensor(interior), order)


@pytest.mark.parametrize("order", [1, 2, 3, 4])
def test_basis_partition_of_unity(order):
    rng = np.random.default_rng(order)
    knots = random_knots(rng, 3, 7, order)
    interior = knots[:, order : knots.shape[1] - order]
    fraction = torch.tensor(rng.uniform(0, 1, size=(500, 3)))
    x = interior[:, 0] + fraction * (interior[:, -1] - interior[:, 0])
    basis = bspline_basis(x, knots, order)
    assert basis.shape == (500, 3, 7 + order)
    torch.testing.assert_close(basis.sum(-1), torch.ones(500, 3, dtype=torch.float64))


@pytest.mark.parametrize("order", [1, 3])
def test_basis_matches_cox_de_boor(order):
    rng = np.random.default_rng(10 + order)
    knots = random_knots(rng, 2, 5, order)
    x = torch.tensor(rng.uniform(-2.5, 4.5, size=(60, 2)))
    basis = bspline_basis(x, knots, order)
    assert_matches_cox_de_boor(basis, x, knots, order)


def test_basis_repeated_knots_match_cox_de_boor():
    knots = torch.tensor(
        [[-2.0, -1.0, -1.0, 0.0, 0.5, 0.5, 0.5, 1.0, 2.0, 3.0]], dtype=torch.float64
    )
    x = torch.linspace(-2.5, 3.5, 97, dtype=torch.float64).unsqueeze(1)
    basis = bspline_basis(x, knots, 2)
    assert torch.isfinite(basis).all()
    assert_matches_cox_de_boor(basis, x, knots, 2)


def test_basis_zero_outside_extended_knots():
    knots = uniform_knots(4, 3, (-1.0, 1.0), 1).double()
    outside = torch.tensor([[-2.51], [-100.0], [2.5], [7.0]], dtype=torch.float64)
    assert knots[0, 0] == -2.5
    assert knots[0, -1] == 2.5
    assert torch.all(bspline_basis(outside, knots, 3) == 0)


def test_extend_knots_uses_mean_spacing():
    interior = torch.tensor([[0.0, 0.1, 0.5, 1.0]])
    knots = extend_knots(interior, 2)
    spacing = 1.0 / 3.0
    expected = [
        -2 * spacing,
        -spacing,
        0.0,
        0.1,
        0.5,
        1.0,
        1 + spacing,
        1 + 2 * spacing,
    ]
    np.testing.assert_allclose(knots[0].numpy(), expected, rtol=1e-6)


@pytest.mark.parametrize("order", [1, 2, 3, 5])
def test_uniform_knots_match_cox_de_boor(order):
    knots = uniform_knots(6, order, (-1.0, 2.0), 2).double()
    assert is_uniform(knots)
    x = torch.tensor(np.random.default_rng(order).uniform(-3.5, 4.5, size=(80, 2)))
    basis = bspline_basis(x, knots, order)
    assert_matches_cox_de_boor(basis, x, knots, order)


def test_uniform_and_general_paths_agree():
    knots = uniform_knots(9, 3, (-1.0, 1.0), 4, dtype=torch.float64)
    x = torch.rand(300, 4, dtype=torch.float64) * 5 - 2.5
    fast = bspline_basis(x, knots, 3, uniform=True)
    general = bspline_basis(x, knots, 3, uniform=False)
    torch.testing.assert_close(fast, general, rtol=0, atol=1e-12)


@pytest.mark.parametrize("uniform", [True, False])
def test_basis_gradient_matches_finite_differences(uniform):
    rng = np.random.default_rng(3)
    if uniform:
        knots = uniform_knots(5, 3, (-1.0, 1.0), 2).double()
    else:
        knots = random_knots(rng, 2, 5, 3)
    # Points away from the knots, where the cubic basis is smooth.
    x = torch.tensor(rng.uniform(-0.9, 0.9, size=(20, 2)), requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda inputs: bspline_basis(inputs, knots, 3, uniform), (x,)
    )


def test_uniform_gradient_outside_grid():
    # Grid 4 on [-1, 1] with k = 3: the extended knots reach +-2.5, and
    # spans outside [-1, 1) take the table's polynomials, not the shared one.
    knots = uniform_knots(4, 3, (-1.0, 1.0), 2).double()
    points = [-2.9, -2.2, -1.7, -1.2, -0.6, 0.2, 0.7, 1.3, 1.9, 2.4, 3.1]
    x = torch.tensor(points, dtype=torch.float64).view(-1, 1).repeat(1, 2)
    x.requires_grad_()
    assert torch.autograd.gradcheck(
        lambda inputs: bspline_basis(inputs, knots, 3, True), (x,)
    )


def knots_and_points(uniform: bool):
    rng = np.random.default_rng(7)
    if uniform:
        knots = uniform_knots(6, 3, (-1.0, 1.0), 3, dtype=torch.float64)
    else:
        knots = random_knots(rng, 3, 6, 3)
    # Every region: the grid, the k outer spans each side, outside all knots.
    x = torch.tensor(rng.uniform(-3.0, 4.5, size=(40, 3)))
    x[0, 0] = knots[0, 0]
    x[1, 1] = knots[1, -1]
    return knots, x


@pytest.mark.parametrize("uniform", [True, False])
@pytest.mark.parametrize("base", [None, "silu", "identity"])
def test_spline_linear_matches_product(uniform, base):
    knots, x = knots_and_points(uniform)
    table = span_polynomials(knots, 3)
    assert table.uniform == uniform
    width = (0 if base is None else 1) + table.n_basis
    weight = torch.randn(3 * width, 2, dtype=torch.float64, requires_grad=True)
    x.requires_grad_()
    grad_output = torch.randn(40, 2, dtype=torch.float64)

    expected = spline_features(x, table, base).reshape(40, -1) @ weight
    expected_grads = torch.autograd.grad(expected, (x, weight), grad_output)
    output = spline_linear(x, table, weight, base, FeatureWorkspace())
    grads = torch.autograd.grad(output, (x, weight), grad_output)

    torch.testing.assert_close(output, expected, rtol=1e-12, atol=1e-12)
    for got, want in zip(grads, expected_grads, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)


def test_spline_linear_gradcheck():
    knots, _ = knots_and_points(uniform=True)
    table = span_polynomials(knots, 3)
    x = torch.tensor(
        np.random.default_rng(8).uniform(-2.0, 2.0, size=(15, 3)), requires_grad=True
    )
    weight = torch.randn(3 * (1 + table.n_basis), 2, dtype=torch.float64)
    weight.requires_grad_()
    assert torch.autograd.gradcheck(
        lambda inputs, w: spline_linear(inputs, table, w, "silu", FeatureWorkspace()),
        (x, weight),
    )


def silu_layer_case():
    """Return a uniform table, inputs in every region and a weight needing grad."""
    knots, x = knots_and_points(uniform=True)
    table = span_polynomials(knots, 3)
    weight = torch.randn(3 * (1 + table.n_basis), 2, dtype=torch.float64)
    return table, x, weight.requires_grad_()


def test_spline_linear_second_backward():
    # The first backward pass writes over the features. The second must
    # recompute them rather than read the overwritten tensor.
    table, x, weight = silu_layer_case()
    x.requires_grad_()
    output = spline_linear(x, table, weight, "silu", FeatureWorkspace())
    first = torch.autograd.grad(output.sum(), (x, weight), retain_graph=True)
    second = torch.autograd.grad(output.sum(), (x, weight))
    for a, b in zip(first, second, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_workspace_reuses_one_tensor():
    table, x, weight = silu_layer_case()
    workspace = FeatureWorkspace()
    expected = None
    for _ in range(3):
        output = spline_linear(x, table, weight, "silu", workspace)
        (grad,) = torch.autograd.grad(output.square().sum(), weight)
        assert len(workspace._free) == 1
        if expected is None:
            expected = (output.detach(), grad)
        torch.testing.assert_close(output.detach(), expected[0], rtol=0, atol=0)
        torch.testing.assert_close(grad, expected[1], rtol=0, atol=0)
    kept_tensor = workspace._free[0]
    with torch.no_grad():
        spline_linear(x, table, weight, "silu", workspace)
    # Without a backward pass to wait for, the forward pass returns it.
    assert len(workspace._free) == 1
    assert workspace._free[0] is kept_tensor
    # A different shape is not served from the kept tensor.
    spline_linear(x[:5], table, weight.detach(), "silu", workspace)
    assert workspace._free[0].shape[0] == 5


def test_float32_knots_in_float64_take_exact_path():
    # Equal spacing in float32 is off by about 1e-7 in float64, and the
    # shared polynomial would place inputs on the unrounded grid.
    knots = uniform_knots(5, 3, (-1.0, 1.0), 1).double()
    assert is_uniform(uniform_knots(5, 3, (-1.0, 1.0), 1))
    assert not is_uniform(knots)
    x = torch.linspace(-2.5, 2.5, 41, dtype=torch.float64).view(-1, 1)
    basis = bspline_basis(x, knots, 3)
    assert_matches_cox_de_boor(basis, x, knots, 3)


def test_workspace_skips_inference_tensors():
    table, x, weight = silu_layer_case()
    workspace = FeatureWorkspace()
    with torch.inference_mode():
        expected = spline_linear(x, table, weight, "silu", workspace)
    assert workspace._free[0].is_inference()
    output = spline_linear(x, table, weight, "silu", workspace)
    (grad,) = torch.autograd.grad(output.sum(), weight)
    torch.testing.assert_close(output.detach(), expected, rtol=0, atol=0)
    assert torch.isfinite(grad).all()


def test_non_uniform_knots_detected():
    knots = extend_knots(torch.tensor([[0.0, 0.1, 0.5, 1.0]]), 3)
    assert not is_uniform(knots)
