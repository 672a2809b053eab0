"""Exponential moving average of a generator's weights (ESRGAN/BasicSR's ``net_g_ema``).

After every update: ``ema = decay * ema + (1 - decay) * param`` for floating parameters and
buffers; integer buffers are copied. The EMA copy is what validation scores and what is shipped
as ``params_ema``.
"""

from __future__ import annotations

import copy

import torch
from torch import nn


class ModelEMA:
    def __init__(self, net: nn.Module, decay: float) -> None:
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"train.ema_decay must be in [0, 1), got {decay}")
        self.decay = decay
        self.module = copy.deepcopy(net).eval().requires_grad_(False)

    @torch.no_grad()
    def update(self, net: nn.Module) -> None:
        ema_state = self.module.state_dict()
        for name, value in net.state_dict().items():
            target = ema_state[name]
            if target.dtype.is_floating_point:
                target.lerp_(value.detach(), 1.0 - self.decay)
            else:
                target.copy_(value)
