"""B-spline bases on per-input knot vectors, and least-squares refits.

The conventions follow pykan 0.2.8 (``kan/spline.py``): a grid of ``G``
intervals on ``[a, b]`` is extended by ``order`` knots of the mean spacing on
each side, which gives ``G + 2 * order + 1`` knots and ``G + order`` basis
functions of degree ``order``. The degree-0 functions are indicators of
half-open intervals ``[t_m, t_{m+1})``, so every basis function is exactly 0
outside ``[t_0, t_{G + 2 * order})`` of the extended knots.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

__all__ = [
    "FeatureWorkspace",
    "SpanPolynomials",
    "bspline_basis",
    "extend_knots",
    "fit_coefficients",
    "is_uniform",
    "span_polynomials",
    "spline_features",
    "spline_linear",
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
        faster search for the knot span; ``None`` checks the knots on every
        call.

    Returns
    -------
    Tensor, shape (batch, n_inputs, n_knots - order - 1)

    Notes
    -----
    Where two knots coincide, a quotient of the recursion is 0 / 0; it is
    set to 0, as pykan does by replacing NaN with 0, and the basis function
    it multiplies is 0 there anyway.

    The recursion runs once per knot span, on polynomials (see
    :func:`span_polynomials`). Each input then takes the ``k + 1`` nonzero
    functions of its span from that table and writes them into the dense
    result. The gradient with respect to ``x`` uses the derivative of the
    same polynomials instead of recording the recursion, which saves memory
    and time. NOTE: that backward pass is once-differentiable, so second
    derivatives with respect to the inputs (as a PINN residual needs) raise
    an error.
    """
    return spline_features(x, span_polynomials(knots, order, uniform))


#: Deviation from equal spacing that :func:`is_uniform` accepts, in units of
#: the knots' machine epsilon times their largest magnitude.
UNIFORM_TOLERANCE_ULPS = 16


def is_uniform(knots: torch.Tensor) -> bool:
    """Return whether every row of ``knots`` is equally spaced, to rounding error.

    The tolerance scales with the machine epsilon of the knots' dtype, so
    float32 knots cast to float64 (a float32 layer moved with ``.double()``)
    count as unequal there, and take the exact table path.
    """
    n_knots = knots.shape[1]
    first, last = knots[:, :1], knots[:, -1:]
    steps = torch.arange(n_knots, dtype=knots.dtype, device=knots.device)
    expected = first + (last - first) * steps / (n_knots - 1)
    magnitude = torch.maximum(first.abs(), last.abs())
    epsilon = torch.finfo(knots.dtype).eps
    tolerance = UNIFORM_TOLERANCE_ULPS * epsilon * magnitude
    return bool(((knots - expected).abs() <= tolerance).all() and (last > first).all())


