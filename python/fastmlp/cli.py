"""The `fastmlp` command: train, predict, info and export on CSV files, a quick bench and the
seed demo.

Errors in the user's files or arguments print one line on stderr and exit with status 2
(1 for an internal error), never a traceback."""
from __future__ import annotations

import argparse
import csv
import json
import sys
from typing import List, NoReturn, Optional, Tuple

import numpy as np
import numpy.typing as npt

from . import demo, metrics, onnx, quickbench, saving
from .nn import LAYER_TYPES, Linear, Sequential
from .optim import Adam
from .tabular import (Matrix, Preprocessing, TableError, features, fit_standardization,
                      is_number, numeric, read_csv)
from .training import History

Indices = npt.NDArray[np.intp]

_ACTIVATION_LAYERS = {"relu": "ReLU", "tanh": "Tanh", "sigmoid": "Sigmoid", "gelu": "GELU",
                      "silu": "SiLU", "leaky_relu": "LeakyReLU", "softplus": "Softplus"}
ACTIVATIONS = tuple(_ACTIVATION_LAYERS)
# An integer target with at most this many distinct values is taken as class labels.
_MAX_INTEGER_CLASSES = 10


def _hidden(text: str) -> List[int]:
    try:
        sizes = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"--hidden takes sizes like 64,64, got {text!r}")
    if any(s <= 0 for s in sizes):
        raise argparse.ArgumentTypeError(f"--hidden sizes must be positive, got {text!r}")
    return sizes


def _positive_int(text: str) -> int:
    v = int(text)
    if v <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text}")
    return v


def _positive_float(text: str) -> float:
    v = float(text)
    if not v > 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text}")
    return v


def _choose_task(target: List[str], asked: Optional[str], name: str) -> str:
    if asked:
        return asked
    y = numeric(target, name)
    if y is None:
        why = "is not numeric"
        task = "classification"
    elif np.all(y == np.round(y)) and len(np.unique(y)) <= _MAX_INTEGER_CLASSES:
        why, task = f"has {len(np.unique(y))} distinct integer values", "classification"
    else:
        why, task = "is numeric", "regression"
    print(f"fastmlp: task {task} (target {name!r} {why}; --task overrides)", file=sys.stderr)
    return task


def _class_order(values: List[str]) -> List[str]:
    """Class labels sorted as numbers when they all are, else as strings."""
    unique = sorted(set(values))
    if all(is_number(v) for v in unique):
        unique.sort(key=float)
    return unique


def _build(sizes: List[int], activation: str, seed: int) -> Sequential:
    act = LAYER_TYPES[_ACTIVATION_LAYERS[activation]]
    layers = []
    for i in range(len(sizes) - 1):
        if i:
            layers.append(act())
        layers.append(Linear(sizes[i], sizes[i + 1]))
    return Sequential(*layers, seed=seed)


def train(args: argparse.Namespace) -> None:
    """``fastmlp train``: fits a network to a CSV file and saves it with what ``predict``
    needs (feature names, task, class labels, standardization).

    Parameters
    ----------
    args : argparse.Namespace
        The parsed arguments of the subcommand (see ``fastmlp train --help``).

    Raises
    ------
    TableError
        A problem with the file or the columns, which `main` prints as one line.
    """
    table = read_csv(args.data)
    if args.target not in table:
        raise TableError(f"no column {args.target!r} in {args.data}; columns: {list(table)}")
    names = [c for c in table if c != args.target]
    if not names:
        raise TableError(f"{args.data} has no feature columns besides {args.target!r}")
    x = features(table, names)
    raw_y = table[args.target]
    if len(raw_y) < 2:
        raise TableError(f"{args.data} needs at least 2 rows, got {len(raw_y)}")
    task = _choose_task(raw_y, args.task, args.target)
    prep = Preprocessing(features=names, target=args.target, task=task)
    y: npt.NDArray[np.generic]
    if task == "classification":
        prep.classes = _class_order(raw_y)
        index = {c: i for i, c in enumerate(prep.classes)}
        y = np.array([index[v] for v in raw_y], dtype=np.int64)
        if len(prep.classes) < 2:
            raise TableError(f"target {args.target!r} has a single class {prep.classes[0]!r}")
    else:
        target = numeric(raw_y, args.target)
        if target is None:
            raise TableError(f"target {args.target!r} is not numeric: use --task classification")
        y = target

    rng = np.random.default_rng(args.seed)
    order = rng.permutation(len(y))
    n_val = int(round(len(y) * args.val_split)) if args.val_split else 0
    if args.val_split and not 0 < n_val < len(y):
        raise TableError(f"--val-split {args.val_split} leaves no rows for training or validation")
    val, tr = order[:n_val], order[n_val:]
    if args.standardize:
        mean, std = fit_standardization(x[tr])
        prep.x_mean, prep.x_std = mean.tolist(), std.tolist()
        if task == "regression":
            prep.y_mean, prep.y_std = float(y[tr].mean()), float(y[tr].std() or 1.0)
    xs = prep.scale(x).astype(np.float32)
    ys = y if task == "classification" else \
        ((y.astype(np.float64) - prep.y_mean) / prep.y_std).astype(np.float32)

    out = len(prep.classes) if task == "classification" else 1
    net = _build([len(names), *args.hidden, out], args.activation, args.seed)
    loss = "cross_entropy" if task == "classification" else "mse"
    hist = net.fit(xs[tr], ys[tr], loss=loss, optimizer=Adam(net.parameters(), lr=args.lr),
                   epochs=args.epochs, batch_size=args.batch_size, seed=args.seed,
                   validation_data=(xs[val], ys[val]) if n_val else None, log_every=args.log_every,
                   progress=sys.stderr.isatty())  # a bar for people, not for pipes and logs
    _report(net, prep, x, y, tr, val, hist)
    saving.save(net, args.out, metadata={Preprocessing.KEY: prep.to_json()})
    print(f"saved {args.out}")


