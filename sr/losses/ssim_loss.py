"""SSIM loss ``1 - SSIM`` (and ``1 - MS-SSIM``), differentiable, with the metric's Gaussian window.

SSIM is Wang et al. (IEEE TIP 2004, eq. 13) exactly as ``sr.metrics.ssim`` computes it: Gaussian
window (11x11, sigma 1.5 by default), K1 = 0.01, K2 = 0.03, "valid" filtering, the map averaged per
channel, then over channels and batch. Unlike the metric there is no quantisation, clamping or
cropping: inputs are float ``(N, C, H, W)`` in [0, data_range].

MS-SSIM is Wang, Simoncelli & Bovik (Asilomar 2003, eq. 7):
``prod_{j<M} cs_j^{w_j} * (l_M cs_M)^{w_M}`` over M = 5 scales with the paper's weights, each scale a
2x2 average-pooled copy of the previous one. As in common implementations (pytorch-msssim), negative
per-channel ``cs``/SSIM values are clamped at 0 before the fractional power; the product is taken per
channel and then averaged.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from sr.metrics.psnr_ssim import gaussian_1d, gaussian_window, ssim_map

# Wang et al. 2003, Table/section 3.1: exponents of the five scales (finest first)
MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)


def _filter(window_size: int, sigma: float, x: torch.Tensor):
    c = x.shape[1]
    g = gaussian_1d(window_size, sigma, dtype=x.dtype, device=x.device)
    kv, kh = g.view(1, 1, -1, 1).expand(c, 1, -1, 1), g.view(1, 1, 1, -1).expand(c, 1, 1, -1)
    return lambda t: F.conv2d(F.conv2d(t, kv, groups=c), kh, groups=c)


def ssim_cs(
    x: torch.Tensor, y: torch.Tensor, data_range: float = 1.0, window_size: int = 11, sigma: float = 1.5
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel mean SSIM and contrast-structure term ``cs``, each ``(N, C)`` (valid region)."""
    filt = _filter(window_size, sigma, x)
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    mu_x, mu_y = filt(x), filt(y)
    mu_xx, mu_yy, mu_xy = mu_x * mu_x, mu_y * mu_y, mu_x * mu_y
    var_x = filt(x * x) - mu_xx
    var_y = filt(y * y) - mu_yy
    cov = filt(x * y) - mu_xy
    cs = (2 * cov + c2) / (var_x + var_y + c2)
    lum = (2 * mu_xy + c1) / (mu_xx + mu_yy + c1)
    return (lum * cs).mean(dim=(2, 3)), cs.mean(dim=(2, 3))


def ssim_per_channel(
    x: torch.Tensor, y: torch.Tensor, data_range: float = 1.0, window_size: int = 11, sigma: float = 1.5
) -> torch.Tensor:
    """``(N, C)`` mean SSIM per image and channel, the metric's ``ssim_map`` averaged spatially."""
    if (window_size, sigma) == (11, 1.5):
        window = None  # ssim_map's separable default window
    else:
        window = gaussian_window(window_size, sigma, dtype=x.dtype, device=x.device)
    return ssim_map(x, y, data_range=data_range, window=window).mean(dim=(2, 3))


def ms_ssim(
    x: torch.Tensor,
    y: torch.Tensor,
    data_range: float = 1.0,
    window_size: int = 11,
    sigma: float = 1.5,
    weights: Sequence[float] = MS_SSIM_WEIGHTS,
) -> torch.Tensor:
    """``(N, C)`` MS-SSIM per image and channel; ``len(weights)`` scales (finest first)."""
    scales = len(weights)
    need = window_size * 2 ** (scales - 1)
    if min(x.shape[-2:]) < need:
        raise ValueError(
            f"MS-SSIM with {scales} scales and a {window_size}x{window_size} window needs images of at "
            f"least {need}x{need}, got {tuple(x.shape[-2:])}; use multiscale=False or larger patches"
        )
    factors = []
    for j, w in enumerate(weights):
        if j > 0:
            x, y = F.avg_pool2d(x, 2), F.avg_pool2d(y, 2)
        full, cs = ssim_cs(x, y, data_range, window_size, sigma)
        factors.append((full if j == scales - 1 else cs).clamp(min=0) ** w)
    return torch.stack(factors).prod(dim=0)


class SSIMLoss(nn.Module):
    """``loss_weight * (1 - SSIM(pred, target))`` (or MS-SSIM with ``multiscale=True``), a scalar.

    ``pred`` and ``target``: ``(N, C, H, W)`` in [0, data_range], at least ``window_size`` pixels on a
    side (``window_size * 16`` for MS-SSIM). 0 for identical images.
    """

    def __init__(
        self,
        loss_weight: float = 1.0,
        window_size: int = 11,
        sigma: float = 1.5,
        data_range: float = 1.0,
        multiscale: bool = False,
    ) -> None:
        super().__init__()
        if window_size < 1 or window_size % 2 == 0:
            raise ValueError(f"window_size must be a positive odd integer, got {window_size}")
        if sigma <= 0 or data_range <= 0:
            raise ValueError(f"sigma and data_range must be positive, got {sigma} and {data_range}")
        self.loss_weight = float(loss_weight)
        self.window_size = window_size
        self.sigma = float(sigma)
        self.data_range = float(data_range)
        self.multiscale = multiscale

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if pred.shape != target.shape or pred.dim() != 4:
            raise ValueError(
                f"expected two (N, C, H, W) tensors of one shape, got {tuple(pred.shape)} and "
                f"{tuple(target.shape)}"
            )
        if min(pred.shape[-2:]) < self.window_size:
            raise ValueError(
                f"SSIM needs at least {self.window_size}x{self.window_size} pixels, "
                f"got {tuple(pred.shape[-2:])}"
            )
        if self.multiscale:
            score = ms_ssim(pred, target, self.data_range, self.window_size, self.sigma)
        else:
            score = ssim_per_channel(pred, target, self.data_range, self.window_size, self.sigma)
        return self.loss_weight * (1 - score.mean())

    def extra_repr(self) -> str:
        return (
            f"loss_weight={self.loss_weight}, window_size={self.window_size}, sigma={self.sigma}, "
            f"data_range={self.data_range}, multiscale={self.multiscale}"
        )
