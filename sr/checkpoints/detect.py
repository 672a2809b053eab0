"""Architecture detection from the keys and shapes of a BasicSR-layout state dict (as spandrel does).

Each detector recognises one architecture by its key signature and reads the constructor
arguments off the tensor shapes. What the shapes cannot tell (SRCNN's ``upscale``: the network
works at the target size) is listed in ``ArchSpec.undetermined`` and must be supplied by the caller.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch

from sr.archs import ARCHS
from sr.archs.multiscale_arch import SCALES as HEAD_SCALES
from sr.checkpoints.errors import CheckpointError

StateDict = Mapping[str, torch.Tensor]
# SRResNet's upsampling conv widths (in units of num_feat) -> upscale
_SRRESNET_STEPS: dict[tuple[float, ...], int] = {(4.0,): 2, (9.0,): 3, (4.0, 4.0): 4}


@dataclass(frozen=True)
class ArchSpec:
    """A detected architecture: ``build({"type": type, **kwargs})`` fits the weights once the
    arguments named in ``undetermined`` are supplied."""

    type: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    undetermined: tuple[str, ...] = ()

    def as_opt(self) -> dict[str, Any]:
        """The BasicSR-style section ``{"type": ..., **kwargs}``."""
        return {"type": self.type, **self.kwargs}


def detect_arch(state_dict: StateDict, source: str | None = None) -> ArchSpec:
    """Detect which ``sr.archs`` architecture ``state_dict`` (BasicSR key layout, see
    ``convert_legacy``) belongs to, with the constructor arguments its shapes determine.

    Raises ``CheckpointError`` naming ``source`` when no architecture matches (listing the ones sr
    knows and the first keys found) or when a matching one has shapes no constructor produces.
    """
    where = source or "state dict"
    for detector in _DETECTORS:
        spec = detector(state_dict, where)
        if spec is not None:
            return spec
    keys = list(state_dict)
    shown = ", ".join(repr(k) for k in keys[:5]) + (f", ... ({len(keys)} keys)" if len(keys) > 5 else "")
    raise CheckpointError(
        f"{where}: cannot detect the architecture; sr knows {', '.join(sorted(ARCHS))}. "
        f"First keys found: {shown or 'none'}"
    )


def _has(sd: StateDict, *keys: str) -> bool:
    return all(k in sd for k in keys)


def _shape(sd: StateDict, key: str) -> tuple[int, ...]:
    return tuple(sd[key].shape)


def _count(sd: StateDict, prefix: str, where: str) -> int:
    """Number of ``prefix.N.`` children; they must be numbered 0..n-1."""
    found = {
        int(k[len(prefix) :].split(".", 1)[0])
        for k in sd
        if k.startswith(prefix) and k[len(prefix)].isdigit()
    }
    if found != set(range(len(found))):
        raise CheckpointError(
            f"{where}: {prefix}N blocks are not numbered 0..{len(found) - 1}: {sorted(found)}"
        )
    return len(found)


def _rrdbnet(sd: StateDict, where: str) -> ArchSpec | None:
    if not _has(sd, "conv_first.weight", "body.0.rdb1.conv1.weight", "conv_body.weight", "conv_last.weight"):
        return None
    c_in, c_out = _shape(sd, "conv_first.weight")[1], _shape(sd, "conv_last.weight")[0]
    # x2 and x1 fold the input with pixel-unshuffle (2x2 -> 4x, 4x4 -> 16x channels); as in spandrel, an
    # x4 net with 4x or 16x as many input as output channels is indistinguishable from these
    scale = 1 if c_in == 16 * c_out else 2 if c_in == 4 * c_out else 4
    return ArchSpec(
        "RRDBNet",
        {
            "num_in_ch": c_in // (4 // scale) ** 2,
            "num_out_ch": c_out,
            "scale": scale,
            "num_feat": _shape(sd, "conv_first.weight")[0],
            "num_block": _count(sd, "body.", where),
            "num_grow_ch": _shape(sd, "body.0.rdb1.conv1.weight")[0],
        },
    )


def _msrresnet(sd: StateDict, where: str) -> ArchSpec | None:
    keys = (
        "conv_first.weight",
        "body.0.conv1.weight",
        "upconv1.weight",
        "conv_hr.weight",
        "conv_last.weight",
    )
    if not _has(sd, *keys) or "body.0.bn1.weight" in sd:
        return None
    num_feat = _shape(sd, "conv_first.weight")[0]
    up_out = _shape(sd, "upconv1.weight")[0]
    if "upconv2.weight" in sd and up_out == 4 * num_feat:
        upscale = 4
    elif "upconv2.weight" not in sd and up_out in (4 * num_feat, 9 * num_feat):
        upscale = 2 if up_out == 4 * num_feat else 3
    else:
        raise CheckpointError(
            f"{where}: MSRResNet-like weights with upconv1 of {up_out} channels for {num_feat} features "
            "match no upscale (2: 4x, 3: 9x, 4: 4x plus upconv2)"
        )
    return ArchSpec("MSRResNet", _resnet_kwargs(sd, where, upscale))


def _resnet_kwargs(sd: StateDict, where: str, upscale: int) -> dict:
    """Constructor arguments shared by MSRResNet and SRResNet, read from the shapes."""
    return {
        "num_in_ch": _shape(sd, "conv_first.weight")[1],
        "num_out_ch": _shape(sd, "conv_last.weight")[0],
        "num_feat": _shape(sd, "conv_first.weight")[0],
        "num_block": _count(sd, "body.", where),
        "upscale": upscale,
    }


def _srresnet(sd: StateDict, where: str) -> ArchSpec | None:
    keys = (
        "conv_first.weight",
        "prelu_first.weight",
        "body.0.bn1.weight",
        "upsample.0.weight",
        "conv_last.weight",
    )
    if not _has(sd, *keys):
        return None
    num_feat = _shape(sd, "conv_first.weight")[0]
    # upsample is [conv, PixelShuffle, PReLU] per step: the 4-d weights are the convs
    convs = sorted(
        int(k.split(".")[1]) for k in sd if re.fullmatch(r"upsample\.\d+\.weight", k) and sd[k].ndim == 4
    )
    outs = tuple(_shape(sd, f"upsample.{i}.weight")[0] for i in convs)
    upscale = _SRRESNET_STEPS.get(tuple(c / num_feat for c in outs))
    if upscale is None:
        raise CheckpointError(
            f"{where}: SRResNet-like weights with upsampling convs of {list(outs)} channels for {num_feat} "
            "features match no upscale (2: 4x, 3: 9x, 4: 4x and 4x)"
        )
    return ArchSpec("SRResNet", _resnet_kwargs(sd, where, upscale))


def _srcnn(sd: StateDict, where: str) -> ArchSpec | None:
    if not sd or {k.split(".", 1)[0] for k in sd} != {"conv1", "conv2", "conv3"}:
        return None
    if not _has(sd, "conv1.weight", "conv2.weight", "conv3.weight"):
        return None
    shapes = [_shape(sd, f"conv{i}.weight") for i in (1, 2, 3)]
    if any(len(s) != 4 or s[2] != s[3] or s[2] % 2 == 0 for s in shapes):
        raise CheckpointError(
            f"{where}: SRCNN-like weights with kernels {[s[2:] for s in shapes]}; need odd squares"
        )
    kwargs = {
        "num_in_ch": shapes[0][1],
        "num_out_ch": shapes[2][0],
        "num_feat": shapes[0][0],
        "num_feat2": shapes[1][0],
        "kernel_sizes": tuple(s[2] for s in shapes),
    }
    # SRCNN runs at the target size, so the weights do not say which scale they were trained for
    return ArchSpec("SRCNN", kwargs, undetermined=("upscale",))


def _vgg_discriminator(sd: StateDict, where: str) -> ArchSpec | None:
    if not _has(sd, "conv0_0.weight", "conv0_1.weight", "bn0_1.weight", "linear1.weight", "linear2.weight"):
        return None
    num_in_ch, num_feat = _shape(sd, "conv0_0.weight")[1], _shape(sd, "conv0_0.weight")[0]
    input_size = 256 if "conv5_0.weight" in sd else 128
    kwargs = {"num_in_ch": num_in_ch, "num_feat": num_feat, "input_size": input_size}
    return ArchSpec("VGGStyleDiscriminator", kwargs)


def _span(sd: StateDict, where: str) -> ArchSpec | None:
    if not _has(sd, "conv_1.sk.weight", "block_1.c1_r.sk.weight", "conv_cat.weight", "upsampler.0.weight"):
        return None
    sk, up = _shape(sd, "conv_1.sk.weight"), _shape(sd, "upsampler.0.weight")
    if len(sk) != 4 or len(up) != 4 or 0 in sk or 0 in up:
        raise CheckpointError(
            f"{where}: SPAN-like weights with conv_1.sk.weight of shape {list(sk)} and upsampler.0.weight "
            f"of shape {list(up)}; need two non-empty 4-D convolution kernels"
        )
    feat, num_in_ch, up_out = sk[0], sk[1], up[0]
    # as in spandrel: the pixel shuffle's channels are num_out_ch * upscale^2, with num_out_ch = num_in_ch
    upscale = round((up_out / num_in_ch) ** 0.5)
    if upscale * upscale * num_in_ch != up_out:
        raise CheckpointError(
            f"{where}: SPAN-like weights whose upsampler makes {up_out} channels, not {num_in_ch} x a square"
        )
    kwargs = {
        "num_in_ch": num_in_ch,
        "num_out_ch": num_in_ch,
        "feature_channels": feat,
        "upscale": upscale,
        "norm": "no_norm" not in sd,
    }
    return ArchSpec("SPAN", kwargs)


_HEAD_KEY = re.compile(r"heads\.x(\d+)\.")


def _head_scales(sd: StateDict, where: str, arch: str) -> tuple[int, ...]:
    """The scales of the ``heads.xS.`` keys of a multi-scale state dict, sorted; each must be one that
    ``arch`` has a head for."""
    found = sorted({int(m.group(1)) for k in sd if (m := _HEAD_KEY.match(k))})
    bad = [s for s in found if s not in HEAD_SCALES]
    if bad:
        raise CheckpointError(
            f"{where}: {arch}-like weights with heads {', '.join(f'x{s}' for s in found)}; "
            f"{arch} has heads for {', '.join(f'x{s}' for s in HEAD_SCALES)} only"
        )
    return tuple(found)


def _multiscale_rrdbnet(sd: StateDict, where: str) -> ArchSpec | None:
    if not _has(sd, "conv_first.weight", "body.0.rdb1.conv1.weight", "conv_body.weight"):
        return None
    scales = _head_scales(sd, where, "MultiScaleRRDBNet")
    if not scales:
        return None
    for s in scales:
        # x4 is two nearest x2 + conv steps, x2 and x3 one step each
        want = ("conv_up1", "conv_up2") if s == 4 else ("conv_up1",)
        have = tuple(n for n in ("conv_up1", "conv_up2") if f"heads.x{s}.{n}.weight" in sd)
        if have != want or not _has(sd, f"heads.x{s}.conv_hr.weight", f"heads.x{s}.conv_last.weight"):
            raise CheckpointError(
                f"{where}: MultiScaleRRDBNet head x{s} has upsampling convs {list(have)}; expected "
                f"{list(want)} plus conv_hr and conv_last"
            )
    return ArchSpec(
        "MultiScaleRRDBNet",
        {
            "num_in_ch": _shape(sd, "conv_first.weight")[1],
            "num_out_ch": _shape(sd, f"heads.x{scales[0]}.conv_last.weight")[0],
            "num_feat": _shape(sd, "conv_first.weight")[0],
            "num_block": _count(sd, "body.", where),
            "num_grow_ch": _shape(sd, "body.0.rdb1.conv1.weight")[0],
            "scales": list(scales),
        },
    )


def _multiscale_msrresnet(sd: StateDict, where: str) -> ArchSpec | None:
    if not _has(sd, "conv_first.weight", "body.0.conv1.weight") or "body.0.bn1.weight" in sd:
        return None
    scales = _head_scales(sd, where, "MultiScaleMSRResNet")
    if not scales:
        return None
    num_feat = _shape(sd, "conv_first.weight")[0]
    for s in scales:
        up1, up2 = f"heads.x{s}.upconv1.weight", f"heads.x{s}.upconv2.weight"
        want = (4 * num_feat, 4 * num_feat) if s == 4 else (s * s * num_feat,)
        have = tuple(_shape(sd, k)[0] for k in (up1, up2) if k in sd)
        if have != want or not _has(sd, f"heads.x{s}.conv_hr.weight", f"heads.x{s}.conv_last.weight"):
            raise CheckpointError(
                f"{where}: MultiScaleMSRResNet head x{s} has upsampling convs of {list(have)} channels for "
                f"{num_feat} features; expected {list(want)} plus conv_hr and conv_last"
            )
    return ArchSpec(
        "MultiScaleMSRResNet",
        {
            "num_in_ch": _shape(sd, "conv_first.weight")[1],
            "num_out_ch": _shape(sd, f"heads.x{scales[0]}.conv_last.weight")[0],
            "num_feat": num_feat,
            "num_block": _count(sd, "body.", where),
            "scales": list(scales),
        },
    )


_DETECTORS: tuple[Callable[[StateDict, str], ArchSpec | None], ...] = (
    _multiscale_rrdbnet,
    _multiscale_msrresnet,
    _rrdbnet,
    _msrresnet,
    _srresnet,
    _srcnn,
    _span,
    _vgg_discriminator,
)
