"""Learning-rate schedules with torch.optim.lr_scheduler's semantics.

Call `step()` once per epoch (ReduceLROnPlateau: `step(metric)`), by hand or by
passing the scheduler to `Sequential.fit(scheduler=...)`."""
from __future__ import annotations

import math
from typing import Dict, Union

from .optimizers import Optimizer

# A schedule's state_dict: its attributes but the optimizer (numbers and strings only).
ScheduleState = Dict[str, Union[int, float, str]]


class _Schedule:
    """What every schedule has: the optimizer whose lr it sets and the epochs seen."""

    def __init__(self, optimizer: Optimizer) -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"optimizer must be a fastmlp optimizer, got {type(optimizer).__name__}")
        self.optimizer = optimizer
        self.last_epoch = 0

    def get_last_lr(self) -> list[float]:
        """The optimizer's current learning rate, in a list as ``torch.optim``'s (which has
        one per parameter group).

        Returns
        -------
        list of float
        """
        return [self.optimizer.lr]

    def state_dict(self) -> ScheduleState:
        """The schedule's attributes but the optimizer (its epoch count, settings and, for
        ReduceLROnPlateau, the best metric and counters), as ``torch.optim``'s.

        Returns
        -------
        dict of str to int, float or str
        """
        return {k: v for k, v in vars(self).items() if k != "optimizer"}

    def load_state_dict(self, state: ScheduleState) -> None:
        """Restores what ``state_dict()`` of a schedule of the same class returned.

        Parameters
        ----------
        state : dict of str to int, float or str
            From ``state_dict()``.

        Raises
        ------
        ValueError
            The keys are not this schedule's.
        """
        mine = self.state_dict()
        if set(state) != set(mine):
            raise ValueError(f"state_dict has the keys {sorted(state)}, {type(self).__name__} "
                             f"has {sorted(mine)}")
        vars(self).update(state)


class LRScheduler(_Schedule):
    """The base of the schedules that depend on the epoch only: each ``step()`` counts an
    epoch (``last_epoch``) and sets the optimizer's ``lr`` from ``base_lr``, its learning
    rate when the schedule was made.

    Parameters
    ----------
    optimizer : Optimizer
        The optimizer whose ``lr`` the schedule sets.
    """

    def __init__(self, optimizer: Optimizer) -> None:
        super().__init__(optimizer)
        self.base_lr = optimizer.lr

    def step(self) -> None:
        """Counts one epoch and sets the learning rate for the next."""
        self.last_epoch += 1
        self.optimizer.lr = self._lr(self.last_epoch)

    def _lr(self, epoch: int) -> float:
        raise NotImplementedError


class StepLR(LRScheduler):
    """Decays the learning rate every ``step_size`` epochs:
    ``lr = base_lr * gamma ** (epoch // step_size)``.

    Parameters
    ----------
    optimizer : Optimizer
        The optimizer whose ``lr`` the schedule sets.
    step_size : int
        Epochs between decays.
    gamma : float, optional
        The factor of each decay.
    """

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1) -> None:
        super().__init__(optimizer)
        if step_size <= 0:
            raise ValueError(f"step_size must be positive, got {step_size}")
        self.step_size, self.gamma = int(step_size), float(gamma)

    def _lr(self, epoch: int) -> float:
        return self.base_lr * self.gamma ** (epoch // self.step_size)


class ExponentialLR(LRScheduler):
    """Decays the learning rate every epoch: ``lr = base_lr * gamma ** epoch``.

    Parameters
    ----------
    optimizer : Optimizer
        The optimizer whose ``lr`` the schedule sets.
    gamma : float
        The factor of each epoch.
    """

    def __init__(self, optimizer: Optimizer, gamma: float) -> None:
        super().__init__(optimizer)
        self.gamma = float(gamma)

    def _lr(self, epoch: int) -> float:
        return self.base_lr * self.gamma ** epoch


class CosineAnnealingLR(LRScheduler):
    """A half cosine from ``base_lr`` down to ``eta_min`` over ``T_max`` epochs:
    ``lr = eta_min + (base_lr - eta_min) * (1 + cos(pi * epoch / T_max)) / 2``.

    After ``T_max`` epochs the formula goes on, so the rate rises again, as torch's does.

    Parameters
    ----------
    optimizer : Optimizer
        The optimizer whose ``lr`` the schedule sets.
    T_max : int
        Epochs of the half period.
    eta_min : float, optional
        The lowest learning rate.
    """

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0) -> None:
        super().__init__(optimizer)
        if T_max <= 0:
            raise ValueError(f"T_max must be positive, got {T_max}")
        self.T_max, self.eta_min = int(T_max), float(eta_min)

    def _lr(self, epoch: int) -> float:
        return self.eta_min + (self.base_lr - self.eta_min) * \
            (1 + math.cos(math.pi * epoch / self.T_max)) / 2


