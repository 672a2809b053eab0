"""Reading and writing weight files.

Reading accepts what is in circulation: ``.pth/.pt/.ckpt/.bin`` pickles (loaded with
``torch.load(weights_only=True)``; a file that needs arbitrary Python objects is refused, never
retried unsafely) and ``.safetensors``; raw state dicts or wrappers (``params_ema``, ``params``,
``state_dict``, ...); ``module.`` prefixes; both legacy ESRGAN layouts. The ``.safetensors`` suffix,
or a safetensors header under any name, selects safetensors; anything else goes to ``torch.load``.
Writing produces sr's own format, atomically.
"""

from __future__ import annotations

import json
import logging
import os
import pickle
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO, Any

import safetensors
import safetensors.torch
import torch
from torch import nn

from sr.archs import ARCHS, MULTISCALE_ARCHS, check_arch_args
from sr.atomic import atomic_write
from sr.checkpoints._pickle_scan import oversized_pickle, refused_globals
from sr.checkpoints.errors import CheckpointError
from sr.checkpoints.legacy import convert_legacy, legacy_layout, strip_module_prefix

logger = logging.getLogger(__name__)

# wrapper keys tried in this order when no key is requested (BasicSR, Lightning/timm, ESRGAN trainers)
WRAPPER_KEYS = ("params_ema", "params", "state_dict", "model", "net", "netG", "net_g", "generator")
SAFETENSORS_SUFFIX = ".safetensors"
_HEAD_KEY = re.compile(r"heads\.x(\d+)\.")  # a multi-scale generator's head for scale S
ARCH_META, KEY_META = "sr_arch", "sr_key"  # safetensors metadata written by save_checkpoint


def check_checkpoint_file(path: str | os.PathLike[str]) -> Path:
    """``path`` as a Path if it could be a checkpoint: ``CheckpointError`` naming it if it is missing, a
    directory or empty (the checks ``read_state_dict`` starts with, without reading the file)."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"{path}: no such file")
    if path.is_dir():
        raise CheckpointError(f"{path}: is a directory, not a checkpoint file")
    if path.stat().st_size == 0:
        raise CheckpointError(f"{path}: empty file")
    return path


def read_state_dict(
    path: str | os.PathLike[str], key: str | None = None
) -> tuple[dict[str, torch.Tensor], dict]:
    """Read the weights in ``path`` as a CPU state dict in BasicSR's key layout.

    Returns ``(state_dict, meta)``. ``meta["key"]`` is the wrapper key used (``"params_ema"``,
    ``"params"``, ... or ``None`` for a raw state dict); ``meta["arch"]`` is ``{"type": ..., **kwargs}``
    when the file stores it (sr's own format); ``meta["format"]`` is ``"torch"`` or ``"safetensors"``;
    ``meta["legacy_layout"]`` names a converted legacy ESRGAN layout (else ``None``).

    Without ``key``, ``params_ema`` is preferred, then the other ``WRAPPER_KEYS``, then a raw state dict
    (non-tensor entries dropped), then the only top-level entry that is a dict of tensors. Every
    problem raises ``CheckpointError`` naming the file: missing, a directory, empty, corrupt, refused
    as unsafe, no tensors, ``key`` absent (the keys present are listed), ambiguous wrappers.
    """
    path = check_checkpoint_file(path)
    if path.suffix.lower() == SAFETENSORS_SUFFIX or _looks_like_safetensors(path):
        state, meta = _read_safetensors(path, key)
    else:
        state, meta = _read_torch(path, key)
    meta["legacy_layout"] = legacy_layout(strip_module_prefix(state, source=str(path)))
    return convert_legacy(state, source=str(path)), meta


def save_checkpoint(
    path: str | os.PathLike[str],
    params: Mapping[str, torch.Tensor] | nn.Module,
    *,
    params_ema: Mapping[str, torch.Tensor] | nn.Module | None = None,
    arch: Mapping[str, Any] | None = None,
) -> Path:
    """Write weights in sr's format and return the path.

    ``.pth``/``.pt``: ``torch.save({"params": sd, "params_ema": sd (when given), "arch": arch (when
    given)})``. ``.safetensors`` holds one state dict, ``params_ema`` when given (the weights used
    for inference), else ``params``, with metadata ``sr_arch`` (JSON of ``arch``) and ``sr_key``.
    ``arch`` is ``{"type": Name, **kwargs}``, checked against ``sr.archs`` and stored JSON-normalised
    (tuples become lists) in both formats; for a multi-scale generator ``scales`` is recorded from
    the ``heads.xS.`` keys when ``arch`` omits it (and must match them when given). Tensors are saved
    detached, on the CPU, without ``module.`` prefixes. Atomic: written to a temporary file in the
    same folder, fsynced, then renamed over ``path``; on any failure the temporary file is removed,
    an existing file at ``path`` is left untouched, and ``CheckpointError`` is raised.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".pth", ".pt", SAFETENSORS_SUFFIX):
        raise CheckpointError(
            f"{path}: cannot save with suffix {path.suffix!r}; use .pth, .pt or .safetensors"
        )
    if path.is_dir():
        raise CheckpointError(f"{path}: is a directory; give a file name ending in {suffix}")
    state = _tensor_dict(params, "params", path)
    state_ema = None if params_ema is None else _tensor_dict(params_ema, "params_ema", path)
    arch_opt = None if arch is None else _normalised_arch(arch, path)
    if arch_opt is not None and arch_opt["type"] in MULTISCALE_ARCHS:
        _record_scales(arch_opt, state_ema if state_ema is not None else state, path)

    write: Callable[[IO[bytes]], Any]
    if suffix == SAFETENSORS_SUFFIX:
        tensors = state if state_ema is None else state_ema
        metadata = {"format": "pt", KEY_META: "params" if state_ema is None else "params_ema"}
        if arch_opt is not None:
            metadata[ARCH_META] = json.dumps(arch_opt)
        # clone: safetensors refuses tensors that share storage
        data = safetensors.torch.save({k: v.contiguous().clone() for k, v in tensors.items()}, metadata)
        write = lambda f: f.write(data)  # noqa: E731
    else:
        obj: dict[str, Any] = {"params": state}
        if state_ema is not None:
            obj["params_ema"] = state_ema
        if arch_opt is not None:
            obj["arch"] = arch_opt
        write = lambda f: torch.save(obj, f)  # noqa: E731
    _atomic_write(path, write)
    return path