class SpanPolynomials(NamedTuple):
    """Nonzero B-spline functions of every knot span, as polynomials.

    Each input has ``n_knots + 1`` rows, and flat row ``i * (n_knots + 1) + c``
    belongs to input ``i`` and the inputs with ``c`` knots ``<= x``: row
    ``c`` is the knot span ``[t_{c-1}, t_c)``. Rows 0 and ``n_knots`` (left
    and right of all knots) and the rows of empty spans (repeated knots) are
    all zero.
    """

    #: Extended knots, shape (n_inputs, n_knots), contiguous.
    knots: torch.Tensor
    #: Per flat row: the next knot ``t_c``; NaN for row ``n_knots``, so that
    #: no input, ``+inf`` included, steps past it.
    next_knots: torch.Tensor
    #: Per flat row: ``t_{c-1}`` and ``1 / (t_c - t_{c-1})``, both 0 for the
    #: zero rows; shape (n_rows, 2).
    starts_and_inverse_widths: torch.Tensor
    #: Per flat row: the basis indices of its ``k + 1`` functions (int64),
    #: shape (n_rows, k + 1).
    columns: torch.Tensor
    #: Shape (k + 1, n_rows, k + 1): entry ``[p, row, r]`` is the coefficient
    #: of ``u^p`` in function ``columns[row, r]``, where
    #: ``u = (x - t_{c-1}) / (t_c - t_{c-1})`` is the local coordinate.
    coefficients: torch.Tensor
    #: Shape (k, n_rows, k + 1): the same for the derivatives in ``x``.
    derivative_coefficients: torch.Tensor
    #: Whether the knots are equally spaced, so that rounding finds the row.
    uniform: bool
    #: Number of B-spline functions of each input, ``n_knots - k - 1``.
    n_basis: int
    #: Row search of non-uniform knots (see :func:`_bucket_search`): per
    #: input ``t_0`` and ``n_buckets / (t_last - t_0)``, shape (n_inputs, 2),
    #: or None to use ``torch.searchsorted``.
    bucket_scales: torch.Tensor | None
    #: Per input and bucket, a flat row at or below that of every input in
    #: the bucket; shape (n_inputs, n_buckets).
    bucket_rows: torch.Tensor | None
    #: Number of single-knot steps that reach the row from ``bucket_rows``.
    bucket_steps: int
    #: For equally spaced knots, the polynomials shared by every span whose
    #: window is not clamped, ``k <= s <= n_basis - 1``: shape (k + 1, k + 1),
    #: entry ``[p, r]`` the coefficient of ``u^p`` in column ``r``. None for
    #: other knots.
    interior_values: torch.Tensor | None
    #: The same for the derivatives in ``u`` (not in ``x``), shape (k, k + 1).
    interior_derivatives: torch.Tensor | None

    def to(self, dtype: torch.dtype) -> SpanPolynomials:
        """Cast the floating-point tables to ``dtype``."""
        scales = self.bucket_scales
        values, derivatives = self.interior_values, self.interior_derivatives
        return self._replace(
            knots=self.knots.to(dtype),
            next_knots=self.next_knots.to(dtype),
            starts_and_inverse_widths=self.starts_and_inverse_widths.to(dtype),
            coefficients=self.coefficients.to(dtype),
            derivative_coefficients=self.derivative_coefficients.to(dtype),
            bucket_scales=None if scales is None else scales.to(dtype),
            interior_values=None if values is None else values.to(dtype),
            interior_derivatives=(
                None if derivatives is None else derivatives.to(dtype)
            ),
        )


#: Maximum number of single-knot steps of the bucket search before
#: :func:`span_polynomials` falls back to ``torch.searchsorted``.
MAX_BUCKET_STEPS = 3


