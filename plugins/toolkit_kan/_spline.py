"""B-spline bases on per-input knot vectors, and least-squares refits.

The conventions follow pykan 0.2.8 (``kan/spline.py``): a grid of ``G``
intervals on ``[a, b]`` is extended by ``order`` knots of the mean spacing on
each side, which gives ``G + 2 * order + 1`` knots and ``G + order`` basis
functions of degree ``order``. The degree-0 functions are indicators of
half-open intervals ``[t_m, t_{m+1})``, so every basis function is exactly 0
outside ``[t_0, t_{G + 2 * order})`` of the extended knots.
"""

from __future__ import annotations

import functools

import torch

__all__ = [
    "bspline_basis",
    "extend_knots",
    "fit_coefficients",
    "is_uniform",
    "uniform_knots",
]


def uniform_knots(
    grid_size: int,
    order: int,
    grid_range: tuple[float, float],
    n_inputs: int,
    dtype: torch.dtype | None = None,
) -> torch.Tensor:
    """Build extended uniform knot vectors, one row per input.

    Returns
    -------
    Tensor, shape (n_inputs, grid_size + 2 * order + 1)
    """
    interior = torch.linspace(grid_range[0], grid_range[1], grid_size + 1, dtype=dtype)
    return extend_knots(interior.expand(n_inputs, grid_size + 1), order)


def extend_knots(interior: torch.Tensor, order: int) -> torch.Tensor:
    """Append ``order`` knots on each side at the mean interior spacing.

    Parameters
    ----------
    interior : Tensor, shape (n_inputs, G + 1)
        Increasing interior knots of each input.
    order : int
        Spline order ``k``.

    Returns
    -------
    Tensor, shape (n_inputs, G + 2 * order + 1)
    """
    spacing = (interior[:, -1:] - interior[:, :1]) / (interior.shape[1] - 1)
    steps = torch.arange(1, order + 1, dtype=interior.dtype, device=interior.device)
    left = interior[:, :1] - spacing * steps.flip(0)
    right = interior[:, -1:] + spacing * steps
    return torch.cat([left, interior, right], dim=1)


def bspline_basis(
    x: torch.Tensor, knots: torch.Tensor, order: int, uniform: bool | None = None
) -> torch.Tensor:
    """Evaluate every B-spline basis function of each input with Cox-de Boor.

    Parameters
    ----------
    x : Tensor, shape (batch, n_inputs)
    knots : Tensor, shape (n_inputs, n_knots)
        Non-decreasing extended knots; ``n_knots = G + 2 * order + 1``.
    order : int
        Spline order ``k`` (degree of the pieces), at least 1.
    uniform : bool, optional
        Whether every row of ``knots`` is equally spaced, which selects a
        faster evaluation; ``None`` checks the knots on every call.

    Returns
    -------
    Tensor, shape (batch, n_inputs, n_knots - order - 1)

    Notes
    -----
    Where two knots coincide, a quotient of the recursion is 0 / 0; it is
    set to 0, as pykan does by replacing NaN with 0, and the basis function
    it multiplies is 0 there anyway.

    Only the ``k + 1`` functions that are nonzero at an input are computed
    (see :func:`_local_basis`) and scattered into the dense result. The
    gradient with respect to ``x`` uses the closed-form derivative
    ``dB^k_m/dx = k (B^{k-1}_m / (t_{m+k} - t_m) - B^{k-1}_{m+1} / (t_{m+k+1}
    - t_{m+1}))`` instead of recording the recursion, which saves memory and
    time. NOTE: that backward pass is once-differentiable, so second
    derivatives with respect to the inputs (as a PINN residual needs) raise
    an error.
    """
    if order < 1:
        msg = f"spline order must be at least 1; received {order}"
        raise ValueError(msg)
    if uniform is None:
        uniform = is_uniform(knots)
    return _BSplineBasis.apply(x, knots, order, uniform)


