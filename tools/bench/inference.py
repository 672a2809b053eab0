"""Workload 1: batch-1 inference, fp32 and bf16, of RRDBNet x4 (64/23) on 64x64 and 128x128, MSRResNet x4
on 128x128 and SRCNN 9-5-5 x4 (Y) on 128x128, with the measured peak of a 3x3 64->64 convolution.

``sr`` is timed in several settings (contiguous or channels_last, oneDNN on or off, torch.compile) and
the fastest is its figure; every setting's time is kept in ``extra["variants"]``. BasicSR runs as its
``SRModel.test`` does: ``torch.no_grad()``, contiguous NCHW, fp32 (bf16: weights and input cast, the
same as ours). Both sides get identical weights (ours copied into BasicSR's with ``strict=True``).

SRCNN: BasicSR has no SRCNN. Our ``SRCNN`` performs the MATLAB-bicubic x4 upsampling inside
``forward``; the reference is the paper's three convolutions as a plain ``nn.Sequential`` applied after
``F.interpolate(mode="bicubic")``, both timed, i.e. what a user without ``sr`` writes.
"""

from __future__ import annotations

import copy
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from tools.bench.common import Context, Row, conv_flops, measured, median_time, reference, seeded_input

log = logging.getLogger(__name__)


def conv_peak(ctx: Context) -> tuple[list[Row], dict[str, float]]:
    """GFLOP/s of one 3x3 64->64 convolution (padding 1) on a 1x64xSxS input, four settings."""
    size = 32 if ctx.quick else 128
    conv = nn.Conv2d(64, 64, 3, padding=1).eval().requires_grad_(False)
    flops = 2 * 64 * 64 * 9 * size * size
    rows, peaks = [], {}
    for dtype in (torch.float32, torch.bfloat16):
        for cl in (False, True):
            fmt = torch.channels_last if cl else torch.contiguous_format
            m = copy.deepcopy(conv).to(dtype=dtype, memory_format=fmt)
            x = seeded_input((1, 64, size, size)).to(dtype=dtype, memory_format=fmt)
            with torch.inference_mode():
                t = median_time(lambda m=m, x=x: m(x), max(ctx.reps, 5) * 4)
            name = f"{'fp32' if dtype == torch.float32 else 'bf16'}{' channels_last' if cl else ''}"
            gflops = flops / t / 1e9
            key = "fp32" if dtype == torch.float32 else "bf16"
            peaks[key] = max(peaks.get(key, 0.0), gflops)
            rows.append(
                Row(
                    "inference",
                    f"conv3x3 64->64 {size}x{size} {name}",
                    t,
                    ref_note="hardware peak probe",
                    extra={"gflops": round(gflops, 1)},
                )
            )
    return rows, peaks


