"""The Upscaler API: input kinds (numpy/PIL/tensor; gray, RGB, RGBA; 8/16 bit, float), alpha without
fringes, luma models on colour, precision rules, model errors, files (16 bit, ICC, never the input)."""

from __future__ import annotations

import logging
import math
import re

import numpy as np
import pytest
import torch
from PIL import Image as PILImage

from sr.archs import SRCNN, RRDBNet
from sr.checkpoints import CheckpointError
from sr.data.imageio import ImageWriteError, read_image, write_image
from sr.inference.upscaler import Upscaler, fill_transparent
from sr.ops.color import rgb_to_ycbcr, ycbcr_to_rgb
from sr.ops.imresize import imresize


def tiny_rrdb(seed: int = 0) -> RRDBNet:
    g = torch.Generator().manual_seed(seed)
    net = RRDBNet(num_feat=8, num_block=1, num_grow_ch=4)
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * (1 / math.sqrt(p[0].numel()) if p.ndim > 1 else 0.05))
    return net.eval()


@pytest.fixture(scope="module")
def up() -> Upscaler:
    return Upscaler(tiny_rrdb(), tile=0)


def test_numpy_kinds_keep_dtype_and_layout(up):
    g = np.random.default_rng(0)
    rgb8 = g.integers(0, 256, (6, 5, 3), dtype=np.uint8)
    assert up.upscale(rgb8).shape == (24, 20, 3) and up.upscale(rgb8).dtype == np.uint8
    rgb16 = g.integers(0, 65536, (6, 5, 3), dtype=np.uint16)
    out16 = up.upscale(rgb16)
    assert out16.dtype == np.uint16 and out16.shape == (24, 20, 3)
    # 16 bits are kept, not 8 bits scaled up: values off the multiples of 257 appear
    assert (out16 % 257 != 0).any()
    gray = g.integers(0, 256, (6, 5), dtype=np.uint8)
    assert up.upscale(gray).shape == (24, 20)
    rgba = np.dstack([rgb8, np.full((6, 5), 255, np.uint8)])
    assert up.upscale(rgba).shape == (24, 20, 4)
    flt = rgb8.astype(np.float64) / 255
    out_f = up.upscale(flt)
    assert out_f.dtype == np.float32 and 0 <= out_f.min() and out_f.max() <= 1
    assert np.abs(out_f * 255 - up.upscale(rgb8)).max() <= 0.5 + 1e-3  # same result, unrounded


def test_pil_and_tensor_kinds(up):
    im = PILImage.fromarray(np.random.default_rng(1).integers(0, 256, (6, 5, 4), dtype=np.uint8), "RGBA")
    out = up.upscale(im)
    assert isinstance(out, PILImage.Image) and out.mode == "RGBA" and out.size == (20, 24)
    assert up.upscale(im.convert("L")).mode == "L"
    x = torch.rand(2, 3, 6, 5, dtype=torch.float64)
    y = up.upscale(x)
    assert y.shape == (2, 3, 24, 20) and y.dtype == torch.float64
    with torch.no_grad():
        direct = up.model(x[:1].float()).clamp(0, 1)
    assert (up.upscale(x[0]) - direct[0]).abs().max() < 1e-5  # CHW in, CHW out, the model's own output
    with pytest.raises(TypeError, match="numpy array, PIL image or tensor"):
        up.upscale([1, 2, 3])


def test_gray_in_gray_out_is_the_luma_of_the_rgb_result(up):
    gray = np.random.default_rng(2).random((7, 6)).astype(np.float32)
    out = up.upscale(gray)
    assert out.shape == (28, 24) and out.dtype == np.float32
    with torch.no_grad():
        rgb = up.model(torch.from_numpy(gray)[None, None].expand(1, 3, -1, -1))[0]
    weights = torch.tensor([0.299, 0.587, 0.114]).view(3, 1, 1)  # BT.601 (MATLAB's Y row / 219)
    luma = (rgb * weights).sum(0).clamp(0, 1).numpy()
    assert luma.std() > 0.01  # not a constant image
    assert np.abs(out - luma).max() < 1e-5


