"""Build a generator for a checkpoint and load its weights strictly, with short, precise errors."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from sr.archs import ARCHS, MULTISCALE_ARCHS, SCALE_ARG, ScaleView, build, build_meta, check_arch_args
from sr.archs.limits import short_repr
from sr.checkpoints.detect import detect_arch
from sr.checkpoints.errors import CheckpointError
from sr.checkpoints.io import read_state_dict


def load_weights(model: nn.Module, state_dict: Mapping[str, torch.Tensor], source: str) -> None:
    """``model.load_state_dict(state_dict, strict=True)``, but on any mismatch raise a one-line
    ``CheckpointError`` naming ``source`` with the first missing key, the first unexpected key and
    the first shape mismatch (key, model's shape, file's shape), each with its total count; and
    refuse weights that hold NaN or infinity (they would make black or garbage images silently)."""
    check_fits(model, state_dict, source)
    for k, t in state_dict.items():
        if t.is_floating_point() and not bool(torch.isfinite(t).all()):
            raise CheckpointError(
                f"{source}: tensor {k!r} holds NaN or infinite values; the weights are broken"
            )
    try:
        model.load_state_dict(state_dict, strict=True)
    except RuntimeError as exc:  # e.g. a dtype that cannot be copied into the parameters
        raise CheckpointError(f"{source}: cannot load into {type(model).__name__}: {exc}") from exc


def check_fits(model: nn.Module, state_dict: Mapping[str, torch.Tensor], source: str) -> None:
    """The key and shape comparison of :func:`load_weights`; ``model`` may live on the meta device."""
    expected = model.state_dict()
    missing = [k for k in expected if k not in state_dict]
    unexpected = [k for k in state_dict if k not in expected]
    mismatched = [
        k for k in expected if k in state_dict and tuple(expected[k].shape) != tuple(state_dict[k].shape)
    ]
    problems = []
    if missing:
        problems.append(f"missing key {missing[0]!r}{_more(missing)}")
    if unexpected:
        problems.append(f"unexpected key {unexpected[0]!r}{_more(unexpected)}")
    if mismatched:
        k = mismatched[0]
        problems.append(
            f"shape mismatch at {k!r}: model expects {tuple(expected[k].shape)}, "
            f"file has {tuple(state_dict[k].shape)}{_more(mismatched)}"
        )
    if problems:
        raise CheckpointError(f"{source}: weights do not fit {type(model).__name__}: {'; '.join(problems)}")


def load_model(
    path: str | os.PathLike[str],
    *,
    net_opt: Mapping[str, Any] | None = None,
    scale: int | None = None,
    key: str | None = None,
) -> nn.Module:
    """Read ``path``, build its super-resolution generator, load the weights strictly, return it in
    eval mode on the CPU.

    The architecture comes from the file when stored there (sr's format), else from
    ``detect_arch``; ``net_opt`` overrides its arguments (checked against the constructor; a
    ``type`` in it must agree with the file). An undetermined scale argument (SRCNN's ``upscale``)
    is taken from ``net_opt`` or ``scale``; otherwise a given ``scale`` must equal the model's.
    A multi-scale generator (``MultiScaleMSRResNet``/``MultiScaleRRDBNet``) comes back as
    ``ScaleView(model, scale)``, the head for ``scale`` presented as a single-scale model (the whole
    model is its ``.module``); ``scale`` may be omitted only when the model has a single scale.
    Discriminators and every other problem raise ``CheckpointError`` naming the file.
    """
    state, meta = read_state_dict(path, key=key)
    return model_from_state(state, meta, source=str(path), net_opt=net_opt, scale=scale)


def model_from_state(
    state: Mapping[str, torch.Tensor],
    meta: Mapping[str, Any],
    *,
    source: str,
    net_opt: Mapping[str, Any] | None = None,
    scale: int | None = None,
) -> nn.Module:
    """``load_model``'s work after reading: the generator for ``state`` (its architecture from
    ``meta["arch"]`` when there, else detected), built, loaded strictly, in eval mode; ``source``
    names it in errors (e.g. weights blended in memory)."""
    undetermined: tuple[str, ...] = ()
    if "arch" in meta:
        kwargs = dict(meta["arch"])
        arch_type = kwargs.pop("type")
        if arch_type not in ARCHS:
            raise CheckpointError(
                f"{source}: stored architecture {arch_type!r} is unknown; sr knows {sorted(ARCHS)}"
            )
    else:
        spec = detect_arch(state, source=source)
        arch_type, kwargs, undetermined = spec.type, dict(spec.kwargs), spec.undetermined
    if arch_type not in SCALE_ARG:
        raise CheckpointError(
            f"{source}: holds a {arch_type}, not a super-resolution generator; load_model builds "
            f"{', '.join(sorted(SCALE_ARG))}"
        )

    overrides = dict(net_opt or {})
    asked = overrides.pop("type", arch_type)
    if asked != arch_type:
        raise CheckpointError(f"{source}: the file holds a {arch_type}, but net_opt asks for {asked!r}")
    try:
        check_arch_args(arch_type, overrides)
    except ValueError as exc:
        raise CheckpointError(f"{source}: net_opt: {exc}") from None
    kwargs.update(overrides)

    if arch_type in MULTISCALE_ARCHS:
        return _load_multiscale(source, state, arch_type, kwargs, scale)
    scale_arg = SCALE_ARG[arch_type]
    if scale_arg in undetermined and scale_arg not in overrides:
        if scale is None:
            raise CheckpointError(
                f"{source}: the scale of this {arch_type} cannot be told from its weights; "
                f"pass --scale N or --net-opt {scale_arg}=N"
            )
        kwargs[scale_arg] = scale
    elif scale is not None and kwargs.get(scale_arg) != scale:
        found = kwargs.get(scale_arg)
        raise CheckpointError(
            f"{source}: the model is x{found} ({arch_type} {scale_arg}={found}), "
            f"but scale {scale} was requested"
        )

    model = _build(source, arch_type, kwargs, state)
    load_weights(model, state, source)
    return model.eval()


def check_loadable(state: Mapping[str, torch.Tensor], arch: Mapping[str, Any], source: str) -> None:
    """``CheckpointError`` unless ``state`` loads strictly into the model ``arch`` describes
    (sane arguments, same keys and shapes), checked on the meta device: nothing is allocated."""
    kwargs = {k: v for k, v in arch.items() if k != "type"}
    _build_meta_checked(source, str(arch.get("type")), kwargs, state)


def _load_multiscale(
    source: str, state: Mapping[str, torch.Tensor], arch_type: str, kwargs: dict[str, Any], scale: int | None
) -> nn.Module:
    model = _build(source, arch_type, kwargs, state)
    scales = tuple(getattr(model, "scales", ()))
    have = ", ".join(f"x{s}" for s in scales)
    if scale is None:
        if len(scales) != 1:
            raise CheckpointError(f"{source}: the model has scales {have}; pass --scale N to pick one")
        scale = scales[0]
    elif scale not in scales:
        raise CheckpointError(f"{source}: the model has scales {have}; asked for x{scale}")
    load_weights(model, state, source)
    return ScaleView(model.eval(), scale).eval()


def _build(
    source: str, arch_type: str, kwargs: Mapping[str, Any], state: Mapping[str, torch.Tensor]
) -> nn.Module:
    """The model, built only once its arguments are sane and its shapes (found on the meta device,
    no memory) match the weights: a small file recording a huge architecture costs nothing."""
    _build_meta_checked(source, arch_type, kwargs, state)
    return _make(build, source, arch_type, kwargs)


def _build_meta_checked(
    source: str, arch_type: str, kwargs: Mapping[str, Any], state: Mapping[str, torch.Tensor]
) -> None:
    check_fits(_make(build_meta, source, arch_type, kwargs), state, source)


def _make(make: Any, source: str, arch_type: str, kwargs: Mapping[str, Any]) -> nn.Module:
    try:
        return make({"type": arch_type, **kwargs})
    except (ValueError, TypeError) as exc:
        raise CheckpointError(f"{source}: cannot build {arch_type}({_kwargs(kwargs)}): {exc}") from None


def _more(keys: list[str]) -> str:
    return f" ({len(keys)} in all)" if len(keys) > 1 else ""


def _kwargs(kwargs: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={short_repr(v)}" for k, v in kwargs.items())
