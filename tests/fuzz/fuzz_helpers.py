"""Small real inputs for the fuzz suite: images, a tiny checkpoint (in sr's format or hand-made with a
hostile ``arch``), and the four commands run in-process with their exit status."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from sr.archs import MSRResNet
from sr.checkpoints.io import save_checkpoint
from sr.data.imageio import write_image

TINY_ARCH = {
    "type": "MSRResNet",
    "num_in_ch": 3,
    "num_out_ch": 3,
    "num_feat": 8,
    "num_block": 1,
    "upscale": 2,
}


def image(path: Path, size: tuple[int, int] = (24, 20), seed: int = 0) -> Path:
    """A random RGB image (h, w) written as a real file (format from the extension)."""
    g = torch.Generator().manual_seed(seed)
    return write_image(path, torch.rand(3, *size, generator=g))


def tiny_model_state() -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    return MSRResNet(num_feat=8, num_block=1, upscale=2).state_dict()


def tiny_checkpoint(path: Path) -> Path:
    """A real sr checkpoint (x2 MSRResNet, 8 features, 1 block: a few KB)."""
    return save_checkpoint(path, tiny_model_state(), arch=TINY_ARCH)


def hostile_checkpoint(
    path: Path, arch: dict[str, Any], state: dict[str, torch.Tensor] | None = None
) -> Path:
    """The tiny weights with whatever ``arch`` record a hostile file may carry (``torch.save``)."""
    torch.save({"params": state if state is not None else tiny_model_state(), "arch": arch}, path)
    return path


def digest(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def digests(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): digest(p) for p in sorted(folder.rglob("*")) if p.is_file()}


def run(main: Callable[[list[str]], Any], argv: list[str]) -> int:
    """A command's ``main`` in-process; its exit status (``SystemExit`` code, else its return value)."""
    try:
        code = main(argv)
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    return code if isinstance(code, int) else 0


def random_u8(h: int, w: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)
