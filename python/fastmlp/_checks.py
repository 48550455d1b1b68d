"""Validation at the boundary: one place that turns user input into what the core expects."""
from __future__ import annotations

import importlib
import math
import os
import sys
from typing import TYPE_CHECKING, Protocol, Tuple, Union, cast

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from scipy.sparse import sparray, spmatrix
    from typing_extensions import TypeIs

# The array types that cross into the core (runtime expressions: no `X | Y` on Python 3.9).
FloatDType = np.dtype[Union[np.float32, np.float64]]
FloatArray = npt.NDArray[Union[np.float32, np.float64]]
Float32Array = npt.NDArray[np.float32]
Float64Array = npt.NDArray[np.float64]
LabelArray = npt.NDArray[np.int64]
IndexArray = npt.NDArray[np.integer]
# What real_array() lets through: booleans, integers and floats of any width.
RealArray = npt.NDArray[Union[np.bool_, np.integer, np.floating]]
Targets = Union[FloatArray, LabelArray]


class _CsrArrays(Protocol):
    """What fastmlp reads of a scipy.sparse CSR matrix or array."""

    @property
    def data(self) -> npt.NDArray[np.generic]: ...

    @property
    def indices(self) -> IndexArray: ...

    @property
    def indptr(self) -> IndexArray: ...


class _Sparse(Protocol):
    """What fastmlp reads of a scipy.sparse matrix or array, of any format."""

    @property
    def shape(self) -> tuple[int, ...]: ...

    def tocsr(self) -> _CsrArrays: ...


class CsrRows:
    """Rows of sparse x as a model reads them natively: scipy's CSR arrays, the values of
    the model's dtype. Slicing takes a range of rows (views of the values, no copy)."""

    def __init__(self, data: FloatArray, indices: IndexArray, indptr: IndexArray,
                 n_cols: int) -> None:
        self.data, self.indices, self.indptr = data, indices, indptr
        self.shape = (len(indptr) - 1, n_cols)

    def __getitem__(self, rows: slice) -> CsrRows:
        start, stop, step = rows.indices(self.shape[0])
        if step != 1 or stop < start:
            raise IndexError("CsrRows takes a range of rows")
        lo, hi = int(self.indptr[start]), int(self.indptr[stop])
        return CsrRows(self.data[lo:hi], self.indices[lo:hi], self.indptr[start:stop + 1] - lo,
                       self.shape[1])


# What a model's predict, fit and train_step take as x (scipy's names are for the type
# checker only), and what they pass on.
XLike = Union[npt.ArrayLike, "sparray", "spmatrix", CsrRows]
ModelInput = Union[FloatArray, CsrRows]
TrainingData = Tuple[ModelInput, Targets]
# A file to save to or load from.
FilePath = Union[str, "os.PathLike[str]"]

DTYPES: dict[str, FloatDType] = {"float32": np.dtype(np.float32),
                                 "float64": np.dtype(np.float64)}


def model_dtype(dtype: npt.DTypeLike) -> FloatDType:
    try:
        # np.dtype(None) is float64: refuse None before asking NumPy.
        dt = None if dtype is None else np.dtype(dtype)
    except TypeError:
        dt = None
    if dt is None or dt.name not in DTYPES:
        raise TypeError(f"dtype must be 'float32' or 'float64', got {dtype!r}")
    # The native-order dtype of that name: a model's buffers are what the core reads in
    # place ('>f4' would otherwise pick the float64 core, which reads a converted copy).
    return DTYPES[dt.name]


def compute_dtype(*arrays: RealArray) -> FloatDType:
    """The dtype a model-free computation (fm.functional, a loss called directly) runs in:
    float32 and float64 stay, other real dtypes become float64, as scikit-learn does.
    With a model, inputs go to the model's dtype instead."""
    dt = np.result_type(*arrays)
    return dt if dt in (DTYPES["float32"], DTYPES["float64"]) else DTYPES["float64"]


def real_array(a: object, name: str) -> RealArray:
    """np.asarray that refuses complex, object and string data."""
    arr = np.asarray(a)
    if arr.dtype.kind not in "fiub":
        raise TypeError(f"{name} must hold real numbers, got dtype {arr.dtype}")
    return arr


def _check_matrix_shape(shape: tuple[int, ...], name: str, n_cols: int | None) -> None:
    if len(shape) != 2:
        hint = " (use x.reshape(1, -1) for a single sample)" if len(shape) == 1 else ""
        raise ValueError(f"{name} must be 2-D (n_samples, n_features), got shape {shape}{hint}")
    if n_cols is not None and shape[1] != n_cols:
        raise ValueError(f"{name} must have shape (n_samples, {n_cols}), got shape {shape}")


