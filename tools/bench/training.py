"""Workload 3: one training iteration.

- ``MSRResNet x4``: L1, Adam 2e-4 (0.9, 0.99), batch 4, GT 128.
- ``ESRGAN``: RRDBNet 64/23 generator, VGGStyleDiscriminator 128, L1 1e-2 + VGG19 conv5_4 (before the
  activation) perceptual 1 + relativistic average GAN 5e-3, Adam 1e-4 for both, batch 2, GT 128.

Ours: ``sr.models.SRModel`` / ``GANModel`` from ``sr.options.options_from_dict``; theirs: BasicSR 1.4.2's
``SRModel`` / ``ESRGANModel`` from the equivalent options dict (``num_gpu: 0``, ``dist: False``). No EMA
on either side. Identical weights (ours copied into BasicSR's, ``strict=True``) and identical batches.
The VGG19 of the perceptual loss is a seeded RANDOM torchvision ``vgg19`` state dict written to
``$TORCH_HOME/hub/checkpoints/vgg19-dcbb9e9d.pth`` of a temporary folder, which both libraries load
from there (nothing is downloaded).

Ours is also timed with ``train.channels_last: true`` and with ``train.mixed_precision: bf16``
(channels_last; not timed on a CPU without native bf16, where a step takes minutes). The losses of the
first ``N`` iterations from the same start, ours in fp32 and bf16 and BasicSR's, are in ``extra``
(``first_losses_*``): they must agree. The fp32 times of ``sr`` and BasicSR are taken interleaved (see
:func:`interleaved`), at least 5 repetitions. ``conv_share_*``: the share of a step's operator time spent in
convolutions (forward and backward), each side. MSRResNet's ``gflops`` counts three times the forward
convolutions (input and weight gradients), to set against the inference workload's convolution peak.
On a GPU (``--device cuda``) both run there (BasicSR with ``num_gpu: 1``) and ours is also timed with
fp16 autocast (with its gradient scaler) and with ``train.compile``.
"""

from __future__ import annotations

import copy
import logging
import os
import statistics
import time
from typing import Any

import torch

from sr.device import cpu_has_native_bf16
from tools.bench.common import (
    Context,
    Row,
    conv_flops,
    device,
    median_time,
    peak_mb,
    reference,
    reset_peak,
    seeded_input,
    sync,
)

log = logging.getLogger(__name__)
N_CHECK = 3  # iterations whose losses are compared


def random_vgg19(ctx: Context) -> None:
    """Write a seeded random vgg19 state dict where torchvision and sr look for the ImageNet one."""
    import torchvision

    home = ctx.tmp / "torch_home"
    target = home / "hub" / "checkpoints" / "vgg19-dcbb9e9d.pth"
    target.parent.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(1234)
    torch.save(torchvision.models.vgg19().state_dict(), target)
    os.environ["TORCH_HOME"] = str(home)