def _local_basis(
    x: torch.Tensor, knots: torch.Tensor, order: int, with_derivative: bool
) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]:
    """Evaluate the ``order + 1`` basis functions that are nonzero at each input.

    This is the triangular scheme of Piegl and Tiller, "The NURBS Book"
    (1997), algorithm A2.2, vectorised over the batch and the inputs. Each
    input ``x`` in the knot span ``[t_s, t_{s+1})`` has nonzero functions
    ``B_{s-k}`` to ``B_s`` only, so the work is ``O(k^2)`` per input instead of
    ``O(G k)`` for the full recursion.

    Returns
    -------
    values : Tensor, shape (batch, n_inputs, order + 1)
        The nonzero basis values, 0 for functions outside the basis and for
        inputs outside the knots.
    derivatives : Tensor or None, same shape
        Their derivatives in ``x`` when ``with_derivative`` is set.
    index : Tensor of int64, same shape
        The basis index of each value (0 where the value is 0).
    """
    n_inputs, n_knots = knots.shape
    n_basis = n_knots - order - 1

    # Span s: the last knot t_s <= x, from -1 (left of all knots) to
    # n_knots - 1 (at or right of the last knot).
    span = (x.unsqueeze(-1) >= knots).sum(-1) - 1

    # Knot windows t_{s-k+1} .. t_{s+k} of every span. Padding the knots on
    # both sides keeps the windows of the outer spans in range. The padded
    # knots affect only functions that are masked out below.
    reach = (knots[:, -1:] - knots[:, :1]).clamp_min(1.0)
    steps = torch.arange(1, order + 1, dtype=knots.dtype, device=knots.device)
    padded = torch.cat(
        [knots[:, :1] - reach * steps.flip(0), knots, knots[:, -1:] + reach * steps],
        dim=1,
    )
    windows = padded.unfold(1, 2 * order, 1).reshape(-1, 2 * order)
    n_windows = n_knots + 1
    row = span.clamp(0, n_knots - 2) + 1
    row = row + torch.arange(n_inputs, device=x.device) * n_windows
    # distance[..., k - 1 + j] = t_{s+j} - x and distance[..., k - j] = t_{s+1-j} - x.
    distance = windows[row] - x.unsqueeze(-1)

    values = torch.ones_like(distance[..., :1])
    quotient = values
    for degree in range(1, order + 1):
        right = distance[..., order : order + degree]
        left = -distance[..., order - degree : order]
        # 0 / 0 where knots repeat: the function divided is 0 there.
        quotient = (values / (right + left)).nan_to_num_(0.0, 0.0, 0.0)
        pad = torch.nn.functional.pad
        values = pad(right * quotient, (0, 1)) + pad(left * quotient, (1, 0))

    index = span.unsqueeze(-1) - order + torch.arange(order + 1, device=x.device)
    valid = (index >= 0) & (index < n_basis)
    values = torch.where(valid, values, 0.0)
    derivatives = None
    if with_derivative:
        # dB^k_m/dx = k (B^{k-1}_m / w_m - B^{k-1}_{m+1} / w_{m+1}), where the
        # last quotient contains B^{k-1} / w for the k functions of degree k - 1.
        pad = torch.nn.functional.pad
        slope = order * (pad(quotient, (1, 0)) - pad(quotient, (0, 1)))
        derivatives = torch.where(valid, slope, 0.0)
    return values, derivatives, torch.where(valid, index, 0)


def is_uniform(knots: torch.Tensor) -> bool:
    """Return whether every row of ``knots`` is equally spaced, to 1e-6 of its range."""
    n_knots = knots.shape[1]
    first, last = knots[:, :1], knots[:, -1:]
    steps = torch.arange(n_knots, dtype=knots.dtype, device=knots.device)
    expected = first + (last - first) * steps / (n_knots - 1)
    tolerance = 1e-6 * (last - first).abs()
    return bool(((knots - expected).abs() <= tolerance).all() and (last > first).all())


@functools.lru_cache(maxsize=16)
def _uniform_coefficients(
    order: int, dtype: torch.dtype
) -> tuple[torch.Tensor, torch.Tensor]:
    """Return the polynomial coefficients of the uniform B-spline pieces.

    On a uniform grid, the ``order + 1`` functions nonzero on a knot span
    are the same polynomials of the local coordinate ``u`` in ``[0, 1)``:
    ``values = [1, u, ..., u^k] @ coefficients``. They are found here by
    evaluating the general scheme at ``k + 1`` points and solving the
    Vandermonde system, in float64.

    Returns
    -------
    coefficients, derivative_coefficients : Tensor, shape (order + 1, order + 1)
        Rows are powers of ``u``, columns are the functions; the second
        matrix gives ``d values / du``.
    """
    knots = torch.arange(2 * order + 2, dtype=torch.float64).unsqueeze(0)
    u = torch.linspace(0.0, 0.9, order + 1, dtype=torch.float64)
    values, _, _ = _local_basis((order + u).unsqueeze(1), knots, order, False)
    vandermonde = u.unsqueeze(1) ** torch.arange(order + 1, dtype=torch.float64)
    coefficients = torch.linalg.solve(vandermonde, values[:, 0, :])
    powers = torch.arange(1, order + 1, dtype=torch.float64).unsqueeze(1)
    derivative = torch.cat(
        [powers * coefficients[1:], torch.zeros(1, order + 1, dtype=torch.float64)]
    )
    return coefficients.to(dtype), derivative.to(dtype)