def _looks_like_safetensors(path: Path) -> bool:
    # 8-byte little-endian header length, then a JSON header
    with path.open("rb") as f:
        head = f.read(9)
    return len(head) == 9 and head[8:9] == b"{" and int.from_bytes(head[:8], "little") < path.stat().st_size


def _read_safetensors(path: Path, key: str | None) -> tuple[dict[str, torch.Tensor], dict]:
    try:
        with safetensors.safe_open(str(path), framework="pt") as f:
            metadata = f.metadata() or {}
        state = safetensors.torch.load_file(str(path), device="cpu")
    except Exception as exc:
        raise CheckpointError(f"{path}: not a readable safetensors file: {_first_line(exc)}") from exc
    stored_key = metadata.get(KEY_META)
    if key is not None and key != stored_key:
        held = f" (saved from {stored_key!r})" if stored_key else ""
        raise CheckpointError(f"{path}: key {key!r} not found: a safetensors file holds one state dict{held}")
    meta: dict[str, Any] = {"format": "safetensors", "key": stored_key}
    if ARCH_META in metadata:
        try:
            arch = json.loads(metadata[ARCH_META])
        except json.JSONDecodeError as exc:
            raise CheckpointError(f"{path}: metadata {ARCH_META!r} is not valid JSON ({exc})") from None
        if not _is_arch(arch):
            raise CheckpointError(f"{path}: metadata {ARCH_META!r} is not a {{'type': Name, ...}} object")
        meta["arch"] = arch
    return state, meta


def _read_torch(path: Path, key: str | None) -> tuple[dict[str, torch.Tensor], dict]:
    too_big = oversized_pickle(path)
    if too_big is not None:
        raise CheckpointError(f"{path}: refused: {too_big}; a weights file's pickle is small")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch.load raises many types on refused or damaged input
        names = refused_globals(path)
        if names:
            raise CheckpointError(
                f"{path}: refused: the file contains Python objects that could run code when loaded "
                f"({', '.join(names[:3])}); sr loads weights only (torch.load with weights_only=True). "
                "Re-save just the state dict (or as .safetensors) where the file is trusted."
            ) from None
        # torch's UnpicklingError text is about weights_only and would mislead here
        reason = "" if isinstance(exc, pickle.UnpicklingError) else f": {_first_line(exc)}"
        raise CheckpointError(
            f"{path}: not a readable PyTorch checkpoint (corrupt, truncated or another format){reason}"
        ) from exc
    if not isinstance(obj, Mapping):
        raise CheckpointError(f"{path}: holds a {type(obj).__name__}, not a state dict")
    state, used = _unwrap(obj, key, path)
    for name, tensor in state.items():
        # a broadcast view (stride 0, e.g. torch.zeros(1).expand(1 << 30)) is stored as its few
        # values, so a small file could stand for weights of any size: only stored values count
        if tensor.untyped_storage().nbytes() < tensor.numel() * tensor.element_size():
            raise CheckpointError(
                f"{path}: tensor {name!r} of shape {list(tensor.shape)[:8]} holds fewer stored values "
                "than elements (a broadcast or overlapping view); refused: weights store every value"
            )
    meta: dict[str, Any] = {"format": "torch", "key": used}
    if used is not None and _is_arch(obj.get("arch")):
        meta["arch"] = dict(obj["arch"])
    return state, meta


