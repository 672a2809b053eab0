"""SRResNet (Ledig et al., CVPR 2017) and MSRResNet (BasicSR's SRResNet without batch norm).

Both map ``(N, C, h, w)`` to ``(N, C_out, upscale * h, upscale * w)`` for ``upscale`` in 2, 3, 4
(x4 as two pixel-shuffle x2 steps, x3 as one x3 step).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from sr.archs._init import scaled_kaiming_init

SCALES = (2, 3, 4)


def _check_scale(name: str, upscale: int) -> None:
    if upscale not in SCALES:
        raise ValueError(f"{name} upscale {upscale!r} is not supported; choose one of {list(SCALES)}")


def add_msrresnet_tail(module: nn.Module, num_feat: int, num_out_ch: int, scale: int) -> list[nn.Conv2d]:
    """Give ``module`` MSRResNet's tail for ``scale`` under BasicSR's names: ``upconv1`` (and
    ``upconv2`` for x4, two pixel-shuffle x2 steps) + ``pixel_shuffle``, ``conv_hr``, ``conv_last``,
    ``lrelu``. Returns the new convs (to initialise)."""
    module.upconv1 = nn.Conv2d(num_feat, num_feat * (4 if scale == 4 else scale * scale), 3, 1, 1)
    convs = [module.upconv1]
    if scale == 4:
        module.upconv2 = nn.Conv2d(num_feat, num_feat * 4, 3, 1, 1)
        convs.append(module.upconv2)
    module.pixel_shuffle = nn.PixelShuffle(2 if scale == 4 else scale)
    module.conv_hr = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
    module.conv_last = nn.Conv2d(num_feat, num_out_ch, 3, 1, 1)
    module.lrelu = nn.LeakyReLU(negative_slope=0.1, inplace=True)
    return [*convs, module.conv_hr, module.conv_last]


def msrresnet_tail(module: nn.Module, feat: torch.Tensor, scale: int) -> torch.Tensor:
    """The tail made by :func:`add_msrresnet_tail`: features ``(N, F, h, w)`` -> ``(N, C, sh, sw)``."""
    m: Any = module
    out = m.lrelu(m.pixel_shuffle(m.upconv1(feat)))
    if scale == 4:
        out = m.lrelu(m.pixel_shuffle(m.upconv2(out)))
    return m.conv_last(m.lrelu(m.conv_hr(out)))


MSRRESNET_TAIL_HALO = 2
"""LR pixels of context :func:`msrresnet_tail` plus the bilinear skip need for exact results on a
tile: the largest of the tail's reach, ``upconv1``'s 1 LR pixel plus 1 pixel for each later conv on its
grid (x4: 1 + 1/2 + 1/4 + 1/4; x2: 1 + 1/2 + 1/2; x3: 1 + 2/3, rounded up), and the bilinear skip's 1.
Tight: with 1, pixels inside the tile change (tests/inference/test_tiling.py)."""


def bilinear_skip(x: torch.Tensor, scale: int) -> torch.Tensor:
    """MSRResNet's global skip: the input upsampled bilinearly (half-pixel centres)."""
    return F.interpolate(x, scale_factor=scale, mode="bilinear", align_corners=False)


