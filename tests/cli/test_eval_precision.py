"""``sr-eval --precision``: bf16 scores a network in bfloat16 (close to fp32, not equal), fp16 on a
CPU is an error, never a silent fp32 run."""

from __future__ import annotations

import json

import pytest

from sr.cli.eval import main


@pytest.fixture(scope="module")
def srcnn_x4(shared_dir):
    return shared_dir / "weights" / "srcnn_x4_955_imagenet_official.pth"


def score(tmp_path, shared_dir, weights, precision):
    out = tmp_path / f"{precision}.json"
    main(["--model", str(weights), "--net-opt", "padding_mode=replicate", "--scale", "4", "--quiet",
          "--data", str(shared_dir / "data" / "benchmarks" / "Set5"), "--precision", precision,
          "--json", str(out)])  # fmt: skip
    report = json.loads(out.read_text())
    assert report["precision"] == precision
    return report["datasets"]["Set5"]["psnr"]


@pytest.mark.slow  # bf16 convolutions are slow on CPUs without native bf16 (tens of seconds)
def test_bf16_is_close_to_fp32_on_set5(tmp_path, shared_dir, srcnn_x4):
    fp32 = score(tmp_path, shared_dir, srcnn_x4, "fp32")
    bf16 = score(tmp_path, shared_dir, srcnn_x4, "bf16")
    # fp32 reproduces the published 30.48 (shared/weights/README.md); bf16 measured 30.458 here
    assert fp32 == pytest.approx(30.484, abs=5e-3)
    assert 0 < fp32 - bf16 < 0.05


def test_fp16_on_cpu_is_an_error(tmp_path, shared_dir, srcnn_x4, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--model", str(srcnn_x4), "--scale", "4", "--data", str(tmp_path), "--precision", "fp16",
              "--device", "cpu"])  # fmt: skip
    assert exc.value.code == 2
    assert "fp16 needs CUDA" in capsys.readouterr().err
