"""Parameter: a named weight whose storage the native code reads and writes in place."""
from __future__ import annotations

import numpy.typing as npt

from . import _checks
from ._checks import FloatArray, FloatDType


class Parameter:
    """A named weight: `.data` and `.grad` are views the native code reads and writes in place."""

    def __init__(self, data: FloatArray, grad: FloatArray, name: str = "") -> None:
        self._data, self._grad, self.name = data, grad, name

    @property
    def data(self) -> FloatArray:
        return self._data

    @data.setter
    def data(self, value: npt.ArrayLike) -> None:
        self._data[...] = _checks.exact(value, "data", self._data, self.name or "parameter")

    @property
    def grad(self) -> FloatArray:
        return self._grad

    @property
    def shape(self) -> tuple[int, ...]:
        return self._data.shape

    @property
    def dtype(self) -> FloatDType:
        return self._data.dtype

    def move_to(self, data: FloatArray, grad: FloatArray) -> None:
        """Makes `data` and `grad` (views into a model's flat buffers) this parameter's
        storage, keeping its current values; used by Sequential when it takes a layer in."""
        if data.shape != self.shape or grad.shape != self.shape:
            raise ValueError(f"{self.name or 'parameter'} has shape {self.shape}, "
                             f"got storage of shapes {data.shape} and {grad.shape}")
        data[...] = self._data
        self._data, self._grad = data, grad

    def __repr__(self) -> str:
        return f"Parameter(name={self.name!r}, shape={self.shape}, dtype={self.dtype})"
