"""Parameter: a named weight whose storage the native code reads and writes in place."""
from __future__ import annotations

import numpy as np

from . import _checks


class Parameter:
    """A named weight: `.data` and `.grad` are views the native code reads and writes in place."""

    def __init__(self, data: np.ndarray, grad: np.ndarray, name: str = ""):
        self._data, self._grad, self.name = data, grad, name

    @property
    def data(self) -> np.ndarray:
        return self._data

    @data.setter
    def data(self, value) -> None:
        self._data[...] = _checks.exact(value, "data", self._data, self.name or "parameter")

    @property
    def grad(self) -> np.ndarray:
        return self._grad

    @property
    def shape(self) -> tuple:
        return self._data.shape

    @property
    def dtype(self) -> np.dtype:
        return self._data.dtype

    def move_to(self, data: np.ndarray, grad: np.ndarray) -> None:
        """Makes `data` and `grad` (views into a model's flat buffers) this parameter's
        storage, keeping its current values; used by Sequential when it takes a layer in."""
        if data.shape != self.shape or grad.shape != self.shape:
            raise ValueError(f"{self.name or 'parameter'} has shape {self.shape}, "
                             f"got storage of shapes {data.shape} and {grad.shape}")
        data[...] = self._data
        self._data, self._grad = data, grad

    def __repr__(self) -> str:
        return f"Parameter(name={self.name!r}, shape={self.shape}, dtype={self.dtype})"
