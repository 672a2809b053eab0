"""Workload 4: the training data pipeline. Paired GT-128 / LQ-32 crops with flips and rotations, batch 8,
from a folder of 40 480x480 PNG sub-images (crops of the shared photos; LQ = MATLAB bicubic x1/4, 8-bit),
with 0 and 2 DataLoader workers: ``sr.data`` (``build_dataset`` + ``build_train_loader`` +
``iterate_forever``) against BasicSR's ``PairedImageDataset`` in a ``DataLoader`` (shuffle, drop_last,
persistent workers, as for ours). Figures: seconds per batch (median over batches after a warm-up
epoch) and samples/s. ``extra`` of the 0-worker row splits our per-sample cost into decode, crop+augment;
``ours_cached_samples_s`` is ours with ``cache: true`` (every image decoded once, at start-up, and kept in
memory: the setting that keeps a GPU fed when decoding is the bottleneck). The pipeline runs on the CPU
whatever ``--device`` is (both libraries crop and augment there).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from tools.bench.common import Context, Row, reference

BATCH = 8


def make_folder(ctx: Context) -> tuple[Path, Path]:
    """``gt/NNN.png`` and ``lq/NNN.png``; photo crops when the shared photos exist, else seeded noise."""
    from sr.data.imageio import read_image, write_image
    from sr.ops import imresize
    from tools.bench.imresize_metrics import photos

    n, size = (8, 64) if ctx.quick else (40, 480)
    gt_dir, lq_dir = ctx.tmp / "gt", ctx.tmp / "lq"
    gt_dir.mkdir()
    lq_dir.mkdir()
    paths = photos()
    g = np.random.default_rng(0)
    for i in range(n):
        if paths:
            img = read_image(paths[i % len(paths)]).rgb()
            top = int(g.integers(0, img.shape[1] - size + 1))
            left = int(g.integers(0, img.shape[2] - size + 1))
            crop = img[:, top : top + size, left : left + size]
        else:
            crop = torch.from_numpy(g.random((3, size, size), dtype=np.float32))
        crop = crop.mul(255).round().div(255)
        lq = imresize(crop, 0.25).clamp(0, 1).mul(255).round().div(255)
        write_image(gt_dir / f"{i:03d}.png", crop)
        write_image(lq_dir / f"{i:03d}.png", lq)
    return gt_dir, lq_dir


def time_batches(it: Any, n: int) -> float:
    """Median seconds per batch of ``n`` batches drawn from iterator ``it`` (after the caller's warm-up)."""
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        next(it)
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def ours_loader(gt: Path, lq: Path, workers: int, gt_size: int, cache: bool = False) -> Any:
    from sr.data import build_dataset, build_train_loader, iterate_forever
    from sr.options import DatasetOptions

    opt = DatasetOptions(
        name="bench",
        dataroot_gt=str(gt),
        dataroot_lq=str(lq),
        gt_size=gt_size,
        num_worker_per_gpu=workers,
        batch_size_per_gpu=BATCH,
        cache=cache,
    )
    ds = build_dataset(opt, 4, key="datasets.train")
    loader, sampler = build_train_loader(ds, opt, seed=0)
    return iterate_forever(loader, sampler), ds


def ref_loader(gt: Path, lq: Path, workers: int, gt_size: int) -> Any:
    from basicsr.data.paired_image_dataset import PairedImageDataset

    opt = {
        "dataroot_gt": str(gt),
        "dataroot_lq": str(lq),
        "io_backend": {"type": "disk"},
        "filename_tmpl": "{}",
        "gt_size": gt_size,
        "use_hflip": True,
        "use_rot": True,
        "phase": "train",
        "scale": 4,
    }
    ds = PairedImageDataset(opt)
    loader = torch.utils.data.DataLoader(
        ds,
        batch_size=BATCH,
        shuffle=True,
        num_workers=workers,
        drop_last=True,
        persistent_workers=workers > 0,
        generator=torch.Generator().manual_seed(0),
    )

    def forever() -> Any:
        while True:
            yield from loader

    return forever()


def breakdown(ds: Any, n: int) -> dict[str, float]:
    """Per-sample milliseconds of our dataset: decoding GT+LQ, and the whole item (decode, crop, augment)."""
    gt_src, lq_src = ds.gt_source, ds.lq_source
    t0 = time.perf_counter()
    for i in range(n):
        _, gt_ref, lq_ref = ds.entries[i % len(ds)]
        gt_src.read(gt_ref)
        lq_src.read(lq_ref)
    t_decode = (time.perf_counter() - t0) / n
    t0 = time.perf_counter()
    for i in range(n):
        ds[(i % len(ds), i)]
    t_item = (time.perf_counter() - t0) / n
    import cv2

    t0 = time.perf_counter()
    for i in range(n):
        _, gt_ref, lq_ref = ds.entries[i % len(ds)]
        cv2.imread(str(gt_src.path_of(gt_ref)), cv2.IMREAD_UNCHANGED)
        cv2.imread(str(lq_src.path_of(lq_ref)), cv2.IMREAD_UNCHANGED)
    t_cv2 = (time.perf_counter() - t0) / n
    return {
        "ours_decode_ms": round(t_decode * 1000, 2),
        "ours_item_ms": round(t_item * 1000, 2),
        "cv2_imread_pair_ms": round(t_cv2 * 1000, 2),
    }


def run(ctx: Context) -> list[Row]:
    gt, lq = make_folder(ctx)
    gt_size = 32 if ctx.quick else 128
    n_img = len(list(gt.iterdir()))
    n_batches = max(ctx.reps, 2) * (n_img // BATCH)
    why = reference("basicsr", ctx)
    rows = []
    for workers in (0, 2):
        it, ds = ours_loader(gt, lq, workers, gt_size)
        time_batches(it, n_img // BATCH)  # warm-up epoch (worker start-up, page cache)
        t_ours = time_batches(it, n_batches)
        t_ref = None
        if why is None:
            rit = ref_loader(gt, lq, workers, gt_size)
            time_batches(rit, n_img // BATCH)
            t_ref = time_batches(rit, n_batches)
            del rit
        cit, _ = ours_loader(gt, lq, workers, gt_size, cache=True)
        time_batches(cit, n_img // BATCH)
        t_cached = time_batches(cit, n_batches)
        del cit
        extra: dict[str, Any] = {
            "ours_samples_s": round(BATCH / t_ours, 1),
            "ours_cached_samples_s": round(BATCH / t_cached, 1),
        }
        if t_ref is not None:
            extra["ref_samples_s"] = round(BATCH / t_ref, 1)
        if workers == 0:
            extra.update(breakdown(ds, n_img))
        rows.append(
            Row(
                "data",
                f"paired GT{gt_size} crops+flips/rot, batch {BATCH}, {workers} workers (s/batch)",
                t_ours,
                t_ref,
                why or "BasicSR 1.4.2 PairedImageDataset",
                extra=extra,
            )
        )
        del it
    return rows
