"""The Fourier-space loss: its value against a hand computation (numpy's FFT), what it does and does
not see, its arguments, and its place in a training step as ``train.fourier_opt``."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sr.losses import FourierLoss, build_loss
from sr.models.sr_model import SRModel
from sr.options.loader import options_from_dict
from tests.engine.engine_helpers import tiny_options


def test_value_matches_numpy():
    g = torch.Generator().manual_seed(0)
    a, b = torch.rand(2, 3, 8, 6, generator=g), torch.rand(2, 3, 8, 6, generator=g)
    fa, fb = np.fft.rfft2(a.double().numpy(), norm="ortho"), np.fft.rfft2(b.double().numpy(), norm="ortho")
    amplitude = np.abs(np.abs(fa) - np.abs(fb)).mean()
    d = np.angle(fa) - np.angle(fb)
    phase = np.abs(np.arctan2(np.sin(d), np.cos(d))).mean()
    got = FourierLoss(loss_weight=2.0, amplitude_weight=1.0, phase_weight=0.5)(a, b).item()
    assert got == pytest.approx(2.0 * (amplitude + 0.5 * phase), rel=1e-5)


def test_amplitude_ignores_where_the_energy_is():
    # a circular shift keeps every amplitude: the default (amplitude-only) loss is 0, the phase term
    # and a pixel loss are not
    x = torch.rand(1, 1, 16, 16, generator=torch.Generator().manual_seed(1))
    shifted = torch.roll(x, shifts=(3, 5), dims=(2, 3))
    assert FourierLoss()(shifted, x).item() == pytest.approx(0.0, abs=1e-6)
    assert FourierLoss(amplitude_weight=0, phase_weight=1)(shifted, x).item() > 0.1
    # a smoothed copy lacks high-frequency energy, and pays for it
    smooth = torch.nn.functional.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False)
    assert FourierLoss()(smooth, x).item() > 0.05


def test_gradient_under_bf16_autocast_is_float32_and_finite():
    pred = torch.rand(2, 3, 16, 16, requires_grad=True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = FourierLoss(phase_weight=1.0)(pred * 1.0, torch.rand(2, 3, 16, 16))
    assert loss.dtype == torch.float32
    loss.backward()
    assert pred.grad is not None and torch.isfinite(pred.grad).all() and pred.grad.abs().sum() > 0


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="phase_weight -1"):
        FourierLoss(phase_weight=-1)
    with pytest.raises(ValueError, match="both 0"):
        FourierLoss(amplitude_weight=0)
    with pytest.raises(ValueError, match=r"pred \(1, 1, 4, 4\) vs target \(1, 1, 4, 5\)"):
        FourierLoss()(torch.zeros(1, 1, 4, 4), torch.zeros(1, 1, 4, 5))
    with pytest.raises(ValueError, match=r"train\.fourier_opt: unknown key 'weight'"):
        build_loss({"type": "FourierLoss", "weight": 1}, "train.fourier_opt")


def test_training_step_logs_the_term_alone(tmp_path):
    # fourier_opt may be the only content loss, and the step logs it as l_fourier
    opt = tiny_options(tmp_path)
    opt["train"]["pixel_opt"] = None
    opt["train"]["fourier_opt"] = {"type": "FourierLoss", "loss_weight": 1.0}
    model = SRModel(options_from_dict(opt), torch.device("cpu"))
    g = torch.Generator().manual_seed(0)
    batch = {"lq": torch.rand(2, 3, 8, 8, generator=g), "gt": torch.rand(2, 3, 32, 32, generator=g)}
    before = {k: v.clone() for k, v in model.net_g.state_dict().items()}
    log = model.train_step(batch, 1)
    assert set(log) >= {"l_fourier"} and "l_pix" not in log and log["l_fourier"] > 0
    assert any(not torch.equal(v, before[k]) for k, v in model.net_g.state_dict().items())
