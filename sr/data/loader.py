"""DataLoaders for training (endless, resumable at any iteration) and validation.

Iteration ``i`` (0-based) of a run is batch ``i % bpe`` of epoch ``i // bpe``, with
``bpe = len(sampler) // batch_size`` batches per epoch (the incomplete last batch is dropped, as
BasicSR does). Resuming at iteration ``i`` selects the epoch and skips its first
``(i % bpe) * batch_size`` samples in the sampler, without decoding them; since every sample depends
only on its ``(index, seed)`` (:mod:`sr.data.sampler`), the resumed run sees exactly the batches of
the uninterrupted one.

Mixed-resolution (:class:`sr.data.mixed.MixedSourceDataset`) and multi-scale (more than one scale)
training use a :class:`MixedBatchSampler` instead: an endless stream of batches, each of one source
and one scale, handed to the DataLoader as ``batch_sampler``; there are no epochs
(``use_shuffle`` and ``dataset_enlarge_ratio`` play no part), and iteration ``i`` is the sampler's
batch ``i``, so resuming at ``i`` starts the sampler there. Items of a batch share their source and
scale, so their sizes agree; ``scale`` and ``source`` collate to int64 tensors of shape (B,).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from sr.data.mixed import MixedSourceDataset
from sr.data.sampler import MixedBatchSampler, TrainSampler
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
    scales: list[int] | None = None,
    scale_weights: list[float] | None = None,
) -> tuple[DataLoader, TrainSampler | MixedBatchSampler]:
    """The training DataLoader (``batch_size_per_gpu``, ``num_worker_per_gpu`` persistent workers,
    pinned memory on CUDA) positioned at iteration ``start_iter``; iterate it with
    :func:`iterate_forever`. ``scales``/``scale_weights``: the run's ``scales`` and
    ``train.scale_weights``. A :class:`MixedSourceDataset` or more than one scale gets a
    :class:`MixedBatchSampler` (module docstring); otherwise a :class:`TrainSampler` (``drop_last``)."""
    workers = opt.num_worker_per_gpu
    common: dict[str, Any] = dict(
        num_workers=workers,
        pin_memory=torch.cuda.is_available(),
        persistent_workers=workers > 0,
        worker_init_fn=seed_worker if workers > 0 else None,
        generator=torch.Generator().manual_seed(seed + rank),
        prefetch_factor=2 if workers > 0 else None,
    )
    if isinstance(dataset, MixedSourceDataset):
        sizes, shares, mixed = dataset.source_sizes, dataset.shares, True
    else:
        sizes, shares, mixed = [len(dataset)], [1.0], False  # type: ignore[arg-type]
    if mixed or (scales is not None and len(scales) > 1):
        batch_sampler = MixedBatchSampler(
            sizes,
            shares,
            list(scales) if scales else [dataset.scale],  # type: ignore[attr-defined]
            scale_weights,
            opt.batch_size_per_gpu,
            seed=seed,
            rank=rank,
            world_size=world_size,
            start_iter=start_iter,
        )
        if not opt.use_shuffle:
            log.warning("use_shuffle: false has no effect on mixed/multi-scale sampling (with replacement)")
        log.info(
            "batch sampler: source shares %s, scale probabilities %s (per batch, in expectation)",
            [round(p, 4) for p in batch_sampler.expected_shares()],
            {s: round(p, 4) for s, p in batch_sampler.expected_scale_weights().items()},
        )
        return DataLoader(dataset, batch_sampler=batch_sampler, **common), batch_sampler
    if scale_weights is not None and (scales is None or len(scales) != len(scale_weights)):
        raise ValueError(f"scale_weights {scale_weights} given for scales {scales}")
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
    loader = DataLoader(dataset, batch_size=opt.batch_size_per_gpu, sampler=sampler, drop_last=True, **common)
    return loader, sampler


def iterate_forever(
    loader: DataLoader, sampler: TrainSampler | MixedBatchSampler, start_iter: int = 0
) -> Iterator[Any]:
    """Yield the batches of iterations ``start_iter, start_iter + 1, ...`` (0-based), across epochs,
    without end. Keeps ``sampler.epoch``/``sampler.position`` (a :class:`MixedBatchSampler`:
    ``sampler.iter``) equal to what has been consumed, so ``sampler.state_dict()`` taken between two
    batches resumes right after the last one."""
    if isinstance(sampler, MixedBatchSampler):
        sampler.iter = start_iter  # before iter(loader): the sampler is read from there
        for data in loader:  # endless
            sampler.iter += 1
            yield data
        raise RuntimeError("the mixed batch sampler ended; it is endless (a bug)")
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


def error_text(exc: BaseException) -> str:
    """``str(exc)``, or for an error PyTorch re-raised from a DataLoader worker (``Caught X in DataLoader
    worker process N.`` and the worker's traceback) the original message, its traceback's last line."""
    text = str(exc)
    if text.startswith("Caught ") and "\nOriginal Traceback" in text:
        last = text.rstrip().splitlines()[-1]
        return last.split(": ", 1)[1] if ": " in last else last
    return text
