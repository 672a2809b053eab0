"""The training sampler: a seeded, resumable, rank-sharded permutation that also hands out the seed of
every sample's augmentation.

Why ``(index, seed)`` pairs: the random crop and the flips of a sample are drawn from a generator seeded
by the sample's own seed (see :mod:`sr.data.datasets`), so a sample depends only on ``(index, seed)``,
never on which DataLoader worker decoded it or on global RNG state. A run resumed at iteration k then
sees exactly the samples an uninterrupted run sees.

Seeds depend on ``(seed, epoch, global position)``, not on the rank: rank r takes the global positions
``r, r + W, r + 2W, ...`` (like ``torch.utils.data.DistributedSampler``), so the first batch of W ranks
with batch B holds the same samples as one process with batch W * B.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np


class TrainSampler:
    """Yields this rank's share of an epoch as ``(dataset_index, sample_seed)`` tuples.

    An epoch is a permutation of ``range(dataset_len * enlarge_ratio)`` (identity when not ``shuffle``)
    drawn from a generator seeded by ``(seed, epoch)``, padded by wrapping around to a multiple of
    ``world_size``, taken modulo ``dataset_len``; this rank takes every ``world_size``-th entry from
    ``rank``. ``len()`` is the per-rank count, equal on every rank.

    State: ``epoch`` (:meth:`set_epoch`, which also rewinds) and ``position``, the number of this
    rank's samples of the epoch already consumed; ``iter()`` starts at ``position`` and does not move
    it (a DataLoader reads the sampler ahead of what the loop consumed: the consumer advances it, as
    :func:`sr.data.loader.iterate_forever` does, or calls :meth:`skip`). :meth:`state_dict` /
    :meth:`load_state_dict` save and restore both.
    """

    def __init__(
        self,
        dataset_len: int,
        *,
        seed: int,
        rank: int = 0,
        world_size: int = 1,
        shuffle: bool = True,
        enlarge_ratio: int = 1,
    ) -> None:
        if dataset_len < 1:
            raise ValueError(f"dataset_len must be >= 1, got {dataset_len}")
        if world_size < 1 or not 0 <= rank < world_size:
            raise ValueError(f"need 0 <= rank < world_size, got rank={rank}, world_size={world_size}")
        if enlarge_ratio < 1:
            raise ValueError(f"enlarge_ratio (dataset_enlarge_ratio) must be >= 1, got {enlarge_ratio}")
        self.dataset_len = dataset_len
        self.seed = int(seed)
        self.rank = rank
        self.world_size = world_size
        self.shuffle = shuffle
        self.enlarge_ratio = enlarge_ratio
        self.total = dataset_len * enlarge_ratio
        self.num_samples = -(-self.total // world_size)  # per rank, after padding
        self.epoch = 0
        self.position = 0

    def __len__(self) -> int:
        return self.num_samples

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch's permutation and rewind to its start."""
        if epoch < 0:
            raise ValueError(f"epoch must be >= 0, got {epoch}")
        self.epoch = int(epoch)
        self.position = 0

    def skip(self, n: int) -> None:
        """Advance the position by ``n`` samples of this rank (nothing is decoded)."""
        if n < 0 or self.position + n > self.num_samples:
            raise ValueError(
                f"cannot skip {n} samples at position {self.position} of an epoch of {self.num_samples}"
            )
        self.position += n

    def epoch_samples(self, epoch: int) -> list[tuple[int, int]]:
        """All of this rank's ``(index, seed)`` pairs of ``epoch``, in order."""
        padded = self.num_samples * self.world_size
        if self.shuffle:
            rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([self.seed, epoch, 0])))
            order = rng.permutation(self.total)
        else:
            order = np.arange(self.total)
        order = np.resize(order, padded) % self.dataset_len  # np.resize repeats from the start
        # one seed per global position, from (seed, epoch): independent of rank and world size
        seed_rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([self.seed, epoch, 1])))
        seeds = seed_rng.integers(0, 2**63 - 1, size=padded, dtype=np.int64)
        mine = slice(self.rank, padded, self.world_size)
        return list(zip(order[mine].tolist(), seeds[mine].tolist(), strict=True))

    def __iter__(self) -> Iterator[tuple[int, int]]:
        return iter(self.epoch_samples(self.epoch)[self.position :])

    def state_dict(self) -> dict[str, Any]:
        return {
            "epoch": self.epoch,
            "position": self.position,
            "seed": self.seed,
            "dataset_len": self.dataset_len,
            "world_size": self.world_size,
            "enlarge_ratio": self.enlarge_ratio,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore epoch and position; the seed, dataset length, world size and enlarge ratio must
        match the saved ones (otherwise the stream would silently differ)."""
        for name in ("seed", "dataset_len", "world_size", "enlarge_ratio"):
            if name in state and state[name] != getattr(self, name):
                raise ValueError(
                    f"sampler state has {name}={state[name]}, this sampler {getattr(self, name)}; "
                    "resume with the same data and number of processes"
                )
        self.set_epoch(int(state["epoch"]))
        self.skip(int(state["position"]))
