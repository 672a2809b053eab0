"""Optimizers and learning-rate schedules named as in BasicSR's option files.

Schedules are closed-form in the number of completed steps ``t`` (``scheduler.last_epoch``), so the
state to resume is that one integer. The learning rate of step ``t + 1`` is
``base_lr * warmup(t) * decay(t)`` with ``warmup(t) = min(1, (t + 1) / warmup_iter)`` when
``warmup_iter > 0`` (BasicSR's linear warm-up from ``base_lr / warmup_iter``).
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import torch
from torch.optim.lr_scheduler import LRScheduler

from sr.registry import build_from

OPTIMIZERS: dict[str, type[torch.optim.Optimizer]] = {
    "Adam": torch.optim.Adam,
    "AdamW": torch.optim.AdamW,
    "SGD": torch.optim.SGD,
}


class _ClosedForm(LRScheduler):
    """Base: ``lr = base_lr * warmup * factor(t)``; subclasses define ``factor``."""

    def __init__(self, optimizer: torch.optim.Optimizer, warmup_iter: int = -1) -> None:
        self.warmup_iter = warmup_iter
        super().__init__(optimizer)

    def factor(self, t: int) -> float:
        raise NotImplementedError

    def state_dict(self) -> dict[str, Any]:
        """Only the step count: the schedule itself comes from the options, so a resumed run whose
        recipe changed the schedule (a longer one, a further restart period) follows the new one."""
        return {"last_epoch": self.last_epoch, "_step_count": self._step_count}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore the step count (also from states that saved every attribute) and set the optimizer's
        learning rates to this schedule's for the next step (after the optimizer's own state is loaded,
        its saved rates would otherwise serve one iteration)."""
        self.last_epoch = int(state_dict["last_epoch"])
        self._step_count = int(state_dict.get("_step_count", self.last_epoch + 1))
        for group, lr in zip(self.optimizer.param_groups, self.get_lr(), strict=True):
            group["lr"] = lr
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def get_lr(self) -> list[float]:  # type: ignore[override]
        t = self.last_epoch
        warm = min(1.0, (t + 1) / self.warmup_iter) if self.warmup_iter > 0 else 1.0
        f = warm * self.factor(t)
        return [float(base) * f for base in self.base_lrs]


class MultiStepLR(_ClosedForm):
    """Multiply by ``gamma`` at each milestone; optional restarts (BasicSR's MultiStepRestartLR):
    at ``restarts[i]`` the rate jumps back to ``restart_weights[i] * base_lr``."""

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        milestones: Sequence[int],
        gamma: float = 0.5,
        restarts: Sequence[int] = (),
        restart_weights: Sequence[float] = (),
        warmup_iter: int = -1,
    ) -> None:
        if sorted(milestones) != list(milestones):
            raise ValueError(f"scheduler.milestones must be increasing, got {list(milestones)}")
        if len(restarts) != len(restart_weights):
            raise ValueError("scheduler.restarts and scheduler.restart_weights must have the same length")
        self.milestones, self.gamma = list(milestones), gamma
        self.restarts, self.restart_weights = list(restarts), list(restart_weights)
        super().__init__(optimizer, warmup_iter)

    def factor(self, t: int) -> float:
        r = bisect.bisect_right(self.restarts, t)
        start, weight = (self.restarts[r - 1], self.restart_weights[r - 1]) if r else (0, 1.0)
        passed = sum(1 for m in self.milestones if start < m <= t)
        return weight * self.gamma**passed


class CosineAnnealingRestartLR(_ClosedForm):
    """Cosine annealing in consecutive ``periods`` (SGDR, Loshchilov & Hutter 2017, eq. 5), each
    starting from ``restart_weights[i] * base_lr`` and ending at ``eta_min``."""

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        periods: Sequence[int],
        restart_weights: Sequence[float] = (1.0,),
        eta_min: float = 0.0,
        warmup_iter: int = -1,
    ) -> None:
        if len(periods) != len(restart_weights):
            raise ValueError("scheduler.periods and scheduler.restart_weights must have the same length")
        if any(p <= 0 for p in periods):
            raise ValueError(f"scheduler.periods must be positive, got {list(periods)}")
        self.periods, self.restart_weights, self.eta_min = list(periods), list(restart_weights), eta_min
        self.ends = [sum(self.periods[: i + 1]) for i in range(len(self.periods))]
        super().__init__(optimizer, warmup_iter)

    def get_lr(self) -> list[float]:  # type: ignore[override]
        t = self.last_epoch
        i = min(bisect.bisect_right(self.ends, t), len(self.periods) - 1)
        start = self.ends[i] - self.periods[i]
        pos = min(t - start, self.periods[i]) / self.periods[i]
        warm = min(1.0, (t + 1) / self.warmup_iter) if self.warmup_iter > 0 else 1.0
        w = self.restart_weights[i]
        cos = 0.5 * (1 + math.cos(math.pi * pos))
        return [warm * (self.eta_min + w * (float(base) - self.eta_min) * cos) for base in self.base_lrs]


class ConstantLR(_ClosedForm):
    """No decay (only the optional warm-up)."""

    def factor(self, t: int) -> float:
        return 1.0


SCHEDULERS: dict[str, type[LRScheduler]] = {
    "MultiStepLR": MultiStepLR,
    "MultiStepRestartLR": MultiStepLR,
    "CosineAnnealingRestartLR": CosineAnnealingRestartLR,
    "ConstantLR": ConstantLR,
}


def build_optimizer(
    params: Iterable[torch.nn.Parameter], opt: Mapping[str, Any], where: str
) -> torch.optim.Optimizer:
    """``opt`` = ``{type: Adam, lr: 1e-4, betas: [0.9, 0.99], ...}``; lists become tuples."""
    kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in opt.items()}
    trainable = [p for p in params if p.requires_grad]
    return build_from(OPTIMIZERS, {**kwargs, "params": trainable}, where)


def build_scheduler(
    optimizer: torch.optim.Optimizer, opt: Mapping[str, Any] | None, warmup_iter: int, where: str
) -> LRScheduler:
    """The schedule of ``opt`` (``ConstantLR`` when None) with the run's linear warm-up."""
    section = dict(opt) if opt is not None else {"type": "ConstantLR"}
    return build_from(SCHEDULERS, {**section, "optimizer": optimizer, "warmup_iter": warmup_iter}, where)
