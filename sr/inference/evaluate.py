"""Benchmark evaluation: degrade HR images, upscale with a model, score PSNR/SSIM as the papers do.

Two protocols (``../shared/data/benchmarks/SOURCES.md`` and the README describe them):

``y`` -- the SRCNN/VDSR/ESRGAN tables. The HR image is cropped to a multiple of the scale and its
    luma taken as MATLAB does (``rgb2ycbcr`` on uint8, rounded; a grayscale image is its own luma).
    Models with one input channel (and the interpolation baselines) get the MATLAB-bicubic
    downscaled luma, unrounded (MATLAB's double pipeline); RGB models get the MATLAB-bicubic
    downscaled RGB image, likewise unrounded, and their output's luma is scored.
``rgb`` -- the BasicSR convention. Every image is taken as RGB (grayscale replicated); the LR
    image is the MATLAB-bicubic downscaled RGB image rounded to 8 bits (what an LR file on disk
    holds); the model sees it (a 1-channel model sees its 8-bit luma) and the luma of the output
    is scored without rounding it, as BasicSR's ``calculate_psnr(..., test_y_channel=True)``.

In both, outputs are rounded to 8 bits, ``crop_border`` (default: the scale) pixels are dropped;
with ``y`` PSNR/SSIM are computed on the uint8 luma.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from sr.data.imageio import Image, is_image_file, read_image
from sr.metrics.psnr_ssim import psnr_ssim
from sr.ops.color import rgb_to_y
from sr.ops.imresize import imresize

log = logging.getLogger(__name__)

PROTOCOLS = ("y", "rgb")


@dataclass
class DatasetResult:
    name: str
    images: dict[str, dict[str, float]] = field(default_factory=dict)

    @property
    def psnr(self) -> float:
        return sum(v["psnr"] for v in self.images.values()) / len(self.images)

    @property
    def ssim(self) -> float:
        return sum(v["ssim"] for v in self.images.values()) / len(self.images)

    def to_dict(self) -> dict:
        return {"psnr": self.psnr, "ssim": self.ssim, "images": self.images}


def list_images(folder: Path) -> list[Path]:
    """Image files of ``folder`` (sorted); non-image files are skipped with a warning.

    A missing, non-directory or image-less folder is a ``FileNotFoundError`` naming it."""
    if not folder.is_dir():
        raise FileNotFoundError(f"dataset folder not found: {folder}")
    files = []
    for p in sorted(folder.iterdir()):
        if p.is_file() and is_image_file(p):
            files.append(p)
        elif p.is_file() and not p.name.startswith("."):
            log.warning("skipping %s: not an image file", p)
    if not files:
        raise FileNotFoundError(f"dataset folder {folder} holds no image files")
    return files


def _round8(x: torch.Tensor) -> torch.Tensor:
    return x.clamp(0, 1).mul(255).round().div(255)


def _gray_luma(rgb: torch.Tensor) -> torch.Tensor:
    """Luma of an RGB output on the full [0, 1] scale, for grayscale ground truth: MATLAB's Y
    rescaled so that gray R = G = B = v maps back to v."""
    return (rgb_to_y(rgb) - 16 / 255) * 255 / 219


def _run(model: nn.Module, lr: torch.Tensor, device: torch.device) -> torch.Tensor:
    """Model on one ``(C, h, w)`` image; networks run in float32, baselines in the input dtype."""
    is_network = any(True for _ in model.parameters())
    x = lr.unsqueeze(0).to(device, torch.float32 if is_network else lr.dtype)
    with torch.inference_mode():
        out = model(x)
    return out[0].to("cpu", torch.float64)


def upscale_for_protocol(
    model: nn.Module, hr: Image, scale: int, protocol: str, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Return ``(sr, sr_luma, gt_luma)``: the 8-bit-rounded model output (``(C, H, W)``, C = 1 or
    3) and the two luma images to score, float64 ``(1, H, W)`` in [0, 1]."""
    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown protocol {protocol!r}; choose one of {list(PROTOCOLS)}")
    hr_data = hr.data.to(torch.float64)
    h, w = hr_data.shape[-2:]
    hr_data = hr_data[:, : h - h % scale, : w - w % scale]
    in_ch = getattr(model, "num_in_ch", None)
    if protocol == "y":
        gt = hr_data if hr.is_gray else _round8(rgb_to_y(hr_data))
        if in_ch in (None, 1):
            out = _round8(_run(model, imresize(gt, 1 / scale), device))
            return out, out, gt
        rgb = hr_data.expand(3, -1, -1) if hr.is_gray else hr_data
        out = _round8(_run(model, imresize(rgb, 1 / scale), device))
        return out, _round8(_gray_luma(out) if hr.is_gray else rgb_to_y(out)), gt
    # BasicSR: every image is read as colour (grayscale replicated), the luma is not rounded
    rgb = hr_data.expand(3, -1, -1)
    lr = _round8(imresize(rgb, 1 / scale))
    if in_ch == 1:
        out = _round8(_run(model, _round8(rgb_to_y(lr)), device))
        return out, out, rgb_to_y(rgb)
    out = _round8(_run(model, lr, device))
    return out, rgb_to_y(out), rgb_to_y(rgb)


def evaluate_folder(
    model: nn.Module,
    folder: Path,
    scale: int,
    protocol: str = "y",
    crop_border: int | None = None,
    device: torch.device | str = "cpu",
    on_image: Callable[[Path, torch.Tensor], None] | None = None,
    progress: Callable[[Iterable[Path]], Iterable[Path]] = iter,
    on_scored: Callable[[Path, torch.Tensor, torch.Tensor], dict[str, float] | None] | None = None,
) -> DatasetResult:
    """Score every image of ``folder``; ``on_image(path, sr)`` receives each output (e.g. to save it).

    ``on_scored(path, sr_luma, gt_luma)`` receives the very luma pair PSNR/SSIM scored, float64
    ``(1, H, W)`` after ``crop_border`` (8-bit levels under protocol ``y``), e.g. for extra metrics;
    the scores it returns, if any, join the image's entry in ``result.images``."""
    crop = scale if crop_border is None else crop_border
    result = DatasetResult(folder.name)
    model.eval()
    for path in progress(list_images(folder)):
        out, sr_y, gt_y = upscale_for_protocol(model, read_image(path), scale, protocol, torch.device(device))
        quantize = protocol == "y"  # the rgb protocol (BasicSR) scores the unrounded luma
        p, s = psnr_ssim(sr_y, gt_y, crop_border=crop, quantize=quantize)
        result.images[path.stem] = {"psnr": p, "ssim": s}
        if on_scored is not None:
            c = (slice(crop, -crop) if crop else slice(None),) * 2
            extra = on_scored(path, sr_y[(..., *c)], gt_y[(..., *c)])
            result.images[path.stem].update(extra or {})
        if on_image is not None:
            on_image(path, out)
    return result
