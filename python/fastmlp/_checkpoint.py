"""fit's checkpoints: model files (`fastmlp._modelfile`) with the optimizer and where the run
stands, so that ``fit(resume=...)`` continues it bit for bit, in this process or another.

Besides the weights and the optimizer a checkpoint holds, under the header entry
``"checkpoint"`` and tensors ``"checkpoint.<name>"``: the epochs done, the shuffle seed,
generator state and sample order, the dropout seed and draws, the scheduler's state, early
stopping's state and best weights, the history so far and the run's settings, which a
resumed run must share."""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple, Union, cast

import numpy as np
import numpy.typing as npt

from . import _checks, _modelfile
from ._checks import FilePath, Float64Array, FloatArray
from ._modelfile import Header, Model
from .optim.optimizers import Optimizer, OptimizerState
from .optim.lr_scheduler import ScheduleState

# The settings of a run that a resumed run must share: sizes, batches, what is watched.
Settings = Dict[str, Union[None, bool, int, float, str, List[str]]]
# Another rank's shuffle generator state, sample order (None without shuffling) and dropout
# draws, in a data-parallel run's checkpoint.
RankState = Tuple[int, Optional[npt.NDArray[np.int64]], int]
_T = "checkpoint."
_HISTORY = _T + "history."
_U64 = 1 << 64


@dataclass
class RunState:
    """Where a fit run stands after a completed epoch, besides weights and optimizer.

    ``epoch``: the epochs completed; ``seed``, ``rng``, ``order``: the shuffle's core seed,
    generator state and the sample order its next shuffle permutes (None without
    shuffling); ``dropout_seed``, ``dropout_draws``: the model's dropout stream and
    position; ``settings``: the run's; ``scheduler``: its ``state_dict()``; ``best``,
    ``best_epoch``, ``wait``, ``stopped``, ``best_weights``: early stopping's state;
    ``history``: ``"loss"``, ``"penalty"``, ``"lr"``, ``"val_loss"`` (with validation data)
    and ``"metric.<name>"``, one value per epoch done; ``others``: in a data-parallel run,
    ranks 1, 2, ...'s own ``(rng, order, dropout_draws)`` (the fields above are rank 0's).
    """
    epoch: int
    seed: int
    rng: int
    order: Optional[npt.NDArray[np.int64]]
    dropout_seed: int
    dropout_draws: int
    settings: Settings
    scheduler: Optional[ScheduleState]
    best: float
    best_epoch: Optional[int]
    wait: int
    stopped: bool
    best_weights: Optional[FloatArray]
    history: Dict[str, Float64Array]
    others: List[RankState]


@dataclass
class Saved:
    """A checkpoint read and checked against the run resuming it: the model's state_dict,
    the optimizer's and the rest of the run."""
    weights: Dict[str, FloatArray]
    optimizer: OptimizerState
    run: RunState


_SCALARS = ("epoch", "seed", "rng", "dropout_seed", "dropout_draws", "settings", "scheduler",
            "best", "best_epoch", "wait", "stopped")


def save(path: FilePath, net: Model, opt: Optimizer, run: RunState) -> None:
    """Writes the checkpoint of net, opt and run to path, atomically (a crash leaves the
    previous file whole)."""
    tensors, header = _modelfile.model_entries(net)
    opt_tensors, opt_header = _modelfile.optimizer_entries(opt)
    tensors.update(opt_tensors)
    header.update(opt_header)
    entry = {k: getattr(run, k) for k in _SCALARS}
    entry["others"] = [[rng, draws] for rng, _, draws in run.others]
    header["checkpoint"] = json.dumps(entry)
    if run.order is not None:
        tensors[_T + "order"] = run.order
    for r, (_, order, _) in enumerate(run.others, 1):
        if order is not None:
            tensors[f"{_T}order.{r}"] = order
    if run.best_weights is not None:
        tensors[_T + "best_weights"] = run.best_weights
    tensors.update((_HISTORY + k, v) for k, v in run.history.items())
    _modelfile.write(path, tensors, header)