def test_luma_model_on_colour_uses_y_and_bicubic_chroma():
    net = SRCNN(num_in_ch=1, num_feat=8, num_feat2=4, upscale=2, padding_mode="replicate")
    up = Upscaler(net, tile=0)
    x = torch.rand(3, 8, 9)
    out = up.upscale(x)
    ycc = rgb_to_ycbcr(x[None])
    with torch.no_grad():
        expect = ycbcr_to_rgb(torch.cat([net(ycc[:, :1]), imresize(ycc[:, 1:], 2)], 1))[0].clamp(0, 1)
    assert (out - expect).abs().max() < 1e-5


def disc_on_garish_background(n: int = 24) -> np.ndarray:
    """An opaque red disc with an anti-aliased edge on a fully transparent background whose hidden
    colour is pure green."""
    yy, xx = np.mgrid[0:n, 0:n]
    d = np.hypot(yy - n / 2 + 0.5, xx - n / 2 + 0.5)
    alpha = np.clip(n / 3 - d + 0.5, 0, 1)
    rgb = np.where(alpha[..., None] > 0, [1.0, 0.0, 0.0], [0.0, 1.0, 0.0])
    return (np.dstack([rgb, alpha]) * 255).round().astype(np.uint8)


def test_alpha_edges_have_no_fringe_of_the_hidden_colour():
    img = disc_on_garish_background()
    out = Upscaler("bicubic", scale=4, tile=0).upscale(img)
    visible = out[..., 3] > 0
    assert visible.sum() > 100
    assert out[..., 1][visible].max() <= 1  # no green anywhere a pixel can be seen
    # without the fill the same upscaling paints green on the visible edge: the check can fail
    naive = imresize(torch.from_numpy(img[..., :3].astype(np.float32) / 255).permute(2, 0, 1), 4)
    assert (naive[1].numpy()[visible] * 255).max() > 50


def test_alpha_is_bicubic_of_the_alpha():
    img = disc_on_garish_background()
    out = Upscaler(tiny_rrdb(), tile=0).upscale(img)
    ref = imresize(torch.from_numpy(img[..., 3].astype(np.float32) / 255)[None], 4)[0].clamp(0, 1)
    assert np.abs(out[..., 3].astype(int) - np.round(ref.numpy() * 255).astype(int)).max() == 0


def test_fill_transparent_takes_the_nearest_visible_colour():
    rgb = torch.zeros(3, 1, 6)
    rgb[:, 0, 1] = torch.tensor([1.0, 0.0, 0.0])
    rgb[:, 0, 5] = torch.tensor([0.0, 0.0, 1.0])
    alpha = torch.tensor([[[0.0, 1, 0, 0, 0, 0.5]]])
    out = fill_transparent(rgb, alpha)
    # nearest visible pixel: 1, 1, 1, (3 is a tie between 1 and 5), 5, 5
    assert out[0, 0, [0, 1, 2, 4, 5]].tolist() == [1, 1, 1, 0, 0]
    assert out[2, 0, [0, 1, 2, 4, 5]].tolist() == [0, 0, 0, 1, 1]
    assert torch.equal(out[:, 0, [1, 5]], rgb[:, 0, [1, 5]])  # visible pixels untouched


def test_precision_rules():
    with pytest.raises(ValueError, match="fp16 needs CUDA; use bf16 on CPU"):
        Upscaler(tiny_rrdb(), precision="fp16", device="cpu")
    with pytest.raises(ValueError, match="choose one of fp32, bf16, fp16"):
        Upscaler(tiny_rrdb(), precision="fp64")
    x = torch.rand(3, 8, 8)
    bf = Upscaler(tiny_rrdb(), precision="bf16", device="cpu", tile=0)
    assert next(bf.model.parameters()).dtype == torch.bfloat16
    out = bf.upscale(x)
    assert out.dtype == torch.float32
    ref = Upscaler(tiny_rrdb(), tile=0).upscale(x)
    diff = (out - ref).abs()
    assert 0 < diff.max() < 0.1  # bf16 really ran (not a silent fp32), and is close


