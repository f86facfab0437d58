"""toolkit: a plugin-based benchmark and interpretability toolkit for
AI-for-science methods.

The public API for plugin authors is re-exported here: the component base
classes, the ``hookimpl`` marker and the data types they exchange.
"""

from __future__ import annotations

__version__ = "0.1.0"

from toolkit.hookspecs import hookimpl
from toolkit.interfaces import (
    Architecture,
    BudgetExhausted,
    Component,
    ComponentConfig,
    Distiller,
    InverseProblem,
    Metric,
    NotApplicable,
    Probe,
    ProbeFit,
    Program,
    RunContext,
    Sampler,
    Samples,
    Target,
    Task,
)

__all__ = [
    "Architecture",
    "BudgetExhausted",
    "Component",
    "ComponentConfig",
    "Distiller",
    "InverseProblem",
    "Metric",
    "NotApplicable",
    "Probe",
    "ProbeFit",
    "Program",
    "RunContext",
    "Sampler",
    "Samples",
    "Target",
    "Task",
    "__version__",
    "hookimpl",
]
