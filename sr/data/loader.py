"""DataLoaders for training (endless, resumable at any iteration) and validation.

Iteration ``i`` (0-based) of a run is batch ``i % bpe`` of epoch ``i // bpe``, with
``bpe = len(sampler) // batch_size`` batches per epoch (the incomplete last batch is dropped, as
BasicSR does). Resuming at iteration ``i`` selects the epoch and skips its first
``(i % bpe) * batch_size`` samples in the sampler, without decoding them; since every sample depends
only on its ``(index, seed)`` (:mod:`sr.data.sampler`), the resumed run sees exactly the batches of
the uninterrupted one.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from sr.data.sampler import TrainSampler
from sr.options.schema import DatasetOptions

log = logging.getLogger(__name__)


def seed_worker(worker_id: int) -> None:
    """Seed numpy's global RNG in a worker from torch's per-worker seed (which comes from the
    DataLoader's seeded ``generator``). The datasets do not use global RNGs; this only keeps any
    third-party code that does deterministic."""
    np.random.seed(torch.initial_seed() % 2**32)  # noqa: NPY002 (seeding the legacy global on purpose)


def batches_per_epoch(sampler: TrainSampler, batch_size: int) -> int:
    bpe = len(sampler) // batch_size
    if bpe < 1:
        raise ValueError(
            f"batch_size_per_gpu {batch_size} is larger than the {len(sampler)} samples per process and "
            "epoch; lower it or raise dataset_enlarge_ratio"
        )
    return bpe


def _position(sampler: TrainSampler, batch_size: int, iteration: int) -> None:
    epoch, batch = divmod(iteration, batches_per_epoch(sampler, batch_size))
    sampler.set_epoch(epoch)
    sampler.skip(batch * batch_size)


def build_train_loader(
    dataset: Dataset,
    opt: DatasetOptions,
    *,
    seed: int,
    rank: int = 0,
    world_size: int = 1,
    start_iter: int = 0,
) -> tuple[DataLoader, TrainSampler]:
    """The training DataLoader (``batch_size_per_gpu``, ``num_worker_per_gpu`` persistent workers,
    ``drop_last``, pinned memory on CUDA) over a :class:`TrainSampler` positioned at iteration
    ``start_iter``. Iterate it with :func:`iterate_forever`."""
    n = len(dataset)  # type: ignore[arg-type]
    sampler = TrainSampler(
        n,
        seed=seed,
        rank=rank,
        world_size=world_size,
        shuffle=opt.use_shuffle,
        enlarge_ratio=opt.dataset_enlarge_ratio,
    )
    _position(sampler, opt.batch_size_per_gpu, start_iter)
    workers = opt.num_worker_per_gpu
    loader = DataLoader(
        dataset,
        batch_size=opt.batch_size_per_gpu,
        sampler=sampler,
        num_workers=workers,
        drop_last=True,
        pin_memory=torch.cuda.is_available(),
        persistent_workers=workers > 0,
        worker_init_fn=seed_worker if workers > 0 else None,
        generator=torch.Generator().manual_seed(seed + rank),
        prefetch_factor=2 if workers > 0 else None,
    )
    return loader, sampler


def iterate_forever(loader: DataLoader, sampler: TrainSampler, start_iter: int = 0) -> Iterator[Any]:
    """Yield the batches of iterations ``start_iter, start_iter + 1, ...`` (0-based), across epochs,
    without end. Keeps ``sampler.epoch``/``sampler.position`` equal to what has been consumed, so
    ``sampler.state_dict()`` taken between two batches resumes right after the last one."""
    batch_size = loader.batch_size
    if batch_size is None:
        raise ValueError("iterate_forever needs a DataLoader with a batch_size")
    bpe = batches_per_epoch(sampler, batch_size)
    epoch, batch = divmod(start_iter, bpe)
    while True:
        sampler.set_epoch(epoch)
        sampler.skip(batch * batch_size)  # before iter(loader): the sampler is read from there
        for data in loader:
            batch += 1
            sampler.position = batch * batch_size
            yield data
        if batch != bpe:  # only if the loader and sampler disagree: a bug, not a user error
            raise RuntimeError(f"epoch {epoch} gave {batch} batches, expected {bpe}")
        epoch, batch = epoch + 1, 0


def build_val_loader(dataset: Dataset, *, num_workers: int = 0) -> DataLoader:
    """Batch 1, in order, whole images; ``key`` comes back as a one-element list."""
    return DataLoader(
        dataset,
        batch_size=1,
        shuffle=False,
        num_workers=num_workers,
        pin_memory=torch.cuda.is_available(),
    )
