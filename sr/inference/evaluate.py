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

Memory. Every image is run through the model whole, as the papers score it (tiling with blended seams
would change the scores of networks whose receptive field exceeds the tile padding, e.g. RRDBNet's).
So before an image is read, :func:`check_memory` refuses it (a ``ValueError`` naming the file, its size
and the estimate) when the model's activations on it (``sr.inference.tiling``'s
:func:`~sr.inference.tiling.activation_elements_per_pixel`, the estimate ``sr-infer`` sizes its tiles
by), the evaluation's own copies (:data:`PIPELINE_BYTES_PER_PIXEL`) and LPIPS
(:data:`LPIPS_BYTES_PER_PIXEL`) would not fit in the free memory; a ``RuntimeError`` or
``MemoryError`` while an image is scored becomes a ``ValueError`` naming the file.
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
from sr.device import available_memory
from sr.inference.tiling import activation_elements_per_pixel
from sr.metrics.niqe import niqe as niqe_score
from sr.metrics.psnr_ssim import psnr_ssim
from sr.ops.color import rgb_to_y
from sr.ops.imresize import imresize

log = logging.getLogger(__name__)

PROTOCOLS = ("y", "rgb")
METRICS = ("psnr", "ssim", "niqe", "lpips")  # psnr and ssim are always computed
# Bytes per HR pixel the evaluation holds on the CPU beside the model's activations (the image as read,
# its float64 crop, luma and LR copies, the float64 output and its rounded copies, SSIM's filtered maps,
# the spectrum's FFTs), with the margin of 1.5 of the tiling estimates. Peak RSS above the process's
# baseline (/usr/bin/time, `sr-eval --model bicubic` on a 4000x4000 RGB PNG; baseline: the same
# command's imports, 547 MB): 69 B/px at x4 (protocol y), 112 at x4 (rgb), 121 at x2 (rgb, with
# --metrics niqe and --spectrum).
PIPELINE_BYTES_PER_PIXEL = 192
# LPIPS-AlexNet on the output and the HR image, on the model's device: ~250 B per HR pixel measured
# (2000x2000, x4, rgb: 2290 MB peak RSS with --metrics lpips, 1024 MB without, less its 233 MB of
# weights), with the same margin.
LPIPS_BYTES_PER_PIXEL = 384


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


def _free_memory(device: torch.device) -> int:
    """Bytes free on ``device``; on CUDA with the blocks PyTorch's allocator holds unused (the previous
    image's activations), which it hands out again before asking the driver."""
    free = available_memory(device)
    if device.type == "cuda":
        free += torch.cuda.memory_reserved(device) - torch.cuda.memory_allocated(device)
    return free


def memory_needed(
    model: nn.Module, size: tuple[int, int], scale: int, device: torch.device | str, lpips: bool = False
) -> tuple[float, float]:
    """Estimated peak bytes ``(on the device, on the CPU)`` to score one ``size = (h, w)`` HR image at
    ``scale`` (module docstring, "Memory"): the model on the whole LR image in float32, LPIPS on the
    device, the evaluation's copies on the CPU. On a CPU device the two add up."""
    from sr.inference.loading import InPrecision  # here: loading imports interp, which imports this

    net = model.model if isinstance(model, InPrecision) else model
    net = getattr(net, "psnr_net", net)  # an image blend runs its two networks one after the other
    h, w = size
    hr_px = float(h - h % scale) * float(w - w % scale)
    on_device = activation_elements_per_pixel(net, scale) * 4 * hr_px / (scale * scale)
    on_device += LPIPS_BYTES_PER_PIXEL * hr_px if lpips else 0.0
    return on_device, PIPELINE_BYTES_PER_PIXEL * hr_px


def check_memory(
    model: nn.Module, path: Path, scale: int, device: torch.device | str = "cpu", lpips: bool = False
) -> None:
    """Refuse (``ValueError`` naming ``path``, its size and the estimate) an image whose scoring
    (:func:`memory_needed`) would not fit in the memory free now; reads only the file's header. A file
    that cannot be opened passes: reading it reports the problem."""
    try:
        with PILImage.open(path) as im:
            w, h = im.size
    except (OSError, ValueError, PILImage.DecompressionBombError):
        return
    dev = torch.device(device)
    on_device, on_cpu = memory_needed(model, (h, w), scale, dev, lpips)
    checks = [("", on_device + on_cpu, dev)] if dev.type == "cpu" else [(f" on {dev}", on_device, dev)]
    if dev.type != "cpu":
        checks.append((" on the CPU", on_cpu, torch.device("cpu")))
    for where, need, d in checks:
        free = _free_memory(d)
        if need > free:
            raise ValueError(
                f"{path}: {w}x{h} pixels needs about {need / 2**30:.3g} GiB{where} to score at x{scale} "
                f"(the model runs on the whole image), but {free / 2**30:.1f} GiB are free; "
                "crop or downscale the image, or use a machine with more memory"
            )


def _failure(err: BaseException) -> str:
    """The first line of a ``RuntimeError``/``MemoryError`` raised while an image is scored (a CUDA
    out-of-memory message runs on for lines of allocator advice)."""
    lines = str(err).strip().splitlines()
    first = lines[0] if lines else ""
    if isinstance(err, MemoryError):
        return f"out of memory ({first})" if first else "out of memory"
    return first or type(err).__name__


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
    the scores it returns, if any, join the image's entry in ``result.images``.

    Each image is checked against the free memory before it is read (:func:`check_memory`); a
    ``RuntimeError`` or ``MemoryError`` while it is scored is a ``ValueError`` naming it."""
    crop = scale if crop_border is None else crop_border
    result = DatasetResult(folder.name)
    model.eval()
    for path in progress(list_images(folder)):
        check_memory(model, path, scale, device, lpips is not None)
        try:
            out, scores = _score_image(model, path, scale, protocol, crop, device, on_scored, niqe, lpips)
        except (RuntimeError, MemoryError) as err:
            raise ValueError(f"{path}: scoring it at x{scale} failed: {_failure(err)}") from err
        result.images[path.stem] = scores
        if on_image is not None:
            on_image(path, out)
    return result


def _score_image(
    model: nn.Module,
    path: Path,
    scale: int,
    protocol: str,
    crop: int,
    device: torch.device | str,
    on_scored: Callable[[Path, torch.Tensor, torch.Tensor], dict[str, float] | None] | None,
    niqe: bool,
    lpips: nn.Module | None,
) -> tuple[torch.Tensor, dict[str, float]]:
    """One image of :func:`evaluate_folder`: its 8-bit output and its scores."""
    hr = read_image(path)
    h, w = hr.data.shape[-2:]
    if min(h - h % scale, w - w % scale) <= max(2 * crop, scale - 1):
        raise ValueError(
            f"{path}: {w}x{h} pixels is too small to score at x{scale} with a crop border of {crop}"
        )
    out, sr_y, gt_y = upscale_for_protocol(model, hr, scale, protocol, torch.device(device))
    quantize = protocol == "y"  # the rgb protocol (BasicSR) scores the unrounded luma
    p, s = psnr_ssim(sr_y, gt_y, crop_border=crop, quantize=quantize)
    scores = {"psnr": p, "ssim": s}
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
    return out, scores
