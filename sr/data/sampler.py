"""The training sampler: a seeded, resumable, rank-sharded permutation that also hands out the seed of
every sample's augmentation.

Why ``(index, seed)`` pairs: the random crop and the flips of a sample are drawn from a generator seeded
by the sample's own seed (see :mod:`sr.data.datasets`), so a sample depends only on ``(index, seed)``,
never on which DataLoader worker decoded it or on global RNG state. A run resumed at iteration k then
sees exactly the samples an uninterrupted run sees.

Seeds depend on ``(seed, epoch, global position)``, not on the rank: rank r takes the global positions
``r, r + W, r + 2W, ...`` (like ``torch.utils.data.DistributedSampler``), so the first batch of W ranks
with batch B holds the same samples as one process with batch W * B.

:class:`MixedBatchSampler` is the batch sampler of mixed-resolution and multi-scale training: endless
batches of one source and one scale each, keys ``(source, index, seed, scale)``; its draws are
documented on the class. :func:`parse_key` reads every key form the datasets accept.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

MAX_EPOCH = 5_000_000  # samples per epoch; DIV2K's 32,208 sub-images x 100 is 3.2 million


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
        if self.total > MAX_EPOCH:  # an epoch's order is materialised: keep it to a few hundred MB
            raise ValueError(
                f"an epoch of {dataset_len} images x dataset_enlarge_ratio {enlarge_ratio} = {self.total} "
                f"samples; at most {MAX_EPOCH} (lower dataset_enlarge_ratio)"
            )
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


# Domain tags of the seed sequences, so that the batch-level and the sample-level streams never coincide
# (numpy's SeedSequence pads short entropy with zeros: [s, i] and [s, i, 0, 0] give the same stream).
_TAG_BATCH, _TAG_SAMPLE = 1, 2


def parse_key(item: Any, default_scale: int) -> tuple[int, int, int, int]:
    """A dataset key as ``(source, index, seed, scale)``: a plain ``index`` (seed 0, the default scale,
    source 0), ``(index, seed)`` (:class:`TrainSampler`) or ``(source, index, seed, scale)``
    (:class:`MixedBatchSampler`). Anything else is a ``TypeError`` naming what was given."""
    if isinstance(item, tuple | list):
        if len(item) == 2:
            return 0, int(item[0]), int(item[1]), default_scale
        if len(item) == 4:
            source, index, seed, scale = (int(v) for v in item)
            return source, index, seed, scale
    elif isinstance(item, int | np.integer):
        return 0, int(item), 0, default_scale
    raise TypeError(f"dataset key {item!r}: expected an index, (index, seed) or (source, index, seed, scale)")


def _cumulative(weights: list[float], what: str) -> np.ndarray:
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim != 1 or not len(w) or (w < 0).any() or not np.isfinite(w).all() or w.sum() <= 0:
        raise ValueError(f"{what}: {list(weights)} must be non-negative finite numbers, not all zero")
    cum = np.cumsum(w / w.sum())
    cum[-1] = 1.0  # float noise must not leave a gap above the last bin
    return cum


def _uniform(word: int) -> float:
    """A 64-bit random word as a float in [0, 1) (its top 53 bits)."""
    return (int(word) >> 11) * 2.0**-53


class MixedBatchSampler:
    """An endless, seeded batch sampler over several sources and scales: one source and one scale
    per batch, the images of the batch drawn uniformly with replacement within that source.

    For the 0-based iteration ``i``, the batch's source (by ``shares``) and scale (by
    ``scale_weights``, uniform when None) come from ``SeedSequence([seed, 1, i])`` only, so every
    DDP rank trains the same source and scale at iteration ``i`` (a multi-scale model's ranks must
    run the same head). Sample ``j`` of rank ``r`` is the global position ``g = r * batch_size + j``;
    its image index and augmentation seed come from ``SeedSequence([seed, 2, i, g])``, so ranks draw
    different samples and ``W`` ranks with batch ``B`` see the samples one process with batch
    ``W * B`` sees (as :class:`TrainSampler` does).

    Yields lists of keys ``(source, image_index, sample_seed, scale)``. Nothing but the iteration
    counter is state: resuming at iteration ``k`` (``start_iter=k``, or :meth:`load_state_dict`)
    gives exactly the batches of an uninterrupted run. ``iter()`` starts at :attr:`iter` and does
    not move it; the consumer advances it (:func:`sr.data.loader.iterate_forever` does), since a
    DataLoader reads the sampler ahead of what the loop consumed.

    The realised share of source ``s`` over ``N`` iterations is a binomial proportion with mean
    :meth:`expected_shares` ``[s]`` (``shares`` normalised) and standard deviation
    ``sqrt(p (1 - p) / N)``: the configured shares hold in expectation, not exactly over a finite run.
    The same holds for the scales (:meth:`expected_scale_weights`).
    """

    def __init__(
        self,
        source_sizes: list[int],
        shares: list[float],
        scales: list[int],
        scale_weights: list[float] | None,
        batch_size: int,
        *,
        seed: int,
        rank: int = 0,
        world_size: int = 1,
        start_iter: int = 0,
    ) -> None:
        if not source_sizes or any(n < 1 for n in source_sizes):
            raise ValueError(f"source_sizes: {list(source_sizes)} must be one or more counts >= 1")
        if len(shares) != len(source_sizes):
            raise ValueError(f"shares: {list(shares)} must give one share per source ({len(source_sizes)})")
        if not scales or any(s < 1 for s in scales):
            raise ValueError(f"scales: {list(scales)} must be one or more scale factors >= 1")
        weights = [1.0] * len(scales) if scale_weights is None else list(scale_weights)
        if len(weights) != len(scales):
            raise ValueError(f"scale_weights: {weights} must give one weight per scale of {list(scales)}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if world_size < 1 or not 0 <= rank < world_size:
            raise ValueError(f"need 0 <= rank < world_size, got rank={rank}, world_size={world_size}")
        if start_iter < 0 or seed < 0:
            raise ValueError(f"start_iter ({start_iter}) and seed ({seed}) must be >= 0")
        self.source_sizes = [int(n) for n in source_sizes]
        self.scales = [int(s) for s in scales]
        self.batch_size, self.seed, self.rank, self.world_size = batch_size, int(seed), rank, world_size
        self._share_cum = _cumulative(list(shares), "shares")
        self._scale_cum = _cumulative(weights, "scale_weights")
        self.iter = int(start_iter)

    def expected_shares(self) -> list[float]:
        """The probability of each source per batch: the configured shares normalised to sum 1."""
        return np.diff(self._share_cum, prepend=0.0).tolist()

    def expected_scale_weights(self) -> dict[int, float]:
        """Scale -> probability per batch: the configured weights normalised to sum 1."""
        return dict(zip(self.scales, np.diff(self._scale_cum, prepend=0.0).tolist(), strict=True))

    def plan(self, iteration: int) -> tuple[int, int]:
        """``(source_index, scale)`` of the batch of 0-based ``iteration`` (the same on every rank)."""
        w = np.random.SeedSequence([self.seed, _TAG_BATCH, iteration]).generate_state(2, np.uint64)
        source = int(np.searchsorted(self._share_cum, _uniform(w[0]), side="right"))
        scale = int(np.searchsorted(self._scale_cum, _uniform(w[1]), side="right"))
        return source, self.scales[scale]

    def batch(self, iteration: int) -> list[tuple[int, int, int, int]]:
        """This rank's keys ``(source, image_index, sample_seed, scale)`` of 0-based ``iteration``."""
        source, scale = self.plan(iteration)
        n = self.source_sizes[source]
        keys = []
        for j in range(self.batch_size):
            g = self.rank * self.batch_size + j
            w = np.random.SeedSequence([self.seed, _TAG_SAMPLE, iteration, g]).generate_state(2, np.uint64)
            keys.append((source, (int(w[0]) * n) >> 64, int(w[1]) >> 1, scale))
        return keys

    def realised_shares(self, stop: int, start: int = 0) -> tuple[list[float], dict[int, float]]:
        """The fractions of iterations ``start .. stop - 1`` drawn from each source and at each scale
        (for logging what a run actually saw; cheap: no sample is drawn)."""
        if stop <= start:
            raise ValueError(f"realised_shares: need stop > start, got {start}..{stop}")
        plans = [self.plan(i) for i in range(start, stop)]
        count = stop - start
        shares = [sum(p[0] == s for p in plans) / count for s in range(len(self.source_sizes))]
        return shares, {s: sum(p[1] == s for p in plans) / count for s in self.scales}

    def __iter__(self) -> Iterator[list[tuple[int, int, int, int]]]:
        i = self.iter
        while True:
            yield self.batch(i)
            i += 1

    def state_dict(self) -> dict[str, Any]:
        return {"iter": self.iter, "seed": self.seed, "world_size": self.world_size}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore the iteration; the seed and world size must match the saved ones."""
        for name in ("seed", "world_size"):
            if name in state and state[name] != getattr(self, name):
                raise ValueError(
                    f"sampler state has {name}={state[name]}, this sampler {getattr(self, name)}; "
                    "resume with the same seed and number of processes"
                )
        self.iter = int(state["iter"])