def _unwrap(obj: Mapping, key: str | None, path: Path) -> tuple[dict[str, torch.Tensor], str | None]:
    wrappers = [k for k, v in obj.items() if isinstance(k, str) and _holds_tensors(v)]
    if key is not None:
        if key not in wrappers:
            what = "not found" if key not in obj else "holds no tensors"
            raise CheckpointError(f"{path}: key {key!r} {what}; keys present: {_preview(list(obj))}")
        return _tensors_only(obj[key]), key
    for name in WRAPPER_KEYS:
        if name in wrappers:
            return _tensors_only(obj[name]), name
    if _holds_tensors(obj):
        return _tensors_only(obj), None
    if len(wrappers) == 1:
        return _tensors_only(obj[wrappers[0]]), wrappers[0]
    if wrappers:
        raise CheckpointError(f"{path}: several state dicts ({_preview(wrappers)}); choose one with key=")
    raise CheckpointError(f"{path}: no tensors found; top-level keys: {_preview(list(obj))}")


def _holds_tensors(value: object) -> bool:
    return isinstance(value, Mapping) and any(isinstance(v, torch.Tensor) for v in value.values())


def _tensors_only(state: Mapping) -> dict[str, torch.Tensor]:
    dropped = [k for k, v in state.items() if not isinstance(v, torch.Tensor)]
    if dropped:
        logger.debug("ignoring %d non-tensor entries: %s", len(dropped), _preview(dropped))
    return {str(k): v for k, v in state.items() if isinstance(v, torch.Tensor)}


def _is_arch(value: object) -> bool:
    return isinstance(value, Mapping) and isinstance(value.get("type"), str)


def _normalised_arch(arch: Mapping[str, Any], path: Path) -> dict[str, Any]:
    if not _is_arch(arch) or arch["type"] not in ARCHS:
        raise CheckpointError(f"{path}: arch must be {{'type': Name, ...}} with Name one of {sorted(ARCHS)}")
    try:
        check_arch_args(arch["type"], {k: v for k, v in arch.items() if k != "type"})
        normalised = json.loads(json.dumps(dict(arch)))
    except (ValueError, TypeError) as exc:
        raise CheckpointError(f"{path}: arch {dict(arch)!r}: {exc}") from None
    return normalised


def _record_scales(arch: dict[str, Any], state: Mapping[str, torch.Tensor], path: Path) -> None:
    """Set ``arch["scales"]`` of a multi-scale generator from the ``heads.xS.`` keys of ``state``."""
    found = sorted({int(m.group(1)) for k in state if (m := _HEAD_KEY.match(k))})
    given = arch.setdefault("scales", found)
    try:
        matches = sorted(given) == found
    except TypeError:
        matches = False
    if not matches:
        raise CheckpointError(
            f"{path}: arch scales {arch['scales']} do not match the weights' heads "
            f"{', '.join(f'x{s}' for s in found) or 'none'}"
        )


def _tensor_dict(
    params: Mapping[str, torch.Tensor] | nn.Module, name: str, path: Path
) -> dict[str, torch.Tensor]:
    state = params.state_dict() if isinstance(params, nn.Module) else params
    if not isinstance(state, Mapping):
        raise CheckpointError(
            f"{path}: {name} must be a state dict or an nn.Module, got {type(params).__name__}"
        )
    for k, v in state.items():
        if not isinstance(k, str) or not isinstance(v, torch.Tensor):
            raise CheckpointError(f"{path}: {name}[{k!r}] is a {type(v).__name__}, not a tensor")
    return {k: v.detach().cpu() for k, v in strip_module_prefix(state, source=f"{path}: {name}").items()}


def _atomic_write(path: Path, write: Callable[[IO[bytes]], Any]) -> None:
    try:
        atomic_write(path, write)
    except Exception as exc:
        raise CheckpointError(f"{path}: could not save: {_first_line(exc)}") from exc


def _preview(keys: list, n: int = 6) -> str:
    shown = ", ".join(repr(k) for k in keys[:n])
    return shown + (f", ... ({len(keys)} in all)" if len(keys) > n else "")


def _first_line(exc: BaseException) -> str:
    """``Type: first sentence`` of an exception's message: enough to tell the cause, never a dump."""
    text = str(exc).strip()
    if not text:
        return type(exc).__name__
    return f"{type(exc).__name__}: {text.splitlines()[0].split('. ')[0][:200]}"
