"""KAN layers and networks with pykan's mathematics and efficient-kan's layout.

Each edge ``(i, j)`` of a layer carries the function

    phi_ij(x) = scale_base_ij * silu(x) + scale_spline_ij * sum_m coef_ijm B_m(x; t_i)

and output ``j`` is ``sum_i phi_ij(x_i)`` (Liu et al. 2024, "KAN:
Kolmogorov-Arnold Networks", arXiv:2404.19756). The basis ``B(x)`` of each
input is computed once, and the layer is two matrix products (the efficient-kan
reformulation, with the base branch folded into the same product), so no
``(batch, n_in, n_out)`` tensor is formed.

Initialisation, knots and the adaptive grid update match pykan 0.2.8 (the
PyPI release of 2024-11): ``scale_base ~ U(-1, 1) / sqrt(n_in)``,
``scale_spline = 1 / sqrt(n_in)``, and coefficients fitted to uniform noise
of half-width ``noise_scale / (2 G)`` at the interior knots.

Inputs outside the extended knots ``[t_0, t_{G+2k})`` get a spline part of
exactly 0, so only the base branch ``scale_base * silu(x)`` acts there, as in
pykan. Inside the extended knots but outside the grid range, the spline uses
the extra ``k`` knots on each side.

NOTE: pykan's pruning mask, symbolic branch and node affine parameters are
left out; for an unpruned numeric KAN they are the identity.
"""

from __future__ import annotations

import itertools
import math
import warnings

import torch
from torch import nn

from toolkit_kan._spline import (
    FeatureWorkspace,
    SpanPolynomials,
    bspline_basis,
    extend_knots,
    fit_coefficients,
    span_polynomials,
    spline_features,
    spline_linear,
    uniform_knots,
)

__all__ = ["GridFitWarning", "KANLayer", "KANNetwork"]

#: Relative ridge of every least-squares refit (pykan 0.2.5 used 1e-8).
RIDGE = 1e-8


#: Functions allowed in the base branch, as in pykan's ``base_fun`` option.
BASE_FUNCTIONS = frozenset({"silu", "identity", "zero"})


class GridFitWarning(RuntimeWarning):
    """Warns that a grid refit had too few samples in part of the grid."""


