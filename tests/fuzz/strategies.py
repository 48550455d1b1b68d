"""Hypothesis strategies for the fuzz tests: arrays of any dtype, shape, layout and values."""
from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

# Real dtypes the API converts, and the ones it must refuse with TypeError.
REAL_DTYPES = ("float16", "float32", "float64", "int8", "int32", "int64", "uint8", "uint64",
               "bool", ">f4", ">f8")
REFUSED_DTYPES = ("complex64", "complex128", "object", "U3", "S3")
MODEL_DTYPES = ("float32", "float64")

# Values that test the edges: zeros of both signs, subnormals, float32's largest, NaN, Inf.
SPECIAL = (0.0, -0.0, 1e-45, -1e-40, 5e-324, 1e-310, 1e38, -3.4e38, 1e300, np.nan, np.inf,
           -np.inf)

LAYOUTS = ("C", "F", "strided", "reversed", "readonly", "list")


@st.composite
def values(draw, shape, specials=True):
    """float64 values of `shape`: mostly moderate, with special values sprinkled in."""
    n = int(np.prod(shape))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    out = rng.normal(scale=draw(st.sampled_from((1.0, 3.0, 100.0))), size=n)
    if specials and n and draw(st.booleans()):
        k = draw(st.integers(1, min(n, 4)))
        where = rng.choice(n, size=k, replace=False)
        out[where] = [draw(st.sampled_from(SPECIAL)) for _ in range(k)]
    return out.reshape(shape)


def cast(a, dtype):
    """a (float64) as `dtype`, as a user would have it: ints rounded, strings and objects
    holding the numbers."""
    dt = np.dtype(dtype)
    with np.errstate(all="ignore"):
        if dt.kind in "iu":
            info = np.iinfo(dt)
            clean = np.nan_to_num(a, nan=0.0, posinf=info.max, neginf=info.min)
            return np.clip(np.round(clean), info.min, info.max).astype(dt)
        if dt.kind == "b":
            return a > 0
        if dt.kind in "US":
            return np.round(a, 1).astype(dt)
        return a.astype(dt)


def layout(a, kind):
    """The same values as `a` in another memory layout (or as nested lists)."""
    if kind == "F" and a.ndim >= 1:  # asfortranarray makes 0-d arrays 1-d
        return np.asfortranarray(a)
    if kind == "strided" and a.ndim >= 1:
        big = np.zeros((a.shape[0] * 2,) + a.shape[1:], a.dtype)
        big[::2] = a
        return big[::2]
    if kind == "reversed" and a.ndim >= 1:
        return np.ascontiguousarray(a[::-1])[::-1]
    if kind == "readonly":
        r = a.copy()
        r.setflags(write=False)
        return r
    if kind == "list" and a.dtype.kind in "fiub" and 0 not in a.shape:  # [] has no shape
        return a.tolist()
    return a


@st.composite
def arrays(draw, shape, dtypes=REAL_DTYPES, specials=True):
    """(the array as passed, its values as float64 or None for refused dtypes)."""
    base = draw(values(shape, specials))
    dtype = draw(st.sampled_from(dtypes))
    a = cast(base, dtype)
    passed = layout(a, draw(st.sampled_from(LAYOUTS)))
    return passed, (a.astype(np.float64) if a.dtype.kind in "fiub" else None)


def sizes(lo=0, hi=9):
    """Dimension sizes that favour the edges 0 and 1."""
    return st.one_of(st.sampled_from((0, 1, 1, 2)), st.integers(lo, hi)).filter(lambda n: n >= lo)


@st.composite
def nets(draw, dtype=None, max_layers=3):
    """A Sequential of 1-3 Linear layers (widths from 1, bias or not) with activations
    between, of a drawn or given dtype, and the numpy_ref names of its activations."""
    import fastmlp as fm

    from helpers import ACTIVATIONS
    dtype = dtype or draw(st.sampled_from(MODEL_DTYPES))
    widths = draw(st.lists(st.integers(1, 9), min_size=2, max_size=max_layers + 1))
    layers = []
    for i, (a, b) in enumerate(zip(widths[:-1], widths[1:])):
        layers.append(fm.Linear(a, b, bias=draw(st.booleans()), dtype=dtype))
        if i + 2 < len(widths):
            layers.append(ACTIVATIONS[draw(st.sampled_from(sorted(ACTIVATIONS)))][0]())
    return fm.Sequential(*layers, dtype=dtype, seed=draw(st.integers(0, 2**16)))
