"""Explain why ``torch.load(weights_only=True)`` refused a file, without unpickling anything.

The pickle opcodes are only parsed (``pickletools.genops``), never executed. The globals a pickle
imports are what lets it run code, so a refused file whose pickle imports globals outside torch's
weights-only allowlist is reported as unsafe; anything else torch refused is damaged or foreign.
"""

from __future__ import annotations

import io
import pickletools
import zipfile
from pathlib import Path
from typing import IO

import torch

_STRING_OPS = {"STRING", "BINSTRING", "SHORT_BINSTRING", "UNICODE", "BINUNICODE", "SHORT_BINUNICODE"}
_STRING_OPS |= {"BINUNICODE8"}
_PUT_OPS = {"PUT", "BINPUT", "LONG_BINPUT"}
_GET_OPS = {"GET", "BINGET", "LONG_BINGET"}
_PY2_MODULES = {"__builtin__": "builtins", "copy_reg": "copyreg"}  # protocol <= 2 names, as pickle maps them
_MAX_PICKLES = 8  # torch's legacy format is a few small pickles, the object, then raw storage bytes
# A state dict's pickle holds names and shapes, not tensor data: ~100 bytes per tensor, so well under
# a MiB even for thousands of tensors. Anything larger is not a weights file; a zip entry that would
# inflate past this is refused before torch (or this scan) inflates it.
MAX_PICKLE_BYTES = 64 << 20


def refused_globals(path: Path) -> list[str]:
    """Globals (``module.name``) imported by the pickle(s) in ``path`` that torch's weights-only
    unpickler does not allow, in order of appearance; ``[]`` when there are none or the file is not
    a pickle (or zip of pickles) at all."""
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as z:
                pickles = [n for n in z.namelist() if n.endswith(".pkl")]
                data = b"".join(_read_bounded(z.open(n)) for n in pickles)
        else:
            with path.open("rb") as f:
                data = _read_bounded(f)
    except (OSError, zipfile.BadZipFile, RuntimeError, ValueError, EOFError):
        return []
    allowed = _allowed_globals()
    names = [_py3_name(n) for n in _pickled_globals(data)]
    names = [n for n in names if n not in allowed]
    return list(dict.fromkeys(names))


def _read_bounded(stream: IO[bytes]) -> bytes:
    """At most ``MAX_PICKLE_BYTES`` of ``stream`` (a zip member is inflated only that far)."""
    with stream:
        return stream.read(MAX_PICKLE_BYTES)


def oversized_pickle(path: Path) -> str | None:
    """Why the zip checkpoint ``path`` would inflate beyond any weights file (a pickle member over
    ``MAX_PICKLE_BYTES``, or a compressed member inflating over 64x to more than that), from the
    zip's directory alone; ``None`` when it would not, or ``path`` is no zip."""
    try:
        if not zipfile.is_zipfile(path):
            return None
        with zipfile.ZipFile(path) as z:
            infos = z.infolist()
    except (OSError, zipfile.BadZipFile, RuntimeError, ValueError):
        return None
    for info in infos:
        big = info.file_size > MAX_PICKLE_BYTES
        if big and info.filename.endswith(".pkl"):
            return f"its pickle {info.filename} would inflate to {info.file_size / 2**20:.0f} MiB"
        if big and info.compress_type != zipfile.ZIP_STORED and info.file_size > 64 * info.compress_size:
            return (
                f"member {info.filename} inflates {info.compress_size} bytes to "
                f"{info.file_size / 2**20:.0f} MiB (a zip bomb?)"
            )
    return None


def _pickled_globals(data: bytes) -> list[str]:
    names: list[str] = []
    pos = 0
    for _ in range(_MAX_PICKLES):
        if pos >= len(data):
            break
        try:
            found, pos = _scan_one(data, pos)
        except Exception:  # not (or no longer) a pickle: stop at the last complete one
            break
        names += found
    return names


def _scan_one(data: bytes, start: int) -> tuple[list[str], int]:
    """Globals of the pickle starting at ``start`` and the offset just past its STOP opcode."""
    names: list[str] = []
    strings: list[str] = []  # strings pushed so far, for STACK_GLOBAL (module, name)
    memo: dict[object, object] = {}
    top: object = None  # the value on top of the stack when it is a string, else None
    stream = io.BytesIO(data)
    stream.seek(start)
    for op, arg, pos in pickletools.genops(stream):
        if op.name in _STRING_OPS or op.name in _GET_OPS:
            value = memo.get(arg) if op.name in _GET_OPS else arg
            top = value.decode("latin-1") if isinstance(value, bytes) else value
            if isinstance(top, str):
                strings.append(top)
            continue
        if op.name == "MEMOIZE":
            memo[len(memo)] = top
            continue
        if op.name in _PUT_OPS:
            memo[arg] = top
            continue
        top = None
        if op.name in ("GLOBAL", "INST"):
            names.append(str(arg).replace(" ", ".", 1))
        elif op.name == "STACK_GLOBAL":
            names.append(".".join(strings[-2:]) if len(strings) >= 2 else "<unknown>")
        elif op.name == "STOP":
            return names, (pos or 0) + 1
    raise ValueError("pickle without STOP")


def _py3_name(name: str) -> str:
    module, _, rest = name.partition(".")
    return f"{_PY2_MODULES.get(module, module)}.{rest}"


def _allowed_globals() -> set[str]:
    # torch's own allowlist is private; without it every global counts as refused, which only
    # affects the wording of an error for a file torch has already refused
    allowed: set[str] = set()
    try:
        from torch import _weights_only_unpickler

        allowed |= set(_weights_only_unpickler._get_allowed_globals())
    except (ImportError, AttributeError):
        pass
    for obj in torch.serialization.get_safe_globals():
        target = obj[0] if isinstance(obj, tuple) else obj
        allowed.add(f"{getattr(target, '__module__', '')}.{getattr(target, '__qualname__', '')}")
    return allowed