def _outputs(net: Sequential, prep: Preprocessing, x: np.ndarray) -> np.ndarray:
    """Network outputs for raw features: logits, or regression values in the target's units."""
    out = net.predict(prep.scale(x).astype(net.dtype)).astype(np.float64)
    return out if prep.task == "classification" else out * prep.y_std + prep.y_mean


def _report(net: Sequential, prep: Preprocessing, x: Matrix, y: npt.NDArray[np.generic],
            tr: Indices, val: Indices, hist: History) -> None:
    rows = [("train", tr)] + ([("validation", val)] if len(val) else [])
    if prep.task == "classification":
        print(f"{'rows':<12}{'n':>8}{'accuracy':>12}")
        for name, idx in rows:
            acc = metrics.accuracy(y[idx], _outputs(net, prep, x[idx]).argmax(1))
            print(f"{name:<12}{len(idx):>8}{acc:>12.4f}")
    else:
        print(f"{'rows':<12}{'n':>8}{'r2':>12}{'mae':>12}")
        for name, idx in rows:
            p = _outputs(net, prep, x[idx])[:, 0]
            print(f"{name:<12}{len(idx):>8}{metrics.r2_score(y[idx], p):>12.4f}"
                  f"{metrics.mae(y[idx], p):>12.4g}")
    print(f"final training loss {hist.loss[-1]:.6g} after {hist.epochs} epochs")


def _load(path: str) -> Tuple[Sequential, Optional[Preprocessing]]:
    try:
        net = saving.load(path)
        meta = saving.read_metadata(path)
    except FileNotFoundError:
        raise TableError(f"{path}: no such file") from None
    except (ValueError, KeyError, TypeError) as e:
        raise TableError(f"{path}: not a fastmlp model file ({e})") from None
    prep = Preprocessing.from_json(meta[Preprocessing.KEY]) if Preprocessing.KEY in meta else None
    return net, prep


def predict(args: argparse.Namespace) -> None:
    """``fastmlp predict``: writes a CSV of predictions, one row per input row, with the
    class probabilities first when asked for.

    Parameters
    ----------
    args : argparse.Namespace
        The parsed arguments of the subcommand (see ``fastmlp predict --help``).
    """
    net, prep = _load(args.model)
    table = read_csv(args.data)
    if prep is None:  # saved from Python: features by position, raw outputs
        if len(table) != net.in_features:
            raise TableError(f"the model takes {net.in_features} features by position; "
                             f"{args.data} has {len(table)} columns")
        prep = Preprocessing(features=list(table), target="prediction", task="regression")
    x = features(table, prep.features)
    out = _outputs(net, prep, x)
    header, cols = [], []
    if prep.task == "classification":
        if args.proba:
            z = out - out.max(axis=1, keepdims=True)
            proba = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
            header += [f"proba_{c}" for c in prep.classes]
            cols += [[repr(float(v)) for v in proba[:, j]] for j in range(proba.shape[1])]
        header.append(prep.target)
        cols.append([prep.classes[i] for i in out.argmax(axis=1)])
    else:
        if args.proba:
            raise TableError("--proba needs a classification model")
        names = [prep.target] if out.shape[1] == 1 else \
            [f"{prep.target}_{j}" for j in range(out.shape[1])]
        header += names
        cols += [[repr(float(v)) for v in out[:, j]] for j in range(out.shape[1])]
    stream = open(args.out, "w", newline="") if args.out else sys.stdout
    try:
        w = csv.writer(stream)
        w.writerow(header)
        w.writerows(zip(*cols))
    finally:
        if args.out:
            stream.close()


