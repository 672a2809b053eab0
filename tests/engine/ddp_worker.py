"""Run by torchrun in test_ddp.py: train the options file ``argv[1]`` and save this rank's final
generator weights to ``argv[2]/rank<R>.pt`` (rank 0 also writes the run folder as usual). After the
process group is closed it writes the names of the gloo threads still running to
``argv[2]/threads<R>.txt``: none should be, or they can abort the process at exit."""

from __future__ import annotations

import sys
from pathlib import Path

import torch
from engine_helpers import record_gloo_threads

from sr.engine.dist import DistContext
from sr.engine.trainer import Trainer
from sr.options import load_options


def train_and_save(ctx: DistContext, options: str, out: Path) -> None:
    trainer = Trainer(load_options(options), ctx)
    trainer.fit()
    assert trainer.model is not None
    torch.save(trainer.model.net_g.state_dict(), out / f"rank{ctx.rank}.pt")
    # the trainer (its DDP model holds the process group) goes on return, as in sr-train


if __name__ == "__main__":
    out = Path(sys.argv[2])
    ctx = DistContext.from_env("gloo", "cpu")
    train_and_save(ctx, sys.argv[1], out)
    ctx.close()
    record_gloo_threads(out, ctx.rank)
