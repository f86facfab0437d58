"""toolkit: a plugin-based benchmark and interpretability toolkit for
AI-for-science methods.

The public API for plugin authors is re-exported here: the component base
classes, the ``hookimpl`` marker and the data types they exchange. Names are
imported on first use, so that ``toolkit --help`` starts without loading
numpy or pydantic.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "hookimpl": "toolkit.hookspecs",
    "Architecture": "toolkit.interfaces",
    "BudgetExhausted": "toolkit.interfaces",
    "Component": "toolkit.interfaces",
    "ComponentConfig": "toolkit.interfaces",
    "Distiller": "toolkit.interfaces",
    "InverseProblem": "toolkit.interfaces",
    "Metric": "toolkit.interfaces",
    "NotApplicable": "toolkit.interfaces",
    "Probe": "toolkit.interfaces",
    "ProbeFit": "toolkit.interfaces",
    "Program": "toolkit.interfaces",
    "RunContext": "toolkit.interfaces",
    "Sampler": "toolkit.interfaces",
    "Samples": "toolkit.interfaces",
    "Target": "toolkit.interfaces",
    "Task": "toolkit.interfaces",
}

__all__ = sorted([*_EXPORTS, "__version__"])


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        msg = f"module 'toolkit' has no attribute {name!r}"
        raise AttributeError(msg)
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
