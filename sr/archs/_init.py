"""Weight initialisation shared by the architectures (BasicSR's ``default_init_weights``)."""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn


@torch.no_grad()
def scaled_kaiming_init(modules: Iterable[nn.Module], scale: float = 1.0, bias_fill: float = 0.0) -> None:
    """Kaiming-normal (fan_in) init of every Conv2d/Linear inside ``modules``, weights multiplied by
    ``scale``. ESRGAN and MSRResNet use ``scale = 0.1`` so that residual branches start small."""
    for module in modules:
        for m in module.modules():
            if isinstance(m, nn.Conv2d | nn.Linear):
                nn.init.kaiming_normal_(m.weight)
                m.weight.mul_(scale)
                if m.bias is not None:
                    m.bias.fill_(bias_fill)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, bias_fill)
