"""SPAN, the Swift Parameter-free Attention Network (Wan et al., "Swift Parameter-free Attention Network
for Efficient Super-Resolution", CVPR workshops 2024; first in the NTIRE 2024 efficient SR challenge).

Six blocks of three re-parameterisable 3x3 convolutions (:class:`Conv3XC`) with SiLU between them and
an attention without parameters: ``(c3 + x) * (sigmoid(c3) - 0.5)``. The features of the first
convolution, of blocks 1 and 6 and of the first (activated) convolution of block 6 are concatenated,
mixed by a 1x1 convolution and upsampled by one pixel shuffle. The input is centred on DIV2K's mean colour and
multiplied by ``img_range``; the output is the image in [0, 1] with no skip connection.

Parameter and buffer names follow the authors' code, so their checkpoints and those made for chaiNNer
and spandrel load unchanged (``sr.checkpoints.detect`` recognises them), and ours load in spandrel.
"""

from __future__ import annotations

from typing import Any, cast

import torch
import torch.nn.functional as F
from torch import nn

DIV2K_RGB_MEAN = (0.4488, 0.4371, 0.4040)
MAX_UPSCALE = 8


def _bias(conv: nn.Conv2d) -> torch.Tensor:
    if conv.bias is None:
        raise ValueError(f"{conv} has no bias")
    return conv.bias


class Conv3XC(nn.Module):
    """A 3x3 convolution ``c_in -> c_out`` trained as a 1x1 skip ``sk`` plus a linear chain ``conv``
    (1x1 to ``gain * c_in``, 3x3 to ``gain * c_out``, 1x1 to ``c_out``) on the zero-padded input.
    Every part is linear, so in eval mode the whole is one 3x3 convolution whose kernel and bias
    :meth:`fused` computes from the trained weights (the same function up to rounding). ``eval_conv``
    holds that kernel for the authors' checkpoint layout; it is refreshed whenever the state dict is
    saved and never trained.
    """

    def __init__(self, c_in: int, c_out: int, gain: int = 2) -> None:
        super().__init__()
        self.sk = nn.Conv2d(c_in, c_out, 1)
        self.conv = nn.Sequential(
            nn.Conv2d(c_in, c_in * gain, 1),
            nn.Conv2d(c_in * gain, c_out * gain, 3),
            nn.Conv2d(c_out * gain, c_out, 1),
        )
        self.eval_conv = nn.Conv2d(c_in, c_out, 3, padding=1)
        self.eval_conv.requires_grad_(False)

    def fused(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The single 3x3 kernel ``(c_out, c_in, 3, 3)`` and bias ``(c_out,)`` equal to ``sk`` +
        ``conv``. A padded border pixel enters ``conv`` as the first layer's bias, as every other
        pixel's bias does, so the whole bias term is constant and the kernel sees zero padding."""
        first, middle, last = (cast(nn.Conv2d, m) for m in self.conv)
        b1, b2, b3, b_sk = (_bias(c) for c in (first, middle, last, self.sk))
        w1, w3 = first.weight[:, :, 0, 0], last.weight[:, :, 0, 0]
        kernel = torch.einsum("on,nmyx,mi->oiyx", w3, middle.weight, w1)
        bias = w3 @ (middle.weight.sum((2, 3)) @ b1 + b2) + b3 + b_sk
        kernel = kernel + F.pad(self.sk.weight, (1, 1, 1, 1))
        return kernel, bias

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training:
            return self.conv(F.pad(x, (1, 1, 1, 1))) + self.sk(x)
        kernel, bias = self.fused()
        return F.conv2d(x, kernel.to(x.dtype), bias.to(x.dtype), padding=1)

    def _save_to_state_dict(self, destination: Any, prefix: str, keep_vars: bool) -> None:
        with torch.no_grad():
            kernel, bias = self.fused()
            self.eval_conv.weight.copy_(kernel)
            _bias(self.eval_conv).copy_(bias)
        super()._save_to_state_dict(destination, prefix, keep_vars)


class SPAB(nn.Module):
    """Swift parameter-free attention block: three :class:`Conv3XC` with SiLU between them, then
    ``(c3 + x) * (sigmoid(c3) - 0.5)``. ``forward`` returns that and the first convolution's output
    after its SiLU: the authors' in-place activation overwrites the output they return, and their
    trained weights expect it."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.c1_r = Conv3XC(channels, channels)
        self.c2_r = Conv3XC(channels, channels)
        self.c3_r = Conv3XC(channels, channels)
        self.act1 = nn.SiLU()

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out1 = self.act1(self.c1_r(x))
        out3 = self.c3_r(self.act1(self.c2_r(out1)))
        return (out3 + x) * (torch.sigmoid(out3) - 0.5), out1


class SPAN(nn.Module):
    """SPAN for ``upscale`` in 1..8 (one pixel shuffle).

    Args:
        num_in_ch, num_out_ch: image channels.
        feature_channels: width of every block (the paper: 48; 28 for the challenge entry).
        upscale: scale factor.
        norm: centre the input on ``rgb_mean`` and scale it by ``img_range`` (the authors' models);
            ``False`` feeds the image as it is and stores a ``no_norm`` buffer, as their code does.
        img_range, rgb_mean: that normalisation.
    """

    mean: torch.Tensor

    def __init__(
        self,
        num_in_ch: int = 3,
        num_out_ch: int = 3,
        feature_channels: int = 48,
        upscale: int = 4,
        norm: bool = True,
        img_range: float = 255.0,
        rgb_mean: tuple[float, ...] | list[float] = DIV2K_RGB_MEAN,
    ) -> None:
        super().__init__()
        if not 1 <= upscale <= MAX_UPSCALE:
            raise ValueError(f"SPAN upscale {upscale!r} is not supported; choose 1..{MAX_UPSCALE}")
        if norm and len(rgb_mean) != num_in_ch:
            raise ValueError(f"rgb_mean has {len(rgb_mean)} values for {num_in_ch} input channels")
        self.num_in_ch = num_in_ch
        self.upscale = upscale
        self.norm = norm
        self.img_range = float(img_range)
        mean = torch.tensor([float(m) for m in rgb_mean]).view(1, -1, 1, 1)
        self.register_buffer("mean", mean, persistent=False)
        if not norm:
            self.register_buffer("no_norm", torch.zeros(1))

        f = feature_channels
        self.conv_1 = Conv3XC(num_in_ch, f)
        self.block_1 = SPAB(f)
        self.block_2 = SPAB(f)
        self.block_3 = SPAB(f)
        self.block_4 = SPAB(f)
        self.block_5 = SPAB(f)
        self.block_6 = SPAB(f)
        self.conv_cat = nn.Conv2d(4 * f, f, 1)
        self.conv_2 = Conv3XC(f, f)
        self.upsampler = nn.Sequential(
            nn.Conv2d(f, num_out_ch * upscale * upscale, 3, padding=1), nn.PixelShuffle(upscale)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.norm:
            x = (x - self.mean.to(x.dtype)) * self.img_range
        feat = self.conv_1(x)
        out_b1, _ = self.block_1(feat)
        out = out_b1
        for block in (self.block_2, self.block_3, self.block_4, self.block_5):
            out, _ = block(out)
        out_b6, out_b6_first = self.block_6(out)
        mixed = self.conv_cat(torch.cat([feat, self.conv_2(out_b6), out_b1, out_b6_first], 1))
        return self.upsampler(mixed)
