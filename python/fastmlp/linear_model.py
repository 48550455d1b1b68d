"""Ordinary least squares: the seed's baseline."""
from __future__ import annotations

import numpy as np
import numpy.typing as npt

from . import _checks


class LinearRegression:
    """y ~ x @ coef_ + intercept_, solved by numpy.linalg.lstsq."""

    def __init__(self, fit_intercept: bool = True) -> None:
        self.fit_intercept = fit_intercept
        # NumPy types lstsq's solution as floating, not float64.
        self.coef_: npt.NDArray[np.floating] | None = None
        self.intercept_: float | npt.NDArray[np.floating] | None = None

    def fit(self, x: npt.ArrayLike, y: npt.ArrayLike) -> LinearRegression:
        xa = _checks.as_matrix(x, "x", np.dtype(np.float64))
        _checks.check_nonempty(xa, "x")
        _checks.check_finite(xa, "x")
        ya = _checks.real_array(y, "y")
        self._1d = ya.ndim == 1
        ya = _checks.as_targets(ya, "y", xa.shape[0], 1 if self._1d else ya.shape[-1],
                                np.dtype(np.float64), labels=False)
        design = np.hstack([xa, np.ones((xa.shape[0], 1))]) if self.fit_intercept else xa
        sol = np.linalg.lstsq(design, ya, rcond=None)[0]
        coef, icpt = (sol[:-1], sol[-1]) if self.fit_intercept else (sol, np.zeros(sol.shape[1]))
        self.coef_ = coef[:, 0] if self._1d else coef.T
        self.intercept_ = float(icpt[0]) if self._1d else icpt
        return self

    def predict(self, x: npt.ArrayLike) -> npt.NDArray[np.floating]:
        if self.coef_ is None or self.intercept_ is None:
            raise RuntimeError("LinearRegression.predict() called before fit()")
        n_features = self.coef_.shape[-1] if not self._1d else self.coef_.shape[0]
        xa = _checks.as_matrix(x, "x", np.dtype(np.float64), n_features)
        return xa @ (self.coef_ if self._1d else self.coef_.T) + self.intercept_
