"""The arms of the study: one training diet and model each, as ``sr`` option dicts.

Every arm trains the same small generator body (``MSRResNet``-style, ``num_feat``/``num_block`` of
:class:`Setup`) for the same number of iterations, batch size and GT patch size, with Adam and a
cosine schedule, L1 loss, no EMA, no validation during training, the same ``manual_seed``:

==================  ========================================================================
``low``             x4; the training photos downsampled to 1/4 (source resolution 0.25) only
``high``            x4; the training photos at native resolution only
``mix85``           x4; 85 % of the batches from the 1/4 photos, 15 % native (the paper's diet)
``mix70``           x4; 70 % / 30 %
``bandlimited``     x4; native photos with low-pass filtered targets (``gt_bandlimit``)
``x2_mix85``        x2 ``MSRResNet`` on the mix85 diet, applied twice for x4 at evaluation
``multiscale_mix85`` ``MultiScaleMSRResNet`` with heads x2 and x4 (scale drawn per batch, equal
                    weights) on the mix85 diet, evaluated with its x4 head
==================  ========================================================================

"Equal compute" means equal iterations x batch x GT patch: the x2 model sees a 4x larger LR patch
for the same GT patch and so costs more FLOPs per iteration; :func:`flops_per_iter` measures it
(``torch.utils.flop_counter``) so that the report states it rather than hides it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from sr.models import build_model
from sr.options import Options, options_from_dict

ARMS = ("low", "high", "mix85", "mix70", "bandlimited", "x2_mix85", "multiscale_mix85")
SCALE_ARMS = ("mix85", "x2_mix85", "multiscale_mix85")  # the scale comparison, all at x4
DIETS: dict[str, list[tuple[str, float, float]]] = {  # arm -> [(source name, resolution, share)]
    "low": [("quarter", 0.25, 1.0)],
    "high": [("native", 1.0, 1.0)],
    "mix85": [("quarter", 0.25, 0.85), ("native", 1.0, 0.15)],
    "mix70": [("quarter", 0.25, 0.70), ("native", 1.0, 0.30)],
    "bandlimited": [("native", 1.0, 1.0)],
    "x2_mix85": [("quarter", 0.25, 0.85), ("native", 1.0, 0.15)],
    "multiscale_mix85": [("quarter", 0.25, 0.85), ("native", 1.0, 0.15)],
}
DESCRIPTIONS = {
    "low": "x4, photos at 1/4 resolution only",
    "high": "x4, photos at native resolution only",
    "mix85": "x4, 85% at 1/4 + 15% native",
    "mix70": "x4, 70% at 1/4 + 30% native",
    "bandlimited": "x4, native photos, targets low-passed (gt_bandlimit {bandlimit:g})",
    "x2_mix85": "x2 on the mix85 diet, applied twice",
    "multiscale_mix85": "multi-scale [2, 4] on the mix85 diet, x4 head",
}


@dataclass(frozen=True)
class Setup:
    """What every arm shares. ``train_dir``: folder of HR training images; ``train_list``: its
    ``meta_info_file`` (None: every image of the folder)."""

    train_dir: Path
    train_list: Path | None
    runs_dir: Path
    iters: int
    seed: int = 0
    num_feat: int = 32
    num_block: int = 4
    gt_size: int = 64
    batch: int = 8
    lr: float = 5e-4
    bandlimit: float = 0.5

    def describe(self, arm: str) -> str:
        return DESCRIPTIONS[arm].format(bandlimit=self.bandlimit)


def arm_scale(arm: str) -> int:
    """The scale the arm's network is evaluated with directly (the x2 arm is chained for x4)."""
    return 2 if arm == "x2_mix85" else 4


