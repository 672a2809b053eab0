"""Tiny real training data and options for the engine tests: a few smooth-plus-texture PNGs and a
YAML recipe with a tiny MSRResNet, written to tmp_path."""

from __future__ import annotations

from pathlib import Path

import torch
import yaml

from sr.data.imageio import write_image


def make_images(folder: Path, n: int = 6, size: int = 48, seed: int = 0) -> Path:
    g = torch.Generator().manual_seed(seed)
    folder.mkdir(parents=True, exist_ok=True)
    yy, xx = torch.meshgrid(torch.linspace(0, 1, size), torch.linspace(0, 1, size), indexing="ij")
    for i in range(n):
        f = torch.rand(3, 1, 1, generator=g) * 12 + 2
        phase = torch.rand(3, 1, 1, generator=g) * 6.28
        img = 0.5 + 0.35 * torch.sin(f * xx + phase) * torch.cos(0.7 * f * yy)
        img = img + 0.05 * torch.rand(3, size, size, generator=g)
        write_image(folder / f"img_{i:03d}.png", img.clamp(0, 1))
    return folder


def tiny_options(tmp_path: Path, **changes) -> dict:
    opt = {
        "name": "tiny",
        "model_type": "SRModel",
        "scale": 4,
        "manual_seed": 3,
        "deterministic": True,
        "datasets": {
            "train": {
                "name": "tiny",
                "type": "HRImageDataset",
                "dataroot_gt": str(make_images(tmp_path / "train")),
                "gt_size": 16,
                "num_worker_per_gpu": 0,
                "batch_size_per_gpu": 2,
            },
            "val": {
                "name": "tinyval",
                "type": "HRImageDataset",
                "dataroot_gt": str(make_images(tmp_path / "val", n=2, size=32, seed=1)),
            },
        },
        "network_g": {"type": "MSRResNet", "num_feat": 8, "num_block": 1, "upscale": 4},
        "path": {"experiments_root": str(tmp_path / "experiments")},
        "train": {
            "total_iter": 6,
            "ema_decay": 0.9,
            "optim_g": {"type": "Adam", "lr": 1e-3, "betas": [0.9, 0.99]},
            "scheduler": {"type": "MultiStepLR", "milestones": [4], "gamma": 0.5},
            "pixel_opt": {"type": "L1Loss", "loss_weight": 1.0},
        },
        "val": {"val_freq": 3, "save_img": True, "metrics": {"psnr": {"type": "psnr"}}},
        "logger": {"print_freq": 1, "save_checkpoint_freq": 3, "use_tb_logger": True},
    }
    for dotted, value in changes.items():
        node = opt
        *parents, last = dotted.split("__")
        for key in parents:
            node = node.setdefault(key, {})
        node[last] = value
    return opt


def write_options(path: Path, opt: dict) -> Path:
    path.write_text(yaml.safe_dump(opt, sort_keys=False))
    return path


def gloo_threads() -> list[str]:
    """The names of this process's gloo threads (Linux: ``/proc``; elsewhere none are seen)."""
    names = []
    tasks = Path("/proc/self/task")
    for task in tasks.iterdir() if tasks.is_dir() else []:
        try:
            names.append((task / "comm").read_text().strip())
        except OSError:  # the thread ended meanwhile
            continue
    return [n for n in names if "gloo" in n]


def record_gloo_threads(folder: Path, rank: int) -> None:
    """Write :func:`gloo_threads` to ``folder/threads<rank>.txt`` (read by test_ddp.py)."""
    (folder / f"threads{rank}.txt").write_text("\n".join(gloo_threads()))
