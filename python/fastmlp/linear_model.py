"""Ordinary least squares: the seed's baseline."""
from __future__ import annotations

import numpy as np
import numpy.typing as npt

from . import _checks


class LinearRegression:
    """Ordinary least squares, ``y ~ x @ coef_ + intercept_``, solved in float64 by
    ``numpy.linalg.lstsq``: the seed's baseline (R's ``lm``).

    After ``fit``, for ``y`` of shape ``(n,)``: ``coef_`` has shape ``(n_features,)`` and
    ``intercept_`` is a float; for ``y`` of shape ``(n, k)``: ``(k, n_features)`` and
    ``(k,)``, as scikit-learn's.

    Parameters
    ----------
    fit_intercept : bool, optional
        Fit an intercept; False fits through the origin (``intercept_`` is 0).
    """

    def __init__(self, fit_intercept: bool = True) -> None:
        self.fit_intercept = fit_intercept
        # NumPy types lstsq's solution as floating, not float64.
        self.coef_: npt.NDArray[np.floating] | None = None
        self.intercept_: float | npt.NDArray[np.floating] | None = None

    def fit(self, x: npt.ArrayLike, y: npt.ArrayLike) -> LinearRegression:
        """Solves the least-squares problem.

        Parameters
        ----------
        x : array_like, shape (n, n_features)
            The samples (finite, at least one).
        y : array_like, shape (n,) or (n, k)
            The targets.

        Returns
        -------
        LinearRegression
            This estimator.
        """
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
        """The fitted values for new samples, in float64.

        Parameters
        ----------
        x : array_like, shape (m, n_features)
            The samples.

        Returns
        -------
        ndarray, shape (m,) or (m, k)
            Shaped as the ``y`` that ``fit`` saw.

        Raises
        ------
        RuntimeError
            Before ``fit``.
        """
        if self.coef_ is None or self.intercept_ is None:
            raise RuntimeError("LinearRegression.predict() called before fit()")
        n_features = self.coef_.shape[-1] if not self._1d else self.coef_.shape[0]
        xa = _checks.as_matrix(x, "x", np.dtype(np.float64), n_features)
        return xa @ (self.coef_ if self._1d else self.coef_.T) + self.intercept_