def span_polynomials(
    knots: torch.Tensor, order: int, uniform: bool | None = None
) -> SpanPolynomials:
    """Tabulate the ``order + 1`` nonzero basis functions of every knot span.

    This is the triangular scheme of Piegl and Tiller, "The NURBS Book"
    (1997), algorithm A2.2, run once per knot span on polynomials of the
    local coordinate ``u`` in ``[0, 1)`` instead of once per input value. An
    input in the span ``[t_s, t_{s+1})`` has nonzero functions ``B_{s-k}`` to
    ``B_s`` only. The table is computed in float64 and returned in the dtype
    of ``knots``.

    The ``k + 1`` columns of a span cover functions ``w`` to ``w + k`` with
    ``w = clamp(s - k, 0, n_basis - k - 1)``, so they are distinct and inside
    the basis even in the outer spans, where columns of functions that do
    not exist are 0.
    """
    if order < 1:
        msg = f"spline order must be at least 1; received {order}"
        raise ValueError(msg)
    if uniform is None:
        uniform = is_uniform(knots)
    n_inputs, n_knots = knots.shape
    n_basis = n_knots - order - 1
    knots64 = knots.to(torch.float64)
    starts = knots64[:, :-1]
    widths = knots64[:, 1:] - starts
    coefficients = _span_coefficients(knots64, order)

    # Columns: function s - k + r goes to column s - k + r - w of its window.
    n_spans = n_knots - 1
    device = knots.device
    span = torch.arange(n_spans, device=device)
    first = (span - order).clamp(0, n_basis - order - 1)
    function = span.unsqueeze(1) - order + torch.arange(order + 1, device=device)
    exists = (function >= 0) & (function < n_basis)
    column = (function - first.unsqueeze(1)).clamp(0, order)
    coefficients = torch.where(exists[:, None, :], coefficients, 0.0)
    windowed = torch.zeros_like(coefficients).scatter_add_(
        -1, column[None, :, None, :].expand_as(coefficients), coefficients
    )
    # Empty spans stay zero, because no input lands in them.
    nonempty = widths > 0
    inverse_widths = torch.where(nonempty, 1.0 / widths, 0.0)
    windowed = torch.where(nonempty[..., None, None], windowed, 0.0)
    powers = torch.arange(1, order + 1, dtype=torch.float64, device=device)
    derivatives = windowed[..., 1:, :] * powers[:, None]
    derivatives = derivatives * inverse_widths[..., None, None]

    def flat_rows(table: torch.Tensor) -> torch.Tensor:
        # (n_inputs, n_spans, ...) -> (n_inputs * (n_knots + 1), ...) with zero rows.
        zero = torch.zeros_like(table[:, :1])
        return torch.cat([zero, table, zero], dim=1).flatten(0, 1)

    dtype = knots.dtype
    column_starts = first.expand(n_inputs, -1).unsqueeze(-1) + torch.arange(
        order + 1, device=device
    )
    sentinel = torch.full((n_inputs, 1), torch.nan, dtype=torch.float64, device=device)
    starts_and_inverse_widths = torch.stack(
        [flat_rows(starts), flat_rows(inverse_widths)], dim=-1
    )
    bucket_scales, bucket_rows, bucket_steps = None, None, 0
    interior_values, interior_derivatives = None, None
    if not uniform:
        bucket_scales, bucket_rows, bucket_steps = _bucket_table(knots64)
    elif n_basis > order:
        # Equal spacing makes the polynomials of u the same in every span
        # whose window is not clamped. Span k of input 0 is one of them.
        interior_values = windowed[0, order].to(dtype)
        interior_derivatives = (windowed[0, order, 1:] * powers[:, None]).to(dtype)
    return SpanPolynomials(
        knots=knots.contiguous(),
        next_knots=torch.cat([knots64, sentinel], dim=1).flatten().to(dtype),
        starts_and_inverse_widths=starts_and_inverse_widths.to(dtype),
        columns=flat_rows(column_starts),
        # (power, row, column) so that each power's gather is contiguous.
        coefficients=flat_rows(windowed).transpose(0, 1).contiguous().to(dtype),
        derivative_coefficients=flat_rows(derivatives)
        .transpose(0, 1)
        .contiguous()
        .to(dtype),
        uniform=bool(uniform),
        n_basis=n_basis,
        bucket_scales=None if bucket_scales is None else bucket_scales.to(dtype),
        bucket_rows=bucket_rows,
        bucket_steps=bucket_steps,
        interior_values=interior_values,
        interior_derivatives=interior_derivatives,
    )


def _span_coefficients(knots: torch.Tensor, order: int) -> torch.Tensor:
    """Run the triangular recursion on polynomials of ``u``, for every span.

    Returns
    -------
    Tensor, shape (n_inputs, n_knots - 1, order + 1, order + 1)
        Entry ``[i, s, p, r]`` is the coefficient of ``u^p`` in function
        ``s - order + r`` of input ``i``, with ``x = t_s + (t_{s+1} - t_s) u``.
    """
    n_inputs, n_knots = knots.shape
    n_spans = n_knots - 1
    # Knots t_{s-k+1} .. t_{s+k} of every span s, relative to t_s. Padding
    # the knots on both sides keeps the windows of the outer spans in range.
    # The padded knots affect only functions that do not exist, which the
    # caller drops.
    reach = (knots[:, -1:] - knots[:, :1]).clamp_min(1.0)
    steps = torch.arange(1, order + 1, dtype=knots.dtype, device=knots.device)
    padded = torch.cat(
        [knots[:, :1] - reach * steps.flip(0), knots, knots[:, -1:] + reach * steps],
        dim=1,
    )
    windows = padded.unfold(1, 2 * order, 1)[:, 1 : n_spans + 1]
    offsets = windows - knots[:, :n_spans].unsqueeze(-1)
    h = (knots[:, 1:] - knots[:, :-1])[..., None, None]

    # Polynomials have shape (..., function, power). The distances
    # t_{s+j} - x and x - t_{s+1-j} are offset - h u and -offset + h u.
    pad = torch.nn.functional.pad
    values = torch.zeros(n_inputs, n_spans, 1, order + 1, dtype=knots.dtype)
    values[..., 0, 0] = 1.0
    for degree in range(1, order + 1):
        right = offsets[..., order : order + degree, None]
        left = -offsets[..., order - degree : order, None]
        # 0 / 0 where knots repeat: the function divided is 0 there.
        denominator = right + left
        quotient = torch.where(denominator != 0, values / denominator, 0.0)
        times_u = pad(quotient[..., :-1], (1, 0))
        right_part = right * quotient - h * times_u
        left_part = left * quotient + h * times_u
        values = pad(right_part, (0, 0, 0, 1)) + pad(left_part, (0, 0, 1, 0))
    return values.transpose(-1, -2)


