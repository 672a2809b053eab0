"""Sample images the toolkit builds itself, with no download: photographs that scikit-image
installs with itself (``skimage.data``), cropped to a multiple of 12 (so every scale 2, 3, 4 divides
them) and written as PNG.

    python -m sr.data.samples datasets/samples

``SAMPLES`` lists them; ``camera`` is grayscale like Set14's ``bridge``. These are for smoke
tests and demos: never quote their scores as benchmark results.

``--train DIR`` also writes a tiny training set of HR images (``TRAIN_SAMPLES``: other photographs of
``skimage.data``, none of them one of ``SAMPLES`` -- ``skimage.data.cat`` is ``chelsea`` and is left
out), as ``DIR/NAME.png``, for ``HRImageDataset`` (LR made on the fly):

    python -m sr.data.samples datasets/samples --train datasets/quickstart

Existing files are never overwritten: one with the very pixels the command would write is kept (so
rerunning the command is fine), any other is an error naming it, raised before anything is written.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

from sr.data.imageio import ImageReadError, read_pixels, to_uint, write_image

SAMPLES = ("astronaut", "camera", "chelsea", "coffee", "rocket")
# Disjoint from SAMPLES; the gray ones (brick ... cell) are written as 1-channel PNGs.
TRAIN_SAMPLES = (
    "hubble_deep_field",
    "immunohistochemistry",
    "retina",
    "motorcycle_left",
    "motorcycle_right",
    "brick",
    "grass",
    "gravel",
    "coins",
    "moon",
    "clock",
    "cell",
)


def _photo(name: str) -> np.ndarray:
    import skimage.data

    if name in ("motorcycle_left", "motorcycle_right"):
        left, right, _ = skimage.data.stereo_motorcycle()
        return np.asarray(left if name == "motorcycle_left" else right)
    return np.asarray(getattr(skimage.data, name)())


def load_sample(name: str) -> torch.Tensor:
    """One sample (of ``SAMPLES`` or ``TRAIN_SAMPLES``) as a float tensor (C, H, W) in [0, 1], C 1 or 3,
    H and W multiples of 12."""
    if name not in SAMPLES + TRAIN_SAMPLES:
        raise ValueError(f"unknown sample {name!r}; choose one of {list(SAMPLES + TRAIN_SAMPLES)}")
    arr = _photo(name)
    arr = arr[: arr.shape[0] - arr.shape[0] % 12, : arr.shape[1] - arr.shape[1] % 12]
    t = torch.from_numpy(np.ascontiguousarray(arr)).float().div(255)
    return t[None] if t.dim() == 2 else t.permute(2, 0, 1).contiguous()


class SamplesError(FileExistsError):
    """A target file exists with other content than the sample (nothing is overwritten)."""


def _plan(*targets: tuple[str | Path, tuple[str, ...]]) -> list[tuple[Path, torch.Tensor | None]]:
    """For each ``(out_dir, names)``: ``[(path, uint8 (C, H, W) to write, or None to keep the identical
    existing file)]``; raises :class:`SamplesError` naming every existing file that differs."""
    plan: list[tuple[Path, torch.Tensor | None]] = []
    clashes = []
    for out_dir, names in targets:
        for name in names:
            path = Path(out_dir) / f"{name}.png"
            pixels = torch.from_numpy(to_uint(load_sample(name))).permute(2, 0, 1)
            if not (path.exists() or path.is_symlink()):
                plan.append((path, pixels))
            elif _same_pixels(path, pixels):
                plan.append((path, None))
            else:
                clashes.append(str(path))
    if clashes:
        one = len(clashes) == 1
        what = (
            "exists with other content than its sample; move it"
            if one
            else "exist with other content than their samples; move them"
        )
        raise SamplesError(f"{', '.join(clashes)}: {what} away (nothing was written or overwritten)")
    return plan


def _same_pixels(path: Path, pixels: torch.Tensor) -> bool:
    # Pixels, not bytes: another PNG encoder (an OpenCV upgrade) writes other bytes for the same image.
    try:
        stored, bit_depth = read_pixels(path)
    except ImageReadError:
        return False
    return bit_depth == 8 and stored.shape == tuple(pixels.shape) and bool((stored == pixels.numpy()).all())


def _write(plan: list[tuple[Path, torch.Tensor | None]]) -> list[Path]:
    # overwrite=False: a file that appeared since the check is kept (ImageWriteError), not replaced
    return [path if pixels is None else write_image(path, pixels, overwrite=False) for path, pixels in plan]


def build_samples(out_dir: str | Path, names: tuple[str, ...] = SAMPLES) -> list[Path]:
    """Write the samples as ``out_dir/NAME.png``; the paths. An existing file with the sample's pixels
    is kept; if any other exists, :class:`SamplesError` names them all and nothing is written."""
    return _write(_plan((out_dir, names)))


def build_train_samples(out_dir: str | Path, names: tuple[str, ...] = TRAIN_SAMPLES) -> list[Path]:
    """Write the training photographs as ``out_dir/NAME.png`` (HR only; see the module docstring), as
    :func:`build_samples` does."""
    return build_samples(out_dir, names)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description="Write the built-in sample images (from skimage.data) as PNG."
    )
    parser.add_argument("out_dir", help="folder to write NAME.png into (created if missing)")
    parser.add_argument(
        "--train",
        metavar="DIR",
        help="also write the training photographs (none of them an evaluation sample) to DIR/NAME.png",
    )
    args = parser.parse_args(argv)
    try:
        train = [] if args.train is None else [(args.train, TRAIN_SAMPLES)]
        paths = _write(_plan((args.out_dir, SAMPLES), *train))  # all targets checked before any write
    except (ValueError, OSError) as err:  # SamplesError, ImageWriteError, a folder that cannot be made
        print(f"sr.data.samples: error: {err}", file=sys.stderr)
        raise SystemExit(1) from None
    for path in paths:
        print(path)


if __name__ == "__main__":
    main()
