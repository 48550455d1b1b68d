"""Parameter: a named weight whose storage the native code reads and writes in place."""
from __future__ import annotations

import numpy as np
import numpy.typing as npt

from . import _checks
from ._checks import FloatArray, FloatDType

# Flat buffers start on a cache line: numpy gives 16 bytes, and with every vector
# of an update split across two lines the Adam loop over 2.1M float32 values ran
# 10-14% slower (Zen 5, AVX-512).
_LINE = 64


def zeros_aligned(n: int, dtype: FloatDType) -> FloatArray:
    """Zeros whose first value starts a 64-byte cache line (a flat buffer's storage).

    Parameters
    ----------
    n : int
        How many values.
    dtype : numpy dtype
        Their dtype (float32 or float64).

    Returns
    -------
    ndarray
        A 1-d view of n zeros into a slightly larger array.
    """
    item = np.dtype(dtype).itemsize
    raw = np.zeros(n + _LINE // item, dtype)
    skip = (-raw.ctypes.data % _LINE) // item
    return raw[skip:skip + n]


class Parameter:
    """A named weight whose ``.data`` and ``.grad`` the native code reads and writes in place.

    Inside a `Sequential`, both are views into the model's one flat parameter buffer and
    one flat gradient buffer, so an optimizer step or ``fit`` changes exactly the arrays
    the user holds. Parameters are made by the layers; users rarely construct one.

    Parameters
    ----------
    data : ndarray of float32 or float64
        The storage of the values, used as it is (not copied).
    grad : ndarray
        The storage of the gradient, of data's shape and dtype.
    name : str, optional
        The name ``named_parameters()`` gives, such as ``"0.weight"`` (set by `Sequential`).
    """

    def __init__(self, data: FloatArray, grad: FloatArray, name: str = "") -> None:
        self._data, self._grad, self.name = data, grad, name

    @property
    def data(self) -> FloatArray:
        """The values: a writable view. Assigning ``p.data = a`` copies ``a`` in, which must
        already have this parameter's dtype and shape (nothing is rounded silently)."""
        return self._data

    @data.setter
    def data(self, value: npt.ArrayLike) -> None:
        self._data[...] = _checks.exact(value, "data", self._data, self.name or "parameter")

    @property
    def grad(self) -> FloatArray:
        """The gradient that ``backward`` accumulates into: a writable view."""
        return self._grad

    @property
    def shape(self) -> tuple[int, ...]:
        """The shape of ``data`` and ``grad``; a Linear weight is ``(in, out)``."""
        return self._data.shape

    @property
    def dtype(self) -> FloatDType:
        """float32 or float64: the dtype of the model that owns the parameter."""
        return self._data.dtype

    def move_to(self, data: FloatArray, grad: FloatArray) -> None:
        """Makes new arrays this parameter's storage, keeping its current values.

        `Sequential` calls it when it takes a layer in, to move the weights into its flat
        buffers.

        Parameters
        ----------
        data : ndarray
            The new storage of the values (a view into a flat buffer), of the same shape.
        grad : ndarray
            The new storage of the gradient, of the same shape.

        Raises
        ------
        ValueError
            If either array has another shape.
        """
        if data.shape != self.shape or grad.shape != self.shape:
            raise ValueError(f"{self.name or 'parameter'} has shape {self.shape}, "
                             f"got storage of shapes {data.shape} and {grad.shape}")
        data[...] = self._data
        self._data, self._grad = data, grad

    def __repr__(self) -> str:
        return f"Parameter(name={self.name!r}, shape={self.shape}, dtype={self.dtype})"
