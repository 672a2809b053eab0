"""torchrun/DDP, read from ``RANK``, ``LOCAL_RANK`` and ``WORLD_SIZE``; one process is world size 1.

``DistContext.from_env(backend)`` starts the process group when torchrun launched us (backend
``auto``: NCCL with CUDA, else gloo) and picks this process's device. Rank 0 alone writes files.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from sr.device import pick_device


def _import_dynamo_first() -> None:
    """Import ``torch._dynamo`` before the process group exists. DDP's constructor imports it; when
    that first import comes after ``init_process_group``, the group is never freed (seen with torch
    2.14.1): ``destroy_process_group`` leaves its gloo threads running into interpreter shutdown,
    the likely cause of a finished run's rank aborting at exit ("terminate called without an active
    exception", SIGABRT; once in CI). Imported first, the group and its threads go at ``close()``,
    which tests/engine/test_ddp.py checks."""
    import torch._dynamo  # noqa: F401


class RankFailedError(RuntimeError):
    """Another process of the run failed; its own error names the cause."""


@dataclass(frozen=True)
class DistContext:
    rank: int
    local_rank: int
    world_size: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @classmethod
    def from_env(cls, backend: str = "auto", device: str = "auto") -> DistContext:
        world = int(os.environ.get("WORLD_SIZE", "1"))
        rank = int(os.environ.get("RANK", "0"))
        local = int(os.environ.get("LOCAL_RANK", "0"))
        use_cuda = pick_device(device).type == "cuda"
        dev = torch.device("cuda", local) if use_cuda else torch.device("cpu")
        if use_cuda:
            torch.cuda.set_device(dev)
        if world > 1 and not dist.is_initialized():
            _import_dynamo_first()
            chosen = ("nccl" if use_cuda else "gloo") if backend == "auto" else backend
            dist.init_process_group(chosen, rank=rank, world_size=world)
        return cls(rank, local, world, dev)

    def barrier(self) -> None:
        if self.world_size > 1:
            dist.barrier()

    def ranks_with(self, flag: bool) -> list[int]:
        """The ranks where ``flag`` is true; every rank must call it at the same point."""
        if self.world_size == 1:
            return [0] if flag else []
        flags = torch.zeros(self.world_size, dtype=torch.int32, device=self.device)
        flags[self.rank] = int(flag)
        dist.all_reduce(flags)
        return [r for r, f in enumerate(flags.tolist()) if f]

    def mean(self, values: dict[str, float]) -> dict[str, float]:
        """Average logged numbers over ranks (same keys on every rank)."""
        if self.world_size == 1 or not values:
            return values
        keys = sorted(values)
        t = torch.tensor([values[k] for k in keys], dtype=torch.float64, device=self.device)
        dist.all_reduce(t)
        return {k: v / self.world_size for k, v in zip(keys, t.tolist(), strict=True)}

    def close(self) -> None:
        if self.world_size > 1 and dist.is_initialized():
            dist.destroy_process_group()
