"""Workload 1: batch-1 inference, fp32 and bf16, of RRDBNet x4 (64/23) on 64x64 and 128x128, MSRResNet x4
on 128x128 and SRCNN 9-5-5 x4 (Y) on 128x128, with the measured peak of a 3x3 64->64 convolution.

``sr``'s figure is the setting its ``Upscaler`` runs: channels_last, in the row's precision. In fp32 it
is also timed contiguous, with oneDNN off and with ``torch.compile``, for information
(``extra["variants"]``, ``extra["fastest"]``). BasicSR runs as its ``SRModel.test`` does:
``torch.no_grad()``, contiguous NCHW, fp32; the bf16 rows compare with that fp32 time (the target is
"bf16 at least 2x BasicSR fp32"; a bf16 BasicSR in the default layout is many times slower on CPUs
and nobody runs it). Both sides get identical weights (ours copied into BasicSR's with ``strict=True``).

On a GPU (``--device cuda``) fp16 is timed as well, the peak probes are a larger convolution and a
8192x8192 matrix product (the tensor-core peak), and one more case runs: RRDBNet x4 on a 1920x1080
input in fp16 and bf16 (channels_last, whole image) against BasicSR's RRDBNet in fp16 as
``RealESRGANer(half=True)`` runs it, with the images/s and the fraction of the tensor-core peak.

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

from tools.bench.common import (
    Context,
    Row,
    conv_flops,
    device,
    measured,
    median_time,
    reference,
    seeded_input,
)

log = logging.getLogger(__name__)
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


def precisions(ctx: Context) -> list[str]:
    """fp32 and bf16 everywhere; fp16 on a GPU (CPU fp16 convolutions are not a deployment option)."""
    return ["fp32", "bf16", "fp16"] if ctx.gpu else ["fp32", "bf16"]


def conv_peak(ctx: Context) -> tuple[list[Row], dict[str, float]]:
    """GFLOP/s of one 3x3 64->64 convolution (padding 1) on an N x 64 x S x S input (CPU: 1 x 128 x 128;
    GPU: 8 x 256 x 256), every precision, contiguous and channels_last; on a GPU also an 8192^3 matrix
    product per precision (the tensor-core peak). ``peaks[prec]`` is the best of them."""
    n, size = (1, 32) if ctx.quick else ((8, 256) if ctx.gpu else (1, 128))
    conv = nn.Conv2d(64, 64, 3, padding=1).eval().requires_grad_(False).to(ctx.device)
    flops = 2 * 64 * 64 * 9 * size * size * n
    rows: list[Row] = []
    peaks: dict[str, float] = {}

    def probe(key: str, case: str, note: str, fn: Callable[[], Any], work: float) -> None:
        t = median_time(fn, max(ctx.reps, 5) * 4)
        peaks[key] = max(peaks.get(key, 0.0), work / t / 1e9)
        rows.append(Row("inference", case, t, ref_note=note, extra={"gflops": round(work / t / 1e9, 1)}))

    for key in precisions(ctx):
        dtype = DTYPES[key]
        for cl in (False, True):
            fmt = torch.channels_last if cl else torch.contiguous_format
            m = copy.deepcopy(conv).to(dtype=dtype, memory_format=fmt)
            x = seeded_input((n, 64, size, size)).to(dtype=dtype, memory_format=fmt)
            with torch.inference_mode():
                name = f"{key}{' channels_last' if cl else ''}"
                case = f"conv3x3 64->64 {n}x{size}x{size} {name}"
                probe(key, case, "hardware peak probe", lambda m=m, x=x: m(x), flops)
        if ctx.gpu and not ctx.quick:
            a = seeded_input((8192, 8192), 1).to(dtype)
            b = seeded_input((8192, 8192), 2).to(dtype)
            probe(key, f"matmul 8192^3 {key}", "tensor-core peak probe", lambda a=a, b=b: a @ b, 2 * 8192**3)
    return rows, peaks


class _Cast(nn.Module):
    """Run ``module`` in ``dtype`` and memory format ``fmt``; float32 in, float32 out."""

    def __init__(self, module: nn.Module, dtype: torch.dtype, fmt: torch.memory_format) -> None:
        super().__init__()
        self.module = module.to(device=device(), dtype=dtype, memory_format=fmt)
        self.dtype, self.fmt = dtype, fmt
        self.num_in_ch = getattr(module, "num_in_ch", None)
        self.upscale = getattr(module, "upscale", None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.module(x.to(dtype=self.dtype).contiguous(memory_format=self.fmt)).float()


def _ours_variants(model: nn.Module, dtype: torch.dtype, ctx: Context, compile_ok: bool) -> dict[str, Any]:
    """Settings to time for ``sr``: name -> (callable module, whether to disable oneDNN). The first,
    ``channels_last``, is what ``sr``'s ``Upscaler`` runs and is ``sr``'s figure; the others (fp32 only)
    are for information: the default layout, oneDNN off, and ``torch.compile``."""
    out: dict[str, Any] = {"channels_last": (_Cast(copy.deepcopy(model), dtype, torch.channels_last), False)}
    if dtype != torch.float32:  # low precision in the default layout: many times slower on CPUs, unused
        return out
    out["contiguous"] = (_Cast(copy.deepcopy(model), dtype, torch.contiguous_format), False)
    if not ctx.quick and not ctx.gpu:
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
    flops = conv_flops(ours.to(ctx.device), x)
    rows = []
    ref_fp32: tuple[float | None, float | None] = (None, None)
    for prec in precisions(ctx):
        dtype = DTYPES[prec]
        times: dict[str, float] = {}
        peaks_mb: dict[str, float | None] = {}
        for vname, (fn, off) in _ours_variants(ours, dtype, ctx, compile_ok and prec == "fp32").items():
            try:
                times[vname], peaks_mb[vname] = _time_variant(fn, x, off, ctx.reps)
            except Exception as e:  # a setting that fails (compile) is reported, not fatal
                log.warning("%s %s %s failed: %s", name, prec, vname, e)
        ours_s = times["channels_last"]
        ref_s, peak_ref = None, None
        if prec == "bf16":  # the target compares bf16 with the reference in fp32: no bf16 reference run
            ref_s, peak_ref = ref_fp32
        else:
            ref_mod = ref(dtype)  # fp32; fp16 on a GPU, as RealESRGANer(half=True) runs it
            if ref_mod is not None:
                with torch.no_grad():
                    ref_s, peak_ref = measured(lambda m=ref_mod: m(x), ctx.reps)
                if prec == "fp32":
                    ref_fp32 = (ref_s, peak_ref)
        gflops = flops / ours_s / 1e9
        extra: dict[str, Any] = {
            "fastest": min(times, key=lambda k: times[k]),
            "variants": {k: round(v, 4) for k, v in times.items()},
            "gflop": round(flops / 1e9, 2),
            "gflops": round(gflops, 1),
            "peak_fraction": round(gflops / peaks[prec], 3) if prec in peaks else None,
        }
        if prec == "fp16" and ref_fp32[0] is not None:
            extra["ratio_vs_ref_fp32"] = round(ref_fp32[0] / ours_s, 2)
        rows.append(
            Row(
                "inference",
                f"{name} {size}x{size} {prec}",
                ours_s,
                ref_s,
                f"{ref_note} fp32" if prec == "bf16" and ref_s is not None else ref_note,
                ours_peak_mb=peaks_mb["channels_last"],
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
        res = evaluate_folder(
            _Cast(copy.deepcopy(model), dtype, torch.contiguous_format), folder, 4, device=ctx.device
        )
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
    if ctx.gpu:
        rows += full_hd(ctx, rrdb, maker("basicsr.archs.rrdbnet_arch.RRDBNet", rrdb_kw, rrdb), note, peaks)
    fid = bf16_fidelity(ctx)
    if fid is not None:
        rows.append(fid)
    return rows


def full_hd(
    ctx: Context,
    rrdb: nn.Module,
    ref: Callable[[torch.dtype], nn.Module | None],
    ref_note: str,
    peaks: dict[str, float],
) -> list[Row]:
    """GPU only: RRDBNet x4 on one 1920x1080 input, fp16 and bf16, channels_last, untiled; BasicSR's
    RRDBNet in fp16 (contiguous, as ``RealESRGANer(half=True)`` runs it) is the reference of both."""
    h, w = (1080, 1920)
    x = seeded_input((1, 3, h, w))
    flops = conv_flops(rrdb, seeded_input((1, 3, 64, 64))) * (h * w) / (64 * 64)  # convs scale with area
    ref_mod = ref(torch.float16)
    ref_s, ref_peak = (None, None)
    if ref_mod is not None:
        with torch.inference_mode():
            ref_s, ref_peak = measured(lambda: ref_mod(x), ctx.reps)
        del ref_mod
    rows = []
    for prec in ("fp16", "bf16"):
        ours = _Cast(copy.deepcopy(rrdb), DTYPES[prec], torch.channels_last)
        with torch.inference_mode():
            t, peak = measured(lambda ours=ours: ours(x), ctx.reps)
        gflops = flops / t / 1e9
        rows.append(
            Row(
                "inference",
                f"RRDBNet x4 1920x1080 {prec} channels_last",
                t,
                ref_s,
                f"{ref_note}, fp16 (RealESRGANer half=True)",
                ours_peak_mb=peak,
                ref_peak_mb=ref_peak,
                extra={
                    "images_s": round(1 / t, 3),
                    "gflops": round(gflops, 1),
                    "tensor_peak_fraction": round(gflops / peaks[prec], 3),
                },
            )
        )
        del ours
        torch.cuda.empty_cache()
    return rows