def arm_options(arm: str, setup: Setup) -> dict[str, Any]:
    """The raw option dict of ``arm`` (validated by :func:`arm_opt`); runs in ``setup.runs_dir/arm``."""
    if arm not in ARMS:
        raise ValueError(f"unknown arm {arm!r}; choose from {', '.join(ARMS)}")
    sources = [
        {
            "name": name,
            "dataroot_gt": str(setup.train_dir),
            "meta_info_file": str(setup.train_list) if setup.train_list else None,
            "resolution": res,
            "share": share,
        }
        for name, res, share in DIETS[arm]
    ]
    scale = arm_scale(arm)
    body = {"num_in_ch": 3, "num_out_ch": 3, "num_feat": setup.num_feat, "num_block": setup.num_block}
    if arm == "multiscale_mix85":
        network: dict[str, Any] = {"type": "MultiScaleMSRResNet", **body, "scales": [2, 4]}
    else:
        network = {"type": "MSRResNet", **body, "upscale": scale}
    train_set: dict[str, Any] = {
        "name": f"photos_{arm}",
        "type": "HRImageDataset",
        "gt_size": setup.gt_size,
        "use_hflip": True,
        "use_rot": True,
        "cache": True,  # native sources decoded once (the 1/4 ones are always cached)
        "num_worker_per_gpu": 0,  # 2 cores: the network gets both; patches are cheap to make
        "batch_size_per_gpu": setup.batch,
        "sources": sources,
    }
    if arm == "bandlimited":
        train_set["gt_bandlimit"] = setup.bandlimit
    opt: dict[str, Any] = {
        "name": arm,
        "model_type": "SRModel",
        "scale": scale,
        "manual_seed": setup.seed,
        "datasets": {"train": train_set},
        "network_g": network,
        "path": {"experiments_root": str(setup.runs_dir)},
        "train": {
            "total_iter": setup.iters,
            "ema_decay": 0.0,
            "optim_g": {"type": "Adam", "lr": setup.lr, "betas": [0.9, 0.99]},
            "scheduler": {
                "type": "CosineAnnealingRestartLR",
                "periods": [setup.iters],
                "restart_weights": [1],
                "eta_min": 1e-6,
            },
            "pixel_opt": {"type": "L1Loss", "loss_weight": 1.0},
        },
        "logger": {
            "print_freq": max(1, setup.iters // 10),
            "save_checkpoint_freq": setup.iters,
            "use_tb_logger": False,
        },
    }
    if arm == "multiscale_mix85":
        opt["scales"] = [2, 4]
        opt["train"]["scale_weights"] = [1.0, 1.0]
    return opt


def arm_opt(arm: str, setup: Setup) -> Options:
    return options_from_dict(arm_options(arm, setup), source=f"study arm {arm}")


def _batch(scale: int, setup: Setup) -> dict[str, Any]:
    g = torch.Generator().manual_seed(0)
    lr = setup.gt_size // scale
    return {
        "lq": torch.rand(setup.batch, 3, lr, lr, generator=g),
        "gt": torch.rand(setup.batch, 3, setup.gt_size, setup.gt_size, generator=g),
        "scale": torch.full((setup.batch,), scale, dtype=torch.long),
    }


def _arm_scales(arm: str) -> dict[int, float]:
    """Scale -> probability of a batch of that scale."""
    return {2: 0.5, 4: 0.5} if arm == "multiscale_mix85" else {arm_scale(arm): 1.0}


def flops_per_iter(arm: str, setup: Setup) -> float:
    """FLOPs of one training iteration (forward + backward of a batch; the expectation over the
    scales for the multi-scale arm), counted by ``torch.utils.flop_counter.FlopCounterMode``."""
    from torch.utils.flop_counter import FlopCounterMode

    model = build_model(arm_opt(arm, setup), torch.device("cpu"))
    total = 0.0
    for scale, p in _arm_scales(arm).items():
        counter = FlopCounterMode(display=False)
        with counter:
            model.train_step(_batch(scale, setup), 1)
        total += p * counter.get_total_flops()
    return total


def time_per_iter(arm: str, setup: Setup, steps: int = 8, warmup: int = 2) -> float:
    """Median seconds of one training step of ``arm``'s model on synthetic batches (no data
    loading; the calibration for the time estimate)."""
    model = build_model(arm_opt(arm, setup), torch.device("cpu"))
    times = []
    for i in range(warmup + steps):
        scale = list(_arm_scales(arm))[i % len(_arm_scales(arm))]
        batch = _batch(scale, setup)
        t0 = time.perf_counter()
        model.train_step(batch, i + 1)
        if i >= warmup:
            times.append(time.perf_counter() - t0)
    times.sort()
    return times[len(times) // 2]
