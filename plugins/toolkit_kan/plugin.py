"""Entry point of the ``toolkit_kan`` plugin."""

from toolkit import hookimpl
from toolkit_kan._grf import GRF
from toolkit_kan._spectral import SpectralBias
from toolkit_kan.architectures import KAN, MLP
from toolkit_kan.feynman import Feynman


@hookimpl
def toolkit_architectures():
    return [KAN, MLP]


@hookimpl
def toolkit_tasks():
    return [SpectralBias, GRF, Feynman]
