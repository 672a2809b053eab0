"""``sr-eval`` reproduces the published tables (reads ../shared; skipped with a reason when absent).

Golden values: bicubic and SRCNN 9-5-5 (ImageNet) x4 from ../shared/data/benchmarks/reference_numbers.json
(VDSR CVPR 2016 Table 3 and the ESRGAN supplementary Table 2); the rgb-protocol bicubic values are the
"Bicubic_RGBdegradation_PSNR" entries recorded there (BasicSR's convention)."""

from __future__ import annotations

import json

import pytest

from sr.cli.eval import main

BICUBIC_Y = [("Set5", 2, 33.66), ("Set5", 3, 30.39), ("Set5", 4, 28.42), ("Set14", 4, 26.00)]
BICUBIC_RGB = [("Set5", 2, 33.68), ("Set5", 4, 28.43), ("Set14", 4, 26.09)]


def _eval(tmp_path, shared_dir, model, scale, sets, *extra):
    out = tmp_path / "r.json"
    args = ["--model", str(model), "--scale", str(scale), "--json", str(out), "--quiet", *extra]
    args.append("--overwrite")  # one report path, rewritten by each call
    for s in sets:
        args += ["--data", str(shared_dir / "data" / "benchmarks" / s)]
    main(args)
    return json.loads(out.read_text())


@pytest.mark.parametrize(("dataset", "scale", "expected"), BICUBIC_Y)
def test_bicubic_protocol_y(tmp_path, shared_dir, dataset, scale, expected):
    r = _eval(tmp_path, shared_dir, "bicubic", scale, [dataset])
    assert r["scale"] == scale and r["protocol"] == "y" and r["model"] == "bicubic"
    assert abs(r["datasets"][dataset]["psnr"] - expected) < 0.01
    if (dataset, scale) == ("Set5", 4):
        assert abs(r["datasets"][dataset]["ssim"] - 0.8104) < 0.0005


@pytest.mark.parametrize(("dataset", "scale", "expected"), BICUBIC_RGB)
def test_bicubic_protocol_rgb(tmp_path, shared_dir, dataset, scale, expected):
    r = _eval(tmp_path, shared_dir, "bicubic", scale, [dataset], "--protocol", "rgb")
    assert abs(r["datasets"][dataset]["psnr"] - expected) < 0.01


def test_official_srcnn_x4(tmp_path, shared_dir):
    weights = shared_dir / "weights" / "srcnn_x4_955_imagenet_official.pth"
    r = _eval(tmp_path, shared_dir, weights, 4, ["Set5", "Set14"], "--net-opt", "padding_mode=replicate")
    set5, set14 = r["datasets"]["Set5"], r["datasets"]["Set14"]
    assert abs(set5["psnr"] - 30.48) < 0.01 and abs(set5["ssim"] - 0.8628) < 0.0005
    assert abs(set14["psnr"] - 27.50) < 0.01 and abs(set14["ssim"] - 0.7513) < 0.0005
    # per image, from ../shared/weights/README.md
    per_image = {"baby": 33.13, "bird": 32.52, "butterfly": 25.45, "head": 32.44, "woman": 28.88}
    for stem, value in per_image.items():
        assert abs(set5["images"][stem]["psnr"] - value) < 0.006


def test_official_srcnn_zero_padding_is_much_worse(tmp_path, shared_dir):
    # ../shared/weights/README.md: with zero padding the same weights score 23.30 dB on Set5 x4
    weights = shared_dir / "weights" / "srcnn_x4_955_imagenet_official.pth"
    r = _eval(tmp_path, shared_dir, weights, 4, ["Set5"])
    assert abs(r["datasets"]["Set5"]["psnr"] - 23.30) < 0.01


@pytest.mark.slow
def test_bsd100_bicubic_and_srcnn(tmp_path, shared_dir):
    r = _eval(tmp_path, shared_dir, "bicubic", 4, ["BSD100"])
    assert abs(r["datasets"]["BSD100"]["psnr"] - 25.96) < 0.01
    weights = shared_dir / "weights" / "srcnn_x4_955_imagenet_official.pth"
    r = _eval(tmp_path, shared_dir, weights, 4, ["BSD100"], "--net-opt", "padding_mode=replicate")
    assert abs(r["datasets"]["BSD100"]["psnr"] - 26.90) < 0.01
