"""What every fuzz test asserts of a call: a documented exception naming its argument, or
a result; never anything else (a crash ends the whole run)."""
from __future__ import annotations

import warnings

import numpy as np

from helpers import assert_close

DOCUMENTED = (TypeError, ValueError, RuntimeError)


def outcome(call, names, also=()):
    """call()'s result, or the documented exception it raised, checked to name one of
    `names` (the arguments it may be about), or one of `also` (documented exceptions about
    no argument, such as fit's FloatingPointError). Anything else propagates and fails."""
    try:
        with warnings.catch_warnings():
            # NumPy's own warning when a float64 value beyond float32's range becomes Inf
            # on conversion to a float32 model ("converted as NumPy would").
            warnings.filterwarnings("ignore", "overflow encountered in cast", RuntimeWarning)
            return call()
    except tuple(also) as e:
        return e
    except DOCUMENTED as e:
        msg = str(e)
        assert any(n in msg for n in names), f"{type(e).__name__} names none of {names}: {msg}"
        return e


def moderate(*arrays, bound=1e4):
    """Whether every array is finite and within +-bound: inputs whose results the float64
    reference predicts without overflow."""
    return all(np.all(np.isfinite(a)) and np.all(np.abs(a) <= bound) for a in arrays)


def close(actual, expected, dtype, err_msg=""):
    """The loose comparison of a result against numpy_ref: float32 results carry rounding
    of their own inputs, float64 ones nearly none."""
    rtol = 2e-4 if np.dtype(dtype) == np.float32 else 1e-9
    expected = np.asarray(expected)
    # An absolute floor of rtol: values far below 1 (an activation's tail) may underflow.
    scale = max(1.0, float(np.max(np.abs(expected)))) if expected.size else 1.0
    assert_close(actual, expected, rtol=rtol, scale=scale, err_msg=err_msg)


def as_model(a, dtype):
    """a's values as the model reads them (float64 holding values of `dtype`)."""
    with np.errstate(over="ignore"):
        return np.asarray(a).astype(dtype).astype(np.float64)
