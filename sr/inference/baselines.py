"""Interpolation baselines presented as upscaling models, so they run through the same code as networks.

``bicubic``, ``bilinear``, ``nearest``, ``lanczos3`` are MATLAB ``imresize`` (the baseline of the
published tables is ``bicubic``); ``torch-bicubic``, ``torch-bilinear``, ``torch-nearest`` are
``torch.nn.functional.interpolate`` (bicubic with a = -0.75), named as such because they differ.
"""

from __future__ import annotations

import torch
from torch import nn

from sr.ops.imresize import imresize, resize_torch

BASELINES: dict[str, tuple[str, str]] = {
    "bicubic": ("matlab", "bicubic"),
    "bilinear": ("matlab", "bilinear"),
    "nearest": ("matlab", "nearest"),
    "lanczos3": ("matlab", "lanczos3"),
    "torch-bicubic": ("torch", "bicubic"),
    "torch-bilinear": ("torch", "bilinear"),
    "torch-nearest": ("torch", "nearest"),
}


class Interpolation(nn.Module):
    """``(N, C, h, w) -> (N, C, scale * h, scale * w)`` for any C and any floating dtype."""

    num_in_ch = None  # any number of channels

    def __init__(self, name: str, scale: int) -> None:
        super().__init__()
        if name not in BASELINES:
            raise ValueError(f"unknown interpolation baseline {name!r}; choose one of {sorted(BASELINES)}")
        self.name = name
        self.scale = scale
        self.backend, self.method = BASELINES[name]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.backend == "matlab":
            return imresize(x, self.scale, method=self.method)
        return resize_torch(x, (x.shape[-2] * self.scale, x.shape[-1] * self.scale), self.method)

    def extra_repr(self) -> str:
        return f"name={self.name}, scale={self.scale}"