def as_matrix(a: object, name: str, dtype: FloatDType,
              n_cols: int | None = None) -> FloatArray:
    """A C-contiguous 2-D array of `dtype` with n_cols columns (copied only if needed)."""
    if type(a) is np.ndarray and a.dtype == dtype and a.flags.c_contiguous:
        _check_matrix_shape(a.shape, name, n_cols)  # used as it is: the per-step fast path
        return a
    arr = real_array(a, name)
    _check_matrix_shape(arr.shape, name, n_cols)
    return np.ascontiguousarray(arr, dtype=dtype)


def is_sparse(a: object) -> TypeIs[_Sparse]:
    """Whether `a` is a scipy.sparse matrix or array. Asked without importing scipy: while
    scipy.sparse is not loaded, nothing can be one."""
    sparse = sys.modules.get("scipy.sparse")
    return sparse is not None and bool(sparse.issparse(a))


def as_csr(a: _Sparse, name: str, dtype: FloatDType, n_cols: int | None = None) -> CsrRows:
    """scipy.sparse input with n_cols columns as the CSR rows of `dtype` that a model reads
    natively: CSR as given, any other format (CSC, COO, ...) converted once; the values
    copied only to change their dtype. The core checks the structure."""
    _check_matrix_shape(a.shape, name, n_cols)
    csr = a.tocsr()
    if csr.data.dtype.kind not in "fiub":
        raise TypeError(f"{name} must hold real numbers, got dtype {csr.data.dtype}")
    return CsrRows(np.ascontiguousarray(csr.data, dtype=dtype), csr.indices, csr.indptr,
                   a.shape[1])


def as_input(a: object, name: str, dtype: FloatDType, n_cols: int | None = None) -> ModelInput:
    """x for a model: CSR rows for scipy.sparse input (as_csr), else a matrix (as_matrix)."""
    if isinstance(a, CsrRows):
        _check_matrix_shape(a.shape, name, n_cols)
        return a
    if not isinstance(a, np.ndarray) and is_sparse(a):
        return as_csr(a, name, dtype, n_cols)
    return as_matrix(a, name, dtype, n_cols)


# Values whose finiteness is checked at a time: the boolean mask of a block stays small
# (1 MiB) however large the data is.
_FINITE_BLOCK = 1 << 20