class _Cast(nn.Module):
    """Run ``module`` in ``dtype`` and memory format ``fmt``; float32 in, float32 out."""

    def __init__(self, module: nn.Module, dtype: torch.dtype, fmt: torch.memory_format) -> None:
        super().__init__()
        self.module = module.to(dtype=dtype, memory_format=fmt)
        self.dtype, self.fmt = dtype, fmt
        self.num_in_ch = getattr(module, "num_in_ch", None)
        self.upscale = getattr(module, "upscale", None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.module(x.to(dtype=self.dtype).contiguous(memory_format=self.fmt)).float()


def _ours_variants(model: nn.Module, dtype: torch.dtype, ctx: Context, compile_ok: bool) -> dict[str, Any]:
    """Settings to try for ``sr``: name -> (callable module, whether to disable oneDNN)."""
    out: dict[str, Any] = {
        "contiguous": (_Cast(copy.deepcopy(model), dtype, torch.contiguous_format), False),
        "channels_last": (_Cast(copy.deepcopy(model), dtype, torch.channels_last), False),
    }
    if dtype == torch.float32 and not ctx.quick:
        out["contiguous, mkldnn off"] = (out["contiguous"][0], True)
    if compile_ok:
        try:
            compiled = torch.compile(_Cast(copy.deepcopy(model), dtype, torch.channels_last))
            out["channels_last + compile"] = (compiled, False)
        except Exception as e:  # torch.compile availability differs between machines
            log.warning("torch.compile unavailable: %s", e)
    return out


def _time_variant(fn: nn.Module, x: torch.Tensor, mkldnn_off: bool, reps: int) -> tuple[float, float | None]:
    with torch.inference_mode(), torch.backends.mkldnn.flags(enabled=not mkldnn_off):
        return measured(lambda: fn(x), reps)


def _case(
    ctx: Context,
    name: str,
    ours: nn.Module,
    ref: Callable[[torch.dtype], nn.Module | None],
    ref_note: str,
    size: int,
    in_ch: int,
    peaks: dict[str, float],
    compile_ok: bool,
) -> list[Row]:
    x = seeded_input((1, in_ch, size, size))
    flops = conv_flops(ours, x)
    rows = []
    ref_fp32: float | None = None
    for prec, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
        times: dict[str, float] = {}
        peaks_mb: dict[str, float | None] = {}
        for vname, (fn, off) in _ours_variants(ours, dtype, ctx, compile_ok and prec == "fp32").items():
            try:
                times[vname], peaks_mb[vname] = _time_variant(fn, x, off, ctx.reps)
            except Exception as e:  # a setting that fails (compile) is reported, not fatal
                log.warning("%s %s %s failed: %s", name, prec, vname, e)
        best = min(times, key=lambda k: times[k])
        ref_s, peak_ref = None, None
        ref_mod = ref(dtype)
        if ref_mod is not None:
            with torch.no_grad():
                ref_s, peak_ref = measured(lambda m=ref_mod: m(x), ctx.reps)
            if prec == "fp32":
                ref_fp32 = ref_s
        gflops = flops / times[best] / 1e9
        extra: dict[str, Any] = {
            "best": best,
            "variants": {k: round(v, 4) for k, v in times.items()},
            "gflop": round(flops / 1e9, 2),
            "gflops": round(gflops, 1),
            "peak_fraction": round(gflops / peaks[prec], 3) if prec in peaks else None,
        }
        if prec == "bf16" and ref_fp32 is not None:
            extra["ratio_vs_ref_fp32"] = round(ref_fp32 / times[best], 2)
        rows.append(
            Row(
                "inference",
                f"{name} {size}x{size} {prec}",
                times[best],
                ref_s,
                ref_note,
                ours_peak_mb=peaks_mb[best],
                ref_peak_mb=peak_ref,
                extra=extra,
            )
        )
    return rows


def _basicsr_model(cls_path: str, kwargs: dict[str, Any], ours: nn.Module, dtype: torch.dtype) -> nn.Module:
    module, cls = cls_path.rsplit(".", 1)
    import importlib

    net = getattr(importlib.import_module(module), cls)(**kwargs)
    net.load_state_dict(ours.state_dict(), strict=True)
    return _Cast(net.eval().requires_grad_(False), dtype, torch.contiguous_format)


class _PlainSRCNN(nn.Module):
    """The paper's SRCNN as a user writes it: torch bicubic, then three convolutions."""

    def __init__(self, ours: nn.Module, dtype: torch.dtype) -> None:
        super().__init__()
        self.body = nn.Sequential(
            copy.deepcopy(ours.conv1),
            nn.ReLU(),
            copy.deepcopy(ours.conv2),
            nn.ReLU(),
            copy.deepcopy(ours.conv3),
        ).to(dtype)
        self.dtype = dtype

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        up = F.interpolate(x, scale_factor=4, mode="bicubic", align_corners=False)
        return self.body(up.to(self.dtype)).float()


def bf16_fidelity(ctx: Context) -> Row | None:
    """Set5 x4 (Y protocol) PSNR of the official SRCNN in fp32 and bf16 (needs $SR_SHARED)."""
    from sr.archs import SRCNN
    from sr.inference.evaluate import evaluate_folder

    shared = Path(os.environ.get("SR_SHARED", "/work/shared"))
    weights, folder = (
        shared / "weights" / "srcnn_x4_955_imagenet_official.pth",
        shared / "data/benchmarks/Set5",
    )
    if ctx.quick or not weights.exists() or not folder.is_dir():
        return None
    model = SRCNN(num_in_ch=1, kernel_sizes=(9, 5, 5), upscale=4, padding_mode="replicate")
    model.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
    model.eval()
    scores = {}
    for prec, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
        res = evaluate_folder(_Cast(copy.deepcopy(model), dtype, torch.contiguous_format), folder, 4)
        vals = [v["psnr"] for v in res.images.values()]
        scores[prec] = sum(vals) / len(vals)
    return Row(
        "inference",
        "SRCNN official Set5 x4 PSNR(Y) fp32 vs bf16",
        None,
        ref_note="fidelity check",
        extra={
            "psnr_fp32": round(scores["fp32"], 4),
            "psnr_bf16": round(scores["bf16"], 4),
            "delta_db": round(scores["bf16"] - scores["fp32"], 4),
        },
    )


def run(ctx: Context) -> list[Row]:
    from sr.archs import SRCNN, MSRResNet, RRDBNet

    torch.manual_seed(0)
    rows, peaks = conv_peak(ctx)
    why = reference("basicsr", ctx)
    compile_ok = not ctx.quick and os.environ.get("SR_BENCH_COMPILE", "1") != "0"

    def maker(
        path: str, kwargs: dict[str, Any], ours: nn.Module
    ) -> Callable[[torch.dtype], nn.Module | None]:
        return lambda dtype: None if why else _basicsr_model(path, kwargs, ours, dtype)

    feat, blocks = (8, 1) if ctx.quick else (64, 23)
    rrdb = RRDBNet(num_feat=feat, num_block=blocks, num_grow_ch=feat // 2, scale=4).eval()
    rrdb_kw = dict(num_in_ch=3, num_out_ch=3, scale=4, num_feat=feat, num_block=blocks, num_grow_ch=feat // 2)
    note = why or "BasicSR 1.4.2, no_grad"
    for size in (16,) if ctx.quick else (64, 128):
        rows += _case(
            ctx,
            f"RRDBNet x4 {feat}/{blocks}",
            rrdb,
            maker("basicsr.archs.rrdbnet_arch.RRDBNet", rrdb_kw, rrdb),
            note,
            size,
            3,
            peaks,
            compile_ok and size == 64,
        )
    if ctx.quick:
        return rows
    msr = MSRResNet(upscale=4).eval()
    msr_kw = dict(num_in_ch=3, num_out_ch=3, num_feat=64, num_block=16, upscale=4)
    rows += _case(
        ctx,
        "MSRResNet x4",
        msr,
        maker("basicsr.archs.srresnet_arch.MSRResNet", msr_kw, msr),
        note,
        128,
        3,
        peaks,
        compile_ok,
    )
    srcnn = SRCNN(num_in_ch=1, upscale=4).eval()
    rows += _case(
        ctx,
        "SRCNN 9-5-5 x4 (Y)",
        srcnn,
        lambda dtype: _PlainSRCNN(srcnn, dtype),
        "plain torch: F.interpolate bicubic + 3 convs",
        128,
        1,
        peaks,
        False,
    )
    fid = bf16_fidelity(ctx)
    if fid is not None:
        rows.append(fid)
    return rows