class ResidualBlockNoBN(nn.Module):
    """``x + res_scale * conv2(relu(conv1(x)))`` (EDSR / BasicSR)."""

    def __init__(self, num_feat: int = 64, res_scale: float = 1.0) -> None:
        super().__init__()
        self.res_scale = res_scale
        self.conv1 = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.conv2 = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.relu = nn.ReLU(inplace=True)
        scaled_kaiming_init([self.conv1, self.conv2], 0.1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.add(x, self.conv2(self.relu(self.conv1(x))), alpha=self.res_scale)  # one pass


class MSRResNet(nn.Module):
    """BasicSR's modified SRResNet: no batch norm, LeakyReLU(0.1), global bilinear skip.

    Arguments and attribute names are BasicSR's, so its checkpoints load with ``strict=True``.
    ``forward`` is ``forward_tail(forward_trunk(x), x)``, which inference may run separately (see
    ``tail_halo``; a subclass that changes ``forward`` must change those two instead).
    """

    tail_halo = MSRRESNET_TAIL_HALO

    def __init__(
        self,
        num_in_ch: int = 3,
        num_out_ch: int = 3,
        num_feat: int = 64,
        num_block: int = 16,
        upscale: int = 4,
    ) -> None:
        super().__init__()
        _check_scale("MSRResNet", upscale)
        if num_in_ch != num_out_ch:
            raise ValueError(
                f"MSRResNet adds the upsampled input: num_in_ch ({num_in_ch}) must equal "
                f"num_out_ch ({num_out_ch})"
            )
        self.upscale = upscale
        self.num_in_ch = num_in_ch
        self.conv_first = nn.Conv2d(num_in_ch, num_feat, 3, 1, 1)
        self.body = nn.Sequential(*(ResidualBlockNoBN(num_feat) for _ in range(num_block)))
        tail = add_msrresnet_tail(self, num_feat, num_out_ch, upscale)
        scaled_kaiming_init([self.conv_first, *tail], 0.1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_tail(self.forward_trunk(x), x)

    def forward_trunk(self, x: torch.Tensor) -> torch.Tensor:
        """The LR features: ``conv_first`` and the residual body, ``(N, num_feat, h, w)``."""
        return self.body(F.leaky_relu(self.conv_first(x), 0.1))

    def forward_tail(self, feat: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """The upsampling tail on the trunk's features plus the bilinear skip of ``x``; needs
        ``tail_halo`` LR pixels of context on a tile to match the whole image exactly."""
        return msrresnet_tail(self, feat, self.upscale) + bilinear_skip(x, self.upscale)


class ResidualBlockBN(nn.Module):
    """Ledig et al.'s residual block: conv-BN-PReLU-conv-BN plus identity."""

    def __init__(self, num_feat: int = 64) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.bn1 = nn.BatchNorm2d(num_feat)
        self.prelu = nn.PReLU()
        self.conv2 = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.bn2 = nn.BatchNorm2d(num_feat)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.bn2(self.conv2(self.prelu(self.bn1(self.conv1(x)))))


class SRResNet(nn.Module):
    """The SRResNet generator of SRGAN (Ledig et al., Fig. 4): 9x9 head with PReLU, ``num_block``
    residual blocks with batch norm, a conv-BN long skip, sub-pixel upsampling (conv, pixel shuffle,
    PReLU per x2 step, one x3 step for x3) and a 9x9 tail. No output activation: the tensor
    convention is [0, 1] in and out."""

    def __init__(
        self,
        num_in_ch: int = 3,
        num_out_ch: int = 3,
        num_feat: int = 64,
        num_block: int = 16,
        upscale: int = 4,
    ) -> None:
        super().__init__()
        _check_scale("SRResNet", upscale)
        self.upscale = upscale
        self.num_in_ch = num_in_ch
        self.conv_first = nn.Conv2d(num_in_ch, num_feat, 9, 1, 4)
        self.prelu_first = nn.PReLU()
        self.body = nn.Sequential(*(ResidualBlockBN(num_feat) for _ in range(num_block)))
        self.conv_body = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.bn_body = nn.BatchNorm2d(num_feat)
        steps = [3] if upscale == 3 else [2] * (upscale // 2)
        layers: list[nn.Module] = []
        for s in steps:
            layers += [nn.Conv2d(num_feat, num_feat * s * s, 3, 1, 1), nn.PixelShuffle(s), nn.PReLU()]
        self.upsample = nn.Sequential(*layers)
        self.conv_last = nn.Conv2d(num_feat, num_out_ch, 9, 1, 4)
        scaled_kaiming_init([self], 1.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feat = self.prelu_first(self.conv_first(x))
        body = self.bn_body(self.conv_body(self.body(feat)))
        return self.conv_last(self.upsample(feat + body))
