"""Entry point of the ``toolkit_aldi`` plugin: ensemble Langevin samplers and tasks."""

from toolkit import hookimpl

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


@hookimpl
def toolkit_samplers():
    """Return the ensemble Langevin samplers and their baselines."""
    return [
        AldiSampler,
        AldiKalmanSampler,
        EnsembleUnderdampedSampler,
        EnsembleUnderdampedKalmanSampler,
        RandomWalkMetropolis,
        EmceeSampler,
    ]


@hookimpl
def toolkit_tasks():
    """Return the sampler benchmark tasks."""
    return [
        GaussianTask,
        LinearInverseTask,
        EllipticInverseTask,
        BananaTask,
        FunnelTask,
    ]
