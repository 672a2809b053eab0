"""Training losses: pixel (L1/MSE/Charbonnier), SSIM, perceptual (VGG), adversarial, and discriminator
feature matching (a perceptual loss without downloaded weights).

``build_loss({"type": "L1Loss", "loss_weight": 1.0}, "train.pixel_opt")`` constructs by name, checking
the type and keyword names against ``LOSSES`` and the constructor (errors name ``where``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from torch import nn

from sr.losses.feature_matching import FeatureMatchingLoss
from sr.losses.frequency import FourierLoss
from sr.losses.gan import GANLoss
from sr.losses.perceptual import PerceptualLoss
from sr.losses.pixel import CharbonnierLoss, L1Loss, MSELoss
from sr.losses.ssim_loss import SSIMLoss
from sr.registry import build_from

LOSSES: dict[str, type[nn.Module]] = {
    "L1Loss": L1Loss,
    "MSELoss": MSELoss,
    "CharbonnierLoss": CharbonnierLoss,
    "SSIMLoss": SSIMLoss,
    "PerceptualLoss": PerceptualLoss,
    "GANLoss": GANLoss,
    "FeatureMatchingLoss": FeatureMatchingLoss,
    "FourierLoss": FourierLoss,
}


def build_loss(opt: Mapping[str, Any], where: str) -> nn.Module:
    """Build a loss from a BasicSR-style section ``{"type": Name, **kwargs}``; ``where`` names it in
    errors."""
    return build_from(LOSSES, opt, where)


__all__ = [
    "LOSSES",
    "CharbonnierLoss",
    "FeatureMatchingLoss",
    "FourierLoss",
    "GANLoss",
    "L1Loss",
    "MSELoss",
    "PerceptualLoss",
    "SSIMLoss",
    "build_loss",
]