def read(path: FilePath, net: Model, opt: Optimizer, settings: Settings, epochs: int,
         seed: Optional[int]) -> Saved:
    """The checkpoint at path for ``fit(resume=path)`` of net with opt, checked against that
    run (its settings, its total epochs and its seed argument) before anything changes:
    ValueError names what does not match."""
    meta, tensors = _modelfile.read(path)
    if "checkpoint" not in meta:
        raise ValueError(f"resume: {path} is a model file but not a checkpoint (written by "
                         "fm.save, not by fit(checkpoint=...))")
    _check_model(path, meta, net)
    opt_state = _modelfile.optimizer_state(path, meta, tensors, opt)
    entry = _modelfile.entry(path, meta, "checkpoint")

    def field(key: str, kinds: tuple[type, ...]) -> object:
        v = entry.get(key)
        if not isinstance(v, kinds) or (isinstance(v, bool) and bool not in kinds) \
                or (isinstance(v, int) and not isinstance(v, bool) and not 0 <= v < _U64):
            raise ValueError(f"resume: {path}: bad checkpoint entry {key}={v!r}")
        return v

    none = type(None)
    run = RunState(
        epoch=cast(int, field("epoch", (int,))), seed=cast(int, field("seed", (int,))),
        rng=cast(int, field("rng", (int,))),
        order=cast(Optional[npt.NDArray[np.int64]], tensors.get(_T + "order")),
        dropout_seed=cast(int, field("dropout_seed", (int,))),
        dropout_draws=cast(int, field("dropout_draws", (int,))),
        settings=cast(Settings, field("settings", (dict,))),
        scheduler=cast(Optional[ScheduleState], field("scheduler", (dict, none))),
        best=float(cast(float, field("best", (int, float)))),
        best_epoch=cast(Optional[int], field("best_epoch", (int, none))),
        wait=cast(int, field("wait", (int,))), stopped=cast(bool, field("stopped", (bool,))),
        best_weights=cast(Optional[FloatArray], tensors.get(_T + "best_weights")),
        history={k[len(_HISTORY):]: cast(Float64Array, v) for k, v in tensors.items()
                 if k.startswith(_HISTORY)},
        others=_others(path, entry.get("others", []), tensors))
    _check_run(path, run, settings, epochs, seed)
    weights = cast(Dict[str, FloatArray], _modelfile.weights(tensors))
    mine = net.state_dict()
    if {k: (v.shape, v.dtype) for k, v in weights.items()} != \
            {k: (v.shape, v.dtype) for k, v in mine.items()}:
        raise ValueError(f"resume: {path}: the weights do not fit the model")
    total, dtype = sum(v.size for v in mine.values()), next(iter(mine.values())).dtype
    b = run.best_weights
    if b is not None and (b.shape != (total,) or b.dtype != dtype):
        raise ValueError(f"resume: {path}: best weights of shape {b.shape} and dtype "
                         f"{b.dtype}, the model has {total} {dtype} weights")
    return Saved(weights, opt_state, run)


def _others(path: FilePath, entry: object, tensors: Dict[str, npt.NDArray[np.generic]]
            ) -> List[RankState]:
    """The other ranks' states of a data-parallel checkpoint."""
    if not isinstance(entry, list) or not all(
            isinstance(e, list) and len(e) == 2 and all(
                isinstance(v, int) and not isinstance(v, bool) and 0 <= v < _U64 for v in e)
            for e in entry):
        raise ValueError(f"resume: {path}: bad checkpoint entry others={entry!r}")
    return [(rng, cast(Optional[npt.NDArray[np.int64]], tensors.get(f"{_T}order.{r}")), draws)
            for r, (rng, draws) in enumerate(entry, 1)]


def _check_model(path: FilePath, meta: Header, net: Model) -> None:
    mine = _modelfile.model_header(net)
    if (meta["dtype"], meta["layers"]) != (mine["dtype"], mine["layers"]):
        raise ValueError(f"resume: {path} holds a {meta['dtype']} model of layers "
                         f"{meta['layers']}; this model is {mine['dtype']} with layers "
                         f"{mine['layers']}")


def _check_run(path: FilePath, run: RunState, settings: Settings, epochs: int,
               seed: Optional[int]) -> None:
    there, here = run.settings.get("ranks", 1), settings.get("ranks", 1)
    if there != here or len(run.others) + 1 != here:
        raise ValueError(f"resume: {path} was written by a run on {there} rank(s), this run "
                         f"has {here}: resume with the same number of ranks")
    differ = [f"{k}={run.settings.get(k)!r} there, {v!r} here" for k, v in settings.items()
              if run.settings.get(k) != v]
    if differ or set(run.settings) != set(settings):
        raise ValueError(f"resume: {path} was written by a run of other settings: "
                         f"{'; '.join(differ) or sorted(run.settings)}")
    done = run.epoch
    if done < 1:
        raise ValueError(f"resume: {path}: bad epoch count {done}")
    if epochs < done:
        raise ValueError(f"resume: epochs={epochs} is fewer than the {done} epochs {path} "
                         "has done (epochs counts the whole run, those before included)")
    if seed is not None and _checks.core_seed(seed) != run.seed:
        raise ValueError(f"resume: seed={seed} is not the seed of the run in {path} (pass "
                         "the same seed, or None)")
    n = cast(int, settings["n_samples"])
    o = run.order
    if settings["shuffle"] and (
            o is None or o.dtype != np.int64 or o.shape != (n,) or o.min() < 0 or o.max() >= n
            or np.bincount(o, minlength=n).max() != 1):
        raise ValueError(f"resume: {path}: the sample order is not a permutation of {n}")
    keys = ["loss", "penalty", "lr"] + (["val_loss"] if settings["validation"] else [])
    keys += [f"metric.{m}" for m in cast(List[str], settings["metrics"])]
    for k in keys:
        h = run.history.get(k)
        if h is None or h.dtype != np.float64 or h.shape != (done,):
            raise ValueError(f"resume: {path}: the history {k!r} is missing or not "
                             f"{done} float64 values")
