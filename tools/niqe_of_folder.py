"""NIQE of the images of a folder themselves (e.g. a benchmark's HR originals), on the luma that
``sr-eval --metrics niqe`` scores an output on: modcrop to ``--scale``, MATLAB BT.601 Y rounded to
8 bits, ``--crop`` pixels dropped at each border. The reference point for a model's NIQE.

    python tools/niqe_of_folder.py ../shared/data/benchmarks/Set14 --scale 4 --crop 4
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


def folder_niqe(folder: Path, scale: int, crop: int) -> dict[str, float]:
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
        try:
            scores[path.stem] = niqe(y)
        except ValueError as err:
            raise SystemExit(f"{path}: {err}") from None
    return scores


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("folders", nargs="+", type=Path)
    p.add_argument("--scale", type=int, default=4, help="modcrop to a multiple of this (4)")
    p.add_argument("--crop", type=int, default=4, help="pixels dropped at each border (4)")
    args = p.parse_args()
    for folder in args.folders:
        try:
            scores = folder_niqe(folder, args.scale, args.crop)
        except (FileNotFoundError, ImageReadError) as err:
            raise SystemExit(f"niqe_of_folder: error: {err}") from None
        finite = [v for v in scores.values() if not math.isnan(v)]
        if not finite:
            raise SystemExit(f"niqe_of_folder: error: {folder}: no image with texture (NIQE undefined)")
        print(f"{folder.name}: NIQE {sum(finite) / len(finite):.4f} over {len(finite)} images")


if __name__ == "__main__":
    main()
