"""Real torchrun: two gloo processes on the CPU train the same run as DDP."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from engine_helpers import make_images, tiny_options, write_options

from sr.engine.dist import DistContext
from sr.engine.state import load_state
from sr.engine.trainer import Trainer
from sr.options import load_options

pytestmark = pytest.mark.ddp


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def torchrun(*args: str) -> subprocess.CompletedProcess:
    """Two gloo processes on the CPU run ``args`` (a script, or ``-m module``, and its arguments)."""
    port = f"--master_port={free_port()}"
    run = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", port]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([*run, *args], env=env, capture_output=True, text=True, timeout=300)


def sr_train(yml: Path) -> list[str]:
    return ["-m", "sr.cli.train", "-opt", str(yml)]


def test_two_processes_agree_and_match_one_process_with_the_combined_batch(tmp_path: Path):
    opt = tiny_options(tmp_path, datasets__train__batch_size_per_gpu=2)
    opt["val"] = None
    del opt["datasets"]["val"]
    yml = write_options(tmp_path / "ddp.yml", {**opt, "name": "ddp"})
    out = tmp_path / "ranks"
    out.mkdir()
    proc = torchrun(str(Path(__file__).with_name("ddp_worker.py")), str(yml), str(out))
    assert proc.returncode == 0, proc.stderr[-3000:]
    r0, r1 = torch.load(out / "rank0.pt"), torch.load(out / "rank1.pt")
    for k in r0:
        assert torch.equal(r0[k], r1[k]), k  # DDP keeps the replicas identical
    no_gloo_threads_left(out)
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


def no_gloo_threads_left(folder: Path) -> None:
    for rank in (0, 1):  # closing the group stopped its threads (sr.engine.dist._import_dynamo_first)
        text = (folder / f"threads{rank}.txt").read_text()
        assert text == "", f"rank {rank}: {text}"


def cut_image_then_fix_and_resume(tmp_path: Path, image: str) -> tuple[dict, str]:
    """12 images, batch 1, seed 3, no workers: rank 0 reads img_009 and rank 1 img_005 at iteration 5
    (found by logging each rank's reads). ``image`` cut off stops both ranks there with the file named,
    and rank 0 keeps iteration 4 though checkpoints are due only at 6; fixed, the run resumes to 6.
    Returns the options and rank 0's log of the failed run."""
    opt = tiny_options(tmp_path, datasets__train__batch_size_per_gpu=1, logger__save_checkpoint_freq=6)
    opt["datasets"]["train"]["dataroot_gt"] = str(make_images(tmp_path / "train12", n=12))
    opt["val"] = None
    del opt["datasets"]["val"]
    bad = tmp_path / "train12" / image
    good = bad.read_bytes()
    bad.write_bytes(good[:-20])
    parts = write_options(tmp_path / "parts.yml", {**opt, "name": "parts"})
    probe = tmp_path / "probe"
    probe.mkdir()
    failed = torchrun(str(Path(__file__).with_name("train_probe.py")), str(probe), "-opt", str(parts))
    assert failed.returncode != 0
    assert image in failed.stderr, failed.stderr[-3000:]
    run_dir = tmp_path / "experiments" / "parts"
    log = "".join(f.read_text() for f in run_dir.glob("train_*.log"))
    assert "reading the data at iteration 5 failed" in log and "iteration 4 is saved" in log, log
    assert sorted(p.name for p in (run_dir / "training_states").iterdir()) == ["4.state"]
    no_gloo_threads_left(probe)  # on this error path too

    bad.write_bytes(good)
    resumed = torchrun(*sr_train(parts), "--auto-resume")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert (run_dir / "training_states" / "6.state").is_file()
    return opt, log


def test_an_image_that_fails_on_rank_1_stops_both_and_rank_0_keeps_the_last_iteration(tmp_path: Path):
    _, log = cut_image_then_fix_and_resume(tmp_path, "img_005.png")
    assert "iteration 5: rank 1 could not read a batch" in log


@pytest.mark.slow
def test_after_an_image_failed_on_rank_0_the_resumed_run_is_bit_identical(tmp_path: Path):
    opt, log = cut_image_then_fix_and_resume(tmp_path, "img_009.png")
    assert "img_009.png" in log
    whole = torchrun(*sr_train(write_options(tmp_path / "whole.yml", {**opt, "name": "whole"})))
    assert whole.returncode == 0, whole.stderr[-3000:]
    states = tmp_path / "experiments"
    a = load_state(states / "parts" / "training_states" / "6.state")["model"]
    b = load_state(states / "whole" / "training_states" / "6.state")["model"]
    for part in ("net_g", "ema"):
        assert all(torch.equal(a[part][k], b[part][k]) for k in a[part]), part
