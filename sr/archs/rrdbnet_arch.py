"""RRDBNet, the ESRGAN generator (Wang et al., ECCV 2018 workshops), BasicSR-compatible.

Maps ``(N, C, h, w)`` to ``(N, C_out, scale * h, scale * w)``. x4 is native (two nearest x2 + conv
steps); x2 and x1 fold the input with pixel-unshuffle first (as BasicSR and Real-ESRGAN do), and
inputs whose size is not a multiple of the fold are reflect-padded and the output cropped, so
any size works.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from sr.archs._init import scaled_kaiming_init

SCALES = (1, 2, 4)
RESIDUAL_SCALE = 0.2  # beta of the paper's residual scaling


class ResidualDenseBlock(nn.Module):
    """Five densely connected 3x3 convs; ``x + 0.2 * conv5(...)``."""

    def __init__(self, num_feat: int = 64, num_grow_ch: int = 32) -> None:
        super().__init__()
        g = num_grow_ch
        self.conv1 = nn.Conv2d(num_feat, g, 3, 1, 1)
        self.conv2 = nn.Conv2d(num_feat + g, g, 3, 1, 1)
        self.conv3 = nn.Conv2d(num_feat + 2 * g, g, 3, 1, 1)
        self.conv4 = nn.Conv2d(num_feat + 3 * g, g, 3, 1, 1)
        self.conv5 = nn.Conv2d(num_feat + 4 * g, num_feat, 3, 1, 1)
        self.lrelu = nn.LeakyReLU(negative_slope=0.2, inplace=True)
        scaled_kaiming_init([self.conv1, self.conv2, self.conv3, self.conv4, self.conv5], 0.1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1 = self.lrelu(self.conv1(x))
        x2 = self.lrelu(self.conv2(torch.cat((x, x1), 1)))
        x3 = self.lrelu(self.conv3(torch.cat((x, x1, x2), 1)))
        x4 = self.lrelu(self.conv4(torch.cat((x, x1, x2, x3), 1)))
        x5 = self.conv5(torch.cat((x, x1, x2, x3, x4), 1))
        return x5 * RESIDUAL_SCALE + x


class RRDB(nn.Module):
    """Residual-in-residual dense block: three RDBs and a scaled skip."""

    def __init__(self, num_feat: int, num_grow_ch: int = 32) -> None:
        super().__init__()
        self.rdb1 = ResidualDenseBlock(num_feat, num_grow_ch)
        self.rdb2 = ResidualDenseBlock(num_feat, num_grow_ch)
        self.rdb3 = ResidualDenseBlock(num_feat, num_grow_ch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.rdb3(self.rdb2(self.rdb1(x))) * RESIDUAL_SCALE + x


class RRDBNet(nn.Module):
    def __init__(
        self,
        num_in_ch: int = 3,
        num_out_ch: int = 3,
        scale: int = 4,
        num_feat: int = 64,
        num_block: int = 23,
        num_grow_ch: int = 32,
    ) -> None:
        super().__init__()
        if scale not in SCALES:
            raise ValueError(f"RRDBNet scale {scale!r} is not supported; choose one of {list(SCALES)}")
        self.scale = scale
        self.num_in_ch = num_in_ch
        self.fold = 4 // scale  # pixel-unshuffle factor: 1 (x4), 2 (x2), 4 (x1)
        self.conv_first = nn.Conv2d(num_in_ch * self.fold**2, num_feat, 3, 1, 1)
        self.body = nn.Sequential(*(RRDB(num_feat, num_grow_ch) for _ in range(num_block)))
        self.conv_body = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.conv_up1 = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.conv_up2 = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.conv_hr = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.conv_last = nn.Conv2d(num_feat, num_out_ch, 3, 1, 1)
        self.lrelu = nn.LeakyReLU(negative_slope=0.2, inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        if self.fold > 1:
            pad_h, pad_w = (-h) % self.fold, (-w) % self.fold
            if pad_h or pad_w:
                mode = "reflect" if pad_h < h and pad_w < w else "replicate"  # reflect needs pad < size
                x = F.pad(x, (0, pad_w, 0, pad_h), mode=mode)
        return self.forward_padded(x)[..., : h * self.scale, : w * self.scale]

    def forward_padded(self, x: torch.Tensor) -> torch.Tensor:
        """The network on an input whose height and width are multiples of ``fold`` (no padding or
        crop: what an exported graph runs after its own padding, ``sr.inference.export``)."""
        if self.fold > 1:
            x = F.pixel_unshuffle(x, self.fold)
        feat = self.conv_first(x)
        feat = feat + self.conv_body(self.body(feat))
        feat = self.lrelu(self.conv_up1(F.interpolate(feat, scale_factor=2, mode="nearest")))
        feat = self.lrelu(self.conv_up2(F.interpolate(feat, scale_factor=2, mode="nearest")))
        return self.conv_last(self.lrelu(self.conv_hr(feat)))
