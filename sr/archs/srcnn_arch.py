"""SRCNN (Dong et al., "Image Super-Resolution Using Deep Convolutional Networks", TPAMI 2016).

Contract: like every model in ``sr.archs``, ``SRCNN`` maps a low-resolution image ``(N, C, h, w)``
to a high-resolution one ``(N, C, ceil(upscale * h), ceil(upscale * w))``. The bicubic
pre-upsampling that the paper performs outside the network happens inside ``forward``, with the
MATLAB-compatible ``imresize`` (the paper's), unless ``upsample="none"``, in which case the input
must already be at the target size and ``upscale`` is only recorded.

The three layers are named ``conv1``, ``conv2``, ``conv3`` as in the official release, with
"same" padding. The official weights were trained without padding: run them with
``padding_mode="replicate"`` to reproduce the published tables (zero padding darkens the borders).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from sr.ops.imresize import imresize

UPSAMPLE_CHOICES = ("bicubic", "none")
PADDING_CHOICES = ("zeros", "replicate")


class SRCNN(nn.Module):
    def __init__(
        self,
        num_in_ch: int = 1,
        num_out_ch: int | None = None,
        num_feat: int = 64,
        num_feat2: int = 32,
        kernel_sizes: Sequence[int] = (9, 5, 5),
        upscale: int = 4,
        padding_mode: str = "zeros",
        upsample: str = "bicubic",
    ) -> None:
        super().__init__()
        if padding_mode not in PADDING_CHOICES:
            raise ValueError(f"SRCNN padding_mode {padding_mode!r}; choose one of {list(PADDING_CHOICES)}")
        if upsample not in UPSAMPLE_CHOICES:
            raise ValueError(f"SRCNN upsample {upsample!r}; choose one of {list(UPSAMPLE_CHOICES)}")
        if len(kernel_sizes) != 3 or any(k % 2 == 0 for k in kernel_sizes):
            raise ValueError(
                f"SRCNN kernel_sizes must be three odd sizes such as (9, 5, 5), got {kernel_sizes}"
            )
        num_out_ch = num_in_ch if num_out_ch is None else num_out_ch
        self.upscale = upscale
        self.num_in_ch = num_in_ch
        self.upsample = upsample
        self.padding_mode = padding_mode
        k1, k2, k3 = (int(k) for k in kernel_sizes)
        pm: Any = padding_mode
        self.conv1 = nn.Conv2d(num_in_ch, num_feat, k1, padding=k1 // 2, padding_mode=pm)
        self.conv2 = nn.Conv2d(num_feat, num_feat2, k2, padding=k2 // 2, padding_mode=pm)
        self.conv3 = nn.Conv2d(num_feat2, num_out_ch, k3, padding=k3 // 2, padding_mode=pm)
        self.relu = nn.ReLU(inplace=True)
        for layer in (self.conv1, self.conv2, self.conv3):
            # the paper: weights from a zero-mean Gaussian with std 0.001, biases 0
            nn.init.normal_(layer.weight, std=1e-3)
            nn.init.zeros_(layer.bias)  # type: ignore[arg-type]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.upsample == "bicubic" and self.upscale != 1:
            x = imresize(x, self.upscale)
        x = self.relu(self.conv1(x))
        x = self.relu(self.conv2(x))
        return self.conv3(x)
