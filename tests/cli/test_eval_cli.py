"""``sr-eval`` end to end on images the test makes itself: output format, errors, saved images."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest
import torch

from sr.archs import RRDBNet
from sr.checkpoints import save_checkpoint
from sr.cli.eval import main
from sr.data.imageio import read_image, write_image
from sr.data.samples import build_samples


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    d = tmp_path_factory.mktemp("samples")
    build_samples(d, ("camera", "chelsea"))
    (d / "notes.txt").write_text("not an image")
    return d


def test_json_layout_and_skipped_non_image(tmp_path, data, capsys, caplog):
    out = tmp_path / "r.json"
    main(["--model", "bicubic", "--scale", "3", "--data", str(data), "--json", str(out)])
    r = json.loads(out.read_text())
    assert set(r) >= {"scale", "protocol", "model", "datasets"}
    ds = r["datasets"][data.name]
    assert set(ds["images"]) == {"camera", "chelsea"}
    assert ds["psnr"] == pytest.approx(sum(v["psnr"] for v in ds["images"].values()) / 2)
    assert 20 < ds["psnr"] < 40 and 0 < ds["ssim"] < 1
    printed = capsys.readouterr().out
    assert "camera" in printed and "mean" in printed
    assert "notes.txt" in caplog.text


def test_nearest_is_worse_than_bicubic(tmp_path, data):
    scores = {}
    for model in ("nearest", "bicubic"):
        out = tmp_path / f"{model}.json"
        main(["--model", model, "--scale", "4", "--data", str(data), "--json", str(out), "--quiet"])
        scores[model] = json.loads(out.read_text())["datasets"][data.name]["psnr"]
    assert scores["nearest"] < scores["bicubic"] - 0.5


def test_checkpoint_model_and_saved_images(tmp_path, data):
    torch.manual_seed(0)
    net = RRDBNet(num_feat=8, num_block=1, num_grow_ch=4, scale=2)
    ckpt = save_checkpoint(
        tmp_path / "net.pth",
        net,
        arch={"type": "RRDBNet", "num_feat": 8, "num_block": 1, "num_grow_ch": 4, "scale": 2},
    )
    save = tmp_path / "out"
    main(["--model", str(ckpt), "--scale", "2", "--data", str(data), "--save-images", str(save), "--quiet"])
    img = read_image(save / data.name / "chelsea.png")
    hr = read_image(data / "chelsea.png")
    assert img.data.shape == hr.data.shape  # chelsea is a multiple of 12: no crop


def test_scale_defaults_to_the_models_own(tmp_path, data, capsys):
    """Without --scale: the checkpoint's scale (here x2, as sr-infer does); a baseline has none."""
    torch.manual_seed(0)
    arch = {"type": "RRDBNet", "num_feat": 8, "num_block": 1, "num_grow_ch": 4, "scale": 2}
    ckpt = save_checkpoint(
        tmp_path / "net.pth", RRDBNet(**{k: v for k, v in arch.items() if k != "type"}), arch=arch
    )
    out = tmp_path / "r.json"
    main(["--model", str(ckpt), "--data", str(data), "--json", str(out), "--quiet"])
    r = json.loads(out.read_text())
    assert r["scale"] == 2 and r["crop_border"] == 2
    assert "x2" in capsys.readouterr().out
    with pytest.raises(SystemExit) as e:
        main(["--model", "bicubic", "--data", str(data)])
    assert e.value.code == 2 and "give a scale (--scale)" in capsys.readouterr().err


def test_errors_name_the_culprit(tmp_path, data):
    def err(args):
        proc = subprocess.run([sys.executable, "-m", "sr.cli.eval", *args], capture_output=True, text=True)
        assert proc.returncode == 2
        return proc.stderr

    assert "folder not found" in err(["--model", "bicubic", "--scale", "4", "--data", str(tmp_path / "none")])
    empty = tmp_path / "empty"
    empty.mkdir()
    assert f"{empty} holds no image files" in err(
        ["--model", "bicubic", "--scale", "4", "--data", str(empty)]
    )
    assert "neither a checkpoint file nor a baseline" in err(
        ["--model", "bicubicc", "--scale", "4", "--data", str(data)]
    )
    ckpt = save_checkpoint(
        tmp_path / "x2.pth",
        RRDBNet(num_feat=8, num_block=1, num_grow_ch=4, scale=2),
        arch={"type": "RRDBNet", "num_feat": 8, "num_block": 1, "num_grow_ch": 4, "scale": 2},
    )
    msg = err(["--model", str(ckpt), "--scale", "4", "--data", str(data)])
    assert "2" in msg and "4" in msg and "x2.pth" in msg
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    assert "broken.png" in err(["--model", "bicubic", "--scale", "4", "--data", str(bad)])


def test_flat_image_comes_back_exactly(tmp_path):
    # bicubic weights sum to one, so a constant image survives degradation and upscaling exactly:
    # PSNR is infinite (written to JSON as Infinity) and SSIM is 1
    d = tmp_path / "flat"
    write_image(d / "f.png", torch.full((3, 24, 24), 0.4))
    out = tmp_path / "r.json"
    main(["--model", "nearest", "--scale", "4", "--data", str(d), "--json", str(out), "--crop-border", "0"])
    r = json.loads(out.read_text())["datasets"]["flat"]["images"]["f"]
    assert math.isinf(r["psnr"]) and r["ssim"] == pytest.approx(1.0)


def test_metrics_niqe_scores_the_saved_output(tmp_path, data, capsys):
    """NIQE per image equals NIQE of the saved 8-bit output's luma after the crop (an independent path:
    the PNG on disk, not the tensor in memory); the table and JSON carry it."""
    from sr.metrics.niqe import niqe_rgb

    out, saved = tmp_path / "r.json", tmp_path / "saved"
    base = ["--model", "bicubic", "--scale", "4", "--data", str(data), "--metrics", "psnr,ssim,niqe"]
    main([*base, "--json", str(out), "--save-images", str(saved)])
    ds = json.loads(out.read_text())["datasets"][data.name]
    assert "NIQE" in capsys.readouterr().out
    for stem, scores in ds["images"].items():
        img = read_image(saved / data.name / f"{stem}.png")
        assert scores["niqe"] == pytest.approx(niqe_rgb(img.data, crop_border=4), abs=1e-9)
    assert ds["niqe"] == pytest.approx(sum(v["niqe"] for v in ds["images"].values()) / 2)


def test_metrics_errors_are_named(tmp_path, data, capsys, monkeypatch):
    base = ["--model", "bicubic", "--scale", "4", "--data", str(data)]
    with pytest.raises(SystemExit) as exc:
        main([*base, "--metrics", "psnr,fid"])
    assert (
        exc.value.code == 2
        and "unknown metric 'fid'; choose from psnr, ssim, niqe, lpips" in capsys.readouterr().err
    )
    monkeypatch.delenv("SR_PRETRAINED_DIR", raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty"))  # no AlexNet weights here
    with pytest.raises(SystemExit) as exc:
        main([*base, "--metrics", "lpips"])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and "--metrics lpips" in err and "alexnet-owt-7be5be79.pth" in err
