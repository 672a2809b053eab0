from __future__ import annotations

import pytest
import torch

from sr.models.ema import ModelEMA


def test_ema_is_the_exponential_average_and_copies_int_buffers():
    net = torch.nn.BatchNorm2d(2)
    ema = ModelEMA(net, 0.9)
    with torch.no_grad():
        net.weight.fill_(2.0)
        net.num_batches_tracked.fill_(7)
    ema.update(net)
    # hand: 0.9 * 1 (initial weight) + 0.1 * 2
    assert torch.allclose(ema.module.weight, torch.full((2,), 1.1))
    assert int(ema.module.num_batches_tracked) == 7
    assert not ema.module.weight.requires_grad


def test_ema_decay_out_of_range():
    with pytest.raises(ValueError, match="ema_decay"):
        ModelEMA(torch.nn.Linear(1, 1), 1.0)
