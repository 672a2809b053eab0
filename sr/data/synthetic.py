"""Synthetic HR images the toolkit draws itself: the sharp-edged content that photographs of
landscapes and still lifes hardly hold -- text, line art, stripes and flat shapes occluding each other
as in the dead-leaves model of natural images (Matheron; Lee, Mumford and Huang 2001).

    python -m sr.data.synthetic DIR [--count 64] [--size 384] [--seed 0]

writes ``DIR/synth_SEED_INDEX.png`` (RGB, ``size x size``, a multiple of 12 so that every scale 2, 3,
4 divides it), for ``HRImageDataset`` sources (LR made on the fly). Image ``i`` of seed ``s`` depends
on ``(s, i)`` only, so a larger ``--count`` adds images and changes none; use another seed for a
held-out set. No download, no font file: the text uses the font Pillow carries inside itself.

Each image: a flat or graded background, then 40-100 shapes painted over each other (sizes
log-uniform, as the dead-leaves model's scale invariance asks), each an ellipse, rectangle, polygon,
outline, stroke, stripe patch or line of text, coloured from a small per-image palette (a quarter of
the images are gray). Drawn at twice the size and reduced with a box filter, so edges are antialiased
as rendered or scanned art is.
"""

from __future__ import annotations

import argparse
import string
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont, features

from sr.data.imageio import ImageWriteError, write_image

SUPERSAMPLE = 2
KINDS = ("ellipse", "rectangle", "polygon", "outline", "stroke", "stripes", "text")
# text and stripes most often: what the photographs lack most
KIND_WEIGHTS = np.array([1.0, 1.0, 1.0, 1.0, 1.0, 1.5, 2.5])
KIND_P = KIND_WEIGHTS / KIND_WEIGHTS.sum()
CHARS = string.ascii_letters + string.digits + ".,:;!?()-+=/%&"


def _palette(rng: np.random.Generator) -> np.ndarray:
    """4-9 colours (uint8 RGB rows); gray levels for a quarter of the images."""
    n = int(rng.integers(4, 10))
    if rng.random() < 0.25:
        return np.repeat(rng.integers(0, 256, (n, 1)), 3, axis=1)
    return rng.integers(0, 256, (n, 3))


def _colour(rng: np.random.Generator, palette: np.ndarray) -> tuple[int, int, int]:
    r, g, b = (int(v) for v in palette[rng.integers(len(palette))])
    return r, g, b


def _background(rng: np.random.Generator, palette: np.ndarray, side: int) -> Image.Image:
    a, b = (np.array(_colour(rng, palette), np.float64) for _ in range(2))
    if rng.random() < 0.5:
        b = a  # flat
    angle = rng.uniform(0, 2 * np.pi)
    yy, xx = np.mgrid[0:side, 0:side] / side
    t = np.clip((np.cos(angle) * xx + np.sin(angle) * yy + 1) / 2, 0, 1)[..., None]
    return Image.fromarray(np.round(a * (1 - t) + b * t).astype(np.uint8), "RGB")


def _box(rng: np.random.Generator, side: int) -> tuple[float, float, float]:
    """Centre and radius at the drawing size: radius log-uniform from 2 px of the final image to a third
    of the image."""
    r = float(np.exp(rng.uniform(np.log(2 * SUPERSAMPLE), np.log(side / 3))))
    return float(rng.uniform(-r, side + r)), float(rng.uniform(-r, side + r)), r


def _polygon(rng: np.random.Generator, cx: float, cy: float, r: float) -> list[tuple[float, float]]:
    n = int(rng.integers(3, 8))
    angles = np.sort(rng.uniform(0, 2 * np.pi, n))
    radii = r * rng.uniform(0.4, 1.0, n)
    return [
        (cx + float(q * np.cos(a)), cy + float(q * np.sin(a))) for a, q in zip(angles, radii, strict=True)
    ]


def _stripes(rng: np.random.Generator, palette: np.ndarray, side: int) -> Image.Image:
    """A full-size layer of parallel bands of two colours, period 3-24 px at the final size."""
    period = float(np.exp(rng.uniform(np.log(3), np.log(24)))) * SUPERSAMPLE
    angle = rng.uniform(0, np.pi)
    yy, xx = np.mgrid[0:side, 0:side]
    phase = (np.cos(angle) * xx + np.sin(angle) * yy) / period
    duty = rng.uniform(0.3, 0.7)
    band = ((phase % 1.0) < duty)[..., None]
    a, b = np.array(_colour(rng, palette)), np.array(_colour(rng, palette))
    return Image.fromarray(np.where(band, a, b).astype(np.uint8), "RGB")


def _text(rng: np.random.Generator) -> str:
    words = [
        "".join(rng.choice(list(CHARS), int(rng.integers(1, 10)))) for _ in range(int(rng.integers(1, 6)))
    ]
    return " ".join(words)


