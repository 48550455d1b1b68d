"""Data-parallel training over MPI: the pieces fit(comm=...) and train_step(comm=...) share.

mpi4py is imported here, and only once a communicator is given. Every step of the native loop
sums the ranks' gradients, and a few extras stored right after them, with one in-place
``Allreduce`` (`StepSum`). A rank that fails enters the next collective anyway, with its
failure flagged there; then every rank raises the same error (`gather_or_raise`)."""
from __future__ import annotations

import builtins
import os
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Iterator, List, NoReturn, Optional, Tuple

import numpy as np

from . import _core
from ._checks import FloatArray

if TYPE_CHECKING:
    from mpi4py import MPI

# Set by fm.set_num_threads: a count the user chose, which ranks keep.
threads_chosen = False

# What a failed rank tells the others: its exception's type name and message.
_Report = Optional[Tuple[str, str]]


def communicator(comm: object) -> MPI.Intracomm:
    """comm, checked to be an mpi4py intracommunicator (TypeError naming ``comm``)."""
    try:
        from mpi4py import MPI
    except ImportError:
        raise TypeError(f"comm must be an mpi4py communicator, got {type(comm).__name__} "
                        "(mpi4py is not installed: pip install fastmlp[mpi])") from None
    if not isinstance(comm, MPI.Intracomm):
        raise TypeError(f"comm must be an mpi4py intracommunicator such as MPI.COMM_WORLD, "
                        f"got {type(comm).__name__}")
    return comm


def _agreed_error(rank: int, kind: str, message: str) -> BaseException:
    """The error every rank raises for rank's failure: of its type where that is a builtin."""
    cls = getattr(builtins, kind, None)
    if isinstance(cls, type) and issubclass(cls, BaseException):
        try:
            return cls(f"rank {rank}: {message}")
        except Exception:  # a builtin that takes other arguments (UnicodeDecodeError)
            pass
    return RuntimeError(f"rank {rank}: {kind}: {message}")


def gather_or_raise(comm: MPI.Intracomm, error: BaseException | None,
                    info: Any = None) -> List[Any]:
    """A collective of every rank: each one's info, in rank order; when any rank passes an
    error, every rank raises instead the error of the first failing rank (naming it; the
    failing rank's own exception is chained)."""
    report: _Report = None if error is None else (type(error).__name__, str(error))
    gathered: List[Tuple[_Report, Any]] = comm.allgather((report, info))
    for rank, (failure, _) in enumerate(gathered):
        if failure is not None:
            raise _agreed_error(rank, *failure) from error
    return [i for _, i in gathered]


class Agreement:
    """``with Agreement(comm) as a: ...; a.info = ...``: whatever the block raises on one rank
    is raised on every rank (a collective at the block's end, entered by all), else
    ``a.infos`` holds every rank's ``info``. Without comm it does nothing."""

    def __init__(self, comm: MPI.Intracomm | None) -> None:
        self.comm = comm
        self.info: Any = None
        self.infos: List[Any] = []

    def __enter__(self) -> Agreement:
        return self

    def __exit__(self, kind: object, error: BaseException | None, tb: object) -> None:
        if self.comm is not None and (error is None or isinstance(error, Exception)):
            self.infos = gather_or_raise(self.comm, error, self.info)


class Deferred:
    """``with Deferred() as d: ...`` keeps an Exception that the block raises, for
    ``d.raise_caught()`` once the collectives after the block are done."""

    def __init__(self) -> None:
        self.error: Exception | None = None

    def __enter__(self) -> Deferred:
        return self

    def __exit__(self, kind: object, error: BaseException | None, tb: object) -> bool:
        if isinstance(error, Exception):
            self.error = error
            return True
        return False

    def raise_caught(self) -> None:
        if self.error is not None:
            raise self.error


def agreed_steps(infos: List[Any]) -> int:
    """The steps per epoch every rank takes (the most any rank has batches for), from the
    ranks' setup infos; ValueError naming a setting the ranks do not share."""
    first = infos[0]["settings"]
    for key, value in first.items():
        seen = [i["settings"][key] for i in infos]
        if any(v != value for v in seen):
            by_rank = ", ".join(f"{v!r} on rank {r}" for r, v in enumerate(seen))
            raise ValueError(f"comm: the ranks must share fit's settings; {key} is {by_rank}")
    return max(int(i["steps"]) for i in infos)


class StepSum:
    """The native loop's sum over the ranks: one in-place Allreduce of the gradient buffer
    and the extras that follow it in memory (or of the extras alone).

    Parameters
    ----------
    comm : mpi4py.MPI.Intracomm
        The ranks.
    buffer : ndarray
        The model's gradients followed by ``_core.SYNC_SLOTS`` extras, contiguous.
    """

    def __init__(self, comm: MPI.Intracomm, buffer: FloatArray) -> None:
        from mpi4py import MPI
        self.comm, self.buffer = comm, buffer
        self.extras = buffer[-_core.SYNC_SLOTS:]
        self._in_place, self._sum = MPI.IN_PLACE, MPI.SUM

    def __call__(self, grads: bool, error: object) -> None:
        self.comm.Allreduce(self._in_place, self.buffer if grads else self.extras, self._sum)
        if self.extras[_core.SYNC_FAILED] > 0:
            gather_or_raise(self.comm, error if isinstance(error, BaseException) else None)
            raise RuntimeError("a rank flagged a failure but reported none")

    def fail(self, error: BaseException) -> NoReturn:
        """Enters the step's collective with this rank's failure (found before the native
        step), so that every rank raises it."""
        self.buffer[...] = 0
        self.extras[_core.SYNC_FAILED] = 1
        self(True, error)
        raise error  # (self raised already: the flag is set)


@contextmanager
def rank_threads() -> Iterator[None]:
    """One native thread for the call, unless the user chose a count (fm.set_num_threads or
    FASTMLP_NUM_THREADS): ranks sharing a machine would otherwise oversubscribe its cores."""
    if threads_chosen or os.environ.get("FASTMLP_NUM_THREADS"):
        yield
        return
    before = _core.get_num_threads()
    _core.set_num_threads(1)
    try:
        yield
    finally:
        _core.set_num_threads(before)


def split_seed(seed: int, rank: int) -> int:
    """Rank's shuffle seed: the run's core seed plus the rank, so shards shuffle apart."""
    return (seed + rank) % (1 << 64)


def mean_over_ranks(comm: MPI.Intracomm, values: List[float], weight: float) -> List[float]:
    """The means of values over the ranks, each rank's weighted by weight."""
    from mpi4py import MPI
    buf = np.array([v * weight for v in values] + [weight], np.float64)
    comm.Allreduce(MPI.IN_PLACE, buf)
    return [float(v / buf[-1]) for v in buf[:-1]]
