"""Seam-free tiled upscaling within bounded memory, and a streaming MATLAB-bicubic resize of the result.

Tiling. The LR image is cut into a grid of *cores* (``tile`` LR pixels a side, sizes balanced so that
no sliver is left at the end). Each core is run through the model with ``tile_pad`` LR pixels of real
image context on every side (clipped at the image border, where the untiled model sees the same
border). Neighbouring tiles overlap by ``2 r`` LR pixels around each core boundary, ``r = tile_pad // 2``
(at most half the smallest core), and are blended there with raised-cosine ramps
``w(t) = 1/2 - 1/2 cos(pi (t + 1/2) / (2 s r))`` whose rising and falling halves sum to exactly 1 (a
partition of unity; the 2-D weights are products of 1-D ones). A tile's output is thus used at most
``r`` pixels beyond its core, i.e. with at least ``tile_pad - r`` pixels of context left, and where
two tiles disagree slightly (the receptive field reaches past the pad) the change is spread smoothly
over ``2 s r`` HR pixels instead of forming a step. ``tile_pad = 0`` is plain hard stitching.

Trunk and tail. A model whose upsampling tail depends only on a few LR pixels of its trunk's
features (``tail_halo``, e.g. MSRResNet's pixel-shuffle tail: 2) runs in two stages
(:func:`upscale_split`): the trunk is tiled and blended as above at scale 1, giving LR features, and
the tail runs on them in small tiles with ``tail_halo`` pixels of context, which is exact, so needs no
blending. The tail then recomputes only that halo around each small tile (64 + 2 + 2 pixels a side:
~13% extra), not the whole tile's padding at the high resolution, and its large maps stay in the CPU
caches. At x4 the tail is most of the work: the default model upscales 1280x800 x4 in 0.79x and 0.86x
the time of the whole model per tile (two runs of ``python -m tools.bench --only tiled``).

Memory. Tiles are processed one row of tiles at a time into a float32 band of ``C x s(tile + 2r) x W``
HR pixels; rows that no later tile touches are quantised straight into the caller's output buffer
(``uint8``/``uint16``/``float32``, HWC), so the peak grows with the tile size and the image width,
never with the image area (apart from that output buffer). Split: the band is of LR features,
``F x (tile + 2r) x W``, and the tail writes ``tail_tile`` LR rows at a time (``C x s tail_tile x s W``).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterator

import numpy as np
import torch

from sr.device import available_memory
from sr.ops.imresize import contributions, imresize

TileFn = Callable[[torch.Tensor], torch.Tensor]
"""``(1, C_in, h, w)`` float32 CPU -> ``(1, C_out, s h, s w)`` float32 CPU."""


def tile_spans(length: int, tile: int) -> list[tuple[int, int]]:
    """Cores ``[(a, b), ...]`` partitioning ``[0, length)``: ``ceil(length / tile)`` spans of balanced
    sizes (differing by at most one pixel); one span when ``tile`` is 0 or at least ``length``."""
    if length <= 0:
        raise ValueError(f"cannot tile an empty dimension (length {length})")
    if tile < 0:
        raise ValueError(f"tile size must be >= 0 (0 = no tiling), got {tile}")
    n = 1 if tile == 0 else math.ceil(length / tile)
    bounds = [round(k * length / n) for k in range(n + 1)]
    return list(itertools.pairwise(bounds))


def blend_radius(spans_y: list[tuple[int, int]], spans_x: list[tuple[int, int]], tile_pad: int) -> int:
    """Half-width ``r`` (LR pixels) of the blend ramps: ``tile_pad // 2``, at most half the smallest core."""
    smallest = min(b - a for a, b in [*spans_y, *spans_x])
    return max(0, min(tile_pad // 2, smallest // 2))


def _ramp(n: int) -> torch.Tensor:
    """Rising raised-cosine half-window of ``n`` samples at pixel centres; ``ramp + ramp.flip(0) == 1``."""
    t = (torch.arange(n, dtype=torch.float64) + 0.5) / n
    return (0.5 - 0.5 * torch.cos(math.pi * t)).float()


def _weights_1d(a: int, b: int, r_lo: int, r_hi: int, s: int) -> torch.Tensor:
    """Weights over HR ``[s (a - r_lo), s (b + r_hi))``: ramps up over the first ``2 s r_lo`` samples and
    down over the last ``2 s r_hi``, 1 in between."""
    w = torch.ones(s * (b - a + r_lo + r_hi))
    if r_lo:
        w[: 2 * s * r_lo] = _ramp(2 * s * r_lo)
    if r_hi:
        w[-2 * s * r_hi :] = _ramp(2 * s * r_hi).flip(0)
    return w


def count_tiles(h: int, w: int, tile: int) -> int:
    return len(tile_spans(h, tile)) * len(tile_spans(w, tile))


MAX_TILE_WORK = 64  # padded tiles may cover the image at most this many times over


def check_tile_work(h: int, w: int, tile: int, tile_pad: int) -> None:
    """Refuse (``ValueError`` naming the sizes) a tiling whose padded tiles, clipped to the image,
    add up to more than :data:`MAX_TILE_WORK` times the image's pixels: a huge ``tile_pad`` makes
    every tile the whole image, so the time grows with the square of the image for nothing."""
    if tile == 0:
        return

    def covered(length: int) -> int:
        return sum(min(b - a + 2 * tile_pad, length) for a, b in tile_spans(length, tile))

    ratio = covered(h) * covered(w) / (h * w)
    if ratio > MAX_TILE_WORK:
        raise ValueError(
            f"tiles of {tile} with a pad of {tile_pad} run the model on {ratio:.0f}x the pixels of the "
            f"{w}x{h} input (at most {MAX_TILE_WORK}x); use a larger --tile or a smaller --tile-pad"
        )


def store_rows(out: np.ndarray, y0: int, rows: torch.Tensor) -> None:
    """Write float ``rows`` ``(C, n, W)`` into ``out[y0 : y0 + n]`` (HWC); integer buffers get
    ``round(clamp(x, 0, 1) * max)``, float buffers ``clamp(x, 0, 1)``."""
    x = rows.clamp(0.0, 1.0)
    if out.dtype == np.uint8:
        out[y0 : y0 + rows.shape[1]] = x.mul(255.0).round_().to(torch.uint8).permute(1, 2, 0).numpy()
    elif out.dtype == np.uint16:
        q = x.mul(65535.0).round_().to(torch.int32).permute(1, 2, 0).numpy()
        out[y0 : y0 + rows.shape[1]] = q
    else:
        out[y0 : y0 + rows.shape[1]] = x.permute(1, 2, 0).numpy()


def blended_rows(
    fn: TileFn,
    x: torch.Tensor,
    scale: int,
    channels: int | None,
    tile: int,
    tile_pad: int,
    on_tile: Callable[[], None] | None = None,
) -> Iterator[tuple[int, torch.Tensor]]:
    """The tiled, blended output of ``fn`` on ``x`` ``(C, h, w)``, as ``(y0, rows)`` pairs: float32 rows
    ``(channels, n, s w)`` starting at output row ``y0``, final (no later tile touches them), in order
    from the top and together covering every output row; one pair per row of tiles, so only one band
    of output rows is held at a time. ``channels``: the channels ``fn`` must return (None: whatever the
    first tile has); the other arguments as :func:`upscale_tiled`."""
    if x.ndim != 3:
        raise ValueError(f"expected an image (C, h, w), got shape {tuple(x.shape)}")
    if tile_pad < 0:
        raise ValueError(f"tile_pad must be >= 0, got {tile_pad}")
    _, h, w = x.shape
    s = scale
    spans_y, spans_x = tile_spans(h, tile), tile_spans(w, tile)
    r = blend_radius(spans_y, spans_x, tile_pad)
    ny, nx = len(spans_y), len(spans_x)
    wx = [_weights_1d(a, b, r if i else 0, r if i < nx - 1 else 0, s) for i, (a, b) in enumerate(spans_x)]
    carry: torch.Tensor | None = None
    for j, (a, b) in enumerate(spans_y):
        r_top, r_bot = (r if j else 0), (r if j < ny - 1 else 0)
        top, bottom = s * (a - r_top), s * (b + r_bot)
        acc: torch.Tensor | None = None
        wy = _weights_1d(a, b, r_top, r_bot, s)
        y0, y1 = max(0, a - tile_pad), min(h, b + tile_pad)
        for i, (c, d) in enumerate(spans_x):
            x0, x1 = max(0, c - tile_pad), min(w, d + tile_pad)
            y = fn(x[None, :, y0:y1, x0:x1])
            channels = int(y.shape[1]) if channels is None and y.ndim == 4 else channels
            expected = (1, channels, s * (y1 - y0), s * (x1 - x0))
            if tuple(y.shape) != expected:
                raise ValueError(f"tile output has shape {tuple(y.shape)}, expected {expected}")
            if acc is None:
                acc = torch.zeros(y.shape[1], bottom - top, s * w)
                if carry is not None:
                    acc[:, : carry.shape[1]] += carry
            left, right = s * (c - (r if i else 0)), s * (d + (r if i < nx - 1 else 0))
            crop = y[0, :, top - s * y0 : bottom - s * y0, left - s * x0 : right - s * x0]
            acc[:, :, left:right] += crop * wy[:, None] * wx[i][None, :]
            if on_tile is not None:
                on_tile()
        assert acc is not None
        done = bottom if j == ny - 1 else s * (b - r)  # the next row of tiles starts at s (b - r)
        carry = acc[:, done - top :].clone() if j < ny - 1 else None
        yield top, acc[:, : done - top]


def _check_out(out: np.ndarray, x: torch.Tensor, scale: int) -> None:
    if x.ndim != 3:
        raise ValueError(f"expected an image (C, h, w), got shape {tuple(x.shape)}")
    if out.shape[:2] != (scale * x.shape[1], scale * x.shape[2]):
        raise ValueError(
            f"output buffer {out.shape} does not match ({scale * x.shape[1]}, {scale * x.shape[2]}, C)"
        )


def upscale_tiled(
    fn: TileFn,
    x: torch.Tensor,
    scale: int,
    out: np.ndarray,
    tile: int,
    tile_pad: int,
    on_tile: Callable[[], None] | None = None,
) -> np.ndarray:
    """Upscale ``x`` ``(C, h, w)`` float32 (CPU) tile by tile into ``out`` ``(s h, s w, C_out)``.

    ``fn`` maps one padded tile to its ``scale``-times output (see :data:`TileFn`); it must be
    translation-equivariant by ``scale`` (every model here is). ``tile`` is the core size in LR pixels
    (0: whole image), ``tile_pad`` the context around it. ``on_tile`` is called after each tile.
    Returns ``out``. A wrong output shape from ``fn`` is a ``ValueError``.
    """
    _check_out(out, x, scale)
    for y0, rows in blended_rows(fn, x, scale, out.shape[2], tile, tile_pad, on_tile):
        store_rows(out, y0, rows)
    return out


def exact_tiles(
    fn: Callable[..., torch.Tensor],
    inputs: tuple[torch.Tensor, ...],
    scale: int,
    tile: int,
    halo: int,
    rows: tuple[int, int],
) -> torch.Tensor:
    """``fn(*inputs)`` on input rows ``rows = (r0, r1)``, computed tile by tile and stitched without
    blending. ``inputs`` are ``(1, C_i, h, w)`` maps of the same size; the rows are cut into cores of
    ``tile`` pixels (:func:`tile_spans`), each run with ``halo`` pixels of context (clipped at the
    maps' edges), and each core's ``scale``-times output is kept. Equal to ``fn`` on the whole maps
    when every output pixel depends only on inputs within ``halo`` pixels (a tail and its
    ``tail_halo``): small tiles keep a tail's large high-resolution maps in the CPU caches. Returns
    ``(1, C_out, s (r1 - r0), s w)``."""
    _, _, h, w = inputs[0].shape
    r0, r1 = rows
    out: torch.Tensor | None = None
    for a, b in ((r0 + a, r0 + b) for a, b in tile_spans(r1 - r0, tile)):
        y0, y1 = max(0, a - halo), min(h, b + halo)
        for c, d in tile_spans(w, tile):
            x0, x1 = max(0, c - halo), min(w, d + halo)
            y = fn(*(t[:, :, y0:y1, x0:x1] for t in inputs))
            if y.ndim != 4 or tuple(y.shape[2:]) != (scale * (y1 - y0), scale * (x1 - x0)):
                expected = f"(1, C, {scale * (y1 - y0)}, {scale * (x1 - x0)})"
                raise ValueError(f"tail tile output has shape {tuple(y.shape)}, expected {expected}")
            if out is None:
                out = y.new_empty((1, y.shape[1], scale * (r1 - r0), scale * w))
            core = y[:, :, scale * (a - y0) : scale * (b - y0), scale * (c - x0) : scale * (d - x0)]
            out[:, :, scale * (a - r0) : scale * (b - r0), scale * c : scale * d] = core
    assert out is not None
    return out


def upscale_split(
    trunk: TileFn,
    tail: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    halo: int,
    x: torch.Tensor,
    scale: int,
    out: np.ndarray,
    tile: int,
    tile_pad: int,
    tail_tile: int,
    on_tile: Callable[[], None] | None = None,
    on_band: Callable[[], None] | None = None,
) -> np.ndarray:
    """Upscale ``x`` ``(C, h, w)`` into ``out`` with a model split into a ``trunk`` (``(1, C, h, w)`` ->
    LR features ``(1, F, h, w)``) and a ``tail`` (features and image -> ``(1, C_out, s h, s w)``) that
    needs ``halo`` LR pixels of context to be exact.

    The trunk runs as :func:`upscale_tiled` does at scale 1 (cores of ``tile``, ``tile_pad`` of
    context, features blended across tile boundaries with the same ramps); the tail then runs on each
    finished band of feature rows in small exact tiles of ``tail_tile`` (:func:`exact_tiles`, 0: the
    whole band), ``tail_tile`` rows at a time, each written straight into ``out``. ``on_tile`` is
    called after each trunk tile, ``on_band`` after each row of trunk tiles has been through the tail
    as far as its context allows (once per row of tiles, ``len(tile_spans(h, tile))`` in all)."""
    _check_out(out, x, scale)
    _, h, _ = x.shape
    img = x[None]
    held: torch.Tensor | None = None  # blended feature rows [held_from, known)
    held_from, next_row = 0, 0
    for y0, rows in blended_rows(trunk, x, 1, None, tile, tile_pad, on_tile):
        held = rows if held is None else torch.cat([held, rows], 1)
        known = y0 + rows.shape[1]
        end = h if known == h else known - halo  # rows whose tail has all its context
        for a, b in tile_spans(end - next_row, tail_tile) if end > next_row else []:
            a, b = next_row + a, next_row + b
            lo, hi = max(0, a - halo), min(h, b + halo)
            feat = held[None, :, lo - held_from : hi - held_from]
            y = exact_tiles(tail, (feat, img[:, :, lo:hi]), scale, tail_tile, halo, (a - lo, b - lo))
            store_rows(out, scale * a, y[0])
        next_row = max(next_row, end)
        keep = max(0, next_row - halo)
        held, held_from = held[:, keep - held_from :], keep
        if on_band is not None:
            on_band()
    return out


def resize_buffer(src: np.ndarray, size: tuple[int, int], block: int = 256) -> np.ndarray:
    """MATLAB-bicubic resize of an HWC buffer (``uint8``/``uint16``/``float32``) to ``size = (H, W)``,
    ``block`` output rows at a time, returning a new buffer of the same dtype (rounded and clamped for
    integer buffers). Equal to :func:`sr.ops.imresize` on the whole image (same weights, same symmetric
    border handling; float rounding aside) while holding only a band of float32 rows at once."""
    in_h, in_w = src.shape[:2]
    out_h, out_w = size
    weights, indices = contributions(in_h, out_h, out_h / in_h, "bicubic", None)
    dst = np.empty((out_h, out_w, src.shape[2]), dtype=src.dtype)
    peak = 255.0 if src.dtype == np.uint8 else 65535.0 if src.dtype == np.uint16 else 1.0
    for o0 in range(0, out_h, block):
        wts, idx = weights[o0 : o0 + block], indices[o0 : o0 + block]
        lo, hi = int(idx.min()), int(idx.max()) + 1
        mix = torch.zeros(wts.shape[0], hi - lo, dtype=torch.float64).scatter_add_(1, idx - lo, wts)
        band = torch.from_numpy(src[lo:hi].astype(np.float32)).div_(peak)  # (rows, W, C)
        rows = torch.einsum("oi,iwc->cow", mix.float(), band)  # (C, rows_out, W)
        if out_w != in_w:
            rows = imresize(rows, size=(rows.shape[1], out_w))
        store_rows(dst, o0, rows)
    return dst


# Activation memory per LR pixel of a tile, in elements, for inference (no autograd graph): the largest
# set of feature maps alive at once, estimated from each architecture's layer widths (``f`` features,
# ``g`` growth channels, scale ``s``) with a margin of 1.5 for the allocator and convolution workspaces.
# RRDBNet: the dense block's concatenation (f + 4g channels, input and output) at LR, then ~3 maps of
# f channels at the full HR size; MSRResNet/SRResNet: ~4 maps of f channels at HR (the pixel-shuffle
# convs); SPAN: its 4 f channel concatenation and a few f maps at LR (11 f at the peak, measured with
# live-tensor tracking), the pixel shuffle's input and output at HR; SRCNN: its f + f2 channels at HR;
# interpolation baselines: a few copies of the image at HR.
# ``split`` (:func:`upscale_split`): the trunk's ~4 maps of f channels at LR (the tail's tiles are small).
def activation_elements_per_pixel(model: torch.nn.Module, scale: int, split: bool = False) -> float:
    module = getattr(model, "module", model)  # a ScaleView's model
    name, s2 = type(module).__name__, scale * scale
    f = _features(model)
    if split:
        est = 4 * f
    elif name in ("RRDBNet", "MultiScaleRRDBNet"):
        g = int(module.body[0].rdb1.conv1.out_channels)  # type: ignore[index, union-attr]
        est = 2 * (f + 4 * g) + 3 * f * s2
    elif name in ("MSRResNet", "MultiScaleMSRResNet", "SRResNet"):
        est = 6 * f + 4 * f * s2
    elif name == "SPAN":
        f = int(module.conv_1.sk.out_channels)  # type: ignore[union-attr, arg-type]
        est = 11 * f + 2 * 3 * s2
    elif name == "SRCNN":
        est = 2 * (int(module.conv1.out_channels) + int(module.conv2.out_channels)) * s2  # type: ignore[union-attr, arg-type]
    elif name == "Interpolation":
        est = 4 * 3 * s2
    else:
        est = 4 * 64 * s2
    return 1.5 * est


def band_elements_per_pixel(model: torch.nn.Module, scale: int, split: bool = False) -> float:
    """Memory of the row band held across the whole image width, in elements per LR pixel of it (see
    the module docstring), with the same margin of 1.5: the blended 3-channel HR band (``3 s^2``), or
    for ``split`` the blended, held and joined LR features (``3 f``) and the tail's HR rows (``3 s^2``)."""
    f = _features(model)
    return 1.5 * ((3 * f if split else 0) + 3 * scale * scale)


def _features(model: torch.nn.Module) -> int:
    """``conv_first``'s output channels in ``model`` or a ScaleView's model; 64 if it has none."""
    module = getattr(model, "module", model)
    return int(getattr(getattr(module, "conv_first", None), "out_channels", 64))


AUTO_FRACTION = {"cpu": 0.25, "cuda": 0.6}  # share of the free memory a tile may use
# Beyond these, larger tiles are not faster, only hungrier. CPU: `python tools/time_default_model.py`
# (sr-infer, default model, 1280x800 x4, 2 cores): median 28.4 s with 384, 29.7 s with `--tile 256`;
# the padding re-computed around smaller tiles costs more than the cache misses of larger ones. Run as
# trunk and tail (upscale_split), 256 was no faster than 384, and 640 or no tiling slower (a by-hand,
# in-process comparison of upscale_planes, 3 alternating repetitions: 20.9, 20.8, 24.1 and 23.6 s).
AUTO_CAP = {"cpu": 384, "cuda": 2048}


def auto_tile_size(
    model: torch.nn.Module,
    scale: int,
    device: torch.device,
    dtype: torch.dtype,
    tile_pad: int,
    image_hw: tuple[int, int],
    split: bool = False,
) -> int:
    """The largest core size (a multiple of 16, at least 32, at most :data:`AUTO_CAP`) whose padded
    tile's activations (:func:`activation_elements_per_pixel` x ``(tile + 2 tile_pad)**2``) and row band
    (:func:`band_elements_per_pixel` x ``(tile + 2 tile_pad)`` x the image width), times the element
    size, fit in :data:`AUTO_FRACTION` of :func:`available_memory`; ``split``: as
    :func:`upscale_split` runs the model. 0 (no tiling) when the whole image is no larger than that;
    ``ValueError`` when not even a 32-pixel tile fits."""
    kind = "cuda" if device.type == "cuda" else "cpu"
    size = torch.finfo(dtype).bits / 8
    per_px = activation_elements_per_pixel(model, scale, split) * size
    per_row = band_elements_per_pixel(model, scale, split) * 4 * image_hw[1]  # the bands are float32
    budget = AUTO_FRACTION[kind] * available_memory(device)
    tile = AUTO_CAP[kind]

    def need(t: int) -> float:
        return per_px * (t + 2 * tile_pad) ** 2 + per_row * (t + 2 * tile_pad)

    while tile > 32 and need(tile) > budget:
        tile -= 16
    if max(image_hw) > tile and need(tile) > budget:
        raise ValueError(
            f"even {tile}-pixel tiles with a pad of {tile_pad} need about {need(tile) / 2**30:.3g} GiB, "
            f"more than the {budget / 2**30:.3g} GiB budget on this {kind} device; use a smaller --tile-pad"
        )
    return 0 if max(image_hw) <= tile else tile
