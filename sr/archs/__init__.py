"""Architectures: plain ``nn.Module``s with BasicSR's constructor arguments and attribute names.

Every generator maps an LR image ``(N, C, h, w)`` in [0, 1] to an HR image at ``scale_of(model)``
times the size. ``build({"type": "RRDBNet", "num_block": 23})`` constructs by name.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

from torch import nn

from sr.archs.discriminator_arch import VGGStyleDiscriminator, VGGStyleDiscriminatorAnySize
from sr.archs.limits import check_arch_values, meta_model, parameter_count
from sr.archs.multiscale_arch import MultiScaleMSRResNet, MultiScaleRRDBNet, ScaleView
from sr.archs.rrdbnet_arch import RRDBNet
from sr.archs.span_arch import SPAN
from sr.archs.srcnn_arch import SRCNN
from sr.archs.srresnet_arch import MSRResNet, SRResNet
from sr.archs.unet_discriminator_arch import UNetDiscriminatorSN
from sr.archs.vgg_arch import VGGFeatureExtractor

ARCHS: dict[str, type[nn.Module]] = {
    "SRCNN": SRCNN,
    "SRResNet": SRResNet,
    "MSRResNet": MSRResNet,
    "RRDBNet": RRDBNet,
    "MultiScaleMSRResNet": MultiScaleMSRResNet,
    "MultiScaleRRDBNet": MultiScaleRRDBNet,
    "SPAN": SPAN,
    "VGGStyleDiscriminator": VGGStyleDiscriminator,
    "VGGStyleDiscriminatorAnySize": VGGStyleDiscriminatorAnySize,
    "UNetDiscriminatorSN": UNetDiscriminatorSN,
    "VGGFeatureExtractor": VGGFeatureExtractor,
}

# the constructor argument holding the scale factor, per generator; for the multi-scale generators it is
# the list of scales (``scales``), one head each
SCALE_ARG = {
    "SRCNN": "upscale",
    "SRResNet": "upscale",
    "MSRResNet": "upscale",
    "RRDBNet": "scale",
    "MultiScaleMSRResNet": "scales",
    "MultiScaleRRDBNet": "scales",
    "SPAN": "upscale",
}
MULTISCALE_ARCHS = frozenset(name for name, arg in SCALE_ARG.items() if arg == "scales")


def arch_class(name: str) -> type[nn.Module]:
    try:
        return ARCHS[name]
    except KeyError:
        raise ValueError(f"unknown architecture {name!r}; choose one of {sorted(ARCHS)}") from None


def check_arch_args(name: str, kwargs: Mapping[str, Any]) -> None:
    """Raise ``ValueError`` naming any argument the constructor of ``name`` does not take."""
    params = inspect.signature(arch_class(name).__init__).parameters
    allowed = sorted(p for p in params if p != "self")
    for key in kwargs:
        if key not in params:
            raise ValueError(f"{name}: unknown argument {key!r}; allowed: {', '.join(allowed)}")


def _checked(opt: Mapping[str, Any]) -> tuple[type[nn.Module], dict[str, Any]]:
    """The class and keyword arguments of a section ``{"type": Name, **kwargs}``, names and values
    checked (:func:`check_arch_args`, :func:`sr.archs.limits.check_arch_values`)."""
    if "type" not in opt:
        raise ValueError(f"architecture options need a 'type' key; choose one of {sorted(ARCHS)}")
    kwargs = {k: v for k, v in opt.items() if k != "type"}
    check_arch_args(opt["type"], kwargs)
    cls = arch_class(opt["type"])
    check_arch_values(cls, kwargs)
    return cls, kwargs


def build(opt: Mapping[str, Any]) -> nn.Module:
    """Build from a BasicSR-style section ``{"type": Name, **kwargs}``."""
    cls, kwargs = _checked(opt)
    return cls(**kwargs)


def build_meta(opt: Mapping[str, Any]) -> nn.Module:
    """:func:`build` on PyTorch's ``meta`` device: the shapes and parameter count of the model the
    section describes, without allocating it (the arguments are checked first, as by ``build``)."""
    return meta_model(*_checked(opt))


def scale_of(model: nn.Module) -> int:
    """The scale factor of a generator (``upscale`` or ``scale`` attribute). A multi-scale generator
    has one only when it has a single head; otherwise view one head with ``ScaleView(model, S)``."""
    for attr in ("scale", "upscale"):
        value = getattr(model, attr, None)
        if isinstance(value, int):
            return value
    scales = getattr(model, "scales", None)
    if isinstance(scales, tuple) and len(scales) == 1:
        return scales[0]
    if isinstance(scales, tuple):
        raise ValueError(
            f"{type(model).__name__} is a multi-scale generator ({', '.join(f'x{s}' for s in scales)}); "
            "pick one scale with ScaleView(model, S)"
        )
    raise ValueError(f"{type(model).__name__} has no scale factor (not a super-resolution generator)")


def scales_of(model: nn.Module) -> tuple[int, ...]:
    """The scale factors a generator serves: ``model.scales`` for a multi-scale generator, else
    ``(scale_of(model),)``. ``ValueError`` for a module that is not a super-resolution generator."""
    scales = getattr(model, "scales", None)
    if isinstance(scales, tuple):
        return scales
    return (scale_of(model),)


__all__ = [
    "ARCHS",
    "MULTISCALE_ARCHS",
    "SCALE_ARG",
    "SPAN",
    "SRCNN",
    "MSRResNet",
    "MultiScaleMSRResNet",
    "MultiScaleRRDBNet",
    "RRDBNet",
    "SRResNet",
    "ScaleView",
    "UNetDiscriminatorSN",
    "VGGFeatureExtractor",
    "VGGStyleDiscriminator",
    "VGGStyleDiscriminatorAnySize",
    "build",
    "build_meta",
    "check_arch_args",
    "parameter_count",
    "scale_of",
    "scales_of",
]
