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
    """Columns by header name, in file order, as strings."""
    try:
        import pandas
    except ImportError:
        pandas = None
    try:
        if pandas is not None:
            frame = pandas.read_csv(path, dtype=str, keep_default_na=False)
            return {str(c): frame[c].tolist() for c in frame.columns}
        with open(path, newline="") as f:
            rows = list(csv.reader(f))
    except FileNotFoundError:
        raise TableError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise TableError(f"{path}: cannot read it as CSV ({e})") from None
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
    """The column as float64, or None when some value is not a number."""
    try:
        out = np.array([float(v) for v in values], dtype=np.float64)
    except ValueError:
        return None
    if not np.isfinite(out).all():
        raise TableError(f"column {name!r} has missing or infinite values")
    return out


def features(table: Dict[str, List[str]], names: List[str]) -> Matrix:
    """The named columns as an (n, len(names)) float64 matrix."""
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
    try:
        float(v)
        return True
    except ValueError:
        return False


@dataclass
class Preprocessing:
    """What `fastmlp predict` needs besides the network, kept in the model file."""
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
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> "Preprocessing":
        return cls(**json.loads(text))

    def scale(self, x: Matrix) -> Matrix:
        if not self.x_mean:
            return x
        scaled: Matrix = (x - np.array(self.x_mean)) / np.array(self.x_std)
        return scaled


def fit_standardization(x: Matrix) -> Tuple[Matrix, Matrix]:
    """Mean and standard deviation per column (1 where a column is constant)."""
    mean: Matrix = x.mean(axis=0)
    std: Matrix = x.std(axis=0)
    return mean, np.where(std > 0, std, 1.0)
