"""Helpers shared by the command-line front ends."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import torch
import yaml

from sr.atomic import atomic_write_bytes


def parse_net_opt(items: list[str] | None) -> dict[str, Any]:
    """``["padding_mode=replicate", "num_block=6"]`` -> ``{"padding_mode": "replicate", "num_block": 6}``.

    Values are YAML scalars (``6`` an int, ``1e-4`` a float, ``true`` a bool, anything else a string)."""
    out: dict[str, Any] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise argparse.ArgumentTypeError(f"--net-opt expects key=value, got {item!r}")
        parsed = yaml.safe_load(value) if value.strip() else ""
        if isinstance(parsed, str) and parsed != value.strip():
            parsed = value
        out[key.strip()] = parsed
    return out


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"--device {name}: CUDA is not available on this machine (use cpu or auto)")
    return torch.device(name)


def write_json_atomic(path: str | Path, data: Any) -> Path:
    """Write JSON to ``path`` through a temporary file and a rename: never a half-written file."""
    return atomic_write_bytes(path, (json.dumps(data, indent=1) + "\n").encode())


def fail(prog: str, message: str, code: int = 2) -> None:
    print(f"{prog}: error: {message}", file=sys.stderr)
    raise SystemExit(code)
