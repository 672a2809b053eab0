"""NIQE against the MATLAB release (through BasicSR's published MATLAB figure) and BasicSR's independent
implementation, plus properties that hold for any image."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from sr.data.imageio import read_image
from sr.data.samples import load_sample
from sr.metrics.niqe import BLOCK, gaussian_window, niqe, niqe_rgb, pristine_model
from sr.ops.imresize import imresize

# BasicSR 1.4.2's calculate_niqe(img, crop_border=0, convert_to="y") on the shared benchmark images,
# printed by `python tools/crosscheck_niqe.py --basicsr /tmp/basicsr-1.4.2 IMAGES` (BasicSR's source
# from its PyPI sdist): an independent implementation of the same MATLAB code.
BASICSR = {
    "Set14/baboon": 5.729564,
    "Set14/comic": 4.138840,
    "Set14/face": 8.492998,
    "Set14/ppt3": 5.447278,
    "Set14/bridge": 2.512163,  # a grayscale PNG (its gray levels are the luma)
    "BSD100/img_002": 3.980740,
    "Set5/head": 8.350496,
    "Set5/bird": 4.362085,
}
# MATLAB R2021a, the authors' niqe_release, on baboon.png (quoted in BasicSR's calculate_niqe docstring)
MATLAB_BABOON = 5.72957338


@pytest.mark.parametrize("name", sorted(BASICSR))
def test_matches_basicsr(shared_dir, name):
    img = read_image(shared_dir / "data" / "benchmarks" / f"{name}.png")
    assert niqe_rgb(img.data) == pytest.approx(BASICSR[name], abs=1e-3)


def test_matches_matlab_on_baboon(shared_dir):
    img = read_image(shared_dir / "data" / "benchmarks" / "Set14" / "baboon.png")
    assert niqe_rgb(img.data) == pytest.approx(MATLAB_BABOON, abs=1e-4)


def test_window_is_fspecial_and_model_is_the_release():
    w = gaussian_window()
    # BasicSR's stored copy of MATLAB fspecial('gaussian', 7, 7/6): centre and corner
    assert w[3, 3] == pytest.approx(0.11739635539001349, abs=1e-15)
    assert w[0, 0] == pytest.approx(0.0001577586358082699, abs=1e-15)
    assert w.sum() == pytest.approx(1.0)
    mu, cov = pristine_model()
    assert mu.shape == (36,) and cov.shape == (36, 36)
    np.testing.assert_allclose(cov, cov.T)
    # modelparameters.mat: the first feature is the GGD shape at scale 1, 2.6013 over the pristine set
    assert mu[0] == pytest.approx(2.60131368, abs=1e-8)


def test_blur_and_noise_raise_niqe_on_a_photo():
    rgb = load_sample("astronaut").double()  # scikit-image's photograph, 512x512
    sharp = niqe_rgb(rgb)
    blurred = imresize(imresize(rgb, 0.25), 4.0).clamp(0, 1)
    noisy = (rgb + 0.08 * torch.randn(rgb.shape, generator=torch.Generator().manual_seed(0))).clamp(0, 1)
    assert niqe_rgb(blurred) > sharp + 1.0
    assert niqe_rgb(noisy) > sharp + 1.0


def test_gray_and_rgb_inputs_agree_and_luma_is_rounded():
    rgb = load_sample("chelsea").double()[:, :192, :288]
    y = (65.481 * rgb[0] + 128.553 * rgb[1] + 24.966 * rgb[2]) + 16  # MATLAB's Y on [0, 255]
    assert niqe_rgb(rgb) == niqe(y.round())
    assert niqe(y) == niqe(y.round())  # rounded to 8-bit levels first, as the release reads files


def test_crop_border_and_size_errors():
    rgb = load_sample("coffee").double()[:, :200, :200]
    assert niqe_rgb(rgb, crop_border=4) == niqe_rgb(rgb[:, 4:-4, 4:-4])
    with pytest.raises(ValueError, match=f"at least {BLOCK}x{BLOCK}"):
        niqe(np.zeros((95, 400)))
    with pytest.raises(ValueError, match="one luma image"):
        niqe(np.zeros((2, 100, 100)))
    with pytest.raises(ValueError, match="one image at a time"):
        niqe_rgb(torch.zeros(2, 3, 100, 100))


def test_flat_image_is_nan_not_a_crash():
    assert math.isnan(niqe(np.full((192, 192), 128.0)))
