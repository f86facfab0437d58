"""Kolmogorov-Arnold networks (KAN), MLP baselines and the KAN-vs-MLP tasks.

Components: the ``kan`` and ``mlp`` Architectures, and the
``spectral-bias``, ``grf`` and ``feynman`` Tasks. The plugin's entry point is
:mod:`toolkit_kan.plugin`.
"""

from toolkit_kan.architectures import (
    KAN,
    MLP,
    KANConfig,
    MLPConfig,
    count_kan_parameters,
    count_mlp_parameters,
    mlp_matching_kan,
)

__all__ = [
    "KAN",
    "MLP",
    "GridFitWarning",
    "KANConfig",
    "KANLayer",
    "KANNetwork",
    "MLPConfig",
    "count_kan_parameters",
    "count_mlp_parameters",
    "mlp_matching_kan",
]

_TORCH_NAMES = {"GridFitWarning", "KANLayer", "KANNetwork"}


def __getattr__(name: str):
    # The torch-backed classes load on first use, so that listing plugins
    # does not import torch.
    if name in _TORCH_NAMES:
        from toolkit_kan import _network

        return getattr(_network, name)
    msg = f"module 'toolkit_kan' has no attribute {name!r}"
    raise AttributeError(msg)