class ReduceLROnPlateau(_Schedule):
    """Multiplies the learning rate by ``factor`` when a metric has stopped improving for
    more than ``patience`` epochs, as ``torch.optim.lr_scheduler.ReduceLROnPlateau``.

    Call ``step(metric)`` once per epoch; in ``Sequential.fit(scheduler=...)`` the metric
    is the validation loss when there is validation data, else the training loss.

    Parameters
    ----------
    optimizer : Optimizer
        The optimizer whose ``lr`` the schedule sets.
    mode : {"min", "max"}, optional
        Whether the metric should go down or up.
    factor : float, optional
        The factor of each reduction, in (0, 1).
    patience : int, optional
        Epochs without improvement that are tolerated.
    threshold : float, optional
        What counts as an improvement (see ``threshold_mode``).
    threshold_mode : {"rel", "abs"}, optional
        ``"rel"``: better than ``best * (1 - threshold)`` (in mode min);
        ``"abs"``: better than ``best - threshold``.
    cooldown : int, optional
        Epochs after a reduction during which bad epochs are not counted.
    min_lr : float, optional
        The learning rate never goes below it.
    eps : float, optional
        A reduction smaller than this is skipped.
    """

    def __init__(self, optimizer: Optimizer, mode: str = "min", factor: float = 0.1,
                 patience: int = 10, threshold: float = 1e-4, threshold_mode: str = "rel",
                 cooldown: int = 0, min_lr: float = 0.0, eps: float = 1e-8) -> None:
        if mode not in ("min", "max") or threshold_mode not in ("rel", "abs"):
            raise ValueError("mode must be 'min'/'max' and threshold_mode 'rel'/'abs'")
        if not 0.0 < factor < 1.0:
            raise ValueError(f"factor must be in (0, 1), got {factor}")
        super().__init__(optimizer)
        self.mode, self.factor, self.patience = mode, float(factor), int(patience)
        self.threshold, self.threshold_mode = float(threshold), threshold_mode
        self.cooldown, self.min_lr, self.eps = int(cooldown), float(min_lr), float(eps)
        self.best = math.inf if mode == "min" else -math.inf
        self.num_bad_epochs = self.cooldown_counter = 0

    def _better(self, a: float) -> bool:
        rel = self.threshold_mode == "rel"
        if self.mode == "min":
            return a < (self.best * (1 - self.threshold) if rel else self.best - self.threshold)
        return a > (self.best * (1 + self.threshold) if rel else self.best + self.threshold)

    def step(self, metric: float) -> None:
        """Records one epoch's metric and reduces the learning rate when it is due.

        Parameters
        ----------
        metric : float
            The epoch's value of the watched quantity, such as the validation loss.
        """
        self.last_epoch += 1
        metric = float(metric)
        if self._better(metric):
            self.best, self.num_bad_epochs = metric, 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > self.patience:
            old = self.optimizer.lr
            new = max(old * self.factor, self.min_lr)
            if old - new > self.eps:
                self.optimizer.lr = new
            self.cooldown_counter, self.num_bad_epochs = self.cooldown, 0