def _bucket_table(
    knots: torch.Tensor,
) -> tuple[torch.Tensor | None, torch.Tensor | None, int]:
    """Build the lookup table of :func:`_bucket_search`, if it needs few steps.

    The range ``[t_0, t_last]`` of each input is cut into equal buckets, and
    each bucket stores the row of its left neighbour's start, which is at or
    below the row of any input that rounding puts into the bucket. The
    search then steps over the knots one at a time, which takes at most as
    many steps as there are knots in two buckets (or, for the last bucket,
    up to the last knot). Finer buckets are tried until that count is 1,
    and the table with the fewest steps is kept if it needs at most
    ``MAX_BUCKET_STEPS``; otherwise the table is None. Each step costs about
    as much as the lookup itself, while the finest table takes half a MiB
    for 64 inputs at grid 10, so finer buckets pay off.
    """
    n_inputs, n_knots = knots.shape
    low, high = knots[:, :1], knots[:, -1:]
    if not bool((high > low).all()):
        return None, None, 0
    row_offsets = torch.arange(n_inputs, device=knots.device).unsqueeze(1) * (
        n_knots + 1
    )
    best = (None, None, MAX_BUCKET_STEPS + 1)
    for per_span in (4, 16, 64):
        n_buckets = per_span * (n_knots - 1)
        edges = torch.arange(-1, n_buckets + 2, dtype=knots.dtype, device=knots.device)
        edges = low + (high - low) * edges / n_buckets
        # counts[:, j] = number of knots <= the start of bucket j - 1.
        counts = torch.searchsorted(knots, edges.contiguous(), right=True)
        lower = counts[:, :n_buckets]
        upper = counts[:, 3 : n_buckets + 3].clone()
        upper[:, -1] = n_knots
        steps = int((upper - lower).max())
        if steps < best[2]:
            scales = torch.cat([low, n_buckets / (high - low)], dim=1)
            best = (scales, lower + row_offsets, steps)
        if steps <= 1:
            break
    if best[0] is None:
        return None, None, 0
    return best


def _bucket_search(x: torch.Tensor, table: SpanPolynomials) -> torch.Tensor:
    """Return the flat row of each input: a bucket lookup and a few knot steps."""
    n_buckets = table.bucket_rows.shape[1]
    low = table.bucket_scales[:, 0]
    scale = table.bucket_scales[:, 1]
    position = torch.addcmul(-low * scale, x, scale).floor_()
    bucket = position.clamp_(0, n_buckets - 1).nan_to_num_(0.0).long()
    n_entries = table.bucket_rows.numel()
    bucket_offsets = torch.arange(0, n_entries, n_buckets, device=x.device)
    rows = table.bucket_rows.view(-1).take(bucket + bucket_offsets)
    for _ in range(table.bucket_steps):
        rows += x >= table.next_knots.take(rows)
    return rows


