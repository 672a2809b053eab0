"""Shared machinery of the benchmark suite: timing, peak memory, reference imports, result rows.

A workload module exposes ``run(ctx: Context) -> list[Row]``. Times are medians (seconds) over
``ctx.reps`` repetitions after one warm-up call. ``ratio`` is ``ref_s / ours_s``: above 1 means ``sr``
is faster. Peak memory is the resident-set high-water mark (``VmHWM`` of ``/proc/self/status``) reset
before each side with ``/proc/self/clear_refs`` (``"5"``), so each side is measured on its own; on a
CUDA device it is the CUDA allocator's peak (``torch.cuda.max_memory_allocated``, reset likewise).

The device (``--device``, one per workload process) is set once with :func:`use_device`; every timed
call is followed by ``torch.cuda.synchronize()`` on a GPU, so a time covers the kernels it launched.
"""

from __future__ import annotations

import importlib
import os
import re
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from sr.device import cpu_has_native_bf16

ROOT = Path(__file__).resolve().parents[2]
_DEVICE = torch.device("cpu")


def use_device(name: str) -> torch.device:
    """Make ``name`` (``cpu``, ``cuda``, ``cuda:N``) the device of this workload process; a clear
    ``RuntimeError`` when CUDA is asked for and not available."""
    global _DEVICE
    try:
        dev = torch.device(name)
    except RuntimeError:
        raise RuntimeError(f"--device {name}: not a device; use cpu, cuda or cuda:N") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"--device {name}: CUDA is not available here (torch {torch.__version__})")
    if dev.type not in ("cpu", "cuda"):
        raise RuntimeError(f"--device {name}: only cpu and cuda are supported")
    _DEVICE = dev
    return dev


def device() -> torch.device:
    return _DEVICE


def sync() -> None:
    """Wait for the device's queued kernels (a no-op on the CPU)."""
    if _DEVICE.type == "cuda":
        torch.cuda.synchronize(_DEVICE)


@dataclass
class Row:
    """One line of the table. ``ours_s``/``ref_s``: median seconds (None: not run); ``ref_note``:
    why the reference is n/a, or what it is; ``extra``: workload-specific figures (GFLOP/s, losses...)."""

    workload: str
    case: str
    ours_s: float | None
    ref_s: float | None = None
    ref_note: str = ""
    ours_peak_mb: float | None = None
    ref_peak_mb: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        if self.ours_s is None or self.ref_s is None or self.ours_s <= 0:
            return None
        return self.ref_s / self.ours_s

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "ratio": self.ratio}


@dataclass
class Context:
    reps: int = 5
    quick: bool = False
    no_ref: bool = False
    tmp: Path = Path("/tmp")
    threads: int = field(default_factory=torch.get_num_threads)

    @property
    def device(self) -> torch.device:
        return _DEVICE

    @property
    def gpu(self) -> bool:
        return _DEVICE.type == "cuda"


def median_time(fn: Callable[[], Any], reps: int, warmup: int = 1) -> float:
    """Median wall time of ``fn()`` over ``reps`` calls, after ``warmup`` untimed calls."""
    for _ in range(warmup):
        fn()
    sync()
    times = []
    for _ in range(max(1, reps)):
        t0 = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def reset_peak() -> None:
    """Reset the process's RSS high-water mark (Linux >= 4.0; silently a no-op elsewhere), or on a GPU
    the CUDA allocator's peak."""
    if _DEVICE.type == "cuda":
        sync()
        torch.cuda.reset_peak_memory_stats(_DEVICE)
        return
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def peak_mb() -> float | None:
    """The RSS (GPU: CUDA allocator) high-water mark in MiB since the last :func:`reset_peak` (None
    if unknown)."""
    if _DEVICE.type == "cuda":
        sync()
        return torch.cuda.max_memory_allocated(_DEVICE) / 2**20
    try:
        text = Path("/proc/self/status").read_text()
    except OSError:
        return None
    m = re.search(r"VmHWM:\s+(\d+) kB", text)
    return int(m.group(1)) / 1024 if m else None


def measured(fn: Callable[[], Any], reps: int) -> tuple[float, float | None]:
    """``(median seconds, peak RSS MiB)`` of ``fn``, the peak taken over warm-up and repetitions."""
    reset_peak()
    t = median_time(fn, reps)
    return t, peak_mb()


_REF_ERRORS: dict[str, str | None] = {}


def reference(name: str, ctx: Context) -> str | None:
    """Import reference package ``name`` (``basicsr`` or ``realesrgan``); None when usable, else the reason.

    BasicSR 1.4.2 imports ``torchvision.transforms.functional_tensor``, which torchvision >= 0.17
    lacks: it is aliased to ``torchvision.transforms.functional`` in THIS process only."""
    if ctx.no_ref:
        return "disabled (--no-ref)"
    if name not in _REF_ERRORS:
        try:
            import torchvision.transforms.functional as tvf

            sys.modules.setdefault("torchvision.transforms.functional_tensor", tvf)
            importlib.import_module(name)
            _REF_ERRORS[name] = None
        except Exception as e:  # any import failure makes the column n/a, with the reason
            _REF_ERRORS[name] = f"{name} not importable: {type(e).__name__}: {e}"[:160]
    return _REF_ERRORS[name]


def conv_flops(model: torch.nn.Module, x: torch.Tensor) -> int:
    """Multiply-add FLOPs (2 per MAC) of every ``nn.Conv2d`` in one forward of ``model`` on ``x``:
    ``2 * Cin/groups * Cout * kh * kw * Hout * Wout * N`` per convolution, from the output sizes."""
    total = 0

    def hook(mod: torch.nn.Module, _inp: Any, out: torch.Tensor) -> None:
        nonlocal total
        assert isinstance(mod, torch.nn.Conv2d)
        kh, kw = mod.kernel_size
        n, c, h, w = out.shape
        total += 2 * (mod.in_channels // mod.groups) * c * kh * kw * h * w * n

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    try:
        with torch.inference_mode():
            model(x)
    finally:
        for h in handles:
            h.remove()
    return total


def seeded_input(shape: tuple[int, ...], seed: int = 0) -> torch.Tensor:
    """A float32 tensor in [0, 1] from a seeded CPU generator (identical on both sides and on every
    device), placed on this process's device."""
    return torch.rand(shape, generator=torch.Generator().manual_seed(seed)).to(_DEVICE)


def cpu_model(default: str = "unknown") -> str:
    """The CPU's model name from /proc/cpuinfo (``default`` where there is none)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return default


def environment() -> dict[str, Any]:
    """What the figures depend on: CPU model, cores, torch version, threads, the device (and GPU)."""
    env: dict[str, Any] = {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "python": sys.version.split()[0],
        "device": str(_DEVICE),
        "cpu_isa": torch.backends.cpu.get_cpu_capability(),
        "cpu_native_bf16": cpu_has_native_bf16(),
    }
    if _DEVICE.type == "cuda":
        env["gpu"] = torch.cuda.get_device_name(_DEVICE)
        env["cuda"] = torch.version.cuda
    return env
