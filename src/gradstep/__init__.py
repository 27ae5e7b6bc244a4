"""gradstep: learn, see and run gradient descent for linear regression."""

from gradstep.api import fit
from gradstep.closed_form import least_squares, sklearn_least_squares
from gradstep.data import SyntheticData, make_data
from gradstep.errors import DivergenceError, GradstepError
from gradstep.result import FitResult, History

__all__ = [
    "DivergenceError",
    "EarlyStopping",
    "FitResult",
    "GDRegressor",
    "GradstepError",
    "History",
    "SyntheticData",
    "Trainer",
    "fit",
    "least_squares",
    "make_data",
    "sklearn_least_squares",
]
__version__ = "0.1.0"

# Public names whose modules import heavy packages (scikit-learn, torch): loaded on
# first use, so `import gradstep` stays light.
_LAZY = {
    "GDRegressor": "gradstep.estimator",
    "Trainer": "gradstep.trainer",
    "EarlyStopping": "gradstep.trainer.callbacks",
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'gradstep' has no attribute {name!r}")
