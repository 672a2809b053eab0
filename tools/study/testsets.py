"""Held-out images at several test resolutions, and the evaluation of one x4 model on them.

A test set at resolution ``r`` is ``HR_r = round8(imresize(HR, r))`` (MATLAB bicubic, rounded to
8 bits as a stored image is) written as PNG to a work folder; ``r = 1`` links the original files.
Each is then scored by the standard protocol (:func:`sr.inference.evaluate.evaluate_folder`,
protocol ``y``, crop 4, x4): PSNR/SSIM on the MATLAB luma, and on the very same luma pair (after
the crop) the spectral summaries of :func:`sr.metrics.spectral.spectral_report` (``hf_error``,
``lf_error``, ``spurious_energy``) and the radially averaged residual spectrum
(:func:`sr.metrics.spectral.radial_spectra`, ratio of the image-averaged spectra).
"""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from sr.data.imageio import read_image, write_image
from sr.data.transforms import round_to_8bit
from sr.inference.evaluate import evaluate_folder, list_images
from sr.metrics.spectral import radial_spectra, residual_ratio, spectral_report
from sr.ops import imresize

log = logging.getLogger(__name__)

SCALE = 4  # every arm is compared at x4
CROP = 4
RESOLUTIONS = (1.0, 0.5, 0.25)
RADIAL_BANDS = 32  # at most; fewer when the smallest image of a folder is too small for 32
SPECTRAL_KEYS = ("hf_error", "lf_error", "spurious_energy")


def res_label(r: float) -> str:
    """``1`` -> ``"1"``, ``0.5`` -> ``"1/2"``, ``0.25`` -> ``"1/4"``."""
    return "1" if r == 1 else f"1/{round(1 / r)}" if abs(1 / r - round(1 / r)) < 1e-9 else f"{r:g}"


@dataclass(frozen=True)
class TestFolder:
    """One test set at one resolution: ``n`` images in ``path``, the smallest side ``min_side``."""

    name: str
    resolution: float
    path: Path
    n: int
    min_side: int


def list_test_images(folder: Path, list_file: Path | None, limit: int | None) -> list[Path]:
    """The images of ``folder`` (or those named, relative to it, one per line in ``list_file``),
    at most ``limit`` of them (the first, in order)."""
    if list_file is None:
        files = list_images(folder)
    else:
        names = [ln.strip() for ln in list_file.read_text().splitlines() if ln.strip()]
        files = [folder / n for n in names]
        missing = [str(f) for f in files if not f.is_file()]
        if missing:
            raise FileNotFoundError(f"{list_file}: listed images not found: {', '.join(missing)}")
    return files[:limit] if limit else files


def prepare(
    name: str, files: list[Path], resolutions: tuple[float, ...], work: Path, scale: int = SCALE
) -> list[TestFolder]:
    """Write ``work/<name>_r<label>/`` for every resolution (module docstring) and return them.
    An image whose downsampled version is smaller than ``4 * scale`` pixels is an error."""
    out = []
    for r in resolutions:
        folder = work / f"{name}_r{res_label(r).replace('/', 'over')}"
        folder.mkdir(parents=True, exist_ok=True)
        sides = []
        for f in files:
            img = read_image(f)
            if r == 1:
                link = folder / f"{f.stem}{f.suffix.lower()}"
                if not link.exists():
                    os.symlink(f.resolve(), link)
                sides.append(min(img.data.shape[-2:]))
                continue
            small = round_to_8bit(imresize(img.data.to(torch.float64), r))
            if min(small.shape[-2:]) < 4 * scale:
                raise ValueError(
                    f"{f}: {tuple(img.data.shape[-2:])} at resolution {r:g} is {tuple(small.shape[-2:])}, "
                    f"too small to test x{scale} (needs >= {4 * scale} px per side)"
                )
            write_image(folder / f"{f.stem}.png", small.float())
            sides.append(min(small.shape[-2:]))
        out.append(TestFolder(name, r, folder, len(files), min(sides)))
    return out


class _Scorer:
    """``on_scored`` hook: spectral summaries per image, radial spectra summed over the images."""

    def __init__(self, scale: int, nbins: int) -> None:
        self.scale, self.nbins = scale, nbins
        self.sums: dict[str, torch.Tensor] = {}
        self.freqs: torch.Tensor | None = None
        self.count = 0

    def __call__(self, path: Path, sr_y: torch.Tensor, gt_y: torch.Tensor) -> dict[str, float]:
        report = spectral_report(sr_y, gt_y, self.scale).to_dict()
        if self.nbins >= 1:
            curves = radial_spectra(sr_y, gt_y, nbins=self.nbins)
            for key in ("sr", "gt", "residual"):
                self.sums[key] = self.sums.get(key, 0) + getattr(curves, key)
            self.freqs = curves.freqs
            self.count += 1
        return report

    def radial(self) -> dict[str, list[float]] | None:
        if not self.count or self.freqs is None:
            return None
        gt = self.sums["gt"] / self.count
        res = self.sums["residual"] / self.count
        ratio = residual_ratio(res, gt)
        return {"freqs": self.freqs.tolist(), "residual_ratio": ratio.tolist()}


def _mean(values: list[float]) -> float:
    finite = [v for v in values if math.isfinite(v)]
    return sum(finite) / len(finite) if finite else math.nan


def evaluate(model: nn.Module, folder: TestFolder, scale: int = SCALE) -> dict[str, Any]:
    """Scores of ``model`` (an x``scale`` upscaler) on ``folder``: the image means of ``psnr``,
    ``ssim`` (Y, crop 4) and of :data:`SPECTRAL_KEYS` (NaN images, e.g. a flat GT, left out of the
    spectral means), ``n`` images, and ``radial`` (``freqs``, ``residual_ratio``) or None."""
    nbins = min(RADIAL_BANDS, (folder.min_side - 2 * CROP) // 2)
    scorer = _Scorer(scale, nbins)
    result = evaluate_folder(model, folder.path, scale, "y", CROP, "cpu", on_scored=scorer)
    images = result.images.values()
    entry: dict[str, Any] = {"psnr": result.psnr, "ssim": result.ssim, "n": len(result.images)}
    for key in SPECTRAL_KEYS:
        entry[key] = _mean([v[key] for v in images])
    entry["radial"] = scorer.radial()
    return entry


class Chained(nn.Module):
    """An x``s`` generator applied twice: ``(N, 3, h, w) -> (N, 3, s^2 h, s^2 w)``. The intermediate
    image is clamped to [0, 1] (what an image in between would hold) but not rounded."""

    num_in_ch = 3

    def __init__(self, net: nn.Module, scale: int) -> None:
        super().__init__()
        self.net = net
        self.scale = scale * scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(self.net(x).clamp(0, 1))
