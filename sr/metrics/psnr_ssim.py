"""PSNR and SSIM with the published SR evaluation protocol.

Inputs are float tensors in [0, 1], ``(C, H, W)`` or ``(N, C, H, W)`` with C = 1 or 3. With
``quantize=True`` (the default, as the published tables) images are first rounded to 8-bit levels.
With ``y_channel=True`` an RGB image is reduced to MATLAB's BT.601 luma and, when quantizing,
rounded to uint8 as MATLAB's ``rgb2ycbcr`` does for uint8 input; a 1-channel image is taken as
luma already. ``crop_border`` pixels are dropped on every side. Scores are computed in float64 on
the [0, 255] scale and returned as Python floats (the mean over the batch for 4-D input).

SSIM is Wang et al. (IEEE TIP 2004): 11x11 Gaussian window with sigma 1.5, K1 = 0.01, K2 = 0.03,
"valid" filtering (no padding), averaged over the map and then over channels. This equals
scikit-image's ``structural_similarity(..., gaussian_weights=True, sigma=1.5,
use_sample_covariance=False, data_range=255)`` on the same uint8 images.
"""

from __future__ import annotations

import functools
import math

import torch
import torch.nn.functional as F

from sr.ops.color import rgb_to_y


def _prepare(x: torch.Tensor, crop_border: int, y_channel: bool, quantize: bool) -> torch.Tensor:
    if x.dim() == 3:
        x = x.unsqueeze(0)
    if x.dim() != 4 or x.shape[1] not in (1, 3):
        raise ValueError(
            f"expected an image tensor (C, H, W) or (N, C, H, W) with C in (1, 3), got {tuple(x.shape)}"
        )
    x = x.detach().to(torch.float64).clamp(0, 1) * 255.0
    if quantize:
        x = x.round()
    if y_channel and x.shape[1] == 3:
        x = rgb_to_y(x / 255.0) * 255.0
        if quantize:
            x = x.round()
    if crop_border:
        x = x[..., crop_border:-crop_border, crop_border:-crop_border]
    return x


def _pair(sr: torch.Tensor, hr: torch.Tensor, crop_border: int, y_channel: bool, quantize: bool):
    if sr.shape != hr.shape:
        raise ValueError(f"image shapes differ: {tuple(sr.shape)} vs {tuple(hr.shape)}")
    a = _prepare(sr, crop_border, y_channel, quantize)
    b = _prepare(hr, crop_border, y_channel, quantize)
    if a.shape[-1] < 1 or a.shape[-2] < 1:
        raise ValueError(f"crop_border={crop_border} leaves nothing of a {tuple(sr.shape[-2:])} image")
    return a, b


def psnr(
    sr: torch.Tensor,
    hr: torch.Tensor,
    *,
    crop_border: int = 0,
    y_channel: bool = False,
    quantize: bool = True,
) -> float:
    """Peak signal-to-noise ratio in dB, peak 255; ``inf`` for identical images."""
    a, b = _pair(sr, hr, crop_border, y_channel, quantize)
    mse = ((a - b) ** 2).flatten(1).mean(dim=1)
    values = [math.inf if m == 0 else 10.0 * math.log10(255.0**2 / m) for m in mse.tolist()]
    return sum(values) / len(values)


def gaussian_1d(size: int = 11, sigma: float = 1.5, dtype=torch.float64, device=None) -> torch.Tensor:
    coords = torch.arange(size, dtype=dtype, device=device) - (size - 1) / 2
    g = torch.exp(-(coords**2) / (2 * sigma**2))
    return g / g.sum()


def gaussian_window(size: int = 11, sigma: float = 1.5, dtype=torch.float64, device=None) -> torch.Tensor:
    """Normalised 2-D Gaussian ``(size, size)``, MATLAB's ``fspecial('gaussian', size, sigma)``."""
    g = gaussian_1d(size, sigma, dtype, device)
    return g[:, None] * g[None, :]


