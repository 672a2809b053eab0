"""Validation inside ``sr-train`` and ``sr-eval`` score one checkpoint alike: the same protocol by
default (``y``, the papers'), printed in both; ``val.protocol: rgb`` gives BasicSR's convention."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from engine_helpers import tiny_options, write_options

from sr.cli.eval import main as eval_main
from sr.cli.train import main as train_main
from sr.data.imageio import read_image, write_image
from sr.engine.state import load_state


def train_and_eval(tmp_path: Path, protocol: str | None, capsys) -> tuple[float, float, str]:
    """Train 3 iterations (validated at 3), then ``sr-eval`` the saved net_g_3 on the validation
    folder: ``(psnr logged by validation, psnr of sr-eval, sr-eval's first line)``."""
    changes = {"train__total_iter": 3, "val__save_img": False}
    if protocol is not None:
        changes["val__protocol"] = protocol
    opt = tiny_options(tmp_path, **changes)
    val_dir = Path(opt["datasets"]["val"]["dataroot_gt"])  # plus a gray file: sr-eval scores its own values
    gray = read_image(val_dir / "img_000.png").data.mean(0, keepdim=True)
    write_image(val_dir / "img_gray.png", gray)
    assert read_image(val_dir / "img_gray.png").is_gray
    assert train_main(["-opt", str(write_options(tmp_path / "t.yml", opt)), "--quiet"]) == 0
    run_dir = tmp_path / "experiments" / "tiny"
    log = "\n".join(p.read_text() for p in run_dir.glob("*.log"))
    m = re.search(r"validation tinyval at iter 3 \(protocol (\w+)\): psnr ([\d.]+)", log)
    assert m is not None, log[-2000:]
    assert m.group(1) == (protocol or "y")
    capsys.readouterr()
    out = tmp_path / "eval.json"
    model, data = run_dir / "models" / "net_g_3.pth", opt["datasets"]["val"]["dataroot_gt"]
    eval_main(["--model", str(model), "--data", data, "--json", str(out), "--protocol", protocol or "y"])
    first = capsys.readouterr().out.splitlines()[0]
    return float(m.group(2)), json.loads(out.read_text())["datasets"]["val"]["psnr"], first


@pytest.mark.parametrize("protocol", [None, "rgb"])
def test_training_validation_and_sr_eval_agree(tmp_path: Path, protocol: str | None, capsys):
    logged, evaluated, first = train_and_eval(tmp_path, protocol, capsys)
    assert f"protocol {protocol or 'y'}" in first
    assert logged == pytest.approx(evaluated, abs=6e-5)  # the log prints 4 decimals


def test_bests_of_another_protocol_are_not_carried_over(tmp_path: Path):
    """Resuming under another ``val.protocol`` restarts the best scores (they are not comparable)
    and says so; the same protocol keeps them."""
    opt = tiny_options(tmp_path, train__total_iter=3, val__save_img=False)
    yml = write_options(tmp_path / "t.yml", opt)
    assert train_main(["-opt", str(yml), "--quiet"]) == 0
    run_dir = tmp_path / "experiments" / "tiny"
    assert load_state(run_dir / "training_states" / "3.state")["best_protocol"] == "y"
    opt["train"]["total_iter"], opt["val"]["protocol"] = 6, "rgb"
    assert train_main(["-opt", str(write_options(yml, opt)), "--quiet", "--auto-resume"]) == 0
    log = "\n".join(p.read_text() for p in run_dir.glob("*.log"))
    assert "measured under protocol y, this run validates under protocol rgb" in log
    assert load_state(run_dir / "training_states" / "6.state")["best"]["tinyval/psnr"][1] == 6