def _uniform_local_basis(
    x: torch.Tensor, knots: torch.Tensor, order: int, with_derivative: bool
) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]:
    """Evaluate the nonzero basis functions on equally spaced knots.

    Same results as :func:`_local_basis` up to rounding, but each value is a
    polynomial in the local coordinate, which takes a few tensor operations.
    """
    n_knots = knots.shape[1]
    n_basis = n_knots - order - 1
    first = knots[:, 0]
    spacing = (knots[:, -1] - first) / (n_knots - 1)
    scaled = torch.addcmul(-first / spacing, x, 1.0 / spacing)
    span = scaled.floor()
    local = scaled - span

    columns = [torch.ones_like(local), local]
    for _ in range(order - 1):
        columns.append(columns[-1] * local)
    powers = torch.stack(columns, dim=-1)
    coefficients, derivative_coefficients = _uniform_coefficients(order, x.dtype)

    # Function m = s - k + r exists when 0 <= m < n_basis, which also puts
    # the span s inside the knots (0 <= s <= n_knots - 2).
    shift = torch.arange(order + 1, dtype=x.dtype, device=x.device)
    function_index = span.unsqueeze(-1) + (shift - order)
    valid = (function_index >= 0) & (function_index <= n_basis - 1)
    values = torch.where(valid, powers @ coefficients, 0.0)
    derivatives = None
    if with_derivative:
        slope = (powers @ derivative_coefficients) / spacing.unsqueeze(-1)
        derivatives = torch.where(valid, slope, 0.0)
    # Invalid entries, non-finite inputs included, point at function 0 with
    # a value of 0.
    index = torch.where(valid, function_index, 0.0).long()
    return values, derivatives, index


class _BSplineBasis(torch.autograd.Function):
    """Dense B-spline basis with a closed-form derivative in the input."""

    @staticmethod
    def forward(
        ctx, x: torch.Tensor, knots: torch.Tensor, order: int, uniform: bool
    ) -> torch.Tensor:
        with_derivative = ctx.needs_input_grad[0]
        evaluate = _uniform_local_basis if uniform else _local_basis
        values, derivatives, index = evaluate(x, knots, order, with_derivative)
        n_basis = knots.shape[1] - order - 1
        basis = x.new_zeros(x.shape[0], x.shape[1], n_basis)
        basis.scatter_add_(2, index, values)
        if with_derivative:
            ctx.save_for_backward(derivatives, index)
        return basis

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_basis: torch.Tensor):
        if not ctx.needs_input_grad[0]:
            return None, None, None, None
        derivatives, index = ctx.saved_tensors
        grad_x = (grad_basis.gather(2, index) * derivatives).sum(-1)
        return grad_x, None, None, None


def fit_coefficients(
    gram: torch.Tensor, rhs: torch.Tensor, ridge: float
) -> torch.Tensor:
    """Solve the ridge-regularised normal equations of a batch of spline fits.

    Parameters
    ----------
    gram : Tensor, shape (n_inputs, n_basis, n_basis)
        ``A^T A`` of each input's design matrix ``A`` (samples by basis).
    rhs : Tensor, shape (n_inputs, n_basis, n_outputs)
        ``A^T Y`` for the targets ``Y`` of each input.
    ridge : float
        Relative ridge: ``ridge * mean(diag(A^T A))`` is added to the
        diagonal, so the fit stays defined when a basis function has no
        sample in its support (its coefficient then shrinks towards 0).

    Returns
    -------
    Tensor, shape (n_inputs, n_basis, n_outputs), float64
    """
    gram = gram.to(torch.float64)
    rhs = rhs.to(torch.float64)
    diagonal = torch.diagonal(gram, dim1=-2, dim2=-1)
    scale = diagonal.mean(dim=-1).clamp_min(torch.finfo(torch.float64).tiny)
    identity = torch.eye(gram.shape[-1], dtype=torch.float64, device=gram.device)
    regularised = gram + ridge * scale[:, None, None] * identity
    return torch.linalg.solve(regularised, rhs)
