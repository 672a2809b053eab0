"""Every recipe in options/ trains for two iterations on tiny real data, shrunk with --set (the
papers' networks would take minutes on a CPU); the GAN recipes use random VGG weights."""

from __future__ import annotations

from pathlib import Path

import pytest
from engine_helpers import make_images

from sr.cli.train import main
from sr.engine.state import load_state

RECIPES = sorted((Path(__file__).resolve().parents[2] / "options").glob("*.yml"))
SHRINK = {
    "MSRResNet": ["network_g.num_feat=8", "network_g.num_block=1"],
    "SRResNet": ["network_g.num_feat=8", "network_g.num_block=1"],
    "RRDBNet": ["network_g.num_feat=8", "network_g.num_block=1", "network_g.num_grow_ch=4"],
    "SRCNN": ["network_g.num_feat=8", "network_g.num_feat2=4"],
    "MultiScaleMSRResNet": ["network_g.num_feat=8", "network_g.num_block=1"],
    "MultiScaleRRDBNet": ["network_g.num_feat=8", "network_g.num_block=1", "network_g.num_grow_ch=4"],
}


@pytest.mark.parametrize("recipe", RECIPES, ids=[p.stem for p in RECIPES])
def test_recipe_trains_two_iterations(recipe: Path, tmp_path: Path):
    import yaml

    raw = yaml.safe_load(recipe.read_text())
    train = raw["datasets"]["train"]
    gt_size = train.get("gt_size") or train["lq_size"] * max(raw.get("scales") or [raw["scale"]])
    train_dir = make_images(tmp_path / "train", n=3, size=2 * gt_size + 12)
    metrics = (raw.get("val") or {}).get("metrics") or {}
    niqe = any(m.get("type") == "niqe" for m in metrics.values())  # NIQE needs 96x96 after any crop
    val_dir = make_images(tmp_path / "val", n=1, size=112 if niqe else 36, seed=1)
    sets = [
        f"path.experiments_root={tmp_path / 'exp'}",
        "path.pretrain_network_g=null",
        "datasets.train.type=HRImageDataset",
        "datasets.train.dataroot_lq=null",
        "datasets.train.meta_info_file=null",
        "datasets.train.num_worker_per_gpu=0",
        "datasets.train.batch_size_per_gpu=2",
        "datasets.train.dataset_enlarge_ratio=1",
        "train.total_iter=2",
        "val.val_freq=2",
        "logger.save_checkpoint_freq=2",
        *SHRINK[raw["network_g"]["type"]],
    ]
    if raw["datasets"]["train"].get("sources"):  # two sources over the same tiny folder
        sources = [{"name": "low", "dataroot_gt": str(train_dir), "resolution": 0.5, "share": 0.8},
                   {"name": "native", "dataroot_gt": str(train_dir), "share": 0.2}]  # fmt: skip
        sets.append(f"datasets.train.sources={sources}")
    else:
        sets.append(f"datasets.train.dataroot_gt={train_dir}")
    for name in (k for k in raw["datasets"] if k != "train"):  # every validation set
        if raw["datasets"][name].get("sources"):
            sets.append(f"datasets.{name}.sources={[{'name': 'val', 'dataroot_gt': str(val_dir)}]}")
        else:
            sets += [f"datasets.{name}.meta_info_file=null", f"datasets.{name}.dataroot_gt={val_dir}"]
    if raw.get("network_d"):
        sets.append("network_d.num_feat=8")
    if raw["train"].get("perceptual_opt"):
        sets.append("train.perceptual_opt.pretrained=false")
    args = ["-opt", str(recipe), "--quiet"]
    for s in sets:
        args += ["--set", s]
    assert main(args) == 0
    state = load_state(tmp_path / "exp" / raw["name"] / "training_states" / "2.state")
    assert state["iter"] == 2
    assert ("net_d" in state["model"]) == bool(raw.get("network_d"))
