"""Pixel losses: L1, MSE and Charbonnier, BasicSR's classes and weighted reduction.

``forward(pred, target, weight=None)`` takes ``(N, C, H, W)`` tensors (any equal shapes) and an optional
element weight broadcastable to them (``(N, C, H, W)`` or ``(N, 1, H, W)``). With ``reduction="mean"`` a
weighted loss is normalised by the total weight (BasicSR's ``weight_reduce_loss``: a 1-channel weight
counts once per channel); ``"sum"`` sums; ``"none"`` returns the per-element map. The result is
multiplied by ``loss_weight``.
"""

from __future__ import annotations

import torch
from torch import nn

REDUCTIONS = ("none", "mean", "sum")


def check_reduction(reduction: str) -> str:
    if reduction not in REDUCTIONS:
        raise ValueError(f"unknown reduction {reduction!r}; choose one of {', '.join(REDUCTIONS)}")
    return reduction


def weight_reduce_loss(loss: torch.Tensor, weight: torch.Tensor | None, reduction: str) -> torch.Tensor:
    """Apply the element ``weight`` and reduce (BasicSR's ``weight_reduce_loss``)."""
    if weight is not None:
        if weight.dim() != loss.dim():
            raise ValueError(f"weight has shape {tuple(weight.shape)}, loss {tuple(loss.shape)}")
        loss = loss * weight
    if reduction == "none":
        return loss
    if reduction == "sum":
        return loss.sum()
    if weight is None:
        return loss.mean()
    # a single-channel weight is broadcast over the channels, so it counts once per channel
    total = weight.sum() if weight.size(1) > 1 else weight.sum() * loss.size(1)
    return loss.sum() / total


def _check_pair(pred: torch.Tensor, target: torch.Tensor) -> None:
    if pred.shape != target.shape:
        raise ValueError(f"pred and target shapes differ: {tuple(pred.shape)} vs {tuple(target.shape)}")


class _PixelLoss(nn.Module):
    def __init__(self, loss_weight: float = 1.0, reduction: str = "mean") -> None:
        super().__init__()
        self.loss_weight = float(loss_weight)
        self.reduction = check_reduction(reduction)

    def elementwise(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(
        self, pred: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None
    ) -> torch.Tensor:
        _check_pair(pred, target)
        return self.loss_weight * weight_reduce_loss(self.elementwise(pred, target), weight, self.reduction)

    def extra_repr(self) -> str:
        return f"loss_weight={self.loss_weight}, reduction={self.reduction!r}"


class L1Loss(_PixelLoss):
    """``|pred - target|``."""

    def elementwise(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return (pred - target).abs()


class MSELoss(_PixelLoss):
    """``(pred - target)^2``."""

    def elementwise(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return (pred - target) ** 2


class CharbonnierLoss(_PixelLoss):
    """``sqrt((pred - target)^2 + eps)``, a differentiable L1 (Lai et al., LapSRN; BasicSR's eps 1e-12)."""

    def __init__(self, loss_weight: float = 1.0, reduction: str = "mean", eps: float = 1e-12) -> None:
        super().__init__(loss_weight, reduction)
        self.eps = float(eps)

    def elementwise(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return torch.sqrt((pred - target) ** 2 + self.eps)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, eps={self.eps}"
