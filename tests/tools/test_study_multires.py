"""End to end: ``tools/study_multires.py --quick`` on tiny synthetic photos, report/JSON/plots checked;
plus the pieces with known answers (resolution labels, the chained x2 model, the computed statements)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from sr.data.imageio import read_image, write_image

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # tools.study is a namespace package under the repo root

from tools.study import report  # noqa: E402
from tools.study.arms import ARMS, Setup, arm_opt, arm_options  # noqa: E402
from tools.study.testsets import Chained, prepare, res_label  # noqa: E402


def synthetic(folder: Path, n: int, size: int, seed: int) -> None:
    """``n`` RGB PNGs of ``size`` px: smooth gradients plus sinusoids at several frequencies plus
    noise, so that every band (and the spectral metrics' denominators) holds energy."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / size
    for i in range(n):
        chans = []
        for _ in range(3):
            f1, f2 = rng.uniform(2, 40, size=2)
            c = 0.5 + 0.2 * np.sin(2 * np.pi * (f1 * xx + rng.uniform())) * np.cos(2 * np.pi * f2 * yy)
            c += 0.15 * (xx - yy) + rng.normal(0, 0.05, (size, size))
            chans.append(c)
        write_image(folder / f"img{i}.png", torch.from_numpy(np.stack(chans)).float().clamp(0, 1))


def test_res_label() -> None:
    assert [res_label(r) for r in (1.0, 0.5, 0.25)] == ["1", "1/2", "1/4"]


def test_arm_options_equal_compute(tmp_path: Path) -> None:
    setup = Setup(tmp_path, None, tmp_path / "runs", iters=7, seed=3)
    opts = {a: arm_opt(a, setup) for a in ARMS}  # every arm validates against the real schema
    for a, o in opts.items():
        d = o.datasets["train"]
        assert (o.train.total_iter, d.batch_size_per_gpu, d.gt_size, o.manual_seed) == (7, 8, 64, 3), a
        assert o.train.ema_decay == 0.0 and o.val is None
    shares = {a: [s.share for s in opts[a].datasets["train"].sources] for a in ARMS}
    assert shares["mix85"] == [0.85, 0.15] and shares["mix70"] == [0.70, 0.30]
    assert [s.resolution for s in opts["low"].datasets["train"].sources] == [0.25]
    assert opts["bandlimited"].datasets["train"].gt_bandlimit == 0.5
    assert opts["multiscale_mix85"].scales == [2, 4] and opts["x2_mix85"].scale == 2
    with pytest.raises(ValueError, match="unknown arm"):
        arm_options("nope", setup)


def test_chained_applies_twice() -> None:
    class Double(torch.nn.Module):  # nearest-neighbour x2: chaining must give nearest x4
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x.repeat_interleave(2, -1).repeat_interleave(2, -2)

    x = torch.rand(1, 3, 5, 6)
    y = Chained(Double(), 2)(x)
    assert Chained(Double(), 2).scale == 4
    assert torch.equal(y, x.repeat_interleave(4, -1).repeat_interleave(4, -2))


def test_prepare_resolutions(tmp_path: Path) -> None:
    synthetic(tmp_path / "hr", 1, 96, seed=1)
    folders = prepare("t", [tmp_path / "hr" / "img0.png"], (1.0, 0.5, 0.25), tmp_path / "work")
    # sizes follow MATLAB imresize: ceil(r * 96)
    assert [read_image(next(f.path.iterdir())).data.shape[-1] for f in folders] == [96, 48, 24]
    assert [f.min_side for f in folders] == [96, 48, 24]


def _entry(psnr: float, hf: float = 0.5, spur: float = 0.1) -> dict:
    return {"psnr": psnr, "ssim": 0.9, "hf_error": hf, "lf_error": 0.01, "spurious_energy": spur, "n": 3}


def test_statements_follow_the_numbers() -> None:
    labels = ["1", "1/4"]
    # hand-made numbers: high wins at native, low at 1/4, mix85 within 0.10 dB of the best everywhere
    table = {
        "bicubic": {"1": _entry(25.0, hf=1.0), "1/4": _entry(22.0, hf=1.0)},
        "low": {"1": _entry(25.5), "1/4": _entry(23.5)},
        "high": {"1": _entry(26.0, hf=0.6), "1/4": _entry(23.0, hf=0.6)},
        "mix85": {"1": _entry(25.9), "1/4": _entry(23.47)},
        "bandlimited": {"1": _entry(25.8, hf=0.9), "1/4": _entry(22.9, hf=0.8)},
    }
    text = "\n".join(report.statements({"S": table}, labels))
    assert "at resolution 1 the best diet arm is high (26.00 dB, ahead of mix85 by 0.10 dB" in text
    assert "at resolution 1/4 the best diet arm is low (23.50 dB; within 0.05 dB of it: mix85;" in text
    assert "mix85 is within 0.10 dB of the best at every resolution (largest gap at 1)" in text
    assert "the arm with the smallest largest-gap (the most resolution-robust) is mix85" in text
    assert (
        "bandlimited loses high-frequency detail (hf_error higher than high's by more than 0.01) at every"
        in text
    )
    assert "high (native only) tested at 1/4 vs low: -0.50 dB" in text
    assert "above bicubic (PSNR) at every resolution: low, high, mix85, bandlimited" in text
    table["low"]["1"] = _entry(24.9)  # below bicubic's 25.0 at native
    text = "\n".join(report.statements({"S": table}, labels))
    assert "at every resolution: high, mix85, bandlimited; not above it: low (at 1)" in text
    md = report.table(table, ["bicubic", "low", "high", "mix85"], labels)
    assert "| high | **26.00** |" in md and "| low | 24.90 |" in md


@pytest.mark.slow
def test_quick_study_end_to_end(tmp_path: Path) -> None:
    synthetic(tmp_path / "train", 4, 160, seed=0)
    synthetic(tmp_path / "test", 3, 96, seed=1)
    out = tmp_path / "study"
    cmd = [sys.executable, str(ROOT / "tools" / "study_multires.py"), "--quick", "--out", str(out)]
    cmd += ["--train-dir", str(tmp_path / "train"), "--test-dir", str(tmp_path / "test"), "--seed", "1"]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]

    info = json.loads((out / "results.json").read_text())
    assert info["quick"] and info["setup"]["seed"] == 1 and info["setup"]["iters"] == 3
    assert info["arms"] == list(ARMS)
    rows = info["results"]["test"]
    assert set(rows) == {"bicubic", *ARMS}
    for row, by_res in rows.items():
        assert set(by_res) == {"1", "1/2", "1/4"}
        for r, e in by_res.items():
            assert e["n"] == 2, (row, r)  # --quick keeps 2 test images
            for key in ("psnr", "ssim", "hf_error", "lf_error", "spurious_energy"):
                assert e[key] is not None and math.isfinite(e[key]), (row, r, key)
            assert e["radial"] and len(e["radial"]["freqs"]) == len(e["radial"]["residual_ratio"])
    for arm, c in info["compute"].items():
        assert c["iters"] == 3 and c["gflop_per_iter"] > 0 and info["wall_time_s"]["arms"][arm] > 0
    # the x2 model costs more per iteration than the x4 one (4x the LR pixels per GT patch)
    assert info["compute"]["x2_mix85"]["gflop_per_iter"] > info["compute"]["mix85"]["gflop_per_iter"]
    assert any(s.startswith("- at resolution 1/4 the best diet arm is") for s in info["statements"])
    assert info["machine"]["torch"] == torch.__version__

    md = (out / "REPORT.md").read_text()
    for needle in (
        "QUICK RUN",
        "--seed 1",
        "### test: the diets at x4",
        "Scale comparison",
        "What the numbers",
    ):
        assert needle in md, needle
    for name in info["plots"].values():
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and f"]({name})" in md
    assert (out / "runs" / "mix85" / "models" / "net_g_latest.pth").is_file()

    # a second run reuses the finished arms (same options) instead of failing or retraining
    again = subprocess.run([*cmd, "--arms", "low"], capture_output=True, text=True, cwd=tmp_path, timeout=600)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "low: reusing the finished run" in again.stdout
