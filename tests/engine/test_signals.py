"""A real SIGINT to a running ``sr-train``: it saves after the current iteration and exits 130;
resuming ends bit-identical to a run that was never interrupted."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import torch
from engine_helpers import tiny_options, write_options

from sr.engine.state import latest_state, load_state


def test_sigint_saves_and_resume_matches_uninterrupted(tmp_path: Path):
    opt = tiny_options(tmp_path)
    opt["val"] = None
    del opt["datasets"]["val"]
    opt["logger"].update(save_checkpoint_freq=100000, print_freq=1)
    opt["train"]["total_iter"] = 100000
    yml = write_options(tmp_path / "sig.yml", {**opt, "name": "sig"})
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "sr.cli.train", "-opt", str(yml)]
    proc = subprocess.Popen(cmd, env=env, stderr=subprocess.PIPE, text=True)
    run_dir = tmp_path / "experiments" / "sig"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        logs = list(run_dir.glob("train_*.log"))
        if logs and "[iter 5/" in logs[0].read_text():
            break
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err[-2000:]
    state_path = latest_state(run_dir / "training_states")
    assert state_path is not None
    k = int(state_path.stem)
    assert k >= 5
    assert not list((run_dir / "training_states").glob(".*.tmp"))

    # resume to k + 2, and compare with an uninterrupted run of k + 2 iterations
    total = f"train.total_iter={k + 2}"
    resumed = subprocess.run([*cmd, "--auto-resume", "--set", total], env=env, capture_output=True)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    whole = write_options(tmp_path / "whole.yml", {**opt, "name": "whole"})
    straight = subprocess.run(
        [sys.executable, "-m", "sr.cli.train", "-opt", str(whole), "--set", total],
        env=env,
        capture_output=True,
    )
    assert straight.returncode == 0, straight.stderr[-2000:]
    a = load_state(run_dir / "training_states" / f"{k + 2}.state")["model"]["net_g"]
    b = load_state(tmp_path / "experiments" / "whole" / "training_states" / f"{k + 2}.state")["model"][
        "net_g"
    ]
    assert all(torch.equal(a[n], b[n]) for n in a)
