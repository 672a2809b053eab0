"""SSIM loss against scikit-image's SSIM (independent implementation) and the sr.metrics SSIM."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from skimage.metrics import structural_similarity

from sr.losses import SSIMLoss, build_loss
from sr.losses.ssim_loss import MS_SSIM_WEIGHTS, ms_ssim, ssim_cs
from sr.metrics import ssim, ssim_map


def _pair(shape, dtype=torch.float64, seed=0):
    g = torch.Generator().manual_seed(seed)
    a = torch.rand(shape, generator=g, dtype=dtype)
    b = (a + 0.2 * torch.randn(shape, generator=g, dtype=dtype)).clamp(0, 1)
    return a, b


def _skimage(a: torch.Tensor, b: torch.Tensor, **kw) -> float:
    """Mean over the batch of skimage's SSIM with the paper's Gaussian window, on float images."""
    vals = [
        structural_similarity(
            x.double().numpy(),
            y.double().numpy(),
            gaussian_weights=True,
            sigma=kw.get("sigma", 1.5),
            use_sample_covariance=False,
            data_range=1.0,
            channel_axis=0,
        )
        for x, y in zip(a, b, strict=True)
    ]
    return float(np.mean(vals))


@pytest.mark.parametrize("shape", [(2, 3, 32, 32), (1, 1, 40, 27)])
def test_one_minus_loss_equals_skimage_and_metric(shape):
    a, b = _pair(shape)
    score = 1 - SSIMLoss()(a, b).item()
    assert score == pytest.approx(_skimage(a, b), abs=1e-9)  # float64: agreement to rounding
    assert score == pytest.approx(ssim(a, b, quantize=False), abs=1e-9)
    # float32, as in training
    score32 = 1 - SSIMLoss()(a.float(), b.float()).item()
    assert score32 == pytest.approx(_skimage(a, b), abs=1e-6)


def test_other_sigma_uses_the_2d_gaussian_window():
    # skimage's window radius is int(3.5 * sigma + 0.5): sigma 1.0 -> 4, a 9x9 window
    a, b = _pair((1, 3, 24, 24))
    score = 1 - SSIMLoss(window_size=9, sigma=1.0)(a, b).item()
    assert score == pytest.approx(_skimage(a, b, sigma=1.0), abs=1e-9)


def test_identical_images_give_zero_and_gradient_is_finite():
    a, b = _pair((2, 3, 32, 32), dtype=torch.float32)
    assert SSIMLoss()(a, a).item() == pytest.approx(0.0, abs=1e-6)
    x = b.clone().requires_grad_(True)
    loss = SSIMLoss(loss_weight=2.0)(x, a)
    loss.backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    # one gradient step on the prediction raises its SSIM
    with torch.no_grad():
        assert SSIMLoss()(x - 0.5 * x.grad / x.grad.abs().max(), a) < loss / 2


def test_data_range():
    a, b = _pair((1, 3, 16, 16))
    assert SSIMLoss(data_range=255.0)(a * 255, b * 255).item() == pytest.approx(
        SSIMLoss()(a, b).item(), abs=1e-12
    )


def test_ssim_cs_agrees_with_metric_ssim_map():
    a, b = _pair((2, 3, 20, 20))
    full, _ = ssim_cs(a, b)
    torch.testing.assert_close(full, ssim_map(a, b).mean(dim=(2, 3)))


def test_ms_ssim_hand_composition():
    a, b = _pair((1, 3, 48, 48))
    # one scale: plain SSIM
    torch.testing.assert_close(ms_ssim(a, b, weights=(1.0,)), ssim_map(a, b).mean(dim=(2, 3)))
    # two scales (Wang et al. 2003 eq. 7): cs_1^w1 * ssim_2^w2, scale 2 a 2x2 average of scale 1
    _, cs1 = ssim_cs(a, b)
    a2, b2 = (t.view(1, 3, 24, 2, 24, 2).mean(dim=(3, 5)) for t in (a, b))
    ssim2 = ssim_map(a2, b2).mean(dim=(2, 3))
    torch.testing.assert_close(ms_ssim(a, b, weights=(0.3, 0.7)), cs1.clamp(min=0) ** 0.3 * ssim2**0.7)


def test_ms_ssim_loss():
    assert sum(MS_SSIM_WEIGHTS) == pytest.approx(1.0, abs=1e-3)  # Wang et al. 2003's five exponents
    a, b = _pair((1, 3, 176, 176), dtype=torch.float32)
    loss = SSIMLoss(multiscale=True)
    assert loss(a, a).item() == pytest.approx(0.0, abs=1e-6)
    x = b.clone().requires_grad_(True)
    value = loss(x, a)
    value.backward()
    assert 0 < value.item() < 1 and torch.isfinite(x.grad).all()
    with pytest.raises(ValueError, match="at least 176x176"):
        loss(a[..., :100, :100], b[..., :100, :100])


def test_errors_and_build():
    with pytest.raises(ValueError, match="odd"):
        SSIMLoss(window_size=10)
    with pytest.raises(ValueError, match="at least 11x11"):
        SSIMLoss()(torch.zeros(1, 1, 8, 8), torch.zeros(1, 1, 8, 8))
    assert build_loss({"type": "SSIMLoss", "loss_weight": 0.1}, "train.ssim_opt").loss_weight == 0.1
