"""Tiled upscaling: seam-free blending (partition of unity), equivalence with the untiled model, no
visible tile boundaries, the trunk/tail split (exact tail tiles, a tight ``tail_halo``), the streaming
resize, and the automatic tile size."""

from __future__ import annotations

import itertools
import math
from collections import Counter
from functools import partial
from pathlib import Path

import numpy as np
import pytest
import torch

from sr.archs import SPAN, SRCNN, MSRResNet, MultiScaleMSRResNet, RRDBNet, ScaleView
from sr.inference.baselines import Interpolation
from sr.inference.tiling import (
    _weights_1d,
    auto_tile_size,
    blend_radius,
    blended_rows,
    check_tile_work,
    count_tiles,
    exact_tiles,
    resize_buffer,
    tile_spans,
    upscale_split,
    upscale_tiled,
)
from sr.inference.upscaler import Upscaler
from sr.ops.imresize import imresize

PHOTO = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "photos" / "mate" / "Garden.jpg"


def randomise(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Random weights of unit-ish gain (as tests/checkpoints/test_checkpoint_crosscheck.py)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            scale = 1 / math.sqrt(p[0].numel()) if p.ndim > 1 else 0.05
            p.copy_(torch.randn(p.shape, generator=g) * scale)
    return model.eval()


def photo_crop(h: int = 40, w: int = 56) -> np.ndarray:
    """A crop of a real photo (shared data) when present, else a procedural one: smooth gradients,
    edges and fine texture, uint8 HWC."""
    if PHOTO.is_file():
        from sr.data.imageio import read_image, to_uint

        img = read_image(PHOTO).data
        return to_uint(img[:, 300 : 300 + h, 400 : 400 + w])
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    r = 0.5 + 0.4 * np.sin(xx / 3.0) * np.cos(yy / 5.0)
    g = (xx + yy) / (h + w)
    b = ((xx // 7 + yy // 5) % 2) * 0.8 + 0.1
    return (np.stack([r, g, b], 2) * 255).round().astype(np.uint8)


NETS = {
    "SRCNN": lambda: randomise(SRCNN(num_in_ch=3, num_feat=16, num_feat2=8, padding_mode="replicate")),
    "MSRResNet": lambda: randomise(MSRResNet(num_feat=8, num_block=2)),
    "RRDBNet": lambda: randomise(RRDBNet(num_feat=8, num_block=1, num_grow_ch=4)),
    "SPAN": lambda: randomise(SPAN(feature_channels=8, norm=False)),
}


def test_spans_partition_and_balance():
    assert tile_spans(10, 0) == [(0, 10)]
    assert tile_spans(10, 20) == [(0, 10)]
    spans = tile_spans(101, 32)
    assert len(spans) == 4 and spans[0][0] == 0 and spans[-1][1] == 101
    assert all(b == c for (_, b), (c, _) in itertools.pairwise(spans))
    sizes = [b - a for a, b in spans]
    assert max(sizes) - min(sizes) <= 1  # no sliver tile at the end
    with pytest.raises(ValueError, match="tile size must be >= 0"):
        tile_spans(10, -1)


@pytest.mark.parametrize("s", [1, 2, 4])
def test_blend_weights_are_a_partition_of_unity(s):
    spans = tile_spans(50, 12)
    r = blend_radius(spans, spans, 8)
    assert r == 4
    total = torch.zeros(50 * s)
    for i, (a, b) in enumerate(spans):
        lo, hi = (r if i else 0), (r if i < len(spans) - 1 else 0)
        total[s * (a - lo) : s * (b + hi)] += _weights_1d(a, b, lo, hi, s)
    assert torch.allclose(total, torch.ones_like(total), atol=1e-6)


# (net, split): MSRResNet runs on the CPU as trunk then tail unless split=False; the others whole per tile
CASES = [("SRCNN", True), ("MSRResNet", True), ("MSRResNet", False), ("RRDBNet", True), ("SPAN", True)]


@pytest.mark.parametrize(("name", "split"), CASES)
def test_tiled_equals_untiled_on_8_bit_output(name, split):
    net = NETS[name]()
    img = photo_crop()
    whole = Upscaler(net, tile=0, split=split).upscale(img)
    tiled = Upscaler(net, tile=12, tile_pad=16, split=split).upscale(img)
    assert tiled.shape == whole.shape == (160, 224, 3)
    diff = np.abs(tiled.astype(int) - whole.astype(int))
    assert diff.max() <= 1, f"{name}: max difference {diff.max()} / 255"
    # with no context at all (hard stitching) the same check fails: the test can tell
    hard = Upscaler(net, tile=12, tile_pad=0, split=split).upscale(img)
    assert np.abs(hard.astype(int) - whole.astype(int)).max() > 1


def boundary_energy_ratio(out: np.ndarray, bounds_hr: list[int], scale: int) -> float:
    """Mean squared step (horizontal and vertical) across the tile boundaries over the mean squared step
    at every other position of the same phase modulo ``scale`` (an upscaled image's gradient energy is
    periodic with the scale, so only equal phases compare)."""
    x = out.astype(np.float64)
    dx = ((x[:, 1:] - x[:, :-1]) ** 2).mean(axis=(0, 2))  # step between column c and c + 1
    dy = ((x[1:] - x[:-1]) ** 2).mean(axis=(1, 2))
    ratios = []
    for steps in (dx, dy):
        at = np.array([b - 1 for b in bounds_hr])
        same_phase = np.arange(len(steps)) % scale == at[0] % scale
        rest = same_phase.copy()
        rest[at] = False
        rest[: 4 * scale] = rest[-4 * scale :] = False  # the image's own borders (padding) do not count
        ratios.append(steps[at].mean() / steps[rest].mean())
    return float(np.mean(ratios))


# When written, the ratio untiled / blended / hard-stitched on the shared photo (on the procedural image
# used without ../shared): RRDBNet 0.945 / 0.945 / 14.5 (0.916 / 0.916 / 5.82); MSRResNet as trunk and
# tail 0.999 / 0.999 / 1.29 (1.007 / 1.007 / 1.117: its exact tail smooths a seam in the features);
# whole per tile 0.999 / 0.999 / 0.50 (1.007 / 1.007 / 1.48; the zero padding of each tile can flatten
# its edges: a seam of too little change). Blended is within 0.01% of untiled in every case.
@pytest.mark.parametrize(("name", "split"), [("RRDBNet", True), ("MSRResNet", True), ("MSRResNet", False)])
def test_no_visible_tile_boundaries(name, split):
    net = NETS[name]()
    img = photo_crop(64, 64)
    bounds = [4 * a for a, _ in tile_spans(64, 8)[1:]]  # 7 boundaries per axis, 32 HR pixels apart
    whole = boundary_energy_ratio(Upscaler(net, tile=0, split=split).upscale(img), bounds, 4)
    blended = boundary_energy_ratio(Upscaler(net, tile=8, tile_pad=8, split=split).upscale(img), bounds, 4)
    assert abs(blended - whole) < 0.01 * whole, (blended, whole)  # the blended seams: as no seams at all
    # hard-stitched tiles with little context show their seams to the same measure
    seamy = Upscaler(net, tile=8, tile_pad=0, split=split).upscale(img)
    assert abs(boundary_energy_ratio(seamy, bounds, 4) / whole - 1) > 0.05


SPLIT_NETS = {
    "MSRResNet": lambda s: randomise(MSRResNet(num_feat=8, num_block=2, upscale=s)),
    "MultiScaleMSRResNet": lambda s: ScaleView(randomise(MultiScaleMSRResNet(num_feat=8, num_block=2)), s),
}


@pytest.mark.parametrize("scale", [2, 3, 4])
@pytest.mark.parametrize("name", list(SPLIT_NETS))
def test_tail_in_exact_tiles_equals_the_whole_tail_and_its_halo_is_tight(name, scale):
    net = SPLIT_NETS[name](scale)
    x = torch.from_numpy(photo_crop(23, 31)).permute(2, 0, 1)[None].float() / 255
    with torch.no_grad():
        feat = net.forward_trunk(x)
        whole = net.forward_tail(feat, x)
        assert torch.equal(net(x), whole)  # forward is trunk then tail
        tiled = exact_tiles(net.forward_tail, (feat, x), scale, 5, net.tail_halo, (0, 23))
        assert (tiled - whole).abs().max() < 1e-5
        rows = exact_tiles(net.forward_tail, (feat, x), scale, 4, net.tail_halo, (7, 18))
        assert (rows - whole[:, :, 7 * scale : 18 * scale]).abs().max() < 1e-5
        # one pixel less context is not enough: the declared halo is the smallest exact one
        short = exact_tiles(net.forward_tail, (feat, x), scale, 5, net.tail_halo - 1, (0, 23))
        assert (short - whole).abs().max() > 1e-3


@pytest.mark.parametrize("name", list(SPLIT_NETS))
def test_split_upscaler_equals_the_model(name):
    net = SPLIT_NETS[name](4)
    up = Upscaler(net, tile=0)
    assert up._split(3) and up._split(1)  # the CPU runs this model as trunk, then tail in sub-tiles
    assert not Upscaler(net, split=False)._split(3)  # unless asked not to: the whole model per tile
    img = photo_crop(30, 50).astype(np.float32) / 255
    with torch.no_grad():
        rgb = net(torch.from_numpy(img).permute(2, 0, 1)[None])[0]
    assert np.abs(up.upscale(img) - rgb.clamp(0, 1).permute(1, 2, 0).numpy()).max() < 1e-5
    gray = up.upscale(np.ascontiguousarray(img[..., 0]))  # gray in: the luma of the gray-as-RGB result
    with torch.no_grad():
        rgb_g = net(torch.from_numpy(img[..., 0])[None, None].expand(1, 3, -1, -1))[0]
    luma = (rgb_g * torch.tensor([0.299, 0.587, 0.114]).view(3, 1, 1)).sum(0).clamp(0, 1)
    assert gray.shape == (120, 200) and np.abs(gray - luma.numpy()).max() < 1e-5


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_split_bands_and_sub_tiles_cover_the_image_exactly(scale):
    """upscale_split's band bookkeeping: equal to the tail run once on all the blended trunk features,
    with every output pixel written, down to 1-pixel images, bands thinner than the halo and 1-pixel
    tail tiles; the callbacks fire once per trunk tile and once per row of trunk tiles."""
    net = SPLIT_NETS["MSRResNet"](scale)
    g = torch.Generator().manual_seed(scale)
    with torch.no_grad():
        for h, w, tile, pad, tail_tile in [
            (1, 1, 0, 0, 64), (1, 7, 2, 1, 1), (7, 1, 1, 2, 2), (13, 6, 3, 0, 3), (17, 17, 4, 5, 64),
            (17, 11, 7, 2, 0), (9, 20, 0, 3, 4),
        ]:  # fmt: skip
            x = torch.rand(3, h, w, generator=g)
            feats = torch.cat([rows for _, rows in blended_rows(net.forward_trunk, x, 1, None, tile, pad)], 1)
            ref = net.forward_tail(feats[None], x[None])[0].permute(1, 2, 0).numpy()
            out = np.full((scale * h, scale * w, 3), np.nan, np.float32)
            calls: Counter[str] = Counter()
            upscale_split(
                net.forward_trunk, net.forward_tail, net.tail_halo, x, scale, out, tile, pad, tail_tile,
                on_tile=partial(calls.update, ["tile"]), on_band=partial(calls.update, ["band"]),
            )  # fmt: skip
            case = (h, w, tile, pad, tail_tile)
            assert not np.isnan(out).any(), case
            assert np.abs(out - ref.clip(0, 1)).max() < 1e-5, case
            assert calls == {"tile": count_tiles(h, w, tile), "band": len(tile_spans(h, tile))}, case


def test_split_upscaler_with_several_bands_and_sub_tiles():
    """The default model on a 150x170 crop, tiles of 48 (4 bands) and tail tiles of 64 (several per
    band): within 1/255 of the whole model per tile and of the untiled model, alpha kept."""
    img = photo_crop(150, 170)
    rgba = np.dstack([img, np.linspace(0, 255, 150 * 170).reshape(150, 170).astype(np.uint8)])
    split = Upscaler("default", scale=4, tile=48).upscale(rgba)
    whole = Upscaler("default", scale=4, tile=48, split=False).upscale(rgba)
    untiled = Upscaler("default", scale=4, tile=0, split=False).upscale(rgba)
    assert split.shape == (600, 680, 4)
    assert np.abs(split.astype(int) - whole.astype(int)).max() <= 1
    assert np.abs(split.astype(int) - untiled.astype(int)).max() <= 1
    assert np.array_equal(split[..., 3], whole[..., 3])  # alpha: bicubic either way


def test_split_errors_name_the_shape():
    net = SPLIT_NETS["MSRResNet"](2)
    x = torch.rand(3, 8, 8)
    with pytest.raises(ValueError, match=r"expected an image \(C, h, w\)"):
        upscale_split(net.forward_trunk, net.forward_tail, 2, x[None], 2, np.empty((16, 16, 3)), 4, 2, 4)
    with pytest.raises(ValueError, match="output buffer"):
        upscale_split(net.forward_trunk, net.forward_tail, 2, x, 2, np.empty((15, 16, 3)), 4, 2, 4)
    feat = net.forward_trunk(x[None])
    wrong = SPLIT_NETS["MSRResNet"](3)  # a x3 tail where x2 is expected
    with pytest.raises(ValueError, match="tail tile output has shape"):
        exact_tiles(wrong.forward_tail, (feat, x[None]), 2, 4, 2, (0, 8))


def test_wrong_tile_output_shape_is_an_error():
    x = torch.rand(3, 10, 10)
    out = np.empty((20, 20, 3), np.float32)
    with pytest.raises(ValueError, match="tile output has shape"):
        upscale_tiled(Interpolation("bicubic", 3), x, 2, out, 5, 2)


@pytest.mark.parametrize("dtype", [np.float32, np.uint8])
def test_streaming_resize_equals_imresize(dtype):
    g = torch.Generator().manual_seed(3)
    x = torch.rand(3, 37, 29, generator=g)
    src = (
        (x * 255).round().byte().permute(1, 2, 0).numpy() if dtype == np.uint8 else x.permute(1, 2, 0).numpy()
    )
    size = (32, 25)  # a non-integer factor down (x 0.865)
    got = resize_buffer(np.ascontiguousarray(src), size, block=7)
    ref = imresize(
        torch.from_numpy(src.astype(np.float32)).permute(2, 0, 1) / (255.0 if dtype == np.uint8 else 1.0),
        size=size,
    )
    ref_hwc = ref.clamp(0, 1).permute(1, 2, 0).numpy()
    assert got.shape == (32, 25, 3) and got.dtype == dtype
    if dtype == np.uint8:
        assert np.abs(got.astype(int) - np.round(ref_hwc * 255).astype(int)).max() <= 1
    else:
        assert np.abs(got - ref_hwc).max() < 1e-5


def test_auto_tile_size():
    net = RRDBNet(num_feat=64, num_block=2, num_grow_ch=32)
    cpu = torch.device("cpu")
    assert auto_tile_size(net, 4, cpu, torch.float32, 16, (40, 40)) == 0  # fits whole
    t = auto_tile_size(net, 4, cpu, torch.float32, 16, (40000, 30000))
    assert t >= 32 and t % 16 == 0
    assert auto_tile_size(net, 4, cpu, torch.bfloat16, 16, (40000, 30000)) >= t
    # found by review: a pad so large that not even a 32-pixel tile fits returned 32 anyway
    with pytest.raises(ValueError, match=r"even 32-pixel tiles with a pad of 100000 need about .* GiB"):
        auto_tile_size(net, 4, cpu, torch.float32, 100_000, (40000, 30000))


def test_tilings_that_redo_the_image_many_times_are_refused():
    """Found by review: ``--tile-pad 100000`` made every tile the whole image (2209 whole-image runs
    for a 1500x1500 input). Padded tiles may cover the image at most MAX_TILE_WORK times."""
    check_tile_work(1500, 1500, 32, 16)  # 2.25x: fine
    check_tile_work(40, 40, 0, 100_000)  # no tiling: the pad is unused
    with pytest.raises(ValueError, match=r"tiles of 32 with a pad of 100000 run the model on 2209x"):
        check_tile_work(1500, 1500, 32, 100_000)
    up = Upscaler("bicubic", scale=2, tile=16, tile_pad=200)
    with pytest.raises(ValueError, match="smaller --tile-pad"):
        up.upscale_planes(torch.rand(3, 300, 300), None, np.uint8)
