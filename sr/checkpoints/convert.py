"""Conversions between single-scale and multi-scale generators (``sr.archs.multiscale_arch``).

The multi-scale models keep the single-scale key names: the shared part is ``conv_first``, ``body.*``
(and ``conv_body`` for RRDB), the tail for scale S is ``heads.xS.*`` with the single-scale tail's
names. So:

- ``single_to_multiscale`` copies the shared part of a single-scale state dict and, when its scale is
  among the wanted ones, its tail into that head; the other heads keep a fresh, seeded init.
  Single-scale RRDBNet x2/x1 fold the input with pixel-unshuffle before ``conv_first`` and upsample
  x4 in their tail, so from them only ``body.*`` and ``conv_body`` carry over.
- ``deepen`` appends residual blocks to an MSRResNet-family body, each new block's last convolution
  zero, so that the deeper model computes exactly what the trained one did: a start for fine-tuning
  a larger model (the residual branch learns from there, as in Fixup/SkipInit). RRDB blocks scale
  their input (``0.2 * out + x``) and cannot start as the identity this way.
- ``extract_scale`` cuts one head out: a plain ``MSRResNet`` (any scale) or ``RRDBNet`` (x4). RRDB
  x2/x3 heads have no plain ``RRDBNet`` equivalent (its x2 runs the body at half the LR size), so
  they come out as a ``MultiScaleRRDBNet`` with that one scale, which ``load_model`` serves as an
  ordinary x2/x3 model.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch

from sr.archs import arch_class, build
from sr.checkpoints.errors import CheckpointError
from sr.checkpoints.load import load_weights

StateDict = Mapping[str, torch.Tensor]
# single-scale type -> (multi-scale type, constructor argument with the scale, shared key prefixes,
# tail module names)
_FAMILIES: dict[str, tuple[str, str, tuple[str, ...], tuple[str, ...]]] = {
    "MSRResNet": (
        "MultiScaleMSRResNet",
        "upscale",
        ("conv_first.", "body."),
        ("upconv1", "upconv2", "conv_hr", "conv_last"),
    ),
    "RRDBNet": (
        "MultiScaleRRDBNet",
        "scale",
        ("conv_first.", "body.", "conv_body."),
        ("conv_up1", "conv_up2", "conv_hr", "conv_last"),
    ),
}
_SINGLE_OF = {multi: single for single, (multi, *_rest) in _FAMILIES.items()}


@dataclass
class ConversionReport:
    """What ``single_to_multiscale`` did: ``copied`` maps each multi-scale key to the single-scale key
    it was copied from; ``initialised`` lists the multi-scale keys left at their fresh init; ``unused``
    lists the single-scale keys that went nowhere."""

    copied: dict[str, str] = field(default_factory=dict)
    initialised: list[str] = field(default_factory=list)
    unused: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """A few lines for a console: counts, then the initialised and unused keys grouped by module."""
        lines = [
            f"copied {len(self.copied)} tensors, left {len(self.initialised)} at their initialisation, "
            f"{len(self.unused)} from the input unused"
        ]
        if self.initialised:
            lines.append(f"initialised: {', '.join(_modules(self.initialised))}")
        if self.unused:
            lines.append(f"unused: {', '.join(_modules(self.unused))}")
        return "\n".join(lines)


def single_to_multiscale(
    state_dict: StateDict,
    arch: Mapping[str, Any],
    scales: Iterable[int],
    *,
    seed: int = 0,
    source: str | None = None,
) -> tuple[dict[str, torch.Tensor], dict[str, Any], ConversionReport]:
    """Initialise a multi-scale model with ``scales`` from a single-scale ``MSRResNet``/``RRDBNet``.

    ``arch`` is the single-scale ``{"type": ..., **kwargs}`` (missing arguments take the constructor
    defaults). Returns ``(state_dict, arch, report)`` for the multi-scale model: the shared part (and
    the head of the single model's scale, when in ``scales``) copied, everything else initialised as
    the constructor does, with the global RNG seeded by ``seed`` inside a forked RNG state (the
    caller's RNG is untouched). ``CheckpointError`` (naming ``source``) when the type is not
    convertible or the weights do not fit ``arch``.
    """
    where = source or "state dict"
    single_type = arch.get("type")
    if single_type not in _FAMILIES:
        raise CheckpointError(
            f"{where}: cannot convert a {single_type!r} to a multi-scale model; convertible: "
            f"{sorted(_FAMILIES)}"
        )
    multi_type, scale_arg, shared, tail = _FAMILIES[single_type]
    single_kwargs = _with_defaults(arch, where)
    single_scale = single_kwargs[scale_arg]
    _check_fits(state_dict, single_kwargs, where)
    multi_kwargs = {k: v for k, v in single_kwargs.items() if k not in ("type", scale_arg)}
    try:
        multi_kwargs["scales"] = list(scales)
    except TypeError:
        raise CheckpointError(f"{where}: scales must be a list of ints, got {scales!r}") from None
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        try:
            model = build({"type": multi_type, **multi_kwargs})
        except ValueError as exc:
            raise CheckpointError(f"{where}: cannot build {multi_type}: {exc}") from None
    multi_kwargs["scales"] = sorted(multi_kwargs["scales"])  # the constructor checked them
    out = {k: v.detach().clone() for k, v in model.state_dict().items()}

    # RRDBNet x2/x1 pixel-unshuffle the input (conv_first sees 4x/16x channels) and upsample x4 from
    # half/quarter the LR size: neither their conv_first nor their tail is the multi-scale model's
    folded = single_type == "RRDBNet" and single_scale != 4
    mapping: dict[str, str] = {}
    for key in state_dict:
        if key.startswith(shared) and not (folded and key.startswith("conv_first.")):
            mapping[key] = key
        elif key.split(".", 1)[0] in tail and not folded and single_scale in multi_kwargs["scales"]:
            mapping[f"heads.x{single_scale}.{key}"] = key
    report = ConversionReport()
    for dst, src in mapping.items():
        if dst not in out or out[dst].shape != state_dict[src].shape:
            raise CheckpointError(f"key {src!r} does not fit {multi_type} key {dst!r}")  # internal invariant
        out[dst] = state_dict[src].detach().clone()
        report.copied[dst] = src
    report.initialised = [k for k in out if k not in report.copied]
    used = set(report.copied.values())
    report.unused = [k for k in state_dict if k not in used]
    return out, {"type": multi_type, **multi_kwargs}, report


def extract_scale(
    state_dict: StateDict, arch: Mapping[str, Any], scale: int, *, source: str | None = None
) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Cut the head for ``scale`` (with the shared part) out of a multi-scale model.

    Returns ``(state_dict, arch)`` of a model that loads strictly: ``MSRResNet(upscale=scale)``;
    ``RRDBNet(scale=4)`` for x4; ``MultiScaleRRDBNet(scales=[scale])`` for RRDB x2/x3 (see the
    module docstring). ``CheckpointError`` (naming ``source``) when ``scale`` is not one of the
    model's (listing them) or the weights do not fit ``arch``.
    """
    where = source or "state dict"
    multi_type = arch.get("type")
    if multi_type not in _SINGLE_OF:
        raise CheckpointError(
            f"{where}: cannot extract a scale from a {multi_type!r}; need one of {sorted(_SINGLE_OF)}"
        )
    kwargs = _with_defaults(arch, where)
    order = _check_fits(state_dict, kwargs, where)  # also checks the scales
    scales = sorted(kwargs["scales"])
    if scale not in scales:
        raise CheckpointError(
            f"{where}: the model has scales {', '.join(f'x{s}' for s in scales)}; asked for x{scale}"
        )
    single_type = _SINGLE_OF[multi_type]
    _, scale_arg, shared, _ = _FAMILIES[single_type]
    prefix = f"heads.x{scale}."
    base = {k: v for k, v in kwargs.items() if k not in ("type", "scales")}
    # the model's key order (a safetensors file comes back sorted) is the target's order
    keys = [k for k in order if k.startswith((*shared, prefix))]
    if single_type == "RRDBNet" and scale != 4:
        return {k: state_dict[k].detach().clone() for k in keys}, {
            "type": multi_type,
            **base,
            "scales": [scale],
        }
    out = {k.removeprefix(prefix): state_dict[k].detach().clone() for k in keys}
    return out, {"type": single_type, **base, scale_arg: scale}


_DEEPENABLE = ("MSRResNet", "MultiScaleMSRResNet")


def deepen(
    state_dict: StateDict,
    arch: Mapping[str, Any],
    num_block: int,
    *,
    seed: int = 0,
    source: str | None = None,
) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """``(state_dict, arch)`` of the model ``arch`` with ``num_block`` residual blocks instead of its own
    number: the trained blocks and tail copied, the new blocks appended at the end of the body, their
    ``conv1`` initialised as the constructor does (seeded by ``seed``, the caller's RNG untouched) and
    their ``conv2`` zero, so the output is unchanged. ``CheckpointError`` (naming ``source``) for
    another architecture, a ``num_block`` not above the current one, or weights that do not fit."""
    where = source or "state dict"
    if arch.get("type") not in _DEEPENABLE:
        raise CheckpointError(
            f"{where}: cannot deepen a {arch.get('type')!r}; its blocks cannot start as the identity "
            f"(deepen one of {', '.join(_DEEPENABLE)})"
        )
    kwargs = _with_defaults(arch, where)
    _check_fits(state_dict, kwargs, where)
    old = int(kwargs["num_block"])
    if isinstance(num_block, bool) or not isinstance(num_block, int) or num_block <= old:
        raise CheckpointError(f"{where}: num_block must be more than the model's {old}, got {num_block!r}")
    grown = {**kwargs, "num_block": num_block}
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        try:
            model = build(grown)
        except ValueError as exc:
            raise CheckpointError(f"{where}: cannot build {grown['type']}: {exc}") from None
    out = {k: v.detach().clone() for k, v in model.state_dict().items()}
    for key, value in state_dict.items():
        out[key] = value.detach().clone()  # same names: body.0..old-1 and the tail keep theirs
    for n in range(old, num_block):
        out[f"body.{n}.conv2.weight"].zero_()
        out[f"body.{n}.conv2.bias"].zero_()
    return out, grown


def _with_defaults(arch: Mapping[str, Any], where: str) -> dict[str, Any]:
    """``arch`` with the constructor defaults of its type filled in; unknown arguments are errors."""
    params = inspect.signature(arch_class(arch["type"]).__init__).parameters
    unknown = sorted(set(arch) - set(params) - {"type"})
    if unknown:
        allowed = ", ".join(p for p in params if p != "self")
        raise CheckpointError(f"{where}: {arch['type']}: unknown argument {unknown[0]!r}; allowed: {allowed}")
    out = {
        n: p.default for n, p in params.items() if n != "self" and p.default is not inspect.Parameter.empty
    }
    out.update({k: v for k, v in arch.items() if k != "type"})
    if "scales" in out:
        out["scales"] = list(out["scales"])
    return {"type": arch["type"], **out}


def _check_fits(state_dict: StateDict, arch: Mapping[str, Any], where: str) -> list[str]:
    """``CheckpointError`` unless ``state_dict`` loads strictly into ``build(arch)``; returns the
    model's key order."""
    try:
        with torch.random.fork_rng(devices=[]):
            model = build(arch)
    except ValueError as exc:
        raise CheckpointError(f"{where}: cannot build {arch['type']}: {exc}") from None
    load_weights(model, state_dict, where)
    return list(model.state_dict())


def _modules(keys: list[str]) -> list[str]:
    """``["heads.x2.upconv1.weight", "heads.x2.upconv1.bias"]`` -> ``["heads.x2.upconv1"]``, in order."""
    return list(dict.fromkeys(k.rsplit(".", 1)[0] for k in keys))
