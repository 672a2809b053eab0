"""End to end: ``python -m tools.bench`` on tiny sizes (``--quick``), one workload, JSON checked."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]
ROW_FIELDS = {
    "workload",
    "case",
    "ours_s",
    "ref_s",
    "ref_note",
    "ours_peak_mb",
    "ref_peak_mb",
    "extra",
    "ratio",
}


def run_bench(tmp_path: Path, *extra: str, only: tuple[str, ...] = ("imresize",)) -> tuple[dict, str]:
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "tools.bench",
            "--only",
            *only,
            "--quick",
            "--reps",
            "1",
            "--json",
            str(out),
            *extra,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(out.read_text()), proc.stdout


def test_quick_without_references_reports_na(tmp_path: Path) -> None:
    data, stdout = run_bench(tmp_path, "--no-ref")
    assert data["quick"] is True and data["reps"] == 1
    assert {"cpu", "cores", "torch", "threads"} <= set(data["environment"])
    rows = data["rows"]
    assert [r["workload"] for r in rows] == ["imresize", "metrics"]
    for r in rows:
        assert set(r) == ROW_FIELDS
        assert r["ours_s"] > 0  # sr's figure is there although the reference is not
        assert r["ref_s"] is None and r["ratio"] is None
        assert r["ref_note"] == "disabled (--no-ref)"
    assert "| imresize | imresize x1/4 64x48 RGB float32 |" in stdout
    assert "| n/a | n/a |" in stdout


@pytest.mark.slow
@pytest.mark.skipif(
    importlib.util.find_spec("basicsr") is None, reason="BasicSR (the [bench] extra) not installed"
)
def test_quick_against_basicsr_is_equal(tmp_path: Path) -> None:
    data, _ = run_bench(tmp_path)
    imr, met = data["rows"]
    assert imr["ratio"] > 0 and met["ratio"] > 0
    # BasicSR's imresize works in float32 like ours; its metrics in float64 like ours
    assert float(imr["extra"]["max_abs_diff"]) < 1e-5
    assert float(met["extra"]["max_abs_diff_psnr"]) < 1e-6
    assert float(met["extra"]["max_abs_diff_ssim"]) < 1e-6


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message of a machine without CUDA")
def test_device_cuda_without_cuda_is_a_clear_error(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "tools.bench", "--device", "cuda", "--quick", "--only", "imresize"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "--device cuda: CUDA is not available here" in proc.stderr


ALL = ("inference", "tiled", "training", "data")


@pytest.mark.slow
@pytest.mark.parametrize(
    "device",
    [
        "cpu",
        pytest.param(
            "cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
        ),
    ],
)
def test_every_workload_runs_on_the_device(tmp_path: Path, device: str) -> None:
    """The device plumbing of every workload (tiny sizes, no references): each row has sr's time."""
    data, _ = run_bench(tmp_path, "--no-ref", "--device", device, only=ALL)
    assert data["environment"]["device"] == device
    cases = {(r["workload"], r["case"]) for r in data["rows"]}
    assert {w for w, _ in cases} == {"inference", "tiled", "training", "data"}
    for r in data["rows"]:
        assert r["ours_s"] is not None and r["ours_s"] > 0, r
    if device == "cuda":  # fp16 is timed on a GPU only
        assert any(c.endswith("fp16") for _, c in cases)