def _find_rows(
    x: torch.Tensor, table: SpanPolynomials
) -> tuple[torch.Tensor, torch.Tensor]:
    """Return each input's flat table row (int64) and local coordinate ``u``.

    Inputs outside the knots and non-finite inputs get a zero row and
    ``u = 0``, so all their basis values are exactly 0.
    """
    n_inputs, n_knots = table.knots.shape
    n_rows = n_knots + 1
    if table.uniform:
        # On equally spaced knots, row - 1 = floor((x - t_0) / h).
        first_knot = table.starts_and_inverse_widths[1::n_rows, 0]
        inverse_spacing = table.starts_and_inverse_widths[1::n_rows, 1]
        scaled = torch.addcmul(-first_knot * inverse_spacing, x, inverse_spacing)
        span = scaled.floor()
        local = scaled - span
        span = span.clamp_(-1.0, n_knots - 1).nan_to_num_(-1.0)
        row_offsets = torch.arange(1, n_inputs * n_rows, n_rows, device=x.device)
        rows = span.long() + row_offsets
    else:
        if table.bucket_rows is not None:
            rows = _bucket_search(x, table)
        else:
            # searchsorted counts the knots <= x; NaN counts as larger than
            # every knot.
            count = torch.searchsorted(table.knots, x.T.contiguous(), right=True)
            row_offsets = torch.arange(0, n_inputs * n_rows, n_rows, device=x.device)
            rows = count.T + row_offsets
        start_and_scale = table.starts_and_inverse_widths.index_select(
            0, rows.reshape(-1)
        ).view(*rows.shape, 2)
        local = (x - start_and_scale[..., 0]) * start_and_scale[..., 1]
    return rows.contiguous(), local.nan_to_num_(0.0, 0.0, 0.0)


def _evaluate_polynomials(
    coefficients: torch.Tensor, rows: torch.Tensor, local: torch.Tensor
) -> torch.Tensor:
    """Evaluate the polynomials of the given rows at ``local`` with Horner's rule.

    ``local`` is broadcast to shape (n, k + 1) beforehand, so that every
    step is an elementwise operation on contiguous tensors of equal shape.
    """
    n_powers, n_rows, width = coefficients.shape
    power_offsets = torch.arange(0, n_powers * n_rows, n_rows, device=rows.device)
    index = (rows.view(1, -1) + power_offsets.unsqueeze(1)).view(-1)
    selected = coefficients.view(-1, width).index_select(0, index)
    selected = selected.view(n_powers, -1, width)
    values = selected[-1]
    for power in range(n_powers - 2, -1, -1):
        values = selected[power].addcmul_(values, local)
    return values


#: Functions allowed in a leading base column of :func:`spline_features`.
BASE_COLUMNS = (None, "silu", "identity")


def spline_features(
    x: torch.Tensor, table: SpanPolynomials, base_function: str | None = None
) -> torch.Tensor:
    """Evaluate the B-spline basis of each input, optionally after a base column.

    Parameters
    ----------
    x : Tensor, shape (batch, n_inputs)
    table : SpanPolynomials
        Polynomials of the knots of every input, from :func:`span_polynomials`,
        in the dtype of ``x``.
    base_function : {None, "silu", "identity"}
        When set, column 0 of each input contains ``base_function(x)`` and the
        basis follows, so that one matrix product computes both branches of
        a KAN layer.

    Returns
    -------
    Tensor, shape (batch, n_inputs, n_basis) or (batch, n_inputs, 1 + n_basis)
    """
    if base_function not in BASE_COLUMNS:
        msg = f"base_function must be one of {BASE_COLUMNS}; received {base_function!r}"
        raise ValueError(msg)
    return _SplineFeatures.apply(x, table, base_function)


class _Windows(NamedTuple):
    """Columns and values of each input's nonzero basis functions."""

    #: Column of the first of the ``k + 1`` values, per input (int64, flat).
    starts: torch.Tensor
    #: The values, shape (batch * n_inputs, k + 1).
    values: torch.Tensor
    #: Rows for the derivatives: powers ``u^p`` for ``p < k`` as a
    #: (k, batch * n_inputs) tensor on equally spaced knots, else the flat
    #: table rows.
    rows_or_powers: torch.Tensor
    #: Local coordinates broadcast to (batch * n_inputs, k + 1), or None on
    #: equally spaced knots.
    local: torch.Tensor | None
    #: On equally spaced knots, the flat positions of the inputs outside
    #: the unclamped spans, their table rows and their broadcast local
    #: coordinates; None if there are none.
    edges: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None


