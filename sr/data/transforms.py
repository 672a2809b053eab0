"""Crops and augmentation on CHW tensors, driven by an explicit ``numpy.random.Generator``.

Augmentation follows BasicSR's ``augment``: horizontal flip (``use_hflip``), vertical flip and
transpose (BasicSR's "rot90", ``use_rot``), each with probability 0.5; together the eight dihedral
transforms. The three coin flips are always drawn (and then masked), so switching an option off does
not change the crops that follow in the same generator.
"""

from __future__ import annotations

import numpy as np
import torch

from sr.ops import imresize


def gt_patch_size(gt_size: int | None, lq_size: int | None, scale: int) -> int | None:
    """The GT patch side of a training item at ``scale``: ``gt_size``, or ``lq_size * scale`` (the same
    LQ patch, hence the same network input, at every scale of a multi-scale run, as EDSR/MDSR train);
    None when neither is set (whole images)."""
    return lq_size * scale if lq_size is not None else gt_size


def describe_patch(size: int, lq_size: int | None) -> str:
    """``size`` (a GT patch side) as errors name it: by the option that set it."""
    return f"gt_size {size}" if lq_size is None else f"the {size}x{size} GT patch of lq_size {lq_size}"


def random_crop_origin(rng: np.random.Generator, height: int, width: int, size: int) -> tuple[int, int]:
    """Top-left corner ``(top, left)`` of a uniformly placed ``size x size`` window in ``height x width``
    (the caller checks that it fits)."""
    top = int(rng.integers(0, height - size + 1))
    left = int(rng.integers(0, width - size + 1))
    return top, left


def draw_augment(rng: np.random.Generator, use_hflip: bool, use_rot: bool) -> tuple[bool, bool, bool]:
    """``(hflip, vflip, transpose)`` flags, each true with probability 0.5 when enabled."""
    coins = rng.random(3) < 0.5
    return bool(coins[0] and use_hflip), bool(coins[1] and use_rot), bool(coins[2] and use_rot)


def apply_augment(x: torch.Tensor, flags: tuple[bool, bool, bool]) -> torch.Tensor:
    """Apply ``(hflip, vflip, transpose)`` to the last two dimensions of ``x`` (H, W), in that order."""
    hflip, vflip, transpose = flags
    if hflip:
        x = x.flip(-1)
    if vflip:
        x = x.flip(-2)
    if transpose:
        x = x.transpose(-1, -2)
    return x.contiguous()


def round_to_8bit(x: torch.Tensor) -> torch.Tensor:
    """Clamp to [0, 1] and round to the nearest multiple of 1/255, as writing an 8-bit file would."""
    return x.clamp(0.0, 1.0).mul(255.0).round().div(255.0)


def mod_crop(x: torch.Tensor, scale: int) -> torch.Tensor:
    """Crop the bottom/right of ``(..., H, W)`` to multiples of ``scale`` (the evaluation convention)."""
    h, w = x.shape[-2:]
    return x[..., : h - h % scale, : w - w % scale]


def band_limit(x: torch.Tensor, factor: float) -> torch.Tensor:
    """``(..., H, W)`` MATLAB-bicubic downsampled by ``factor`` in (0, 1] (to ``imresize``'s size
    ``ceil(factor * H) x ceil(factor * W)``) and bicubic-upsampled back to ``H x W``.

    Band-limited training targets (``gt_bandlimit``): the result keeps the content below ``factor``
    times the Nyquist frequency of ``x`` and loses almost all above it. Bicubic is not an ideal
    low-pass: its side lobes let a little through. Measured (Hann-windowed FFT, power with
    ``max(|fx|, |fy|) > factor * Nyquist``, relative to the same power of ``x``): 0.9% (``factor``
    0.5) and 0.1% (0.25) on white noise; 3-8% on 64-96 pixel crops of skimage's astronaut and
    coffee, there under 1% of the crop's total power. Neither clamped nor rounded, since either
    would put back frequencies above the band; values may overshoot [0, 1] slightly at edges.
    ``factor`` 1 returns ``x`` unchanged."""
    if not 0 < factor <= 1:
        raise ValueError(f"band_limit: factor {factor} must be in (0, 1]")
    if factor == 1:
        return x
    return imresize(imresize(x, factor), size=tuple(x.shape[-2:]))
