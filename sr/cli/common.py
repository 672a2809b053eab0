"""Helpers shared by the command-line front ends."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from sr.atomic import atomic_write_bytes
from sr.device import pick_device

__all__ = ["examples", "fail", "parse_net_opt", "pick_device", "reuse_freed_memory", "write_json_atomic"]
from sr.options.loader import parse_assignment


def parse_net_opt(items: list[str] | None) -> dict[str, Any]:
    """``["padding_mode=replicate", "num_block=6"]`` -> ``{"padding_mode": "replicate", "num_block": 6}``.

    Values are read as YAML (``6`` an int, ``true`` a bool, ``[9, 5, 5]`` a list), with ``1e-4``
    a float (plain YAML 1.1 would keep it a string); anything else stays a string. A malformed
    item is a ``ValueError`` naming it. Same parser as ``sr-train --set``
    (:func:`sr.options.loader.parse_assignment`)."""
    out: dict[str, Any] = {}
    for item in items or []:
        key, value = parse_assignment(item, "--net-opt")
        out[key] = value
    return out


def reuse_freed_memory() -> bool:
    """Let glibc's malloc keep freed memory for reuse instead of handing it back to the OS at once:
    the mmap threshold at its 32 MiB maximum (fixed, no longer adaptive), 1 GiB of free heap kept
    before trimming, 256 MiB of padding per heap growth. Tiled inference frees and reallocates every
    tile's feature maps, and re-faulting those pages in cost ``sr-infer`` ~3.6 s of system time on a
    1 MP x4 photo (1.1 million minor page faults; 0.2 million and ~1.0 s with these settings,
    ``/usr/bin/time``), for ~0.2 GB more peak RSS. For command-line processes only: it changes the
    allocator of the whole process. Returns False (and changes nothing) without glibc."""
    if not sys.platform.startswith("linux"):
        return False
    import ctypes

    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):  # musl or another C library
        return False
    m_trim_threshold, m_top_pad, m_mmap_threshold = -1, -2, -3  # <malloc.h>
    settings = ((m_mmap_threshold, 32 << 20), (m_trim_threshold, 1 << 30), (m_top_pad, 256 << 20))
    return all(mallopt(param, value) == 1 for param, value in settings)


def write_json_atomic(path: str | Path, data: Any, exclusive: bool = False) -> Path:
    """Write JSON to ``path`` through a temporary file and a rename: never a half-written file.
    ``exclusive``: fail (``FileExistsError``) rather than replace a file that appeared meanwhile."""
    return atomic_write_bytes(path, (json.dumps(data, indent=1) + "\n").encode(), exclusive=exclusive)


def examples(*commands: str) -> dict[str, Any]:
    """``ArgumentParser`` keywords that end ``--help`` with these example commands, kept as written."""
    text = "examples:\n" + "\n".join(f"  {c}" for c in commands)
    return {"epilog": text, "formatter_class": argparse.RawDescriptionHelpFormatter}


def report(prog: str, message: str) -> None:
    print(f"{prog}: error: {message}", file=sys.stderr)


def fail(prog: str, message: str, code: int = 2) -> None:
    report(prog, message)
    raise SystemExit(code)
