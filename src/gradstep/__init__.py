"""gradstep: learn, see and run gradient descent for linear regression.

Every public name is loaded on first use, so ``import gradstep`` (and therefore
``gradstep --help``) imports neither NumPy nor torch nor scikit-learn.
"""

import importlib

__version__ = "0.1.0"

# public name -> the module that defines it
_PUBLIC = {
    "fit": "gradstep.api",
    "least_squares": "gradstep.closed_form",
    "sklearn_least_squares": "gradstep.closed_form",
    "SyntheticData": "gradstep.data",
    "make_data": "gradstep.data",
    "DivergenceError": "gradstep.errors",
    "GradstepError": "gradstep.errors",
    "FitResult": "gradstep.result",
    "History": "gradstep.result",
    "GDRegressor": "gradstep.estimator",
    "race": "gradstep.racing",
    "Race": "gradstep.racing",
    "Trainer": "gradstep.trainer",
    "EarlyStopping": "gradstep.trainer.callbacks",
    "predict": "gradstep.steps",
    "mse_loss": "gradstep.steps",
    "gradients": "gradstep.steps",
    "update": "gradstep.steps",
}
__all__ = sorted(_PUBLIC)


def __getattr__(name: str):
    if name in _PUBLIC:
        return getattr(importlib.import_module(_PUBLIC[name]), name)
    raise AttributeError(f"module 'gradstep' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_PUBLIC))
