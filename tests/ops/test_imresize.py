"""MATLAB imresize semantics. Golden values are hand derivations from imresize.m's ``contributions``
(kernel, u = x / scale + 0.5 * (1 - 1 / scale), symmetric padding); the end-to-end proof is the
reproduction of the published bicubic tables in tests/cli/test_eval_tables.py."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from sr.ops.imresize import contributions, imresize, output_size, resize_torch


def test_bicubic_upscale_first_sample_by_hand():
    # x2, first output sample: u = 0.75, taps at 1-based indices -1, 0, 1, 2 with cubic weights
    # -0.0234375, 0.2265625, 0.8671875, -0.0703125; indices -1 and 0 mirror to a2 and a1, so
    # out[0] = 1.09375 * a1 - 0.09375 * a2 (the overshoot MATLAB shows on an impulse).
    x = torch.tensor([[1.0, 0.0, 0.0, 0.0]], dtype=torch.float64)
    out = imresize(x, 2)
    assert out.shape == (2, 8)
    assert out[0, 0].item() == pytest.approx(1.09375, abs=1e-12)
    x = torch.tensor([[0.0, 1.0, 0.0, 0.0]], dtype=torch.float64)
    assert imresize(x, 2)[0, 0].item() == pytest.approx(-0.09375, abs=1e-12)


def test_bilinear_antialiased_downscale_by_hand():
    # x0.5 with antialiasing: the triangle is stretched to width 4; output 1 sits at u = 1.5 and
    # weighs a1 (mirrored twice) 0.125 + 0.375, a2 0.375, a3 0.125.
    a = torch.tensor([[3.0, 5.0, 7.0, 11.0, 13.0, 17.0]], dtype=torch.float64)
    out = imresize(a, 0.5, method="bilinear")
    assert out.shape == (1, 3)
    assert out[0, 0].item() == pytest.approx(0.5 * 3 + 0.375 * 5 + 0.125 * 7, abs=1e-12)


def test_box_downscale_is_block_mean_and_nearest_upscale_repeats():
    x = torch.rand(2, 3, 8, 6, dtype=torch.float64)
    blocks = x.unfold(-2, 2, 2).unfold(-2, 2, 2).mean(dim=(-1, -2))
    torch.testing.assert_close(imresize(x, 0.5, method="box"), blocks)
    up = imresize(x, 3, method="nearest")
    torch.testing.assert_close(up, x.repeat_interleave(3, -2).repeat_interleave(3, -1))


@pytest.mark.parametrize("method", ["bicubic", "bilinear", "lanczos3", "box"])
@pytest.mark.parametrize("scale", [0.25, 1 / 3, 0.7, 2, 3, 4])
def test_weights_sum_to_one_and_constant_stays_constant(method, scale):
    w, idx = contributions(37, output_size((37, 37), scale)[0], scale, method)
    torch.testing.assert_close(w.sum(1), torch.ones(w.shape[0], dtype=torch.float64))
    assert idx.min() >= 0 and idx.max() < 37
    x = torch.full((1, 37, 29), 0.3, dtype=torch.float64)
    torch.testing.assert_close(imresize(x, scale, method=method), torch.full_like(imresize(x, scale), 0.3))


def test_output_size_is_ceil_of_scale_times_size():
    assert imresize(torch.rand(10, 10), 1 / 3).shape == (4, 4)
    assert imresize(torch.rand(10, 7), 0.3).shape == (3, 3)
    assert imresize(torch.rand(30, 30), 0.1).shape == (3, 3)  # 0.1 * 30 is 3.0000000000000004 in floats
    assert imresize(torch.rand(5, 7), size=(11, 3)).shape == (11, 3)
    assert imresize(torch.rand(5, 7), (2, 0.5)).shape == (10, 4)


def test_batched_equals_per_image_and_float32_matches_float64():
    x = torch.rand(2, 3, 24, 17, dtype=torch.float64)
    batched = imresize(x, 0.25)
    torch.testing.assert_close(batched[1, 2], imresize(x[1, 2], 0.25))
    torch.testing.assert_close(imresize(x.float(), 0.25).double(), batched, atol=2e-6, rtol=0)


def test_dimension_with_smaller_scale_goes_first_and_separability():
    # resizing H then W or W then H is the same map up to float rounding
    x = torch.rand(1, 21, 33, dtype=torch.float64)
    torch.testing.assert_close(imresize(x, (0.5, 2)), imresize(imresize(x, (1, 2)), (0.5, 1)))


def test_bad_input_names_the_problem():
    with pytest.raises(TypeError, match="floating"):
        imresize(torch.zeros(4, 4, dtype=torch.uint8), 2)
    with pytest.raises(ValueError, match="unknown imresize method 'cubic'"):
        imresize(torch.zeros(4, 4), 2, method="cubic")
    with pytest.raises(ValueError, match="exactly one"):
        imresize(torch.zeros(4, 4))
    with pytest.raises(ValueError, match="positive"):
        imresize(torch.zeros(4, 4), -2)


def test_torch_baseline_is_honestly_different_from_matlab():
    x = torch.rand(1, 3, 16, 16, dtype=torch.float64)
    ours = imresize(x, 2)
    theirs = resize_torch(x, (32, 32), "bicubic")
    assert ours.shape == theirs.shape
    assert (ours - theirs).abs().max() > 1e-3  # a = -0.75 and edge handling differ
    with pytest.raises(ValueError, match="unknown torch resize mode"):
        resize_torch(x, (32, 32), "lanczos")


def test_building_a_resize_matrix_warns_nothing():
    # a fresh process: torch warns once per process, so an earlier test may have used the warning up.
    # torch 2.11 (seen on a GPU machine) warned here on every sr-train start despite check_invariants=False
    code = "import torch; from sr.ops.imresize import imresize; imresize(torch.rand(1, 3, 9, 9), 1 / 3)"
    proc = subprocess.run(
        [sys.executable, "-W", "error::UserWarning", "-c", code], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
