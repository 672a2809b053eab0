"""Run by torchrun in test_ddp.py: train the options file ``argv[1]`` and save this rank's final
generator weights to ``argv[2]/rank<R>.pt`` (rank 0 also writes the run folder as usual)."""

from __future__ import annotations

import sys
from pathlib import Path

import torch

from sr.engine.dist import DistContext
from sr.engine.trainer import Trainer
from sr.options import load_options

if __name__ == "__main__":
    opt = load_options(sys.argv[1])
    ctx = DistContext.from_env("gloo", "cpu")
    trainer = Trainer(opt, ctx)
    trainer.fit()
    assert trainer.model is not None
    torch.save(trainer.model.net_g.state_dict(), Path(sys.argv[2]) / f"rank{ctx.rank}.pt")
    ctx.close()