class KANLayer(nn.Module):
    """One KAN layer: a B-spline plus a SiLU base term on every edge.

    Parameters
    ----------
    in_features, out_features : int
        Input and output widths.
    grid_size : int
        Number of grid intervals ``G``.
    order : int
        Spline order ``k`` (3 is cubic).
    grid_range : tuple of float
        Interval ``[a, b]`` of the initial uniform grid.
    noise_scale : float
        Scale of the random initial spline (pykan's ``noise_scale``).
    base_function : {"silu", "identity", "zero"}
        Function ``b`` of the base branch ``scale_base * b(x)``.
    generator : torch.Generator or None
        Source of the random initial values.

    Attributes
    ----------
    knots : Tensor, shape (in_features, G + 2k + 1)
        Extended knot vector of each input (a buffer).
    coef : Parameter, shape (in_features, out_features, G + k)
    scale_base, scale_spline : Parameter, shape (in_features, out_features)
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        grid_size: int,
        order: int,
        grid_range: tuple[float, float] = (-1.0, 1.0),
        noise_scale: float = 0.3,
        base_function: str = "silu",
        generator: torch.Generator | None = None,
    ):
        super().__init__()
        if base_function not in BASE_FUNCTIONS:
            msg = (
                f"base_function must be one of {sorted(BASE_FUNCTIONS)}; "
                f"received {base_function!r}"
            )
            raise ValueError(msg)
        self.base_function = base_function
        self.in_features = in_features
        self.out_features = out_features
        self.order = order
        self.register_buffer(
            "knots", uniform_knots(grid_size, order, grid_range, in_features)
        )
        # Cache of span_table(), keyed on a copy of the knots it was built from.
        self._table: SpanPolynomials | None = None
        self._table_by_dtype: dict[torch.dtype, SpanPolynomials] = {}
        self._table_knots: torch.Tensor | None = None
        self._workspace = FeatureWorkspace()

        # pykan fits the initial spline to noise at the G + 1 interior knots.
        interior = self.knots[:, order : order + grid_size + 1].T
        noise = torch.rand(
            grid_size + 1, in_features, out_features, generator=generator
        )
        noise = (noise - 0.5) * noise_scale / grid_size
        coef = self._fit(interior, noise, self.knots)
        self.coef = nn.Parameter(coef.to(torch.get_default_dtype()))

        bound = 1.0 / math.sqrt(in_features)
        uniform = torch.rand(in_features, out_features, generator=generator)
        self.scale_base = nn.Parameter((2 * uniform - 1) * bound)
        self.scale_spline = nn.Parameter(torch.full((in_features, out_features), bound))

    @property
    def grid_size(self) -> int:
        """Number of grid intervals ``G``."""
        return self.knots.shape[1] - 2 * self.order - 1

    def span_table(self, dtype: torch.dtype) -> SpanPolynomials:
        """Return the per-span polynomials of the current knots in ``dtype``.

        The table is cached and rebuilt when the knots tensor is replaced or
        changed in place.
        """
        knots = self.knots
        # Comparing the values also catches writes through knots.data, which
        # bypass the version counter; the knots are small, so this is cheap.
        cached = self._table_knots
        if (
            cached is None
            or cached.shape != knots.shape
            or cached.dtype != knots.dtype
            or cached.device != knots.device
            or not torch.equal(cached, knots)
        ):
            self._table = span_polynomials(knots, self.order)
            self._table_by_dtype = {}
            self._table_knots = knots.detach().clone()
        if dtype not in self._table_by_dtype:
            self._table_by_dtype[dtype] = self._table.to(dtype)
        return self._table_by_dtype[dtype]

    def basis(self, x: torch.Tensor) -> torch.Tensor:
        """Evaluate the basis of each input: ``(batch, in) -> (batch, in, G + k)``."""
        return spline_features(x, self.span_table(x.dtype))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map ``(batch, in_features)`` to ``(batch, out_features)``.

        Both branches are one matrix product: the features of input ``i``
        are ``[silu(x_i), B_0(x_i), ..., B_{G+k-1}(x_i)]`` and its weights
        for output ``j`` are ``[scale_base_ij, scale_spline_ij * coef_ij]``.
        """
        base = None if self.base_function == "zero" else self.base_function
        weight = self.coef * self.scale_spline.unsqueeze(-1)
        if base is not None:
            weight = torch.cat([self.scale_base.unsqueeze(-1), weight], dim=-1)
        weight = weight.transpose(1, 2).reshape(-1, self.out_features)
        table = self.span_table(x.dtype)
        return spline_linear(x, table, weight, base, self._workspace)

    def refit(self, x: torch.Tensor, knots: torch.Tensor, *, context: str) -> None:
        """Move to new knots, refitting the coefficients to the current spline.

        The new coefficients minimise the squared difference between the new
        and the current unscaled spline of every edge at the samples ``x``,
        in float64 with a relative ridge of ``RIDGE``. ``scale_base`` and
        ``scale_spline`` are kept. A new ``coef`` Parameter replaces the old
        one when the number of basis functions changes.

        Parameters
        ----------
        x : Tensor, shape (batch, in_features)
            Finite samples of this layer's input.
        knots : Tensor, shape (in_features, G' + 2k + 1)
            New extended knots.
        context : str
            What the refit is for, used in warnings.
        """
        with torch.no_grad():
            _warn_underdetermined_fit(x, knots, self.order, context)
            coef = self._fit_to_spline(x, knots)
            self.knots = knots.to(self.knots)
            coef = coef.to(self.coef.dtype)
            if coef.shape == self.coef.shape:
                self.coef.copy_(coef)
            else:
                self.coef = nn.Parameter(coef)

    def _fit(
        self, x: torch.Tensor, targets: torch.Tensor, knots: torch.Tensor
    ) -> torch.Tensor:
        """Fit coefficients to ``targets (batch, in, out)`` at ``x (batch, in)``."""
        basis = bspline_basis(x.to(torch.float64), knots.to(torch.float64), self.order)
        gram = torch.einsum("bim,bin->imn", basis, basis)
        rhs = torch.einsum("bim,bio->imo", basis, targets.to(torch.float64))
        return fit_coefficients(gram, rhs, RIDGE).permute(0, 2, 1)

    def _fit_to_spline(self, x: torch.Tensor, knots: torch.Tensor) -> torch.Tensor:
        """Fit new-knot coefficients to the current spline without a per-edge tensor.

        With old basis ``A`` and new basis ``A'`` of one input, the normal
        equations are ``A'^T A' c' = (A'^T A) c``, which needs only the
        ``(in, G' + k, G + k)`` cross Gram matrices.
        """
        x64 = x.to(torch.float64)
        old_basis = bspline_basis(x64, self.knots.to(torch.float64), self.order)
        new_basis = bspline_basis(x64, knots.to(torch.float64), self.order)
        gram = torch.einsum("bim,bin->imn", new_basis, new_basis)
        cross = torch.einsum("bim,bin->imn", new_basis, old_basis)
        rhs = cross @ self.coef.detach().to(torch.float64).permute(0, 2, 1)
        return fit_coefficients(gram, rhs, RIDGE).permute(0, 2, 1)

    def adaptive_knots(self, x: torch.Tensor, grid_eps: float) -> torch.Tensor:
        """Place knots at sample quantiles mixed with a uniform grid (pykan's rule).

        The interior knots are ``grid_eps * uniform + (1 - grid_eps) *
        quantiles``, where the quantiles are ``x_sorted[floor(B m / G)]`` for
        ``m < G`` plus the maximum, and the uniform grid spans
        ``[min, max]`` of the samples.

        Returns
        -------
        Tensor, shape (in_features, G + 2k + 1)
        """
        grid_size = self.grid_size
        x_sorted = torch.sort(x, dim=0).values
        batch = x_sorted.shape[0]
        index = [math.floor(batch * m / grid_size) for m in range(grid_size)]
        adaptive = torch.cat([x_sorted[index], x_sorted[-1:]], dim=0).T
        fraction = torch.linspace(0, 1, grid_size + 1, dtype=x.dtype, device=x.device)
        low, high = x_sorted[0], x_sorted[-1]
        uniform = low[:, None] + (high - low)[:, None] * fraction
        interior = grid_eps * uniform + (1 - grid_eps) * adaptive
        return extend_knots(interior, self.order)

    def refined_knots(
        self, grid_size: int, samples: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Interpolate the interior knots onto a grid of ``grid_size`` intervals.

        As in pykan 0.2.8's ``refine``, the interior knots are read as a
        piecewise-linear function of an equally spaced parameter and sampled
        at ``grid_size + 1`` equally spaced values, which keeps the range and
        the knot density. When ``grid_size`` is a multiple of the old size,
        the old knots are among the new ones, so the old spline is exactly
        representable on the old interior.

        Unlike pykan, an input whose ``samples`` fall outside the interior
        knots gets its new knots stretched affinely to cover the samples,
        because the new, narrower knot extension would otherwise cut off the
        spline there.

        Returns
        -------
        Tensor, shape (in_features, grid_size + 2k + 1)
        """
        old_size = self.grid_size
        interior = self.knots[:, self.order : self.order + old_size + 1]
        position = torch.linspace(0, old_size, grid_size + 1, dtype=interior.dtype)
        lower = position.floor().long().clamp(max=old_size - 1)
        weight = position - lower
        new_interior = (
            interior[:, lower] * (1 - weight) + interior[:, lower + 1] * weight
        )
        if samples is not None:
            old_low, old_high = interior[:, :1], interior[:, -1:]
            low = torch.minimum(
                old_low, samples.min(dim=0).values.unsqueeze(1).to(interior)
            )
            high = torch.maximum(
                old_high, samples.max(dim=0).values.unsqueeze(1).to(interior)
            )
            stretch = (high - low) / (old_high - old_low)
            new_interior = low + (new_interior - old_low) * stretch
        return extend_knots(new_interior, self.order)


def _warn_underdetermined_fit(
    x: torch.Tensor, knots: torch.Tensor, order: int, context: str
) -> None:
    """Warn when an input's samples leave a refit of its spline underdetermined.

    A fit of ``G + k`` coefficients needs at least ``G + k`` distinct samples,
    and every basis function whose support overlaps the range of the samples
    needs a sample inside that support (``k + 1`` intervals). Otherwise the
    ridge term, not the data, sets some coefficients, so the refitted spline
    may differ from the old one between the samples. Basis functions beyond
    the range of the samples are not counted: no sample constrains them
    before or after the refit.
    """
    n_basis = knots.shape[1] - order - 1
    starts = knots[:, :n_basis]
    ends = knots[:, order + 1 :]
    sparse_inputs = []
    fewest_samples = None
    max_unsupported = 0
    for i in range(x.shape[1]):
        samples = torch.unique(x[:, i])
        n_distinct = int(samples.numel())
        in_support = torch.searchsorted(
            samples, ends[i].contiguous()
        ) - torch.searchsorted(samples, starts[i].contiguous())
        overlaps = (ends[i] > samples[0]) & (starts[i] < samples[-1])
        n_unsupported = int((overlaps & (in_support == 0)).sum())
        if n_distinct < n_basis or n_unsupported > 0:
            sparse_inputs.append(i)
            fewest_samples = min(n_distinct, fewest_samples or n_distinct)
            max_unsupported = max(max_unsupported, n_unsupported)
    if sparse_inputs:
        msg = (
            f"{context}: inputs {sparse_inputs} have too few samples for a fit of "
            f"{n_basis} coefficients (fewest distinct samples: {fewest_samples}, "
            f"most basis functions without a sample in their support: "
            f"{max_unsupported}); the ridge term sets the unsupported coefficients, "
            "so the spline may change between the samples. Use more training "
            "samples or a smaller grid."
        )
        warnings.warn(msg, GridFitWarning, stacklevel=5)


class KANNetwork(nn.Module):
    """A stack of :class:`KANLayer` of widths ``widths[0] -> ... -> widths[-1]``.

    Parameters
    ----------
    widths : list of int
        Layer widths, input first, at least two entries.
    grid_size, order, grid_range, noise_scale, base_function
        Passed to every layer.
    grid_eps : float
        Uniform share of the knots in :meth:`update_grid`.
    seed : int or None
        Seed of the random initial values; ``None`` draws from torch's
        global generator, so ``torch.manual_seed`` controls them.
    """

    def __init__(
        self,
        widths: list[int],
        grid_size: int,
        order: int,
        grid_range: tuple[float, float] = (-1.0, 1.0),
        noise_scale: float = 0.3,
        grid_eps: float = 0.02,
        base_function: str = "silu",
        seed: int | None = None,
    ):
        super().__init__()
        generator = None if seed is None else torch.Generator().manual_seed(seed)
        self.widths = list(widths)
        self.grid_eps = grid_eps
        self.layers = nn.ModuleList(
            KANLayer(
                n_in,
                n_out,
                grid_size,
                order,
                grid_range=grid_range,
                noise_scale=noise_scale,
                base_function=base_function,
                generator=generator,
            )
            for n_in, n_out in itertools.pairwise(widths)
        )

    @property
    def grid_size(self) -> int:
        """Number of grid intervals of the first layer."""
        return self.layers[0].grid_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map ``(batch, widths[0])`` to ``(batch, widths[-1])``."""
        for layer in self.layers:
            x = layer(x)
        return x

    def update_grid(self, x: torch.Tensor) -> bool:
        """Adapt every layer's knots to the samples ``x`` and refit its spline.

        Layers are updated in order, each on its input as computed by the
        already updated layers before it. Returns ``False`` and changes
        nothing when an activation is not finite.
        """

        def choose_knots(layer: KANLayer, inputs: torch.Tensor) -> torch.Tensor:
            return layer.adaptive_knots(inputs, self.grid_eps)

        return self._regrid(x, choose_knots, "grid update")

    def extend_grid(self, x: torch.Tensor, grid_size: int) -> bool:
        """Refine every layer to ``grid_size`` intervals, refitting at ``x``.

        Returns ``False`` and changes nothing when an activation is not finite.
        """

        def choose_knots(layer: KANLayer, inputs: torch.Tensor) -> torch.Tensor:
            return layer.refined_knots(grid_size, inputs)

        context = f"grid extension to {grid_size} intervals"
        return self._regrid(x, choose_knots, context)

    def _regrid(self, x: torch.Tensor, choose_knots, context: str) -> bool:
        with torch.no_grad():
            activations = [x]
            for layer in self.layers:
                activations.append(layer(activations[-1]))
            if not all(torch.isfinite(h).all() for h in activations):
                msg = f"{context} skipped: the network has non-finite activations"
                warnings.warn(msg, GridFitWarning, stacklevel=3)
                return False
            hidden = x
            for index, layer in enumerate(self.layers):
                knots = choose_knots(layer, hidden)
                layer.refit(hidden, knots, context=f"{context}, layer {index}")
                hidden = layer(hidden)
        return True
