"""Device names from the command line or the API (``auto``, ``cpu``, ``cuda``, ``cuda:1``)."""

from __future__ import annotations

import torch


def pick_device(name: str) -> torch.device:
    """``auto`` is CUDA when available, else the CPU; asking for CUDA without it is a ``ValueError``."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device {name!r}: CUDA is not available on this machine (use cpu or auto)")
    return torch.device(name)
