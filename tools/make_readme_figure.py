"""The README's before/after crops: a sample photo downscaled x1/4 (MATLAB bicubic), then upscaled x4 by
bicubic and by the bundled models, shown next to the original.

    python tools/make_readme_figure.py [--sample astronaut] [--box TOP LEFT SIZE] [--out PATH]
    python tools/make_readme_figure.py --gan [--sample ...]   # the perception-distortion figure

``--gan`` shows bicubic, the default (PSNR) model, its network interpolations with ``default-gan`` at
alpha 0.5 and 0.8 (``sr-infer --alpha``), ``default-gan`` and the original (default out:
``docs/assets/gan_x4_<sample>.png``). The samples were never used to train either model.

Writes one PNG (default ``docs/assets/default_x4_<sample>.png``): four panels of the same ``SIZE``-pixel
square of the HR image -- the LR input (pixels enlarged 4x), bicubic, ``sr`` default model, original --
each labelled. The samples are ``sr.data.samples`` (photographs scikit-image installs with itself).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

from sr.data.samples import SAMPLES, load_sample
from sr.inference.upscaler import Upscaler
from sr.ops.imresize import imresize

ROOT = Path(__file__).resolve().parents[1]
LABEL_H = 22


def to_u8(x: torch.Tensor) -> np.ndarray:
    return (x.clamp(0, 1) * 255).round().byte().permute(1, 2, 0).numpy()


def panels(sample: str, top: int, left: int, size: int, scale: int = 4) -> list[tuple[str, np.ndarray]]:
    hr = load_sample(sample)
    if hr.shape[0] == 1:
        hr = hr.expand(3, -1, -1)
    lr = imresize(hr, 1 / scale).clamp(0, 1)
    box = (slice(None), slice(top, top + size), slice(left, left + size))
    lr_box = (
        slice(None),
        slice(top // scale, (top + size) // scale),
        slice(left // scale, (left + size) // scale),
    )
    nearest = lr[lr_box].repeat_interleave(scale, 1).repeat_interleave(scale, 2)
    return [
        (f"input (x1/{scale}, pixels enlarged)", to_u8(nearest)),
        ("bicubic", to_u8(Upscaler("bicubic", scale=scale, tile=0).upscale(lr)[box])),
        ("sr default model", to_u8(Upscaler("default", scale=scale).upscale(lr)[box])),
        ("original", to_u8(hr[box])),
    ]


def gan_panels(sample: str, top: int, left: int, size: int, scale: int = 4) -> list[tuple[str, np.ndarray]]:
    hr = load_sample(sample)
    if hr.shape[0] == 1:
        hr = hr.expand(3, -1, -1)
    lr = imresize(hr, 1 / scale).clamp(0, 1)
    box = (slice(None), slice(top, top + size), slice(left, left + size))
    models = [
        ("bicubic", Upscaler("bicubic", scale=scale, tile=0)),
        ("default (PSNR)", Upscaler("default", scale=scale)),
        ("--alpha 0.5", Upscaler("default", scale=scale, alpha=0.5)),
        ("--alpha 0.8", Upscaler("default", scale=scale, alpha=0.8)),
        ("default-gan", Upscaler("default-gan", scale=scale)),
    ]
    return [(label, to_u8(up.upscale(lr)[box])) for label, up in models] + [("original", to_u8(hr[box]))]


def compose(items: list[tuple[str, np.ndarray]], gap: int = 4) -> Image.Image:
    h, w = items[0][1].shape[:2]
    canvas = Image.new("RGB", (len(items) * w + (len(items) - 1) * gap, h + LABEL_H), "white")
    draw = ImageDraw.Draw(canvas)
    for i, (label, img) in enumerate(items):
        x = i * (w + gap)
        canvas.paste(Image.fromarray(img), (x, LABEL_H))
        draw.text((x + 4, 5), label, fill="black")
    return canvas


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sample", default="astronaut", choices=SAMPLES)
    p.add_argument("--box", type=int, nargs=3, default=(40, 120, 192), metavar=("TOP", "LEFT", "SIZE"))
    # (multiples of the scale keep the LR crop aligned with the HR one)
    p.add_argument("--out", type=Path)
    p.add_argument(
        "--gan", action="store_true", help="bicubic, default, alpha 0.5/0.8, default-gan, original"
    )
    args = p.parse_args(argv)
    kind = "gan" if args.gan else "default"
    out = args.out or ROOT / "docs" / "assets" / f"{kind}_x4_{args.sample}.png"
    out.parent.mkdir(parents=True, exist_ok=True)
    make = gan_panels if args.gan else panels
    compose(make(args.sample, *args.box)).save(out, optimize=True)
    print(f"{out}: {out.stat().st_size / 1000:.0f} kB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
