"""Ensemble Langevin samplers (ALDI, second-order ensemble Langevin) and their tasks.

Samplers: ``aldi``, ``aldi-kalman``, ``ensemble-underdamped``,
``ensemble-underdamped-kalman`` and the baselines ``rwm`` and ``emcee``.
Tasks: ``gaussian``, ``linear-inverse``, ``elliptic-inverse``, ``banana`` and
``funnel``.
"""

from toolkit_aldi.aldi import AldiKalmanSampler, AldiSampler
from toolkit_aldi.baselines import EmceeSampler, RandomWalkMetropolis
from toolkit_aldi.tasks import (
    BananaTask,
    EllipticInverseTask,
    FunnelTask,
    GaussianTask,
    LinearInverseTask,
)
from toolkit_aldi.underdamped import (
    EnsembleUnderdampedKalmanSampler,
    EnsembleUnderdampedSampler,
)

__all__ = [
    "AldiKalmanSampler",
    "AldiSampler",
    "BananaTask",
    "EllipticInverseTask",
    "EmceeSampler",
    "EnsembleUnderdampedKalmanSampler",
    "EnsembleUnderdampedSampler",
    "FunnelTask",
    "GaussianTask",
    "LinearInverseTask",
    "RandomWalkMetropolis",
]
