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
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from sr.data.imageio import write_image

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


def build_samples(out_dir: str | Path, names: tuple[str, ...] = SAMPLES) -> list[Path]:
    """Write the samples as ``out_dir/NAME.png`` (existing identical files are rewritten atomically)."""
    out = Path(out_dir)
    return [write_image(out / f"{name}.png", load_sample(name)) for name in names]


def build_train_samples(out_dir: str | Path, names: tuple[str, ...] = TRAIN_SAMPLES) -> list[Path]:
    """Write the training photographs as ``out_dir/NAME.png`` (HR only; see the module docstring)."""
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
    for path in build_samples(args.out_dir):
        print(path)
    if args.train is not None:
        for path in build_train_samples(args.train):
            print(path)


if __name__ == "__main__":
    main()