def _table_windows(x: torch.Tensor, table: SpanPolynomials) -> _Windows:
    """Find each input's span and evaluate its polynomials from the table."""
    rows, local = _find_rows(x, table)
    width = table.columns.shape[1]
    local = local.reshape(-1, 1).expand(-1, width).contiguous()
    values = _evaluate_polynomials(table.coefficients, rows, local)
    starts = table.columns[:, 0].index_select(0, rows.view(-1))
    return _Windows(starts, values, rows, local, None)


def _uniform_windows(x: torch.Tensor, table: SpanPolynomials) -> _Windows:
    """Evaluate the basis on equally spaced knots with one shared polynomial.

    Every span ``k <= s <= n_basis - 1`` has the same polynomials of ``u``,
    so the values are one small matrix product of the powers of ``u``
    instead of a gather from the table. Inputs in the outer spans, outside
    the knots or not finite take the table's rows instead.
    """
    n_inputs, n_knots = table.knots.shape
    n_rows = n_knots + 1
    order = table.interior_values.shape[0] - 1
    last_interior = table.n_basis - 1
    first_knot = table.starts_and_inverse_widths[1::n_rows, 0]
    inverse_spacing = table.starts_and_inverse_widths[1::n_rows, 1]
    scaled = torch.addcmul(-first_knot * inverse_spacing, x, inverse_spacing)
    span = scaled.floor().view(-1)
    local = scaled.view(-1) - span
    # Rows of u^0 .. u^k, each contiguous.
    powers = local.new_empty(order + 1, local.numel())
    powers[0].fill_(1.0)
    powers[1].copy_(local)
    for power in range(2, order + 1):
        torch.mul(powers[power - 1], local, out=powers[power])
    values = powers.T @ table.interior_values
    starts = span - order
    starts = starts.clamp_(0, last_interior - order).nan_to_num_(0.0).long()
    edges = None
    if span.numel() == 0:
        return _Windows(starts, values, powers[:order], None, edges)
    lowest, highest = torch.aminmax(span)
    # A NaN span fails both tests, and so takes the slower branch.
    if not (lowest >= order and highest <= last_interior):
        outer = ~((span >= order) & (span <= last_interior))
        positions = outer.nonzero().squeeze(1)
        outer_span = span[positions].clamp_(-1.0, n_knots - 1).nan_to_num_(-1.0)
        rows = outer_span.long() + 1 + (positions % n_inputs) * n_rows
        outer_local = local[positions].nan_to_num_(0.0, 0.0, 0.0)
        outer_local = outer_local.view(-1, 1).expand(-1, order + 1).contiguous()
        values[positions] = _evaluate_polynomials(table.coefficients, rows, outer_local)
        edges = (positions, rows, outer_local)
    return _Windows(starts, values, powers[:order], None, edges)


class FeatureWorkspace:
    """Keeps the dense feature tensor of one layer for its next forward pass.

    A training step of a KAN layer fills a (batch, n_inputs, width) tensor
    of features, which is the largest tensor it allocates. Allocating it
    anew on every step costs page faults, because glibc's malloc returns
    freed memory of that size to the system (measured: about 2 200 faults
    per step at widths [64, 64, 64], batch 1024, without a workspace). :func:`spline_linear` takes
    the tensor from here and gives it back once its backward pass (or, with
    no gradient to compute, its forward pass) is done with it, so a
    training loop reuses one tensor per layer. At most ``capacity`` tensors
    are kept; none are pickled or copied with the layer.
    """

    def __init__(self, capacity: int = 1):
        self.capacity = capacity
        self._free: list[torch.Tensor] = []

    def take(self, shape: tuple[int, ...], like: torch.Tensor) -> torch.Tensor:
        """Return a zeroed tensor of ``shape`` with the dtype and device of ``like``."""
        while self._free:
            try:
                buffer = self._free.pop()
            except IndexError:  # another thread took the last one
                break
            # A tensor made under torch.inference_mode cannot be written
            # outside it.
            usable = torch.is_inference_mode_enabled() or not buffer.is_inference()
            if (
                usable
                and buffer.shape == shape
                and buffer.dtype == like.dtype
                and buffer.device == like.device
            ):
                return buffer.zero_()
        return like.new_zeros(shape)

    def give(self, buffer: torch.Tensor) -> None:
        """Keep ``buffer`` for a later :meth:`take`; do not use it afterwards."""
        if len(self._free) < self.capacity:
            self._free.append(buffer)

    def clear(self) -> None:
        """Drop the kept tensors."""
        self._free.clear()

    def __reduce__(self):
        return (type(self), (self.capacity,))

    def __deepcopy__(self, memo):
        return type(self)(self.capacity)