def _draw_shape(img: Image.Image, rng: np.random.Generator, palette: np.ndarray) -> None:
    side = img.width
    draw = ImageDraw.Draw(img)
    kind = KINDS[rng.choice(len(KINDS), p=KIND_P)]
    cx, cy, r = _box(rng, side)
    fill = _colour(rng, palette)
    width = int(rng.integers(1, 5)) * SUPERSAMPLE
    if kind == "ellipse":
        e = r * rng.uniform(0.3, 1.0)
        draw.ellipse((cx - r, cy - e, cx + r, cy + e), fill=fill)
    elif kind == "rectangle":
        e = r * rng.uniform(0.2, 1.0)
        draw.rectangle((cx - r, cy - e, cx + r, cy + e), fill=fill)
    elif kind == "polygon":
        draw.polygon(_polygon(rng, cx, cy, r), fill=fill)
    elif kind == "outline":
        if rng.random() < 0.5:
            draw.ellipse((cx - r, cy - r, cx + r, cy + r), outline=fill, width=width)
        else:
            draw.polygon(_polygon(rng, cx, cy, r), outline=fill, width=width)
    elif kind == "stroke":
        ends = rng.uniform(-r, r, (int(rng.integers(1, 5)), 2)) + np.array([cx, cy])  # around the centre
        points = [(cx, cy)] + [(float(x), float(y)) for x, y in ends]
        draw.line(points, fill=fill, width=width, joint="curve")
    elif kind == "stripes":
        mask = Image.new("L", img.size, 0)
        ImageDraw.Draw(mask).polygon(_polygon(rng, cx, cy, r), fill=255)
        img.paste(_stripes(rng, palette, side), (0, 0), mask)
    else:
        size = float(np.exp(rng.uniform(np.log(7), np.log(48)))) * SUPERSAMPLE
        font = ImageFont.load_default(size=size)
        for line in range(int(rng.integers(1, 4))):
            draw.text((cx - r, cy + line * size * 1.2), _text(rng), fill=fill, font=font)


def _check(*, size: int, seed: int, count: int = 1) -> None:
    """A ``ValueError`` naming the first bad argument; a ``RuntimeError`` for a Pillow without FreeType."""
    if count < 1:
        raise ValueError(f"count must be at least 1, got {count}")
    if size < 12 or size % 12:
        raise ValueError(
            f"size must be a positive multiple of 12 (so scales 2, 3 and 4 divide it), got {size}"
        )
    if seed < 0:
        raise ValueError(f"seed must be 0 or more, got {seed}")
    if not features.check("freetype2"):
        raise RuntimeError("sr.data.synthetic needs Pillow built with FreeType (for its built-in font)")


def draw_image(seed: int, index: int, size: int) -> torch.Tensor:
    """Image ``index`` of ``seed``: float (3, size, size) in [0, 1], 8-bit values. ``size`` must be a
    multiple of 12, as for :func:`build_synthetic`; a bad argument is a ``ValueError`` naming it."""
    _check(size=size, seed=seed)
    if index < 0:
        raise ValueError(f"index must be 0 or more, got {index}")
    return _draw(seed, index, size)


def _draw(seed: int, index: int, size: int) -> torch.Tensor:
    """:func:`draw_image` without the argument checks (done once per set by the callers)."""
    rng = np.random.default_rng([seed, index])
    side = size * SUPERSAMPLE
    palette = _palette(rng)
    img = _background(rng, palette, side)
    for _ in range(int(rng.integers(40, 101))):
        _draw_shape(img, rng, palette)
    small = np.asarray(img.resize((size, size), Image.Resampling.BOX))
    return torch.from_numpy(small.copy()).permute(2, 0, 1).float().div(255)


def build_synthetic(out_dir: str | Path, count: int, size: int = 384, seed: int = 0) -> list[Path]:
    """Write images ``0 .. count - 1`` of ``seed`` as ``out_dir/synth_SEED_INDEX.png``. Bad arguments
    are a ``ValueError`` before anything is written; a failed write an ``ImageWriteError`` naming the
    file (the images before it stay, each complete; ``ImageWriteError`` is itself a ``ValueError``)."""
    _check(size=size, seed=seed, count=count)
    out = Path(out_dir)
    return [write_image(out / f"synth_{seed}_{i:04d}.png", _draw(seed, i, size)) for i in range(count)]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description="Draw synthetic HR training images (text, line art, stripes, shapes) as PNG."
    )
    parser.add_argument("out_dir", help="folder to write synth_SEED_INDEX.png into (created if missing)")
    parser.add_argument("--count", type=int, default=64, help="number of images (default 64)")
    parser.add_argument(
        "--size", type=int, default=384, help="side in pixels, a multiple of 12 (default 384)"
    )
    parser.add_argument("--seed", type=int, default=0, help="another seed gives a different set (default 0)")
    args = parser.parse_args(argv)
    try:
        paths = build_synthetic(args.out_dir, args.count, args.size, args.seed)
    except (ImageWriteError, RuntimeError) as e:  # a file that cannot be written; Pillow without FreeType
        parser.exit(1, f"{parser.prog}: error: {e}\n")  # exit 1: not a usage error
    except ValueError as e:  # a bad argument (ImageWriteError is one too, hence caught first)
        parser.error(str(e))  # usage error, exit 2
    for path in paths:
        print(path)


if __name__ == "__main__":
    main()
