"""Device names from the command line or the API (``auto``, ``cpu``, ``cuda``, ``cuda:1``)."""

from __future__ import annotations

import logging
import os
import re

import torch

log = logging.getLogger(__name__)


def pick_device(name: str) -> torch.device:
    """``auto`` is CUDA when available, else the CPU; asking for CUDA without it, for a CUDA index the
    machine lacks, or for another device type (``mps``, ``tpu``: not supported) is a ``ValueError``."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if not re.fullmatch(r"cpu|cuda(:\d+)?", name):
        raise ValueError(f"device {name!r}: choose auto, cpu, cuda or cuda:N")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device {name!r}: CUDA is not available on this machine (use cpu or auto)")
    device = torch.device(name)
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise ValueError(f"device {name!r}: this machine has {torch.cuda.device_count()} CUDA device(s)")
    return device


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


def available_memory(device: torch.device) -> int:
    """Bytes free for the model: ``torch.cuda.mem_get_info`` on CUDA; ``MemAvailable`` of
    ``/proc/meminfo`` (else ``os.sysconf`` available pages) on the CPU."""
    if device.type == "cuda":
        return int(torch.cuda.mem_get_info(device)[0])
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
