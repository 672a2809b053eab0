"""RGB <-> YCbCr with MATLAB's ``rgb2ycbcr`` / ``ycbcr2rgb`` coefficients (ITU-R BT.601, studio swing).

All functions take and return float tensors ``(..., 3, H, W)`` (or ``(..., 1, H, W)`` for Y) in
``[0, 1]``: white RGB maps to Y = 235/255, black to Y = 16/255, as in MATLAB.
"""

from __future__ import annotations

import torch

# MATLAB rgb2ycbcr for double input: ycbcr = offset + M * rgb, with rgb in [0, 1] and ycbcr in [0, 255]
_M = (
    (65.481, 128.553, 24.966),
    (-37.797, -74.203, 112.0),
    (112.0, -93.786, -18.214),
)
_OFFSET = (16.0, 128.0, 128.0)


def _check(x: torch.Tensor, channels: int) -> None:
    if x.dim() < 3 or x.shape[-3] != channels:
        raise ValueError(f"expected a tensor (..., {channels}, H, W), got shape {tuple(x.shape)}")


def rgb_to_y(x: torch.Tensor) -> torch.Tensor:
    """Luma Y in [16/255, 235/255] of an RGB tensor ``(..., 3, H, W)``; returns ``(..., 1, H, W)``."""
    _check(x, 3)
    r, g, b = x.unbind(-3)
    y = (65.481 * r + 128.553 * g + 24.966 * b + 16.0) / 255.0
    return y.unsqueeze(-3)


def rgb_to_ycbcr(x: torch.Tensor) -> torch.Tensor:
    _check(x, 3)
    m = torch.tensor(_M, dtype=x.dtype, device=x.device)
    off = torch.tensor(_OFFSET, dtype=x.dtype, device=x.device).view(3, 1, 1)
    return (torch.einsum("ij,...jhw->...ihw", m, x) + off) / 255.0


def ycbcr_to_rgb(x: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`rgb_to_ycbcr` (MATLAB ``ycbcr2rgb``); the result is not clamped."""
    _check(x, 3)
    m_inv = torch.linalg.inv(torch.tensor(_M, dtype=torch.float64)).to(x.dtype).to(x.device)
    off = torch.tensor(_OFFSET, dtype=x.dtype, device=x.device).view(3, 1, 1)
    return torch.einsum("ij,...jhw->...ihw", m_inv, x * 255.0 - off)
