"""Fourier-space loss (Fuoli, Van Gool and Timofte, "Fourier Space Losses for Efficient Perceptual
Image Super-Resolution", ICCV 2021): a perceptual term that needs no downloaded weights.

The output and the ground truth are compared through their 2-D discrete Fourier transforms
(``torch.fft.rfft2``, orthonormal, per channel):

    L = loss_weight * (amplitude_weight * mean | |F(sr)| - |F(gt)| |
                       + phase_weight * mean |wrap(angle F(sr) - angle F(gt))|)

The amplitude term asks for the right amount of energy at every spatial frequency without asking
where it goes: a smooth (PSNR-optimal) output that lacks the ground truth's high frequencies pays
for the missing energy however it is placed, so the generator is pushed to synthesise texture, and
the adversarial term decides what that texture looks like. The phase term (off by default) ties the
structure to the ground truth like a pixel loss does; ``wrap`` maps the difference into (-pi, pi].
Computed in float32 whatever the autocast dtype.
"""

from __future__ import annotations

import math

import torch
from torch import nn


class FourierLoss(nn.Module):
    def __init__(
        self, loss_weight: float = 1.0, amplitude_weight: float = 1.0, phase_weight: float = 0.0
    ) -> None:
        super().__init__()
        for name, value in (("amplitude_weight", amplitude_weight), ("phase_weight", phase_weight)):
            if not isinstance(value, int | float) or value < 0 or not math.isfinite(value):
                raise ValueError(f"FourierLoss {name} {value!r}: give a number >= 0")
        if amplitude_weight == 0 and phase_weight == 0:
            raise ValueError("FourierLoss: amplitude_weight and phase_weight are both 0")
        self.loss_weight = float(loss_weight)
        self.amplitude_weight = float(amplitude_weight)
        self.phase_weight = float(phase_weight)

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if pred.shape != target.shape:
            raise ValueError(f"FourierLoss: pred {tuple(pred.shape)} vs target {tuple(target.shape)}")
        f_pred = torch.fft.rfft2(pred.float(), norm="ortho")
        f_gt = torch.fft.rfft2(target.float(), norm="ortho")
        total = pred.new_zeros((), dtype=torch.float32)
        if self.amplitude_weight:
            total = total + self.amplitude_weight * (f_pred.abs() - f_gt.abs()).abs().mean()
        if self.phase_weight:
            diff = torch.angle(f_pred) - torch.angle(f_gt)
            wrapped = torch.atan2(torch.sin(diff), torch.cos(diff))
            total = total + self.phase_weight * wrapped.abs().mean()
        return total * self.loss_weight
