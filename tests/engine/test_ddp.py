"""Real torchrun: two gloo processes on the CPU train the same run as DDP."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from engine_helpers import tiny_options, write_options

from sr.engine.dist import DistContext
from sr.engine.trainer import Trainer
from sr.options import load_options

pytestmark = pytest.mark.ddp


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_processes_agree_and_match_one_process_with_the_combined_batch(tmp_path: Path):
    opt = tiny_options(tmp_path, datasets__train__batch_size_per_gpu=2)
    opt["val"] = None
    del opt["datasets"]["val"]
    yml = write_options(tmp_path / "ddp.yml", {**opt, "name": "ddp"})
    out = tmp_path / "ranks"
    out.mkdir()
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2",
        f"--master_port={free_port()}", str(Path(__file__).with_name("ddp_worker.py")), str(yml), str(out),
    ]  # fmt: skip
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    r0, r1 = torch.load(out / "rank0.pt"), torch.load(out / "rank1.pt")
    for k in r0:
        assert torch.equal(r0[k], r1[k]), k  # DDP keeps the replicas identical
    for rank in (0, 1):  # closing the group stopped its threads (see sr.engine.dist._import_dynamo_first)
        threads = out / f"threads{rank}.txt"
        assert not threads.exists() or threads.read_text() == "", threads.read_text()
    # rank 0 alone wrote the run folder
    assert (tmp_path / "experiments" / "ddp" / "training_states" / "6.state").is_file()

    # one process, batch 4 = the union of the two ranks' batches of 2 (same samples, same crops)
    single = write_options(
        tmp_path / "single.yml", {**opt, "name": "single", "datasets": {
            "train": {**opt["datasets"]["train"], "batch_size_per_gpu": 4}}},
    )  # fmt: skip
    trainer = Trainer(load_options(single), DistContext(0, 0, 1, torch.device("cpu")))
    trainer.fit()
    assert trainer.model is not None
    one = trainer.model.net_g.state_dict()
    # tolerance: the mean over 4 samples is summed in another order (all-reduce of two means)
    for k in r0:
        torch.testing.assert_close(r0[k], one[k], rtol=1e-4, atol=1e-5, msg=k)
