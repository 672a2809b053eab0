"""Workload 5: MATLAB-compatible bicubic x1/4 of a 2040x1356 photo (float32 RGB) with ``sr.ops.imresize``
against BasicSR's ``basicsr.utils.matlab_functions.imresize``; and PSNR + SSIM (luma, crop 4) of the
shared photos (``$SR_SHARED/data/photos``, 19 JPEGs) as HR against their own MATLAB-bicubic x4 round
trip, with ``sr.metrics.psnr/ssim`` against BasicSR's ``calculate_psnr``/``calculate_ssim``.

The metrics are BasicSR's protocol on both sides: 8-bit RGB images in, unrounded BT.601 luma
(``quantize=False`` on ours; the default ``quantize=True`` of the published tables rounds the luma).
Each side gets its native input: ours float tensors in [0, 1] RGB, BasicSR uint8 HWC BGR arrays.
``extra["max_abs_diff"]``: the largest difference between the two sides' outputs (must be ~0).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from tools.bench.common import Context, Row, measured, reference


def photos() -> list[Path]:
    """The shared photos, sorted; empty when ``$SR_SHARED`` (default /work/shared) has none."""
    root = Path(os.environ.get("SR_SHARED", "/work/shared")) / "data" / "photos"
    return sorted(p for p in root.rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png"))


def photo_2k(quick: bool) -> np.ndarray:
    """A 2040x1356 float32 HWC RGB image in [0, 1] (a DIV2K-sized crop), 64x48 with ``quick``."""
    h, w = (48, 64) if quick else (1356, 2040)
    paths = photos()
    if paths:
        from sr.data.imageio import read_image

        img = read_image(paths[0]).rgb().permute(1, 2, 0).numpy()
        if img.shape[0] >= h and img.shape[1] >= w:
            return np.ascontiguousarray(img[:h, :w], dtype=np.float32)
    g = np.random.default_rng(0)
    return g.random((h, w, 3), dtype=np.float32)


def imresize_row(ctx: Context) -> Row:
    from sr.ops import imresize

    hwc = photo_2k(ctx.quick)
    chw = torch.from_numpy(hwc).permute(2, 0, 1).contiguous()
    reps = ctx.reps * 3
    t_ours, p_ours = measured(lambda: imresize(chw, 0.25), reps)
    case = f"imresize x1/4 {hwc.shape[1]}x{hwc.shape[0]} RGB float32"
    why = reference("basicsr", ctx)
    if why:
        return Row("imresize", case, t_ours, ref_note=why, ours_peak_mb=p_ours)
    from basicsr.utils.matlab_functions import imresize as ref_imresize

    t_ref, p_ref = measured(lambda: ref_imresize(hwc, 0.25), reps)
    diff = float(np.abs(imresize(chw, 0.25).permute(1, 2, 0).numpy() - ref_imresize(hwc, 0.25)).max())
    return Row(
        "imresize",
        case,
        t_ours,
        t_ref,
        "BasicSR 1.4.2 imresize",
        p_ours,
        p_ref,
        {"max_abs_diff": f"{diff:.1e}"},
    )


def pairs(quick: bool) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """``(hr, sr)`` float32 (3, H, W) 8-bit-valued pairs: HR mod-cropped to 4, SR = round8(bicubic x4 of
    round8(bicubic x1/4 of HR))."""
    from sr.data.imageio import read_image
    from sr.ops import imresize

    def r8(x: torch.Tensor) -> torch.Tensor:
        return x.clamp(0, 1).mul(255).round().div(255)

    if quick or not photos():
        g = torch.Generator().manual_seed(0)
        hrs = [r8(torch.rand(3, 48, 64, generator=g)) for _ in range(2)]
    else:
        hrs = []
        for p in photos():
            x = read_image(p).rgb()
            hrs.append(x[:, : x.shape[1] // 4 * 4, : x.shape[2] // 4 * 4].contiguous())
    return [(hr, r8(imresize(r8(imresize(hr, 0.25)), 4))) for hr in hrs]


def metrics_row(ctx: Context) -> Row:
    from sr.metrics import psnr_ssim

    data = pairs(ctx.quick)

    def ours() -> list[tuple[float, float]]:
        return [psnr_ssim(s, h, crop_border=4, y_channel=True, quantize=False) for h, s in data]

    t_ours, p_ours = measured(ours, ctx.reps)
    case = f"PSNR+SSIM (Y, crop 4) of {len(data)} images"
    why = reference("basicsr", ctx)
    if why:
        return Row("metrics", case, t_ours, ref_note=why, ours_peak_mb=p_ours)
    from basicsr.metrics import calculate_psnr, calculate_ssim

    def u8(x: torch.Tensor) -> np.ndarray:
        return np.ascontiguousarray((x.permute(1, 2, 0).numpy()[:, :, ::-1] * 255).round().astype(np.uint8))

    data_u8 = [(u8(h), u8(s)) for h, s in data]

    def theirs() -> list[tuple[float, float]]:
        return [
            (
                calculate_psnr(s, h, crop_border=4, input_order="HWC", test_y_channel=True),
                calculate_ssim(s, h, crop_border=4, input_order="HWC", test_y_channel=True),
            )
            for h, s in data_u8
        ]

    t_ref, p_ref = measured(theirs, ctx.reps)
    a, b = np.array(ours()), np.array(theirs())
    return Row(
        "metrics",
        case,
        t_ours,
        t_ref,
        "BasicSR 1.4.2 calculate_psnr/calculate_ssim",
        p_ours,
        p_ref,
        {
            "mean_psnr": round(float(a[:, 0].mean()), 4),
            "mean_ssim": round(float(a[:, 1].mean()), 5),
            "max_abs_diff_psnr": f"{np.abs(a[:, 0] - b[:, 0]).max():.1e}",
            "max_abs_diff_ssim": f"{np.abs(a[:, 1] - b[:, 1]).max():.1e}",
        },
    )


def run(ctx: Context) -> list[Row]:
    reference("basicsr", ctx)  # imported before measuring ours: same baseline RSS on both sides
    return [imresize_row(ctx), metrics_row(ctx)]
