"""PSNR/SSIM against scikit-image (an independent implementation) and hand derivations."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from sr.metrics import psnr, ssim
from sr.ops.color import rgb_to_y, rgb_to_ycbcr, ycbcr_to_rgb


def _pair(shape, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 256, shape).astype(np.uint8)
    b = np.clip(a.astype(int) + rng.integers(-25, 26, shape), 0, 255).astype(np.uint8)
    return a, b


def _t(a):
    return torch.from_numpy(a).double().div(255)


@pytest.mark.parametrize("shape", [(3, 48, 37), (1, 64, 64)])
def test_ssim_equals_skimage_gaussian(shape):
    a, b = _pair(shape)
    ours = ssim(_t(a), _t(b))
    ref = structural_similarity(
        a, b, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=255, channel_axis=0
    )
    assert abs(ours - ref) < 1e-6


def test_ssim_crop_border_equals_skimage_on_cropped():
    a, b = _pair((1, 50, 60), seed=1)
    ref = structural_similarity(
        a[0, 4:-4, 4:-4],
        b[0, 4:-4, 4:-4],
        gaussian_weights=True,
        sigma=1.5,
        use_sample_covariance=False,
        data_range=255,
    )
    assert abs(ssim(_t(a), _t(b), crop_border=4) - ref) < 1e-6


def test_psnr_equals_skimage_and_hand_value():
    a, b = _pair((3, 32, 32))
    assert psnr(_t(a), _t(b)) == pytest.approx(peak_signal_noise_ratio(a, b, data_range=255), abs=1e-10)
    # every pixel off by one level: MSE 1, PSNR = 20 log10(255) = 48.1308 dB
    x = torch.full((1, 8, 8), 100 / 255)
    assert psnr(x, x + 1 / 255) == pytest.approx(20 * math.log10(255), abs=1e-9)
    assert psnr(x, x) == math.inf


def test_quantize_rounds_to_8_bit_levels_first():
    x = torch.full((1, 16, 16), 100 / 255)
    assert psnr(x, x + 0.4 / 255) == math.inf  # rounds to the same level
    assert psnr(x, x + 0.4 / 255, quantize=False) < math.inf


def test_y_channel_uses_matlab_bt601():
    # MATLAB rgb2ycbcr: white -> Y 235, black -> 16, pure green -> 16 + 128.553 = 144.553
    rgb = torch.tensor([[[1.0, 0.0, 0.0]], [[1.0, 0.0, 1.0]], [[1.0, 0.0, 0.0]]])  # white, black, green
    y = rgb_to_y(rgb).flatten() * 255
    torch.testing.assert_close(y, torch.tensor([235.0, 16.0, 144.553]))
    x = torch.rand(2, 3, 5, 5, dtype=torch.float64)
    torch.testing.assert_close(ycbcr_to_rgb(rgb_to_ycbcr(x)), x)


def test_bad_shapes_are_named():
    with pytest.raises(ValueError, match="shapes differ"):
        psnr(torch.zeros(3, 8, 8), torch.zeros(3, 8, 9))
    with pytest.raises(ValueError, match="leaves nothing"):
        psnr(torch.zeros(1, 8, 8), torch.zeros(1, 8, 8), crop_border=4)
    with pytest.raises(ValueError, match="11x11"):
        ssim(torch.zeros(1, 12, 12), torch.zeros(1, 12, 12), crop_border=2)


@pytest.mark.parametrize("strip", [1, 7, 11, 300])
def test_strips_change_nothing(monkeypatch, strip):
    """The CPU path prepares STRIP_ROWS rows at a time (plus the window's overlap); any strip height,
    down to one row, gives the whole image's scores (to float64 summation order)."""
    import importlib

    m = importlib.import_module("sr.metrics.psnr_ssim")  # the module: sr.metrics.psnr_ssim is the function

    g = torch.Generator().manual_seed(0)
    a = torch.rand(2, 3, 45, 33, generator=g)
    b = (a + 0.1 * torch.randn(2, 3, 45, 33, generator=g)).clamp(0, 1)
    whole = m.psnr_ssim(a, b, crop_border=3, y_channel=True)
    monkeypatch.setattr(m, "STRIP_ROWS", strip)
    strips = m.psnr_ssim(a, b, crop_border=3, y_channel=True)
    assert strips == pytest.approx(whole, rel=1e-12)
    assert (m.psnr(a, b, crop_border=3, y_channel=True), m.ssim(a, b, crop_border=3, y_channel=True)) == (
        pytest.approx(whole[0], rel=1e-12),
        pytest.approx(whole[1], rel=1e-12),
    )


def test_ssim_cpu_path_equals_the_differentiable_map():
    """The CPU metric (OpenCV's separable filter) and ``ssim_map`` (torch convolutions, used on GPUs
    and by the SSIM loss) are two implementations of one formula."""
    from sr.metrics import ssim_map

    a, b = _pair((1, 40, 52), seed=3)
    x, y = _t(a).unsqueeze(0) * 255, _t(b).unsqueeze(0) * 255
    expected = float(ssim_map(x, y, data_range=255.0).mean())
    assert ssim(_t(a), _t(b)) == pytest.approx(expected, abs=1e-12)
