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

import math

import numpy as np
import torch
import torch.nn.functional as F

# Rows of the cropped image prepared at a time on the CPU: the float64 working arrays stay a few MB
# (cache-resident, reused by the allocator instead of page-faulted afresh); results are unchanged.
STRIP_ROWS = 128
_WIN = 11  # SSIM's Gaussian window


def _check(sr: torch.Tensor, hr: torch.Tensor, crop_border: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Both images as cropped ``(N, C, H, W)`` views, after the shape checks."""
    if sr.shape != hr.shape:
        raise ValueError(f"image shapes differ: {tuple(sr.shape)} vs {tuple(hr.shape)}")
    if sr.dim() == 3:
        sr, hr = sr.unsqueeze(0), hr.unsqueeze(0)
    if sr.dim() != 4 or sr.shape[1] not in (1, 3):
        raise ValueError(
            f"expected an image tensor (C, H, W) or (N, C, H, W) with C in (1, 3), got {tuple(sr.shape)}"
        )
    if 2 * crop_border >= min(sr.shape[-2:]):
        raise ValueError(f"crop_border={crop_border} leaves nothing of a {tuple(sr.shape[-2:])} image")
    if crop_border:  # cropping first is exact: every step of _prepare is per pixel
        c = slice(crop_border, -crop_border)
        sr, hr = sr[..., c, c], hr[..., c, c]
    return sr.detach(), hr.detach()


def _prepare(x: torch.Tensor, y_channel: bool, quantize: bool) -> torch.Tensor:
    """A float64 copy on the [0, 255] scale: clamped, quantized and reduced to luma as asked."""
    if x.device.type == "cpu":  # NumPy's float64 conversion of a strided view is ~3x torch's on CPU
        x = torch.from_numpy(x.numpy().astype(np.float64))
    else:
        x = x.to(torch.float64, copy=True)
    x.clamp_(0, 1).mul_(255.0)
    if quantize:
        x.round_()
    if y_channel and x.shape[1] == 3:
        x = luma_255(x)
        if quantize:
            x.round_()
    return x


def luma_255(x: torch.Tensor) -> torch.Tensor:
    """MATLAB BT.601 luma of ``(N, 3, H, W)`` RGB on the [0, 255] scale, ``(N, 1, H, W)`` on the same
    scale (``rgb_to_y`` with the 1/255 folded into the coefficients: one pass instead of four)."""
    r, g, b = x.unbind(1)
    y = r * (65.481 / 255.0)
    y.add_(g, alpha=128.553 / 255.0).add_(b, alpha=24.966 / 255.0).add_(16.0)
    return y.unsqueeze(1)


def _scores(
    sr: torch.Tensor,
    hr: torch.Tensor,
    crop_border: int,
    y_channel: bool,
    quantize: bool,
    want_psnr: bool = True,
    want_ssim: bool = True,
) -> tuple[float, float]:
    """``(psnr, ssim)`` (NaN for the one not wanted), each the mean over the batch.

    On the CPU the images are prepared in strips of ``STRIP_ROWS`` rows plus the window's 10 rows of
    overlap: squared errors summed over each strip's own rows, SSIM map sums over the window
    positions whose top row is in the strip. Every pixel's value is the one the whole image gives."""
    sr, hr = _check(sr, hr, crop_border)
    n, _, h, w = sr.shape
    if want_ssim and min(h, w) < _WIN:
        raise ValueError(f"SSIM needs at least 11x11 pixels after cropping, got {(h, w)}")
    step = STRIP_ROWS if sr.device.type == "cpu" else h
    sse = torch.zeros(n, dtype=torch.float64)
    ssim_sum: torch.Tensor | None = None
    for top in range(0, h, step):
        own = min(step, h - top)
        rows = slice(top, min(top + step + _WIN - 1, h)) if want_ssim else slice(top, top + own)
        a = _prepare(sr[..., rows, :], y_channel, quantize)
        b = _prepare(hr[..., rows, :], y_channel, quantize)
        if want_psnr:
            sse += torch.sub(a[..., :own, :], b[..., :own, :]).square_().sum(dim=(1, 2, 3)).cpu()
        if want_ssim and a.shape[-2] >= _WIN:
            part = _ssim_sums(a, b)
            ssim_sum = part if ssim_sum is None else ssim_sum + part
    c = a.shape[1]
    psnr_value = ssim_value = math.nan
    if want_psnr:
        mse = (sse / (c * h * w)).tolist()
        values = [math.inf if m == 0 else 10.0 * math.log10(255.0**2 / m) for m in mse]
        psnr_value = sum(values) / len(values)
    if want_ssim:
        assert ssim_sum is not None
        ssim_value = float((ssim_sum / ((h - _WIN + 1) * (w - _WIN + 1))).mean(dim=1).mean())
    return psnr_value, ssim_value


def _ssim_sums(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``(N, C)`` float64 sums of the SSIM map of two prepared images (CPU tensors on the CPU path)."""
    if a.device.type != "cpu":
        return ssim_map(a, b, data_range=255.0).sum(dim=(2, 3)).cpu()
    sums = [
        _ssim_sum_cpu(x.numpy(), y.numpy()) for x, y in zip(a.flatten(0, 1), b.flatten(0, 1), strict=True)
    ]
    return torch.tensor(sums, dtype=torch.float64).view(a.shape[:2])


def psnr(
    sr: torch.Tensor,
    hr: torch.Tensor,
    *,
    crop_border: int = 0,
    y_channel: bool = False,
    quantize: bool = True,
) -> float:
    """Peak signal-to-noise ratio in dB, peak 255; ``inf`` for identical images."""
    return _scores(sr, hr, crop_border, y_channel, quantize, want_ssim=False)[0]


def ssim(
    sr: torch.Tensor,
    hr: torch.Tensor,
    *,
    crop_border: int = 0,
    y_channel: bool = False,
    quantize: bool = True,
) -> float:
    """Structural similarity (Wang et al.), mean over the valid map, then channels, then batch."""
    return _scores(sr, hr, crop_border, y_channel, quantize, want_psnr=False)[1]


def psnr_ssim(
    sr: torch.Tensor,
    hr: torch.Tensor,
    *,
    crop_border: int = 0,
    y_channel: bool = False,
    quantize: bool = True,
) -> tuple[float, float]:
    """``(psnr(...), ssim(...))``, the images prepared once for both."""
    return _scores(sr, hr, crop_border, y_channel, quantize)


def gaussian_1d(size: int = 11, sigma: float = 1.5, dtype=torch.float64, device=None) -> torch.Tensor:
    coords = torch.arange(size, dtype=dtype, device=device) - (size - 1) / 2
    g = torch.exp(-(coords**2) / (2 * sigma**2))
    return g / g.sum()


def gaussian_window(size: int = 11, sigma: float = 1.5, dtype=torch.float64, device=None) -> torch.Tensor:
    """Normalised 2-D Gaussian ``(size, size)``, MATLAB's ``fspecial('gaussian', size, sigma)``."""
    g = gaussian_1d(size, sigma, dtype, device)
    return g[:, None] * g[None, :]


def _ssim_sum_cpu(x: np.ndarray, y: np.ndarray) -> float:
    """Sum of the SSIM map of two float64 ``(H, W)`` planes on the [0, 255] scale: the Gaussian as
    OpenCV's separable float64 filter (22 taps a pixel instead of BasicSR's 121), the border rows and
    columns it pads dropped afterwards ("valid"); the map's arithmetic in place."""
    import cv2

    g = gaussian_1d().numpy()
    p = (_WIN - 1) // 2

    def filt(img: np.ndarray) -> torch.Tensor:
        out = cv2.sepFilter2D(img, cv2.CV_64F, g, g, borderType=cv2.BORDER_REFLECT)
        return torch.from_numpy(out)[p:-p, p:-p]

    c1, c2 = (0.01 * 255.0) ** 2, (0.03 * 255.0) ** 2
    mu_x, mu_y = filt(x), filt(y)
    sxx, syy, sxy = filt(x * x), filt(y * y), filt(x * y)
    mu_xy = mu_x * mu_y
    mu_x.square_()
    mu_y.square_()
    # num = (2 mu_x mu_y + c1) (2 (sxy - mu_x mu_y) + c2)
    # den = (mu_x^2 + mu_y^2 + c1) (sxx + syy - mu_x^2 - mu_y^2 + c2)
    num = sxy.sub_(mu_xy).mul_(2).add_(c2).mul_(mu_xy.mul_(2).add_(c1))
    mu_x.add_(mu_y)
    den = sxx.add_(syy).sub_(mu_x).add_(c2).mul_(mu_x.add_(c1))
    return float(num.div_(den).sum())


def ssim_map(x: torch.Tensor, y: torch.Tensor, data_range: float = 1.0, window: torch.Tensor | None = None):
    """Per-pixel SSIM of ``(N, C, H, W)`` tensors over the "valid" region (differentiable).

    Returns ``(N, C, H - 10, W - 10)`` for the default 11x11 window.
    """
    c = x.shape[1]
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    if window is None:  # the Gaussian is separable: two 1-D passes, 22 instead of 121 taps
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
