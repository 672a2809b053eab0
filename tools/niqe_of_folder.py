"""NIQE of the images of a folder themselves (e.g. a benchmark's HR originals), on the luma that
``sr-eval --metrics niqe`` scores an output on: modcrop to ``--scale``, MATLAB BT.601 Y rounded to
8 bits, ``--crop`` pixels dropped at each border. The reference point for a model's NIQE.

``--unsharp AMOUNT,SIGMA`` (repeatable) also scores each image after an unsharp mask of the luma,
``y + AMOUNT * (y - gaussian(y, SIGMA))`` rounded to 8 bits: how far plain sharpening moves NIQE, the
yardstick for a GAN model's gain (``docs/gan.md``). On a model's outputs (``sr-eval --save-images``):

    python tools/niqe_of_folder.py ../shared/data/benchmarks/Set14 --scale 4 --crop 4
    sr-eval --model default --scale 4 --data ../shared/data/benchmarks/Set14 --save-images out
    python tools/niqe_of_folder.py out/Set14 --unsharp 2,1 --unsharp 4,0.7
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import torch

from sr.data.imageio import ImageReadError, read_image
from sr.inference.evaluate import list_images
from sr.metrics.niqe import niqe
from sr.ops.color import rgb_to_y


def unsharp(y: torch.Tensor, amount: float, sigma: float) -> torch.Tensor:
    """``y`` (0-255) sharpened by an unsharp mask, rounded and clipped to 8 bits."""
    from scipy.ndimage import gaussian_filter

    a = y.numpy()
    return (
        torch.from_numpy(a + amount * (a - gaussian_filter(a, sigma, mode="reflect"))).round().clamp(0, 255)
    )


def folder_niqe(
    folder: Path, scale: int, crop: int, sharpen: tuple[float, float] | None = None
) -> dict[str, float]:
    scores = {}
    for path in list_images(folder):  # FileNotFoundError naming a missing or image-less folder
        img = read_image(path)  # ImageReadError naming a corrupt file
        hr = img.data.to(torch.float64)
        h, w = hr.shape[-2:]
        hr = hr[:, : h - h % scale, : w - w % scale]
        y = hr[0] if img.is_gray else rgb_to_y(hr)[0]
        y = y.clamp(0, 1).mul(255).round()
        if crop:
            y = y[crop:-crop, crop:-crop]
        if sharpen is not None:
            y = unsharp(y, *sharpen)
        try:
            scores[path.stem] = niqe(y)
        except ValueError as err:
            raise SystemExit(f"{path}: {err}") from None
    return scores


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("folders", nargs="+", type=Path)
    p.add_argument("--scale", type=int, default=4, help="modcrop to a multiple of this (4)")
    p.add_argument("--crop", type=int, default=4, help="pixels dropped at each border (4)")
    p.add_argument(
        "--unsharp",
        action="append",
        default=[],
        type=_amount_sigma,
        metavar="AMOUNT,SIGMA",
        help="also score after an unsharp mask of the luma (repeatable)",
    )
    args = p.parse_args(argv)
    for folder in args.folders:
        for sharpen in [None, *args.unsharp]:
            try:
                scores = folder_niqe(folder, args.scale, args.crop, sharpen)
            except (FileNotFoundError, ImageReadError) as err:
                raise SystemExit(f"niqe_of_folder: error: {err}") from None
            finite = [v for v in scores.values() if not math.isnan(v)]
            if not finite:
                raise SystemExit(f"niqe_of_folder: error: {folder}: no image with texture (NIQE undefined)")
            how = "" if sharpen is None else f" (unsharp amount {sharpen[0]:g}, sigma {sharpen[1]:g})"
            print(f"{folder.name}{how}: NIQE {sum(finite) / len(finite):.4f} over {len(finite)} images")


def _amount_sigma(text: str) -> tuple[float, float]:
    try:
        amount, sigma = (float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected AMOUNT,SIGMA (e.g. 2,1), got {text!r}") from None
    if not (math.isfinite(amount) and amount >= 0 and math.isfinite(sigma) and 0 < sigma <= 50):
        raise argparse.ArgumentTypeError(f"AMOUNT >= 0 and 0 < SIGMA <= 50, got {text!r}")
    return amount, sigma


if __name__ == "__main__":
    main()