def info(args: argparse.Namespace) -> None:
    """``fastmlp info``: describes a model file (layers, dtype, sizes and, for a file from
    ``fastmlp train``, the task, target, features and classes), as text or JSON.

    Parameters
    ----------
    args : argparse.Namespace
        The parsed arguments of the subcommand (see ``fastmlp info --help``).
    """
    net, prep = _load(args.model)
    desc = {"layers": [repr(l) for l in net], "dtype": net.dtype.name,
            "in_features": net.in_features, "out_features": net.out_features,
            "parameters": int(net.flat_parameters().size)}
    if prep is not None:
        desc.update(task=prep.task, target=prep.target, features=prep.features,
                    classes=prep.classes, standardized=bool(prep.x_mean))
    if args.json:
        print(json.dumps(desc, indent=2))
        return
    for k, v in desc.items():
        print(f"{k:<13} {', '.join(map(str, v)) if isinstance(v, list) else v}")


def export(args: argparse.Namespace) -> None:
    """``fastmlp export``: writes a model file as ONNX (`fastmlp.onnx.export`).

    Parameters
    ----------
    args : argparse.Namespace
        The parsed arguments of the subcommand (see ``fastmlp export --help``).
    """
    _load(args.model)  # a clear error for a missing or foreign file
    onnx.export(args.model, args.onnx)
    print(f"saved {args.onnx}")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> "NoReturn":  # one line, as every other error
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="fastmlp", description="Train and run MLPs on CSV files.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    d = sub.add_parser("demo", help="reproduce the seed experiment")
    d.add_argument("--seed", type=int, default=0)
    d.add_argument("--epochs", type=_positive_int, default=200)
    d.add_argument("--out-dir", default=".", help="where the PNG plots go")
    d.add_argument("--no-plot", action="store_true", help="skip the plots")
    t = sub.add_parser("train", help="train a model on a CSV file with a header row")
    t.add_argument("data")
    t.add_argument("--target", required=True, help="the column to predict")
    t.add_argument("--task", choices=("regression", "classification"))
    t.add_argument("--hidden", type=_hidden, default=[64, 64], help="layer sizes, e.g. 64,64")
    t.add_argument("--activation", choices=ACTIVATIONS, default="relu")
    t.add_argument("--epochs", type=_positive_int, default=100)
    t.add_argument("--batch-size", type=_positive_int, default=32)
    t.add_argument("--lr", type=_positive_float, default=1e-3)
    t.add_argument("--val-split", type=float, default=0.0,
                   help="fraction of rows held out after a seeded shuffle")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--standardize", action="store_true",
                   help="scale features (and a regression target) to mean 0, variance 1")
    t.add_argument("--log-every", type=int, default=0, help="print the loss every N epochs")
    t.add_argument("--out", required=True, help="the model file to write (.safetensors)")
    r = sub.add_parser("predict", help="predict the rows of a CSV file")
    r.add_argument("model")
    r.add_argument("data")
    r.add_argument("--out", help="CSV file to write (default: stdout)")
    r.add_argument("--proba", action="store_true", help="class probabilities first")
    i = sub.add_parser("info", help="describe a model file")
    i.add_argument("model")
    i.add_argument("--json", action="store_true")
    e = sub.add_parser("export", help="write a model file as ONNX")
    e.add_argument("model")
    e.add_argument("onnx")
    b = sub.add_parser("bench", help="a quick comparison with the peers installed here")
    b.add_argument("--repeats", type=_positive_int, default=7)
    b.add_argument("--seconds", type=_positive_float, default=0.2, help="per repeat")
    return p


def bench(args: argparse.Namespace) -> None:
    """``fastmlp bench``: prints `fastmlp.quickbench`'s comparison.

    Parameters
    ----------
    args : argparse.Namespace
        The parsed arguments of the subcommand (see ``fastmlp bench --help``).
    """
    print(quickbench.report(quickbench.measure(quickbench.contenders(), args.repeats,
                                               args.seconds)))


def main(argv: Optional[List[str]] = None) -> int:
    """The ``fastmlp`` command (also ``python -m fastmlp``): ``demo``, ``train``,
    ``predict``, ``info``, ``export`` and ``bench``.

    Parameters
    ----------
    argv : list of str, optional
        The arguments after the program's name; None reads ``sys.argv``.

    Returns
    -------
    int
        The exit status: 0 on success, 2 for an error in the user's files or arguments
        (one line on stderr), 1 for an internal error.
    """
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "train" and not 0.0 <= args.val_split < 1.0:
        parser.error(f"--val-split must be in [0, 1), got {args.val_split}")
    try:
        if args.command == "demo":
            demo.run(seed=args.seed, epochs=args.epochs, out_dir=args.out_dir,
                     plot=not args.no_plot)
        else:
            commands = {"train": train, "predict": predict, "info": info, "export": export,
                        "bench": bench}
            commands[args.command](args)
    except BrokenPipeError:  # the reader went away (`| head`): nothing left to say
        return 0
    except (TableError, OSError) as e:
        print(f"fastmlp: error: {e}", file=sys.stderr)
        return 2
    except Exception as e:  # noqa: BLE001  (the promise is one line, never a traceback)
        print(f"fastmlp: internal error: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    return 0
