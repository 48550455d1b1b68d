"""CSV tables for the command line: reading (pandas when installed, else the csv module),
numeric columns, class labels and the standardization a model file keeps."""
from __future__ import annotations

import csv
import json
from dataclasses import asdict, dataclass, field
from typing import Dict, List, Optional, Tuple

import numpy as np
import numpy.typing as npt

Matrix = npt.NDArray[np.float64]


class TableError(ValueError):
    """A problem with the user's table or model file: one line, no traceback."""


def read_csv(path: str) -> Dict[str, List[str]]:
    """Reads a CSV file with a header row.

    Parameters
    ----------
    path : str
        The file.

    Returns
    -------
    dict of str to list of str
        The columns by header name, in file order, every value a string.

    Raises
    ------
    TableError
        A missing, unreadable or empty file, repeated column names, or rows of another
        length than the header (with pandas: longer rows; pandas reads a shorter row's
        missing fields as empty).
    """
    try:
        import pandas
    except ImportError:
        pandas = None
    try:
        if pandas is not None:
            with open(path, newline="") as f:
                header = next(csv.reader(f), [])
            # pandas would rename repeated names ("a", "a.1"): refuse them as below.
            if len(set(header)) != len(header):
                raise TableError(f"{path}: repeated column names in the header")
            frame = pandas.read_csv(path, dtype=str, keep_default_na=False)
            return {str(c): frame[c].tolist() for c in frame.columns}
        with open(path, newline="") as f:
            rows = list(csv.reader(f))
    except FileNotFoundError:
        raise TableError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise TableError(f"{path}: cannot read it as CSV ({e})") from None
    except ValueError as e:  # pandas' ParserError and EmptyDataError
        raise TableError(f"{path}: cannot read it as CSV ({str(e).strip()})") from None
    if not rows:
        raise TableError(f"{path}: empty file (a header row is needed)")
    header, body = rows[0], rows[1:]
    if len(set(header)) != len(header):
        raise TableError(f"{path}: repeated column names in the header")
    for i, row in enumerate(body, start=2):
        if len(row) != len(header):
            raise TableError(f"{path}: line {i} has {len(row)} fields, the header {len(header)}")
    return {name: [row[j] for row in body] for j, name in enumerate(header)}


def numeric(values: List[str], name: str) -> Optional[Matrix]:
    """A column as numbers.

    Parameters
    ----------
    values : list of str
        The column.
    name : str
        Its name, for the error message.

    Returns
    -------
    ndarray of float64 or None
        None when some value is not a number.

    Raises
    ------
    TableError
        A NaN or infinite value.
    """
    try:
        out = np.array([float(v) for v in values], dtype=np.float64)
    except ValueError:
        return None
    if not np.isfinite(out).all():
        raise TableError(f"column {name!r} has missing or infinite values")
    return out


def features(table: Dict[str, List[str]], names: List[str]) -> Matrix:
    """The feature matrix of a table.

    Parameters
    ----------
    table : dict of str to list of str
        From `read_csv`.
    names : list of str
        The feature columns, in the model's order.

    Returns
    -------
    ndarray, shape (n, len(names))
        float64.

    Raises
    ------
    TableError
        A missing or non-numeric column.
    """
    missing = [n for n in names if n not in table]
    if missing:
        raise TableError(f"missing column(s) {missing}; the table has {list(table)}")
    cols = []
    for n in names:
        col = numeric(table[n], n)
        if col is None:
            bad = next(v for v in table[n] if not is_number(v))
            raise TableError(f"feature column {n!r} is not numeric (value {bad!r})")
        cols.append(col)
    return np.stack(cols, axis=1) if cols else np.zeros((0, 0))


def is_number(v: str) -> bool:
    """Whether ``float`` reads the text as a number.

    Parameters
    ----------
    v : str
        The text.

    Returns
    -------
    bool
    """
    try:
        float(v)
        return True
    except ValueError:
        return False


@dataclass
class Preprocessing:
    """What ``fastmlp predict`` needs besides the network, kept in the model file as JSON
    under the metadata key ``KEY``.

    Parameters
    ----------
    features : list of str
        The feature columns, in the order of the network's inputs.
    target : str
        The target column, the name of the prediction column.
    task : {"regression", "classification"}
        The task.
    classes : list of str, optional
        The class labels, in the order of the network's outputs.
    x_mean : list of float, optional
        The features' means; empty when the features are not standardized.
    x_std : list of float, optional
        The features' standard deviations.
    y_mean : float, optional
        The regression target's mean (0 when not standardized).
    y_std : float, optional
        The regression target's standard deviation (1 when not standardized).
    """
    features: List[str]
    target: str
    task: str                                       # "regression" or "classification"
    classes: List[str] = field(default_factory=list)  # labels in output order
    x_mean: List[float] = field(default_factory=list)  # empty: not standardized
    x_std: List[float] = field(default_factory=list)
    y_mean: float = 0.0
    y_std: float = 1.0

    KEY = "fastmlp.cli"

    def to_json(self) -> str:
        """The fields as a JSON object.

        Returns
        -------
        str
        """
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> "Preprocessing":
        """Reads what `to_json` wrote.

        Parameters
        ----------
        text : str
            The JSON text.

        Returns
        -------
        Preprocessing
        """
        return cls(**json.loads(text))

    def scale(self, x: Matrix) -> Matrix:
        """The features standardized as in training (unchanged when they were not).

        Parameters
        ----------
        x : ndarray, shape (n, len(features))
            Raw features.

        Returns
        -------
        ndarray
        """
        if not self.x_mean:
            return x
        scaled: Matrix = (x - np.array(self.x_mean)) / np.array(self.x_std)
        return scaled


def fit_standardization(x: Matrix) -> Tuple[Matrix, Matrix]:
    """The mean and standard deviation of each column (1 where a column is constant).

    Parameters
    ----------
    x : ndarray, shape (n, d)
        The training rows.

    Returns
    -------
    (ndarray, ndarray)
        Each of shape (d,).
    """
    mean: Matrix = x.mean(axis=0)
    std: Matrix = x.std(axis=0)
    return mean, np.where(std > 0, std, 1.0)
