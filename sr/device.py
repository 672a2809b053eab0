"""Device names from the command line or the API (``auto``, ``cpu``, ``cuda``, ``cuda:1``)."""

from __future__ import annotations

import logging

import torch

log = logging.getLogger(__name__)


def pick_device(name: str) -> torch.device:
    """``auto`` is CUDA when available, else the CPU; asking for CUDA without it is a ``ValueError``."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device {name!r}: CUDA is not available on this machine (use cpu or auto)")
    return torch.device(name)


def cpu_has_native_bf16() -> bool:
    """Whether oneDNN has native bf16 kernels on this CPU (AVX512-BF16 or AMX). Without them (AVX2-only
    CPUs, e.g. AMD Zen 3) bf16 convolutions are emulated: on such a 2-core EPYC a 3x3 64-channel
    convolution ran at 14.6 GFLOP/s in bf16 against 149 in fp32 (``python -m tools.bench --only
    inference``)."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def warn_if_emulated_bf16(device: torch.device, what: str) -> None:
    """Log a warning when ``what`` is about to run in bf16 on a CPU without native bf16."""
    if device.type == "cpu" and not cpu_has_native_bf16():
        log.warning(
            "%s: this CPU has no native bf16 (%s; oneDNN needs AVX512-BF16 or AMX), so bf16 is emulated "
            "and several times SLOWER than fp32 here; use fp32",
            what,
            torch.backends.cpu.get_cpu_capability(),
        )