def _dense_features(
    x: torch.Tensor,
    table: SpanPolynomials,
    base_function: str | None,
    workspace: FeatureWorkspace | None = None,
) -> tuple[torch.Tensor, _Windows]:
    """Write the basis (after an optional base column) into a dense tensor.

    Returns the features, shape (batch, n_inputs, n_base + n_basis), taken
    from ``workspace`` when one is given, and the windows they came from.
    """
    uniform = table.interior_values is not None
    windows = _uniform_windows(x, table) if uniform else _table_windows(x, table)
    width = windows.values.shape[1]
    n_base = 0 if base_function is None else 1
    index = windows.starts.view(-1, 1) + torch.arange(
        n_base, n_base + width, device=x.device
    )
    batch, n_inputs = x.shape
    shape = (batch, n_inputs, n_base + table.n_basis)
    if workspace is None:
        features = x.new_zeros(shape)
    else:
        features = workspace.take(shape, x)
    features.view(-1, n_base + table.n_basis).scatter_(1, index, windows.values)
    if base_function == "silu":
        features[..., 0] = torch.nn.functional.silu(x)
    elif base_function == "identity":
        features[..., 0] = x
    return features, windows


def _save_for_input_gradient(ctx, x, windows, table, base_function, *extra):
    """Keep what :func:`_input_gradient` needs, after ``extra`` tensors."""
    ctx.table = table
    ctx.base_function = base_function
    ctx.edges = windows.edges
    tensors = (*extra, x, windows.starts, windows.rows_or_powers)
    if windows.local is not None:
        tensors = (*tensors, windows.local)
    ctx.save_for_backward(*tensors)


def _input_gradient(ctx, saved, grad_features: torch.Tensor) -> torch.Tensor:
    """Chain ``d loss / d features`` (batch, n_inputs, width) to the inputs."""
    x, starts, rows_or_powers, *local = saved
    table = ctx.table
    batch, n_inputs = x.shape

    # The gradient at each input's k + 1 nonzero basis functions.
    flat_grad = grad_features.reshape(batch * n_inputs, grad_features.shape[-1])
    n_base = 0 if ctx.base_function is None else 1
    width = table.columns.shape[1]
    index = starts.view(-1, 1) + torch.arange(n_base, n_base + width, device=x.device)
    selected = flat_grad.gather(1, index)

    if local:
        # The table's derivative polynomials include 1 / (t_c - t_{c-1}).
        derivatives = _evaluate_polynomials(
            table.derivative_coefficients, rows_or_powers, local[0]
        )
        grad_x = (selected * derivatives).sum(-1).view(batch, n_inputs)
    else:
        # sum_r g_r sum_p D[p, r] u^p = sum_p u^p (D g)_p, with the powers
        # stored as rows so that both steps run along contiguous memory.
        per_power = table.interior_derivatives @ selected.T
        grad_u = per_power.mul_(rows_or_powers).sum(0)
        n_rows = table.knots.shape[1] + 1
        inverse_spacing = table.starts_and_inverse_widths[1::n_rows, 1]
        grad_x = grad_u.view(batch, n_inputs) * inverse_spacing
        if ctx.edges is not None:
            positions, rows, outer_local = ctx.edges
            outer = _evaluate_polynomials(
                table.derivative_coefficients, rows, outer_local
            )
            grad_x.view(-1)[positions] = (selected[positions] * outer).sum(-1)

    if ctx.base_function == "silu":
        grad_x += torch.ops.aten.silu_backward(grad_features[..., 0], x)
    elif ctx.base_function == "identity":
        grad_x = grad_x + grad_features[..., 0]
    return grad_x


