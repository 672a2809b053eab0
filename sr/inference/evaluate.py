"""Benchmark evaluation: degrade HR images, upscale with a model, score PSNR/SSIM as the papers do.

Two protocols (``../shared/data/benchmarks/SOURCES.md`` and ``docs/evaluation.md`` describe them):

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

Beside PSNR and SSIM, ``evaluate_folder`` scores on request NIQE (no reference: the very output luma
PSNR is computed on, 8-bit, after the crop; ``sr.metrics.niqe``) and LPIPS (AlexNet; the 8-bit output
against the HR image after the same crop, in RGB, or in luma for one-channel models; its ImageNet
weights must be installed, ``load_lpips``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from PIL import Image as PILImage
from torch import nn

from sr.data.imageio import Image, is_image_file, read_image
from sr.metrics.niqe import niqe as niqe_score
from sr.metrics.psnr_ssim import psnr_ssim
from sr.ops.color import rgb_to_y
from sr.ops.imresize import imresize

log = logging.getLogger(__name__)

PROTOCOLS = ("y", "rgb")
METRICS = ("psnr", "ssim", "niqe", "lpips")  # psnr and ssim are always computed


@dataclass
class DatasetResult:
    name: str
    images: dict[str, dict[str, float]] = field(default_factory=dict)

    def mean(self, key: str) -> float:
        return sum(v[key] for v in self.images.values()) / len(self.images)

    @property
    def psnr(self) -> float:
        return self.mean("psnr")

    @property
    def ssim(self) -> float:
        return self.mean("ssim")

    def extra_keys(self) -> list[str]:
        """The metrics beside PSNR/SSIM that every image has (e.g. ``niqe``, ``lpips``)."""
        first = next(iter(self.images.values()), {})
        return [k for k in METRICS[2:] if k in first and all(k in v for v in self.images.values())]

    def to_dict(self) -> dict:
        means = {k: self.mean(k) for k in self.extra_keys()}
        return {"psnr": self.psnr, "ssim": self.ssim, **means, "images": self.images}


def parse_metrics(text: str) -> tuple[str, ...]:
    """``"psnr,ssim,niqe"`` -> the metric names, checked against ``METRICS`` (a ``ValueError`` names
    an unknown one and the choices)."""
    names = tuple(dict.fromkeys(n.strip().lower() for n in text.split(",") if n.strip()))
    for n in names:
        if n not in METRICS:
            raise ValueError(f"--metrics: unknown metric {n!r}; choose from {', '.join(METRICS)}")
    if not names:
        raise ValueError(f"--metrics {text!r}: no metric named; choose from {', '.join(METRICS)}")
    return names


def load_lpips(device: torch.device | str = "cpu") -> tuple[nn.Module | None, str | None]:
    """``(LPIPS-AlexNet, None)`` or ``(None, reason)`` when its ImageNet weights are not installed."""
    from sr.checkpoints.pretrained import MissingWeightsError
    from sr.metrics.lpips import LPIPS

    try:
        return LPIPS("alex").to(device), None
    except MissingWeightsError as exc:
        return None, f"LPIPS left out: {exc}"


def niqe_blocker(folder: Path, scale: int, crop_border: int | None = None) -> str | None:
    """Why NIQE cannot score every image of ``folder`` at ``scale`` (an image smaller than one 96x96
    block after the crop to a multiple of the scale and the border crop), else None."""
    from sr.metrics.niqe import BLOCK

    crop = scale if crop_border is None else crop_border
    for path in list_images(folder):
        with PILImage.open(path) as im:
            w, h = im.size
        left = (h - h % scale - 2 * crop, w - w % scale - 2 * crop)
        if min(left) < BLOCK:
            size = f"{left[1]}x{left[0]}"
            return f"NIQE left out: {path} leaves {size} pixels after cropping; it needs {BLOCK}x{BLOCK}"
    return None


def lpips_score(
    metric: nn.Module, hr: Image, out: torch.Tensor, scale: int, crop: int, device: torch.device | str
) -> float:
    """LPIPS of the 8-bit output ``(C, H, W)`` against the HR image (cropped to a multiple of the
    scale, ``crop`` pixels dropped at each border). One-channel outputs (luma models) are compared
    with the HR luma; both are replicated to 3 channels."""
    gt = hr.data.to(torch.float64)
    gt = gt[:, : gt.shape[1] - gt.shape[1] % scale, : gt.shape[2] - gt.shape[2] % scale]
    if out.shape[0] == 1 and gt.shape[0] == 3:
        gt = rgb_to_y(gt).mul(255).round().div(255)
    pair = [t[:, crop : t.shape[1] - crop, crop : t.shape[2] - crop].expand(3, -1, -1) for t in (out, gt)]
    x, y = (t.unsqueeze(0).to(device, torch.float32) for t in pair)
    with torch.inference_mode():
        return float(metric(x, y)[0])


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
    model: nn.Module,
    hr: Image,
    scale: int,
    protocol: str,
    device: torch.device,
    num_in_ch: int | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Return ``(sr, sr_luma, gt_luma)``: the 8-bit-rounded model output (``(C, H, W)``, C = 1 or
    3) and the two luma images to score, float64 ``(1, H, W)`` in [0, 1]. ``num_in_ch``: the model's
    input channels where it does not say (its ``num_in_ch``; a model without one gets the luma)."""
    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown protocol {protocol!r}; choose one of {list(PROTOCOLS)}")
    hr_data = hr.data.to(torch.float64)
    h, w = hr_data.shape[-2:]
    hr_data = hr_data[:, : h - h % scale, : w - w % scale]
    in_ch = getattr(model, "num_in_ch", None) or num_in_ch
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
    niqe: bool = False,
    lpips: nn.Module | None = None,
) -> DatasetResult:
    """Score every image of ``folder``; ``on_image(path, sr)`` receives each output (e.g. to save it).
    ``niqe``: add NIQE per image; ``lpips``: an LPIPS module (``load_lpips``) to add LPIPS.

    ``on_scored(path, sr_luma, gt_luma)`` receives the very luma pair PSNR/SSIM scored, float64
    ``(1, H, W)`` after ``crop_border`` (8-bit levels under protocol ``y``), e.g. for extra metrics;
    the scores it returns, if any, join the image's entry in ``result.images``."""
    crop = scale if crop_border is None else crop_border
    result = DatasetResult(folder.name)
    model.eval()
    for path in progress(list_images(folder)):
        hr = read_image(path)
        h, w = hr.data.shape[-2:]
        if min(h - h % scale, w - w % scale) <= max(2 * crop, scale - 1):
            raise ValueError(
                f"{path}: {w}x{h} pixels is too small to score at x{scale} with a crop border of {crop}"
            )
        out, sr_y, gt_y = upscale_for_protocol(model, hr, scale, protocol, torch.device(device))
        quantize = protocol == "y"  # the rgb protocol (BasicSR) scores the unrounded luma
        p, s = psnr_ssim(sr_y, gt_y, crop_border=crop, quantize=quantize)
        scores = result.images[path.stem] = {"psnr": p, "ssim": s}
        c = (slice(crop, -crop) if crop else slice(None),) * 2
        if niqe:
            try:
                scores["niqe"] = niqe_score(sr_y[(0, *c)].mul(255))
            except ValueError as err:
                raise ValueError(f"{path}: NIQE: {err}") from err
        if lpips is not None:
            scores["lpips"] = lpips_score(lpips, hr, out, scale, crop, device)
        if on_scored is not None:
            extra = on_scored(path, sr_y[(..., *c)], gt_y[(..., *c)])
            scores.update(extra or {})
        if on_image is not None:
            on_image(path, out)
    return result
