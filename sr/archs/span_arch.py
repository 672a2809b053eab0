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
MAX_IMG_RANGE = 65535.0  # 16-bit levels; the authors use 255


def _bias(conv: nn.Conv2d) -> torch.Tensor:
    if conv.bias is None:
        raise ValueError(f"{conv} has no bias")
    return conv.bias


def fuse_conv3xc(
    first: tuple[torch.Tensor, torch.Tensor],
    middle: tuple[torch.Tensor, torch.Tensor],
    last: tuple[torch.Tensor, torch.Tensor],
    skip: tuple[torch.Tensor, torch.Tensor],
) -> tuple[torch.Tensor, torch.Tensor]:
    """The 3x3 kernel and bias equal to ``last(middle(first(pad(x)))) + skip(x)`` for the ``(weight,
    bias)`` pairs of :class:`Conv3XC`, computed in float32. A padded border pixel enters ``first``
    as its bias, as every other pixel's bias does, so the whole bias term is constant and the kernel
    sees zero padding."""
    (w1, b1), (w2, b2), (w3, b3), (ws, bs) = (
        tuple(t.detach().float() for t in p) for p in (first, middle, last, skip)
    )
    kernel = torch.einsum("on,nmyx,mi->oiyx", w3[:, :, 0, 0], w2, w1[:, :, 0, 0]) + F.pad(ws, (1, 1, 1, 1))
    bias = w3[:, :, 0, 0] @ (w2.sum((2, 3)) @ b1 + b2) + b3 + bs
    return kernel, bias


_BRANCHES = ("conv.0", "conv.1", "conv.2", "sk")


class Conv3XC(nn.Module):
    """A 3x3 convolution ``c_in -> c_out`` trained as a 1x1 skip ``sk`` plus a linear chain ``conv``
    (1x1 to ``gain * c_in``, 3x3 to ``gain * c_out``, 1x1 to ``c_out``) on the zero-padded input.
    Every part is linear, so in eval mode the whole is one 3x3 convolution (:meth:`fused`, the same
    function up to rounding), computed from the trained weights on each call, or once by
    :meth:`deploy` into ``eval_conv`` (for export: the graph then holds one convolution).

    ``eval_conv`` is the authors' checkpoint layout for that kernel. It is never trained; a saved
    state dict holds the fused kernel there (written into the state dict, the module is not
    changed), and a state dict without it (a training-only export) loads, the kernel fused from it.
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
        self.deployed = False
        self.register_state_dict_post_hook(_state_with_fused_kernel)
        self.register_load_state_dict_pre_hook(_fill_in_fused_kernel)

    def _pairs(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        convs = [cast(nn.Conv2d, m) for m in self.conv] + [self.sk]
        return [(c.weight, _bias(c)) for c in convs]

    def fused(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The single 3x3 kernel ``(c_out, c_in, 3, 3)`` and bias ``(c_out,)``, float32."""
        first, middle, last, skip = self._pairs()
        return fuse_conv3xc(first, middle, last, skip)

    def deploy(self) -> None:
        """Fuse once into ``eval_conv`` and run only it in eval mode (``train()`` undoes this)."""
        kernel, bias = self.fused()
        with torch.no_grad():
            self.eval_conv.weight.copy_(kernel)
            _bias(self.eval_conv).copy_(bias)
        self.deployed = True

    def train(self, mode: bool = True) -> Conv3XC:
        if mode:
            self.deployed = False
        return super().train(mode)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training:
            return self.conv(F.pad(x, (1, 1, 1, 1))) + self.sk(x)
        if self.deployed:
            return self.eval_conv(x)
        kernel, bias = self.fused()
        return F.conv2d(x, kernel.to(x.dtype), bias.to(x.dtype), padding=1)


def _state_with_fused_kernel(module: nn.Module, state: dict[str, Any], prefix: str, _meta: Any) -> None:
    if isinstance(state.get(f"{prefix}eval_conv.weight"), nn.Parameter):
        return  # keep_vars=True: the caller wants the live parameters, not values
    kernel, bias = cast(Conv3XC, module).fused()
    for name, value in (("weight", kernel), ("bias", bias)):
        key = f"{prefix}eval_conv.{name}"
        state[key] = value.to(state[key].dtype)


def _fill_in_fused_kernel(module: nn.Module, state: dict[str, Any], prefix: str, *_args: Any) -> None:
    keys = [(f"{prefix}{b}.weight", f"{prefix}{b}.bias") for b in _BRANCHES]
    if f"{prefix}eval_conv.weight" in state or not all(w in state and b in state for w, b in keys):
        return
    given = [(state[w], state[b]) for w, b in keys]
    own = [t for pair in cast(Conv3XC, module)._pairs() for t in pair]
    if [t.shape for pair in given for t in pair] != [t.shape for t in own]:
        return  # load_state_dict names the keys that do not fit
    kernel, bias = fuse_conv3xc(*given)
    state[f"{prefix}eval_conv.weight"], state[f"{prefix}eval_conv.bias"] = kernel, bias


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
        if not all(isinstance(m, int | float) and 0 <= m <= 1 for m in rgb_mean):
            raise ValueError(f"rgb_mean must hold colours in [0, 1], got {list(rgb_mean)[:8]!r}")
        if not (isinstance(img_range, int | float) and 0 < img_range <= MAX_IMG_RANGE):
            raise ValueError(f"img_range must lie in (0, {MAX_IMG_RANGE}], got {img_range!r}")
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