def test_bf16_on_a_cpu_without_native_bf16_warns(caplog):
    """Emulated bf16 is several times slower than fp32 (tools.bench: 14.6 vs 149 GFLOP/s for a 3x3
    convolution on an AVX2 EPYC): the user is told, naming the ISA, and the run still happens."""
    from sr.device import cpu_has_native_bf16

    with caplog.at_level(logging.WARNING, logger="sr.device"):
        Upscaler(tiny_rrdb(), precision="bf16", device="cpu", tile=0)
    if cpu_has_native_bf16():
        assert not caplog.records
    else:
        (rec,) = caplog.records
        assert "precision bf16: this CPU has no native bf16" in rec.getMessage()
        assert torch.backends.cpu.get_cpu_capability() in rec.getMessage()
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="sr.device"):
        Upscaler(tiny_rrdb(), precision="fp32", device="cpu", tile=0)
    assert not caplog.records


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"tile": -1}, "tile must be a size >= 0 (0: no tiling) or 'auto', got -1"),
        ({"tile": True}, "tile must be a size >= 0 (0: no tiling) or 'auto', got True"),
        ({"tile": "big"}, "tile must be a size >= 0 (0: no tiling) or 'auto', got 'big'"),
        ({"tile_pad": -2}, "tile_pad must be an int >= 0, got -2"),
        ({"tile_pad": 4.5}, "tile_pad must be an int >= 0, got 4.5"),
        ({"split": "no"}, "split must be True or False, got 'no'"),
        ({"outscale": 0}, "outscale must be a finite number > 0, got 0"),
    ],
)
def test_bad_arguments_are_named(kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        Upscaler(tiny_rrdb(), device="cpu", **kwargs)


def test_model_errors(tmp_path):
    with pytest.raises(ValueError, match="has no scale of its own"):
        Upscaler("bicubic")
    with pytest.raises(CheckpointError, match="neither a checkpoint file nor a baseline"):
        Upscaler(tmp_path / "missing.pth")
    torch.save({"params": tiny_rrdb().state_dict()}, tmp_path / "rrdb.pth")
    assert Upscaler(tmp_path / "rrdb.pth").scale == 4
    with pytest.raises(CheckpointError, match="but scale 2 was requested"):
        Upscaler(tmp_path / "rrdb.pth", scale=2)


def test_upscale_file_16_bit_icc_and_safety(tmp_path):
    from PIL import ImageCms

    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    src = tmp_path / "in put é.png"
    data = torch.rand(3, 6, 7)
    write_image(src, data, bit_depth=16, icc_profile=profile)
    up = Upscaler("bicubic", scale=2, tile=0)
    dst = up.upscale_file(src, tmp_path / "out" / "o.png")
    got = read_image(dst)
    assert got.bit_depth == 16 and got.data.shape == (3, 12, 14) and got.icc_profile == profile
    ref = imresize(read_image(src).data, 2).clamp(0, 1)
    assert (got.data - ref).abs().max() <= 0.5 / 65535 + 1e-6
    before = src.read_bytes()
    with pytest.raises(ImageWriteError, match="an input is never overwritten"):
        up.upscale_file(src, src, overwrite=True)
    assert src.read_bytes() == before
    with pytest.raises(ImageWriteError, match="file exists"):
        up.upscale_file(src, dst)
    rgba = tmp_path / "a.png"
    write_image(rgba, data, alpha=torch.ones(1, 6, 7))
    with pytest.raises(ImageWriteError, match="cannot store; use png or webp"):
        up.upscale_file(rgba, tmp_path / "a.jpg")
    assert not (tmp_path / "a.jpg").exists()
