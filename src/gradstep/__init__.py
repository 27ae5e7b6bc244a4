"""gradstep: learn, see and run gradient descent for linear regression."""

from gradstep.api import fit
from gradstep.closed_form import least_squares, sklearn_least_squares
from gradstep.data import SyntheticData, make_data
from gradstep.errors import DivergenceError, GradstepError
from gradstep.result import FitResult, History

__all__ = [
    "DivergenceError",
    "FitResult",
    "GradstepError",
    "History",
    "SyntheticData",
    "fit",
    "least_squares",
    "make_data",
    "sklearn_least_squares",
]
__version__ = "0.1.0"