def recipes(ctx: Context) -> dict[str, dict[str, Any]]:
    """Our options dicts (the BasicSR ones are derived in :func:`basicsr_opt`)."""
    feat, blocks, gt = (8, 1, 32) if ctx.quick else (64, 23, 128)
    sched = {"type": "MultiStepLR", "milestones": [10**9], "gamma": 0.5}
    msr = {
        "name": "bench_msrresnet",
        "model_type": "SRModel",
        "scale": 4,
        "network_g": {
            "type": "MSRResNet",
            "num_feat": 16 if ctx.quick else 64,
            "num_block": 2 if ctx.quick else 16,
            "upscale": 4,
        },
        "train": {
            "total_iter": 1000,
            "optim_g": {"type": "Adam", "lr": 2e-4, "weight_decay": 0, "betas": [0.9, 0.99]},
            "scheduler": sched,
            "pixel_opt": {"type": "L1Loss", "loss_weight": 1.0},
        },
        "_batch": 4,
        "_gt": gt,
    }
    esrgan = {
        "name": "bench_esrgan",
        "model_type": "ESRGANModel",
        "scale": 4,
        "network_g": {
            "type": "RRDBNet",
            "num_feat": feat,
            "num_block": blocks,
            "num_grow_ch": max(feat // 2, 4),
            "scale": 4,
        },
        "network_d": {
            "type": "VGGStyleDiscriminator",
            "num_in_ch": 3,
            "num_feat": 8 if ctx.quick else 64,
            "input_size": 128,
        },
        "train": {
            "total_iter": 1000,
            "optim_g": {"type": "Adam", "lr": 1e-4, "weight_decay": 0, "betas": [0.9, 0.99]},
            "optim_d": {"type": "Adam", "lr": 1e-4, "weight_decay": 0, "betas": [0.9, 0.99]},
            "scheduler": sched,
            "pixel_opt": {"type": "L1Loss", "loss_weight": 1e-2},
            "perceptual_opt": {
                "type": "PerceptualLoss",
                "layer_weights": {"conv5_4": 1.0},
                "vgg_type": "vgg19",
                "use_input_norm": True,
                "range_norm": False,
                "perceptual_weight": 1.0,
                "style_weight": 0.0,
                "criterion": "l1",
            },
            "gan_opt": {"type": "GANLoss", "gan_type": "ragan", "loss_weight": 5e-3},
        },
        "_batch": 2,
        "_gt": 128,  # VGGStyleDiscriminator takes 128 or 256
    }
    return {"MSRResNet x4 L1": msr, "ESRGAN": esrgan}


def basicsr_opt(ours: dict[str, Any], gpu: bool = False) -> dict[str, Any]:
    """The BasicSR 1.4.2 options dict equivalent to ``ours``."""
    train = copy.deepcopy(ours["train"])
    train["ema_decay"] = 0
    train["scheduler"] = {"type": "MultiStepLR", "milestones": [10**9], "gamma": 0.5}
    if "gan_opt" in train:  # BasicSR's ESRGANModel applies the relativistic form itself on a vanilla GANLoss
        train["gan_opt"] = {
            "type": "GANLoss",
            "gan_type": "vanilla",
            "real_label_val": 1.0,
            "fake_label_val": 0.0,
            "loss_weight": 5e-3,
        }
        train["pixel_opt"]["reduction"] = "mean"
    net_g = dict(ours["network_g"])
    net_g.setdefault("num_in_ch", 3)
    net_g.setdefault("num_out_ch", 3)
    opt: dict[str, Any] = {
        "name": ours["name"],
        "model_type": ours["model_type"],
        "scale": 4,
        "num_gpu": 1 if gpu else 0,
        "is_train": True,
        "dist": False,
        "rank": 0,
        "world_size": 1,
        "network_g": net_g,
        "path": {"pretrain_network_g": None, "strict_load_g": True, "resume_state": None},
        "train": train,
    }
    if "network_d" in ours:
        opt["network_d"] = dict(ours["network_d"])
    return opt


def batches(spec: dict[str, Any], n: int) -> list[dict[str, torch.Tensor]]:
    b, gt = spec["_batch"], spec["_gt"]
    return [
        {"gt": seeded_input((b, 3, gt, gt), 10 + i), "lq": seeded_input((b, 3, gt // 4, gt // 4), 100 + i)}
        for i in range(n)
    ]


def ours_model(spec: dict[str, Any], **train_over: Any) -> Any:
    from sr.models import build_model
    from sr.options import options_from_dict

    d = {k: copy.deepcopy(v) for k, v in spec.items() if not k.startswith("_")}
    d["train"].update(train_over)
    return build_model(options_from_dict(d, source="bench", require_train=False), device())


# operator names (CPU: aten::mkldnn_convolution, convolution_backward) and GPU kernel names (cuDNN's
# implicit-GEMM forward/data-gradient/weight-gradient kernels) of convolutions
_CONV_KEYS = (
    "convolution",
    "conv2d",
    "convolve",
    "cudnn",
    "fprop",
    "dgrad",
    "wgrad",
    "implicit_gemm",
    "winograd",
)


def conv_share(step: Any, batch: dict[str, torch.Tensor]) -> float:
    """Share of one training step's operator time (self CPU time; GPU: self device time) spent in
    convolutions, forward and backward: an upper bound on what any other change can gain."""
    from torch.profiler import ProfilerActivity, profile

    acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device().type == "cuda" else [])
    with profile(activities=acts) as prof:
        step(batch, 10**5)
    attr = "self_device_time_total" if device().type == "cuda" else "self_cpu_time_total"
    events = prof.key_averages()
    total = sum(getattr(e, attr) for e in events)
    conv = sum(getattr(e, attr) for e in events if any(k in e.key.lower() for k in _CONV_KEYS))
    return round(conv / total, 3) if total else 0.0


def time_steps(step: Any, data: list[dict[str, torch.Tensor]], reps: int) -> tuple[float, float | None]:
    it = iter(range(1, 10**6))

    def one() -> None:
        i = next(it)
        step(data[i % len(data)], i)

    reset_peak()
    t = median_time(one, reps)
    return t, peak_mb()


def interleaved(steps: list[Any], data: list[dict[str, torch.Tensor]], reps: int) -> list[float]:
    """Median seconds of each of ``steps``, timed in turn within every repetition (one warm-up each):
    a drift of the machine over the run (clock, memory state) then falls on both sides alike, where
    timing one side after the other gave ``sr``'s MSRResNet step 0.88-0.97x in separate runs."""
    times: list[list[float]] = [[] for _ in steps]
    for i in range(reps + 1):
        for k, step in enumerate(steps):
            t0 = time.perf_counter()
            step(data[i % len(data)], 10**4 + i)
            sync()
            if i:
                times[k].append(time.perf_counter() - t0)
    return [statistics.median(t) for t in times]


def run(ctx: Context) -> list[Row]:
    random_vgg19(ctx)
    why = reference("basicsr", ctx)
    rows = []
    for name, spec in recipes(ctx).items():
        data = batches(spec, 4)
        base = ours_model(spec)
        first: dict[str, list[dict[str, float]]] = {
            "sr": [base.train_step(data[i], i + 1) for i in range(N_CHECK)]
        }
        variants = {"fp32": base}
        if not ctx.quick:
            variants["channels_last"] = ours_model(spec, channels_last=True)
            variants["bf16 + channels_last"] = ours_model(spec, mixed_precision="bf16", channels_last=True)
        bf16 = variants.get("bf16 + channels_last")
        if bf16 is not None and not ctx.gpu and not cpu_has_native_bf16():
            del variants["bf16 + channels_last"]  # emulated bf16: minutes a step; losses still checked
        if ctx.gpu and not ctx.quick:
            variants["fp16 + channels_last"] = ours_model(spec, mixed_precision="fp16", channels_last=True)
            variants["bf16 + channels_last + compile"] = ours_model(
                spec, mixed_precision="bf16", channels_last=True, compile=True
            )
        if bf16 is not None:  # same start as the fp32 runs: copy the initial weights in
            fresh = ours_model(spec)
            bf16.net_g.load_state_dict(fresh.net_g.state_dict())
            if hasattr(bf16, "net_d"):
                bf16.net_d.load_state_dict(fresh.net_d.state_dict())
            first["sr_bf16"] = [bf16.train_step(data[i], i + 1) for i in range(N_CHECK)]
        times = {k: time_steps(m.train_step, data, ctx.reps) for k, m in variants.items()}
        shares = {"sr": conv_share(base.train_step, data[0])}
        flops = 3 * conv_flops(base.net_g, data[0]["lq"]) if spec["model_type"] == "SRModel" else None
        ref_t: tuple[float | None, float | None] = (None, None)
        if why is None:
            ref_model = basicsr_model(spec, ours_model(spec), ctx.gpu)
            first["basicsr"] = []
            for i in range(N_CHECK):
                ref_model.feed_data(data[i])
                ref_model.optimize_parameters(i + 1)
                first["basicsr"].append({k: float(v) for k, v in ref_model.get_current_log().items()})

            def ref_step(batch: dict[str, torch.Tensor], it: int, ref_model: Any = ref_model) -> None:
                ref_model.feed_data(batch)
                ref_model.optimize_parameters(it)

            ref_t = time_steps(ref_step, data, ctx.reps)  # for its peak memory
            shares["basicsr"] = conv_share(ref_step, data[0])
            t_ours, t_ref = interleaved([base.train_step, ref_step], data, max(ctx.reps, 5))
            times["fp32"] = (t_ours, times["fp32"][1])
            ref_t = (t_ref, ref_t[1])
        for vname, (t, peak) in times.items():
            extra: dict[str, Any] = {}
            if vname == "fp32":
                extra = {f"conv_share_{k}": v for k, v in shares.items()}
                if flops is not None:
                    extra["gflops"] = round(flops / t / 1e9, 1)
                extra |= {
                    f"first_losses_{k}": [{kk: round(vv, 6) for kk, vv in d.items()} for d in v]
                    for k, v in first.items()
                }
            if vname != "fp32" and ref_t[0] is not None:
                extra["ratio_vs_ref_fp32"] = round(ref_t[0] / t, 2)
            rows.append(
                Row(
                    "training",
                    f"{name} batch {spec['_batch']} GT {spec['_gt']} {vname}",
                    t,
                    ref_t[0] if vname == "fp32" else None,
                    why
                    or (
                        "BasicSR 1.4.2 fp32"
                        if vname == "fp32"
                        else "ours only; ratio vs BasicSR fp32 in notes"
                    ),
                    ours_peak_mb=peak,
                    ref_peak_mb=ref_t[1] if vname == "fp32" else None,
                    extra=extra,
                )
            )
    return rows


def basicsr_model(spec: dict[str, Any], ours: Any, gpu: bool = False) -> Any:
    """BasicSR's model for ``spec`` with the initial weights of ``ours`` (a fresh, untrained sr model)."""
    logging.getLogger("basicsr").setLevel(logging.ERROR)
    if spec["model_type"] == "SRModel":
        from basicsr.models.sr_model import SRModel as Ref
    else:
        from basicsr.models.esrgan_model import ESRGANModel as Ref
    model = Ref(basicsr_opt(spec, gpu))
    model.net_g.load_state_dict(ours.net_g.state_dict(), strict=True)
    if hasattr(ours, "net_d"):
        model.net_d.load_state_dict(ours.net_d.state_dict(), strict=True)
    return model