def check_finite(arr: RealArray, name: str) -> None:
    if arr.dtype.kind != "f" or arr.size == 0:
        return
    rows = max(1, _FINITE_BLOCK // max(1, arr.size // arr.shape[0]))
    for start in range(0, arr.shape[0], rows):
        if not np.isfinite(arr[start:start + rows]).all():
            # Inf may also be what a value too large for a float32 model became.
            raise ValueError(f"{name} contains NaN or Inf (or a value too large for "
                             f"{arr.dtype})")


def check_nonempty(arr: RealArray | CsrRows, name: str) -> None:
    if 0 in arr.shape:
        raise ValueError(f"{name} is empty: shape {arr.shape}")


def as_targets(y: npt.ArrayLike, name: str, n: int, n_out: int, dtype: FloatDType, labels: bool,
               finite: bool = True) -> Targets:
    """Regression targets as (n, n_out) of dtype, or class labels as (n,) int64."""
    arr = real_array(y, name)
    if labels:
        if arr.dtype.kind not in "iu":
            raise TypeError(f"{name} must be integer class labels, got dtype {arr.dtype}")
        if arr.shape != (n,):
            raise ValueError(f"{name} must have shape ({n},), got shape {arr.shape}")
        if n and (arr.min() < 0 or arr.max() >= n_out):
            raise ValueError(f"{name} must be class labels in [0, {n_out}), "
                             f"got values in [{arr.min()}, {arr.max()}]")
        return np.ascontiguousarray(arr, dtype=np.int64)
    if arr.ndim == 1 and n_out == 1:
        arr = arr.reshape(-1, 1)
    if arr.shape != (n, n_out):
        raise ValueError(f"{name} must have shape ({n}, {n_out}), got shape {np.shape(y)}")
    if arr.dtype == dtype and arr.flags.c_contiguous:
        targets = cast(FloatArray, arr)  # used as it is: the per-step fast path
    else:
        targets = np.ascontiguousarray(arr, dtype=dtype)
    if finite:
        check_finite(targets, name)
    return targets


def sample_weights(w: npt.ArrayLike | None, n: int, dtype: FloatDType) -> FloatArray | None:
    if w is None:
        return None
    arr = real_array(w, "sample_weight")
    if arr.shape != (n,):
        raise ValueError(f"sample_weight must have shape ({n},), got shape {arr.shape}")
    weights = np.ascontiguousarray(arr, dtype=dtype)
    check_finite(weights, "sample_weight")
    if (weights < 0).any() or weights.sum() <= 0:
        raise ValueError("sample_weight must be non-negative with a positive sum")
    return weights


def training_data(x: XLike, y: npt.ArrayLike, name_x: str, name_y: str, n_in: int,
                  n_out: int, dtype: FloatDType, labels: bool,
                  finite: bool = True) -> TrainingData:
    """x as (n, n_in) (dense, or CSR for scipy.sparse input) and y as targets; finite=False
    leaves the NaN/Inf check of x and y to the caller (train_step does it natively, without
    a Python pass)."""
    if (not finite and not labels and type(x) is np.ndarray and type(y) is np.ndarray
            and x.dtype == dtype and y.dtype == dtype and x.flags.c_contiguous
            and y.flags.c_contiguous and x.ndim == 2 and x.shape[0] > 0 and x.shape[1] == n_in
            and y.shape == (x.shape[0], n_out)):
        return x, y  # both used as they are: the per-step fast path
    xa = as_input(x, name_x, dtype, n_in)
    check_nonempty(xa, name_x)
    if finite:
        check_finite(xa if isinstance(xa, np.ndarray) else xa.data, name_x)
    ya = real_array(y, name_y)
    if ya.ndim == 0 or ya.shape[0] != xa.shape[0]:
        raise ValueError(f"{name_x} and {name_y} have different numbers of samples: "
                         f"{xa.shape} and {ya.shape}")
    return xa, as_targets(ya, name_y, xa.shape[0], n_out, dtype, labels, finite)


def inplace_target(a: object, name: str) -> FloatArray:
    """An array that an in-place update can write: exact float dtype, writable, contiguous."""
    if not isinstance(a, np.ndarray):
        raise TypeError(f"{name} must be a numpy.ndarray to update in place, got {type(a).__name__}")
    if a.dtype not in DTYPES.values():
        raise TypeError(f"{name} must have dtype float32 or float64 to update in place, "
                        f"got {a.dtype}")
    if not a.flags.writeable:
        raise ValueError(f"{name} is read-only and cannot be updated in place")
    if not a.flags.c_contiguous:
        raise ValueError(f"{name} must be C-contiguous to be updated in place "
                         f"(an update of a copy would be lost)")
    return a


def exact(a: npt.ArrayLike, name: str, ref: FloatArray, ref_name: str) -> RealArray:
    """`a` must already have ref's dtype and shape (no silent rounding on assignment)."""
    arr = real_array(a, name)
    if arr.dtype != ref.dtype:
        raise TypeError(f"{name} must have dtype {ref.dtype} like {ref_name}, got {arr.dtype}")
    if arr.shape != ref.shape:
        raise ValueError(f"{name} must have the shape of {ref_name} {ref.shape}, got {arr.shape}")
    return arr


def like(a: npt.ArrayLike, name: str, ref: FloatArray, ref_name: str) -> FloatArray:
    """`a` as ref's dtype and shape, contiguous; refuses another shape."""
    arr = real_array(a, name)
    if arr.shape != ref.shape:
        raise ValueError(f"{name} must have the shape of {ref_name} {ref.shape}, got {arr.shape}")
    return np.asarray(arr, dtype=ref.dtype, order="C")  # 0-d stays 0-d


def core_seed(seed: int | None) -> int:
    """A 64-bit seed for the core's PRNG: derived from `seed`, or fresh when it is None."""
    return int(np.random.SeedSequence(seed).generate_state(1, np.uint64)[0])


def non_negative(v: object, name: str) -> float:
    """A finite real >= 0, as float."""
    if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)) \
            or not math.isfinite(v) or v < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {v!r}")
    return float(v)


def positive_int(v: object, name: str) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v <= 0:
        raise ValueError(f"{name} must be a positive int, got {v!r}")
    return int(v)


def target_pair(y_true: npt.ArrayLike, y_pred: npt.ArrayLike) -> tuple[Float64Array, Float64Array]:
    """(y_true, y_pred) as float64 arrays of one shape; (n,) against (n, 1) is the same data,
    anything else must match exactly."""
    t = real_array(y_true, "y_true").astype(np.float64, copy=False)
    p = real_array(y_pred, "y_pred").astype(np.float64, copy=False)
    if t.shape != p.shape:
        if t.size == p.size and t.ndim <= 2 and p.ndim <= 2 and \
                (t.ndim == 1 or t.shape[1] == 1) and (p.ndim == 1 or p.shape[1] == 1):
            t, p = t.reshape(-1), p.reshape(-1)
        else:
            raise ValueError(f"y_true has shape {t.shape} but y_pred has shape {p.shape}")
    if t.size == 0:
        raise ValueError("y_true is empty")
    return t, p


def require_module(module: str, message: str) -> None:
    """Imports an optional dependency, or raises ImportError with `message` (what needs it
    and how to install it)."""
    try:
        importlib.import_module(module)
    except ImportError as e:
        raise ImportError(message) from e