# float64 "valid" 1-D filtering on the CPU as matrix products (PyTorch's float64 depthwise conv2d
# has no fast CPU kernel: 4.7x slower than OpenCV's filter2D on the 19 photos); the same technique
# as sr.ops.imresize's height and width passes.
@functools.lru_cache(maxsize=16)
def _row_matrix(length: int, taps: tuple[float, ...], planes: int) -> torch.Tensor:
    """Block-diagonal sparse ``(planes * n, planes * length)``, n = length - k + 1."""
    k = len(taps)
    n = length - k + 1
    rows = torch.arange(planes * n).repeat_interleave(k)
    plane, out = rows // n, rows % n
    cols = plane * length + out + torch.arange(k).repeat(planes * n)
    values = torch.tensor(taps, dtype=torch.float64).repeat(planes * n)
    shape = (planes * n, planes * length)
    return torch.sparse_coo_tensor(
        torch.stack([rows, cols]), values, shape, check_invariants=False
    ).coalesce()


def _banded_rows(t: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    h, w = t.shape[-2:]
    planes = t.numel() // (h * w)
    m = _row_matrix(h, tuple(g.tolist()), planes)
    out = torch.sparse.mm(m, t.reshape(-1, w))
    return out.reshape(*t.shape[:-2], h - len(g) + 1, w)


def _banded_cols(t: torch.Tensor, g: torch.Tensor, block: int = 64) -> torch.Tensor:
    k, w = len(g), t.shape[-1]
    n = w - k + 1
    band = torch.zeros(block, block + k - 1, dtype=t.dtype)
    for i in range(block):
        band[i, i : i + k] = g
    pieces = []
    for start in range(0, n, block):
        m = min(block, n - start)
        pieces.append(torch.matmul(t[..., start : start + m + k - 1], band[:m, : m + k - 1].T))
    return torch.cat(pieces, dim=-1)


def ssim_map(x: torch.Tensor, y: torch.Tensor, data_range: float = 1.0, window: torch.Tensor | None = None):
    """Per-pixel SSIM of ``(N, C, H, W)`` tensors over the "valid" region (differentiable).

    Returns ``(N, C, H - 10, W - 10)`` for the default 11x11 window.
    """
    c = x.shape[1]
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    if window is None and x.dtype == torch.float64 and x.device.type == "cpu":
        g = gaussian_1d(dtype=x.dtype)

        def filt(t: torch.Tensor) -> torch.Tensor:
            return _banded_cols(_banded_rows(t, g), g)

    elif window is None:  # the Gaussian is separable: two 1-D passes, 22 instead of 121 taps
        g = gaussian_1d(dtype=x.dtype, device=x.device)
        kv, kh = g.view(1, 1, -1, 1).expand(c, 1, -1, 1), g.view(1, 1, 1, -1).expand(c, 1, 1, -1)

        def filt(t: torch.Tensor) -> torch.Tensor:
            return F.conv2d(F.conv2d(t, kv, groups=c), kh, groups=c)

    else:
        k = window.to(dtype=x.dtype, device=x.device).expand(c, 1, *window.shape)

        def filt(t: torch.Tensor) -> torch.Tensor:
            return F.conv2d(t, k, groups=c)

    mu_x, mu_y = filt(x), filt(y)
    mu_xx, mu_yy, mu_xy = mu_x * mu_x, mu_y * mu_y, mu_x * mu_y
    var_x = filt(x * x) - mu_xx
    var_y = filt(y * y) - mu_yy
    cov = filt(x * y) - mu_xy
    return ((2 * mu_xy + c1) * (2 * cov + c2)) / ((mu_xx + mu_yy + c1) * (var_x + var_y + c2))


def ssim(
    sr: torch.Tensor,
    hr: torch.Tensor,
    *,
    crop_border: int = 0,
    y_channel: bool = False,
    quantize: bool = True,
) -> float:
    """Structural similarity (Wang et al.), mean over the valid map, then channels, then batch."""
    a, b = _pair(sr, hr, crop_border, y_channel, quantize)
    if min(a.shape[-2:]) < 11:
        raise ValueError(f"SSIM needs at least 11x11 pixels after cropping, got {tuple(a.shape[-2:])}")
    return float(ssim_map(a, b, data_range=255.0).mean(dim=(1, 2, 3)).mean())
