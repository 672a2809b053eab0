"""End to end: ``sr-train`` on tiny real data: files of a run, resume exactness, NaN stop, errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from engine_helpers import make_images, tiny_options, write_options

from sr.checkpoints import load_model, read_state_dict
from sr.cli.train import main
from sr.engine.state import load_state


@pytest.fixture
def tiny_yml(tmp_path: Path) -> Path:
    return write_options(tmp_path / "tiny.yml", tiny_options(tmp_path))


def run(yml: Path, *extra: str) -> int:
    try:
        return main(["-opt", str(yml), "--quiet", *extra])
    except SystemExit as exc:  # sr-train's errors exit through SystemExit(2)
        return int(exc.code or 0)


def final_params(run_dir: Path) -> dict[str, torch.Tensor]:
    return load_state(run_dir / "training_states" / "6.state")["model"]["net_g"]


def test_run_folder_holds_weights_states_options_log_tb_and_images(tiny_yml: Path, tmp_path: Path):
    assert run(tiny_yml) == 0
    run_dir = tmp_path / "experiments" / "tiny"
    models = run_dir / "models"
    assert {p.name for p in models.iterdir()} >= {"net_g_3.pth", "net_g_6.pth", "net_g_latest.pth"}
    assert sorted(p.name for p in (run_dir / "training_states").iterdir()) == ["3.state", "6.state"]
    assert (run_dir / "options.yml").is_file()
    assert list(run_dir.glob("train_*.log"))
    assert len(list((run_dir / "visualization" / "tinyval").glob("*_3.png"))) == 2
    # the shipped file is sr's format: EMA weights, architecture recorded, loads without guessing
    _, meta = read_state_dict(models / "net_g_latest.pth")
    assert meta["key"] == "params_ema" and meta["arch"]["type"] == "MSRResNet"
    model = load_model(models / "net_g_latest.pth")
    assert model(torch.rand(1, 3, 8, 8)).shape == (1, 3, 32, 32)


def test_tensorboard_events_are_real(tiny_yml: Path, tmp_path: Path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    assert run(tiny_yml) == 0
    acc = EventAccumulator(str(tmp_path / "experiments" / "tiny" / "tb_logger"))
    acc.Reload()
    tags = acc.Tags()
    assert "train/l_pix" in tags["scalars"] and "train/lr_g" in tags["scalars"]
    assert [e.step for e in acc.Scalars("train/l_pix")] == [1, 2, 3, 4, 5, 6]
    assert [e.step for e in acc.Scalars("val/tinyval/psnr")] == [3, 6]
    # the schedule: MultiStepLR halves the rate after 4 completed steps (lr of step 5 = 5e-4)
    lrs = [e.value for e in acc.Scalars("train/lr_g")]
    assert lrs[3] == pytest.approx(1e-3) and lrs[5] == pytest.approx(5e-4)
    assert "val/tinyval" in tags["images"]


@pytest.mark.parametrize("workers", [0, 2])
def test_resume_is_bit_identical(tmp_path: Path, workers: int):
    opt = tiny_options(tmp_path, datasets__train__num_worker_per_gpu=workers)
    whole = write_options(tmp_path / "whole.yml", {**opt, "name": "whole"})
    assert run(whole) == 0
    parts = write_options(tmp_path / "parts.yml", {**opt, "name": "parts"})
    assert run(parts, "--set", "train.total_iter=3") == 0
    assert run(parts, "--auto-resume") == 0
    a = final_params(tmp_path / "experiments" / "whole")
    b = final_params(tmp_path / "experiments" / "parts")
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    ema_a = load_state(tmp_path / "experiments" / "whole" / "training_states" / "6.state")["model"]["ema"]
    ema_b = load_state(tmp_path / "experiments" / "parts" / "training_states" / "6.state")["model"]["ema"]
    assert all(torch.equal(ema_a[k], ema_b[k]) for k in ema_a)


def test_existing_run_is_not_overwritten_without_resume(tiny_yml: Path, tmp_path: Path, capsys):
    assert run(tiny_yml, "--set", "train.total_iter=3") == 0
    state = tmp_path / "experiments" / "tiny" / "training_states" / "3.state"
    before = state.read_bytes()
    assert run(tiny_yml) == 2
    assert "--auto-resume" in capsys.readouterr().err
    assert state.read_bytes() == before


def test_resume_from_the_runs_own_options_file_never_rewrites_it(tiny_yml: Path, tmp_path: Path):
    """Found by review: ``-opt experiments/<name>/options.yml --auto-resume --set ...`` rewrote the
    very file it was given. options.yml keeps the options the run started with; a resume with other
    options records them beside it."""
    assert run(tiny_yml, "--set", "train.total_iter=3") == 0
    run_dir = tmp_path / "experiments" / "tiny"
    own = run_dir / "options.yml"
    own.write_text("# my notes\n" + own.read_text())
    before = own.read_bytes()
    assert run(own, "--auto-resume") == 0  # same options: nothing more recorded
    assert list(run_dir.glob("options_*.yml")) == []
    assert run(own, "--auto-resume", "--set", "train.total_iter=8") == 0
    assert own.read_bytes() == before
    (resumed,) = run_dir.glob("options_*.yml")
    assert "total_iter: 8" in resumed.read_text()


def test_nan_loss_stops_and_keeps_the_last_good_state(tiny_yml: Path, tmp_path: Path, capsys):
    assert run(tiny_yml, "--set", "train.total_iter=3") == 0
    states = tmp_path / "experiments" / "tiny" / "training_states"
    before = (states / "3.state").read_bytes()
    code = run(tiny_yml, "--auto-resume", "--set", "train.pixel_opt.loss_weight=.nan")
    assert code == 2
    err = capsys.readouterr().err
    assert "iteration 4" in err and "nan" in err.lower()
    assert sorted(p.name for p in states.iterdir()) == ["3.state"]
    assert (states / "3.state").read_bytes() == before


def test_option_errors_name_the_key(tiny_yml: Path, tmp_path: Path, capsys):
    assert run(tiny_yml, "--set", "train.optim_g.beta=0.5") == 2
    assert "train.optim_g" in capsys.readouterr().err
    missing = tiny_options(tmp_path)
    missing["datasets"]["train"]["dataroot_gt"] = str(tmp_path / "nowhere")
    assert run(write_options(tmp_path / "missing.yml", missing)) == 2
    err = capsys.readouterr().err
    assert "datasets.train.dataroot_gt" in err and "nowhere" in err


def test_missing_pretrained_weights_fail_before_anything_is_written(tiny_yml: Path, tmp_path: Path, capsys):
    """A missing ``path.pretrain_network_g`` is named at once; no run folder is made."""
    nowhere = tmp_path / "nope" / "net_g_7500.pth"
    assert run(tiny_yml, "--set", f"path.pretrain_network_g={nowhere}") == 2
    assert f"path.pretrain_network_g: {nowhere}: no such file" in capsys.readouterr().err
    assert not (tmp_path / "experiments" / "tiny").exists()


def test_corrupt_training_image_is_named(tmp_path: Path, capsys):
    opt = tiny_options(tmp_path)
    bad = Path(opt["datasets"]["train"]["dataroot_gt"]) / "img_002.png"
    bad.write_bytes(bad.read_bytes()[:100])
    assert run(write_options(tmp_path / "bad.yml", opt)) == 2
    assert "img_002.png" in capsys.readouterr().err


def test_image_unreadable_in_a_worker_is_named_in_one_line(tmp_path: Path, capsys):
    """A PNG whose end is cut off is not decoded at start-up (no cache, no on_corrupt: skip) and fails
    when a DataLoader worker decodes it: the error is the worker's message, not PyTorch's wrapper."""
    opt = tiny_options(tmp_path)
    opt["datasets"]["train"]["num_worker_per_gpu"] = 1
    bad = Path(opt["datasets"]["train"]["dataroot_gt"]) / "img_002.png"
    bad.write_bytes(bad.read_bytes()[:-20])
    assert run(write_options(tmp_path / "bad.yml", opt)) == 2
    line = capsys.readouterr().err.strip().splitlines()[-1]
    assert line.startswith("sr-train: error: ") and "img_002.png" in line and "DataLoader" not in line


def test_corrupt_validation_image_is_named_and_the_iteration_kept(tmp_path: Path, capsys):
    """Validation at 3 meets a cut-off PNG: the error names it, and the state of iteration 3 is saved
    although checkpoints are due only at 6, so the run continues once the file is fixed."""
    opt = tiny_options(tmp_path, logger__save_checkpoint_freq=6)
    bad = Path(opt["datasets"]["val"]["dataroot_gt"]) / "img_001.png"
    good = bad.read_bytes()
    bad.write_bytes(good[:-20])
    yml = write_options(tmp_path / "bad_val.yml", opt)
    assert run(yml) == 2
    assert "img_001.png" in capsys.readouterr().err
    states = tmp_path / "experiments" / "tiny" / "training_states"
    assert sorted(p.name for p in states.iterdir()) == ["3.state"]
    bad.write_bytes(good)
    assert run(yml, "--auto-resume") == 0
    assert (states / "6.state").is_file()


def fail_at_6_on_img_003(tmp_path: Path, capsys, save_every: int) -> tuple[dict, Path, bytes]:
    """Train "parts" to 3, cut img_003 off: the resumed run fails when iteration 6 reads it (seed 3, no
    workers: the same order every run), naming it, and 5.state is there. Returns the options, the cut
    image and its good bytes."""
    opt = tiny_options(tmp_path, logger__save_checkpoint_freq=save_every)
    opt["val"] = None
    del opt["datasets"]["val"]
    parts = write_options(tmp_path / "parts.yml", {**opt, "name": "parts"})
    assert run(parts, "--set", "train.total_iter=3") == 0
    bad = Path(opt["datasets"]["train"]["dataroot_gt"]) / "img_003.png"
    good = bad.read_bytes()
    bad.write_bytes(good[:-20])
    assert run(parts, "--auto-resume") == 2
    assert "img_003.png" in capsys.readouterr().err
    states = tmp_path / "experiments" / "parts" / "training_states"
    assert sorted(p.name for p in states.iterdir()) == ["3.state", "5.state"]
    return opt, bad, good


def test_corrupt_training_image_read_late_keeps_the_last_iteration_exactly(tmp_path: Path, capsys):
    """Iteration 5 is saved though checkpoints are not due, and once the file is fixed the run finishes
    bit-identical to one never interrupted."""
    opt, bad, good = fail_at_6_on_img_003(tmp_path, capsys, save_every=100)
    bad.write_bytes(good)
    assert run(tmp_path / "parts.yml", "--auto-resume") == 0
    assert run(write_options(tmp_path / "whole.yml", {**opt, "name": "whole"})) == 0
    whole = load_state(tmp_path / "experiments" / "whole" / "training_states" / "6.state")["model"]
    resumed = load_state(tmp_path / "experiments" / "parts" / "training_states" / "6.state")["model"]
    for part in ("net_g", "ema"):
        assert all(torch.equal(whole[part][k], resumed[part][k]) for k in whole[part]), part


def test_a_read_failing_just_after_a_checkpoint_does_not_write_it_again(tmp_path: Path, capsys):
    """With checkpoints due every 5, iteration 5 was just saved, so the error keeps it as it is and
    writes nothing."""
    fail_at_6_on_img_003(tmp_path, capsys, save_every=5)
    logs = "".join(f.read_text() for f in (tmp_path / "experiments" / "parts").glob("train_*.log"))
    assert logs.count("5.state") == 1, logs
    assert "reading the data at iteration 6 failed: " in logs and "img_003.png" in logs
    assert "iteration 5 is saved" in logs


def test_validation_sets_and_best_model(tmp_path: Path):
    opt = tiny_options(tmp_path)
    opt["datasets"]["val_2"] = {
        "name": "second",
        "type": "HRImageDataset",
        "dataroot_gt": str(make_images(tmp_path / "val2", n=1, size=40, seed=5)),
    }
    assert run(write_options(tmp_path / "two.yml", opt)) == 0
    run_dir = tmp_path / "experiments" / "tiny"
    assert (run_dir / "models" / "net_g_best.pth").is_file()
    assert len(list((run_dir / "visualization" / "second").glob("*.png"))) == 2


def test_bf16_autocast_and_channels_last_train(tmp_path: Path):
    opt = tiny_options(tmp_path, train__mixed_precision="bf16", train__channels_last=True)
    opt["val"] = None
    del opt["datasets"]["val"]
    assert run(write_options(tmp_path / "bf16.yml", opt)) == 0
    state = load_state(tmp_path / "experiments" / "tiny" / "training_states" / "6.state")
    weights = state["model"]["net_g"]
    assert all(torch.isfinite(w).all() for w in weights.values())
    assert weights["conv_first.weight"].dtype == torch.float32  # autocast keeps fp32 master weights


def test_fp16_on_cpu_is_refused(tiny_yml: Path, capsys):
    assert run(tiny_yml, "--set", "train.mixed_precision=fp16", "--device", "cpu") == 2
    assert "fp16 needs CUDA" in capsys.readouterr().err