class _SplineFeatures(torch.autograd.Function):
    """Dense B-spline basis with a closed-form derivative in the input."""

    @staticmethod
    def forward(
        ctx, x: torch.Tensor, table: SpanPolynomials, base_function: str | None
    ) -> torch.Tensor:
        x = x.contiguous()
        features, windows = _dense_features(x, table, base_function)
        if ctx.needs_input_grad[0]:
            _save_for_input_gradient(ctx, x, windows, table, base_function)
        return features

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_features: torch.Tensor):
        if not ctx.needs_input_grad[0]:
            return None, None, None
        return _input_gradient(ctx, ctx.saved_tensors, grad_features), None, None


def spline_linear(
    x: torch.Tensor,
    table: SpanPolynomials,
    weight: torch.Tensor,
    base_function: str | None = None,
    workspace: FeatureWorkspace | None = None,
) -> torch.Tensor:
    """Contract the features of :func:`spline_features` with a weight matrix.

    Equal to ``spline_features(x, table, base_function).view(batch, -1) @
    weight``, with less memory traffic. The backward pass writes the
    gradient of the features over the features, after the weight gradient
    has used them. The feature tensor can also come from, and go back to, a
    :class:`FeatureWorkspace`. Like :func:`spline_features`,
    it is once-differentiable (NOTE: no second derivatives).

    Parameters
    ----------
    x : Tensor, shape (batch, n_inputs)
    table : SpanPolynomials
        In the dtype of ``x``.
    weight : Tensor, shape (n_inputs * (n_base + n_basis), n_outputs)
        Rows in the order of the flattened features, input by input.
    base_function : {None, "silu", "identity"}
    workspace : FeatureWorkspace, optional

    Returns
    -------
    Tensor, shape (batch, n_outputs)
    """
    if base_function not in BASE_COLUMNS:
        msg = f"base_function must be one of {BASE_COLUMNS}; received {base_function!r}"
        raise ValueError(msg)
    # Under no_grad, needs_input_grad still follows requires_grad, so the
    # forward pass receives whether a backward pass can follow.
    recording = torch.is_grad_enabled() and (x.requires_grad or weight.requires_grad)
    return _SplineLinear.apply(x, table, weight, base_function, workspace, recording)


class _SplineLinear(torch.autograd.Function):
    """``features(x) @ weight``, reusing the features' memory for their gradient."""

    @staticmethod
    def forward(
        ctx,
        x: torch.Tensor,
        table: SpanPolynomials,
        weight: torch.Tensor,
        base_function: str | None,
        workspace: FeatureWorkspace | None,
        recording: bool,
    ) -> torch.Tensor:
        x = x.contiguous()
        features, windows = _dense_features(x, table, base_function, workspace)
        flat = features.flatten(1)
        output = flat @ weight
        needs_x, _, needs_weight, *_ = ctx.needs_input_grad
        needs_x, needs_weight = needs_x and recording, needs_weight and recording
        ctx.workspace = workspace
        # The features stay outside save_for_backward, because the backward
        # pass overwrites them; None means that they must be recomputed.
        ctx.features = None
        if needs_x:
            _save_for_input_gradient(ctx, x, windows, table, base_function, weight)
        elif needs_weight:
            ctx.table, ctx.base_function = table, base_function
            ctx.save_for_backward(weight, x)
        if needs_x or needs_weight:
            ctx.features = features
        elif workspace is not None:
            workspace.give(features)
        return output

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_output: torch.Tensor):
        needs_x, _, needs_weight, *_ = ctx.needs_input_grad
        weight, *saved = ctx.saved_tensors
        x = saved[0]
        features = ctx.features
        ctx.features = None
        if features is None:
            # A second backward pass through the graph (retain_graph=True).
            features, _ = _dense_features(x, ctx.table, ctx.base_function)
        flat = features.flatten(1)
        grad_weight = flat.T @ grad_output if needs_weight else None
        grad_x = None
        if needs_x:
            grad_features = torch.mm(grad_output, weight.T, out=flat)
            grad_x = _input_gradient(ctx, saved, grad_features.view(features.shape))
        if ctx.workspace is not None:
            ctx.workspace.give(features)
        return grad_x, None, grad_weight, None, None, None


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
