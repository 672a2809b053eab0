"""Workload 2, tiled upscaling.

(a) x4 of a 512x512 uint8 RGB image with RRDBNet (64/23), tile 128, pad 10: ``sr.inference.upscaler.
Upscaler`` against Real-ESRGAN's ``RealESRGANer`` (``pre_pad=0``, fp32), with identical weights, on
``--device``. Both take and return an 8-bit HWC array (RealESRGANer's in BGR order). A full run takes
about a minute per side on 2 cores, so there is no warm-up call (the first tile warms up) and at most 2
repetitions. ``extra["mean_abs_diff"]``: mean |ours - theirs| in 8-bit levels (ours blends the tile
overlaps, RealESRGANer cuts them hard, so the two differ near seams).

(b) CPU only: the bundled default model, x4 of a 1280x800 crop of a shared photo, automatic tile size,
run as trunk then tail (``Upscaler(split=True)``, the default) against the whole model per tile
(``split=False``; on other devices both would run that), at most 3 repetitions in the order AB BA AB,
no warm-up call; each side's peak RSS is the highest after its own runs, in one process (so the later
side may inherit the allocator's pages). ``extra["max_abs_diff"]`` in 8-bit levels.
"""

from __future__ import annotations

import numpy as np
import torch

from tools.bench.common import Context, Row, reference


def test_image(size: int) -> np.ndarray:
    """A ``size x size`` uint8 RGB crop of the first shared photo, else a seeded synthetic pattern."""
    from tools.bench.imresize_metrics import photos

    paths = photos()
    if paths:
        from sr.data.imageio import read_image

        img = read_image(paths[0]).rgb()[:, :size, :size]
        return np.ascontiguousarray((img.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8))
    g = np.random.default_rng(0)
    return g.integers(0, 256, (size, size, 3), dtype=np.uint8)


def run(ctx: Context) -> list[Row]:
    return [*rrdb_rows(ctx), *([split_row(ctx)] if ctx.device.type == "cpu" else [])]


def split_row(ctx: Context) -> Row:
    import time

    from sr.inference.upscaler import Upscaler
    from tools.bench.common import peak_mb, reset_peak

    h, w = (48, 64) if ctx.quick else (800, 1280)
    img = test_image(max(h, w))[:h, :w]
    ups = {split: Upscaler("default", scale=4, device=ctx.device, split=split) for split in (True, False)}
    times: dict[bool, list[float]] = {True: [], False: []}
    peaks: dict[bool, float | None] = {}
    outs: dict[bool, np.ndarray] = {}
    for i in range(min(ctx.reps, 3)):
        for split in (True, False) if i % 2 == 0 else (False, True):
            up = ups[split]
            reset_peak()
            t0 = time.perf_counter()
            outs[split] = up.upscale(img)
            times[split].append(time.perf_counter() - t0)
            peaks[split] = max(peaks.get(split) or 0.0, peak_mb() or 0.0) or None
    diff = np.abs(outs[True].astype(np.int16) - outs[False].astype(np.int16))
    return Row(
        "tiled",
        f"default model x4 {w}x{h}, auto tile: trunk, then tail in sub-tiles",
        float(np.median(times[True])),
        float(np.median(times[False])),
        "the whole model per tile (split=False)",
        ours_peak_mb=peaks[True],
        ref_peak_mb=peaks[False],
        extra={"max_abs_diff": int(diff.max())},
    )


def rrdb_rows(ctx: Context) -> list[Row]:
    from sr.archs import RRDBNet

    try:
        from sr.inference.upscaler import Upscaler
    except ImportError as e:
        return [Row("tiled", "Upscaler", None, ref_note=f"sr.inference.upscaler not available: {e}")]

    size, tile, pad = (32, 16, 4) if ctx.quick else (512, 128, 10)
    feat, blocks = (8, 1) if ctx.quick else (64, 23)
    torch.manual_seed(0)
    net = RRDBNet(num_feat=feat, num_block=blocks, num_grow_ch=feat // 2, scale=4).eval()
    img = test_image(size)
    reps = min(ctx.reps, 2)
    why = reference("realesrgan", ctx)  # imported before measuring ours: same baseline RSS on both sides
    up = Upscaler(net, tile=tile, tile_pad=pad, precision="fp32", device=ctx.device)
    ours_out: list[np.ndarray] = []

    def ours() -> None:
        ours_out[:] = [up.upscale(img)]

    from tools.bench.common import median_time, peak_mb, reset_peak

    reset_peak()
    t_ours = median_time(ours, reps, warmup=0)
    p_ours = peak_mb()
    case = f"RRDBNet x4 {feat}/{blocks} {size}x{size} tile {tile} pad {pad} fp32"
    if why:
        return [Row("tiled", case, t_ours, ref_note=why, ours_peak_mb=p_ours)]

    from basicsr.archs.rrdbnet_arch import RRDBNet as RefRRDB
    from realesrgan import RealESRGANer

    ref_net = RefRRDB(
        num_in_ch=3, num_out_ch=3, num_feat=feat, num_block=blocks, num_grow_ch=feat // 2, scale=4
    )
    ckpt = ctx.tmp / "rrdb.pth"
    torch.save({"params_ema": net.state_dict()}, ckpt)
    ref = RealESRGANer(
        scale=4,
        model_path=str(ckpt),
        model=ref_net,
        tile=tile,
        tile_pad=pad,
        pre_pad=0,
        half=False,
        device=ctx.device,
    )
    bgr = np.ascontiguousarray(img[:, :, ::-1])
    ref_out: list[np.ndarray] = []

    def theirs() -> None:
        out, _ = ref.enhance(bgr, outscale=4)
        ref_out[:] = [out[:, :, ::-1]]

    reset_peak()
    t_ref = median_time(theirs, reps, warmup=0)
    p_ref = peak_mb()
    diff = np.abs(ours_out[0].astype(np.int16) - ref_out[0].astype(np.int16))
    return [
        Row(
            "tiled",
            case,
            t_ours,
            t_ref,
            "RealESRGANer (realesrgan 0.3.0), pre_pad 0",
            ours_peak_mb=p_ours,
            ref_peak_mb=p_ref,
            extra={"mean_abs_diff": round(float(diff.mean()), 3), "max_abs_diff": int(diff.max())},
        )
    ]
