"""Multi-scale and mixed-resolution training end to end: per-scale heads, validation at every
scale, realised source shares in TensorBoard, exact resume."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from engine_helpers import make_images, tiny_options, write_options

from sr.checkpoints import CheckpointError, load_model
from sr.cli.train import main
from sr.engine.state import load_state


def run(yml: Path, *extra: str) -> int:
    try:
        return main(["-opt", str(yml), "--quiet", *extra])
    except SystemExit as exc:
        return int(exc.code or 0)


def multiscale_options(tmp_path: Path) -> dict:
    opt = tiny_options(tmp_path)
    opt["scales"] = [2, 4]
    opt["network_g"] = {"type": "MultiScaleMSRResNet", "num_feat": 8, "num_block": 1, "scales": [2, 4]}
    opt["train"]["scale_weights"] = [1, 3]
    return opt


def test_multiscale_run_validates_every_scale_and_ships_both_heads(tmp_path: Path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    yml = write_options(tmp_path / "ms.yml", multiscale_options(tmp_path))
    assert run(yml) == 0
    run_dir = tmp_path / "experiments" / "tiny"
    acc = EventAccumulator(str(run_dir / "tb_logger"))
    acc.Reload()
    assert {"val/tinyval_x2/psnr", "val/tinyval_x4/psnr"} <= set(acc.Tags()["scalars"])
    for s in (2, 4):
        net = load_model(run_dir / "models" / "net_g_latest.pth", scale=s)
        assert net(torch.rand(1, 3, 8, 8)).shape == (1, 3, 8 * s, 8 * s)
    with pytest.raises(CheckpointError, match="x2, x4"):
        load_model(run_dir / "models" / "net_g_latest.pth", scale=3)


def test_multiscale_resume_is_bit_identical(tmp_path: Path):
    opt = multiscale_options(tmp_path)
    assert run(write_options(tmp_path / "whole.yml", {**opt, "name": "whole"})) == 0
    parts = write_options(tmp_path / "parts.yml", {**opt, "name": "parts"})
    assert run(parts, "--set", "train.total_iter=3") == 0
    assert run(parts, "--auto-resume") == 0
    a = load_state(tmp_path / "experiments" / "whole" / "training_states" / "6.state")["model"]["net_g"]
    b = load_state(tmp_path / "experiments" / "parts" / "training_states" / "6.state")["model"]["net_g"]
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_mixed_sources_log_their_realised_shares(tmp_path: Path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    opt = tiny_options(tmp_path)
    photos = make_images(tmp_path / "big", n=3, size=96, seed=7)
    train = opt["datasets"]["train"]
    del train["dataroot_gt"]
    train["sources"] = [
        {"name": "quarter", "dataroot_gt": str(photos), "resolution": 0.25, "share": 0.85},
        {"name": "native", "dataroot_gt": str(photos), "share": 0.15},
    ]
    opt["train"]["total_iter"] = 40
    opt["logger"].update(print_freq=40, save_checkpoint_freq=40)
    opt["val"]["val_freq"] = 40
    assert run(write_options(tmp_path / "mix.yml", opt)) == 0
    acc = EventAccumulator(str(tmp_path / "experiments" / "tiny" / "tb_logger"))
    acc.Reload()
    low = acc.Scalars("data/share_quarter")[-1].value
    high = acc.Scalars("data/share_native")[-1].value
    assert low + high == pytest.approx(1.0)
    # 40 batches at p = 0.85: 4 binomial standard deviations is 0.23
    assert abs(low - 0.85) < 0.23


def test_gan_recipe_on_sources_with_different_patch_sizes(tmp_path: Path):
    """Mixed resolutions with the GAN recipe: the any-size discriminator takes both patch sizes."""
    opt = tiny_options(tmp_path)
    photos = make_images(tmp_path / "big", n=2, size=96, seed=7)
    train = opt["datasets"]["train"]
    del train["dataroot_gt"]
    train["sources"] = [
        {"name": "half", "dataroot_gt": str(photos), "resolution": 0.5, "share": 0.5, "gt_size": 32},
        {"name": "native", "dataroot_gt": str(photos), "share": 0.5, "gt_size": 48},
    ]
    opt["model_type"] = "ESRGANModel"
    opt["network_d"] = {"type": "VGGStyleDiscriminatorAnySize", "num_feat": 4}
    opt["train"].update(
        total_iter=8,
        optim_d={"type": "Adam", "lr": 1e-4},
        gan_opt={"type": "GANLoss", "gan_type": "ragan", "loss_weight": 5e-3},
    )
    opt["val"] = None
    del opt["datasets"]["val"]
    opt["logger"].update(save_checkpoint_freq=8)
    assert run(write_options(tmp_path / "gan_mix.yml", opt)) == 0
    state = load_state(tmp_path / "experiments" / "tiny" / "training_states" / "8.state")
    assert "net_d" in state["model"]
