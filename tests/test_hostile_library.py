"""Hostile calls to the library: one GradstepError line, checked before any work."""

import numpy as np
import pytest

import gradstep
from gradstep import GradstepError

X = np.linspace(0, 1, 20)
Y = 1 + 2 * X


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"epochs": 10**12}, "more than memory holds"),
        ({"seed": 2**64}, "seed=18446744073709551616 must be a whole number from 0 to 2**32 - 1"),
        ({"seed": -1}, "seed=-1"),
        ({"start_epoch": -5}, "start_epoch=-5 must be a whole number >= 0"),
        ({"lr": float("nan")}, "lr=nan"),
        ({"engine": "fortran"}, "engine='fortran' is not known"),
        ({"engine": "stats", "batch_size": 4}, "does not run mini-batch"),
        ({"engine": "numpy", "dtype": "float32"}, "computes in float64 only"),
        ({"engine": "numpy", "device": "cuda"}, "runs on the CPU only"),
        ({"dtype": "float16"}, "dtype='float16' is not known"),
    ],
    ids=lambda v: str(v)[:40],
)
def test_bad_arguments_are_one_line(kwargs, fragment):
    with pytest.raises(GradstepError) as info:
        gradstep.fit(X, Y, **kwargs)
    message = str(info.value)
    assert fragment in message and "\n" not in message


@pytest.mark.parametrize("which", ["x", "y"])
def test_complex_input_is_refused_not_truncated(which):
    x, y = (X + 1j * X, Y) if which == "x" else (X, Y + 0.5j)
    with pytest.raises(GradstepError, match=f"training {which} holds complex numbers"):
        gradstep.fit(x, y)


@pytest.mark.parametrize("engine", ["numpy", "stats", "compiled"])
def test_nan_is_named_for_every_engine(engine):
    y = Y.copy()
    y[7] = np.nan
    with pytest.raises(GradstepError, match="training y contains NaN at row 7"):
        gradstep.fit(X, y, engine=engine, epochs=3)
