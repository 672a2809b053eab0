"""TrainSampler: permutation, rank sharding, padding, seeds, and exact resume (also through a DataLoader)."""

from __future__ import annotations

import pytest
import torch
from torch.utils.data import Dataset

from sr.data import TrainSampler, build_train_loader, iterate_forever
from sr.options.schema import DatasetOptions


def test_single_rank_epoch_is_a_permutation_with_distinct_seeds() -> None:
    s = TrainSampler(10, seed=3, enlarge_ratio=2)
    items = list(s)
    assert len(items) == len(s) == 20
    assert sorted(i for i, _ in items) == sorted(list(range(10)) * 2)
    assert len({seed for _, seed in items}) == 20
    assert [i for i, _ in items] != sorted(i for i, _ in items)  # shuffled


@pytest.mark.parametrize("world_size", [2, 3, 4])
def test_ranks_partition_the_padded_permutation(world_size: int) -> None:
    n = 10
    shards = [list(TrainSampler(n, seed=1, rank=r, world_size=world_size)) for r in range(world_size)]
    per_rank = -(-n // world_size)
    assert all(len(s) == per_rank for s in shards)
    assert {len(TrainSampler(n, seed=1, rank=r, world_size=world_size)) for r in range(world_size)} == {
        per_rank
    }
    indices = sorted(i for s in shards for i, _ in s)
    assert set(indices) == set(range(n))
    assert len(indices) == per_rank * world_size  # padding repeats only the needed few
    # seeds belong to global positions: the union of the ranks' first samples equals the first
    # world_size samples of one process
    single = TrainSampler(n, seed=1, world_size=1)
    interleaved = [shards[r][k] for k in range(per_rank) for r in range(world_size)][:n]
    assert interleaved == list(single)


def test_epochs_and_seeds_differ() -> None:
    s = TrainSampler(50, seed=0)
    e0 = list(s)
    s.set_epoch(1)
    e1 = list(s)
    assert e0 != e1
    assert list(TrainSampler(50, seed=1)) != e0
    assert list(TrainSampler(50, seed=0)) == e0


def test_no_shuffle_is_in_order() -> None:
    assert [i for i, _ in TrainSampler(7, seed=0, shuffle=False)] == list(range(7))


def test_skip_and_state_dict_resume() -> None:
    s = TrainSampler(13, seed=5, rank=1, world_size=2)
    s.set_epoch(4)
    full = list(s)
    s.skip(5)
    assert list(s) == full[5:]
    state = s.state_dict()
    t = TrainSampler(13, seed=5, rank=1, world_size=2)
    t.load_state_dict(state)
    assert (t.epoch, t.position) == (4, 5)
    assert list(t) == full[5:]
    with pytest.raises(ValueError, match="world_size=2"):
        TrainSampler(13, seed=5, rank=0, world_size=1).load_state_dict(state)
    with pytest.raises(ValueError, match="cannot skip"):
        t.skip(100)


class _Echo(Dataset):
    """Returns what the sampler asked for, so batches show the stream."""

    def __len__(self) -> int:
        return 11

    def __getitem__(self, item: tuple[int, int]) -> torch.Tensor:
        index, seed = item
        return torch.tensor([index, seed % 1000])


@pytest.mark.parametrize("workers", [0, 2])
def test_iterate_forever_resumes_at_any_iteration(workers: int) -> None:
    opt = DatasetOptions(name="t", batch_size_per_gpu=3, num_worker_per_gpu=workers, dataset_enlarge_ratio=2)
    loader, sampler = build_train_loader(_Echo(), opt, seed=7, rank=0, world_size=1)
    stream = iterate_forever(loader, sampler)
    reference = [next(stream) for _ in range(17)]  # 22 samples -> 7 batches per epoch: crosses 2 epochs
    for k in (0, 5, 7, 10, 16):
        loader_k, sampler_k = build_train_loader(_Echo(), opt, seed=7, rank=0, world_size=1, start_iter=k)
        resumed = iterate_forever(loader_k, sampler_k, k)
        got = [next(resumed) for _ in range(17 - k)]
        assert all(torch.equal(a, b) for a, b in zip(got, reference[k:], strict=True)), k
    # after 17 batches (7 per epoch) the state points at epoch 2, batch 3
    assert (sampler.epoch, sampler.position) == (2, 3 * 3)
