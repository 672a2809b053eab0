"""Fuzz suite, bad values: one clear line naming the culprit instead of a traceback or silent garbage:
devices, scales, option types, NaN weights, lying architecture records, tiny images, resumes that
cannot work, multi-frame images and Ctrl-C while torch is still loading (issue 19)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from fuzz_helpers import TINY_ARCH, hostile_checkpoint, image, run, tiny_model_state
from PIL import Image

from sr.cli.infer import main as infer_main
from sr.cli.interp import main as interp_main
from sr.cli.train import main as train_main
from sr.options import OptionsError, load_options

ROOT = Path(__file__).resolve().parents[2]
RECIPE = ROOT / "options" / "quickstart_x4.yml"
sys.path.insert(0, str(ROOT / "tests" / "engine"))
from engine_helpers import tiny_options, write_options  # noqa: E402


@pytest.mark.parametrize("device", ["tpu", "mps", "cuda:x", "gpu"])
def test_unknown_devices_are_usage_errors(tmp_path, device, capsys):
    src = image(tmp_path / "a.png")
    assert run(infer_main, [str(src), "--model", "bicubic", "--scale", "2", "--device", device]) == 2
    assert f"device {device!r}" in capsys.readouterr().err


@pytest.mark.parametrize("scale", ["0", "-2"])
def test_non_positive_scales_are_usage_errors(tmp_path, scale, capsys):
    src = image(tmp_path / "a.png")
    assert run(infer_main, [str(src), "--model", "bicubic", f"--scale={scale}"]) == 2
    assert "scale must be an integer >= 1" in capsys.readouterr().err


@pytest.mark.parametrize("lr", ["'1e-3'", "fast", "[1]"])
def test_optimizer_values_are_typed(lr):
    with pytest.raises(OptionsError, match=r"train\.optim_g\.lr: expected a number"):
        load_options(RECIPE, [f"train.optim_g.lr={lr}"])


def test_nan_weights_fail_the_file_and_write_nothing(tmp_path, capsys):
    state = tiny_model_state()
    state["conv_last.bias"] = torch.full_like(state["conv_last.bias"], float("nan"))
    ckpt = hostile_checkpoint(tmp_path / "nan.pth", TINY_ARCH, state)
    src = image(tmp_path / "a.png")
    assert run(infer_main, [str(src), "--model", str(ckpt)]) == 2
    assert "NaN" in capsys.readouterr().err
    assert not (tmp_path / "a_x2.png").exists()


def test_interp_refuses_a_record_that_lies_about_the_tensors(tmp_path, capsys):
    liar = hostile_checkpoint(tmp_path / "liar.pth", {**TINY_ARCH, "num_feat": 16})
    out = tmp_path / "blend.pth"
    assert run(interp_main, [str(liar), str(liar), "--alpha", "0.5", "-o", str(out)]) == 2
    assert "liar.pth" in capsys.readouterr().err and not out.exists()


def test_multi_frame_images_say_only_the_first_frame_is_used(tmp_path, caplog):
    frames = [Image.new("RGB", (16, 12), c) for c in ("red", "blue")]
    src = tmp_path / "anim.webp"
    frames[0].save(src, save_all=True, append_images=frames[1:], duration=100, lossless=True)
    assert run(infer_main, [str(src), "--model", "bicubic", "--scale", "2"]) == 0
    assert "2 frames" in caplog.text and "only the first" in caplog.text


def _tiny_run(tmp_path: Path, **changes) -> Path:
    opt = tiny_options(tmp_path, **changes)
    opt["val"] = None
    del opt["datasets"]["val"]
    opt["logger"].update(save_checkpoint_freq=1, use_tb_logger=False)
    opt["train"]["total_iter"] = 2
    return write_options(tmp_path / "tiny.yml", opt)


def test_auto_resume_after_the_architecture_changed_names_the_state(tmp_path, capsys):
    yml = _tiny_run(tmp_path)
    assert run(train_main, ["-opt", str(yml), "--quiet"]) == 0
    argv = [
        "-opt",
        str(yml),
        "--auto-resume",
        "--set",
        "network_g.num_feat=16",
        "--set",
        "train.total_iter=3",
    ]
    assert run(train_main, argv) == 2
    err = capsys.readouterr().err
    assert "2.state" in err and "does not fit" in err


def test_auto_resume_passes_over_a_truncated_newest_state(tmp_path, capsys):
    yml = _tiny_run(tmp_path)
    assert run(train_main, ["-opt", str(yml), "--quiet"]) == 0
    states = tmp_path / "experiments" / "tiny" / "training_states"
    newest = states / "2.state"
    newest.write_bytes(newest.read_bytes()[:1000])  # a copy cut short
    assert run(train_main, ["-opt", str(yml), "--auto-resume", "--set", "train.total_iter=3"]) == 0
    err = capsys.readouterr().err
    assert "skipping 2.state" in err and "1.state" in err
    assert (states / "3.state").is_file()
    # the cut copy is another timeline's: kept, moved aside, so keep_last and --auto-resume skip it
    (cut,) = states.glob("abandoned_*/2.state")
    assert cut.stat().st_size == 1000 and "abandoned run" in err


def ctrl_c_during_start(tmp_path, command: str, argv: list[str], sigint) -> tuple[int, str]:
    """Run an entry point in a real process whose SIGINT disposition starts as ``sigint``, send it
    SIGINT 0.3 s after start (importing torch takes longer), and return its exit status and stderr."""
    proc = subprocess.Popen(
        [sys.executable, "-c", f"from sr.cli.entry import {command}_main; {command}_main()", *argv],
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        preexec_fn=lambda: signal.signal(signal.SIGINT, sigint),
    )
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    return proc.returncode, err


@pytest.mark.parametrize("command", ["infer", "train"])
def test_ctrl_c_while_torch_loads_is_one_line(tmp_path, command):
    """Interrupted as from a terminal (SIGINT at its default, whatever this process inherited: a
    background job has it ignored): exit 130, no traceback. The console scripts call these."""
    argv = [str(image(tmp_path / "a.png")), "--scale", "2"] if command == "infer" else ["-opt", str(RECIPE)]
    code, err = ctrl_c_during_start(tmp_path, command, argv, signal.SIG_DFL)
    assert code == 130, err
    assert "Traceback" not in err and "interrupted" in err
    assert not (tmp_path / "a_x2.png").exists()


def test_a_job_started_with_ctrl_c_ignored_keeps_ignoring_it(tmp_path):
    """Shells start background jobs of a script with SIGINT ignored: the import-time handler must not
    replace that, so the same signal changes nothing and the image is written."""
    argv = [str(image(tmp_path / "a.png")), "--scale", "2"]
    code, err = ctrl_c_during_start(tmp_path, "infer", argv, signal.SIG_IGN)
    assert code == 0, err
    assert (tmp_path / "a_x2.png").is_file()
