"""Sample images the toolkit builds itself, with no download: photographs that scikit-image
installs with itself (``skimage.data``), cropped to a multiple of 12 (so every scale 2, 3, 4 divides
them) and written as PNG.

    python -m sr.data.samples datasets/samples

``SAMPLES`` lists them; ``camera`` is grayscale like Set14's ``bridge``. These are for smoke
tests and demos: never quote their scores as benchmark results.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from sr.data.imageio import write_image

SAMPLES = ("astronaut", "camera", "chelsea", "coffee", "rocket")


def load_sample(name: str) -> torch.Tensor:
    """One sample as a float tensor (C, H, W) in [0, 1], H and W multiples of 12."""
    import skimage.data

    if name not in SAMPLES:
        raise ValueError(f"unknown sample {name!r}; choose one of {list(SAMPLES)}")
    arr = np.asarray(getattr(skimage.data, name)())
    arr = arr[: arr.shape[0] - arr.shape[0] % 12, : arr.shape[1] - arr.shape[1] % 12]
    t = torch.from_numpy(np.ascontiguousarray(arr)).float().div(255)
    return t[None] if t.dim() == 2 else t.permute(2, 0, 1).contiguous()


def build_samples(out_dir: str | Path, names: tuple[str, ...] = SAMPLES) -> list[Path]:
    """Write the samples as ``out_dir/NAME.png`` (existing identical files are rewritten atomically)."""
    out = Path(out_dir)
    return [write_image(out / f"{name}.png", load_sample(name)) for name in names]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description="Write the built-in sample images (from skimage.data) as PNG."
    )
    parser.add_argument("out_dir", help="folder to write NAME.png into (created if missing)")
    args = parser.parse_args(argv)
    for path in build_samples(args.out_dir):
        print(path)


if __name__ == "__main__":
    main()
