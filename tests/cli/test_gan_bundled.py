"""The perceptual half with no outside file: the bundled ``default-gan`` model, ``sr-infer --alpha``
(network interpolation in memory) against ``sr-interp default default-gan`` (a file on disk), and the
NIQE-scored sweep. Real PNGs and the real bundled weights."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from sr.checkpoints import read_state_dict
from sr.checkpoints.bundled import bundled_model_path
from sr.cli.infer import main as infer_main
from sr.cli.interp import main as interp_main
from sr.data.imageio import read_image, write_image
from sr.data.samples import load_sample
from sr.inference.loading import auto_precision, native_bf16


def run(main, argv: list[str]) -> int:
    try:
        main(argv)
    except SystemExit as e:
        return int(e.code or 0)
    return 0


@pytest.fixture(scope="module")
def photo(tmp_path_factory):
    d = tmp_path_factory.mktemp("in")
    return write_image(d / "coffee.png", load_sample("coffee")[:, 100:164, 200:280])


def pixels(path) -> np.ndarray:
    return read_image(path).data.numpy()


def test_default_gan_is_the_default_architecture_and_fits_the_budget():
    psnr, psnr_meta = read_state_dict(bundled_model_path("default"))
    gan, gan_meta = read_state_dict(bundled_model_path("default-gan"))
    assert gan_meta["arch"] == psnr_meta["arch"]
    assert list(gan) == list(psnr) and all(gan[k].shape == psnr[k].shape for k in psnr)
    assert any(not torch.equal(gan[k], psnr[k]) for k in psnr)  # really fine-tuned
    assert bundled_model_path("default-gan").stat().st_size <= 10_000_000


def test_infer_gan_model_and_alpha_blends(tmp_path, photo):
    outs = {}
    for name, extra in {
        "psnr": [],
        "gan": ["--model", "default-gan"],
        "a0": ["--alpha", "0"],
        "a1": ["--alpha", "1"],
        "a08": ["--alpha", "0.8"],
    }.items():
        argv = [str(photo), "-o", str(tmp_path / f"{name}.png"), "--quiet", "--precision", "fp32", *extra]
        assert run(infer_main, argv) == 0
        outs[name] = pixels(tmp_path / f"{name}.png")
    assert outs["psnr"].shape == (3, 256, 320)
    assert np.array_equal(outs["a0"], outs["psnr"]) and np.array_equal(outs["a1"], outs["gan"])
    assert not np.array_equal(outs["gan"], outs["psnr"])
    # the blend lies between the two models, nearer the GAN's
    d_gan, d_psnr = (np.abs(outs["a08"].astype(float) - outs[k]).mean() for k in ("gan", "psnr"))
    assert 0 < d_gan < d_psnr

    # the same blend written by sr-interp, then used as an ordinary checkpoint
    blend = tmp_path / "blend.pth"
    assert run(interp_main, ["default", "default-gan", "--alpha", "0.8", "-o", str(blend)]) == 0
    argv = [str(photo), "--model", str(blend), "--scale", "4", "-o", str(tmp_path / "f.png"), "--quiet"]
    argv += ["--precision", "fp32"]
    assert run(infer_main, argv) == 0
    assert np.array_equal(pixels(tmp_path / "f.png"), outs["a08"])


def test_alpha_errors_are_named(tmp_path, photo, capsys):
    out = str(tmp_path / "x.png")
    assert run(infer_main, [str(photo), "-o", out, "--alpha", "1.5"]) == 2
    assert "alpha 1.5 is outside [0, 1]" in capsys.readouterr().err
    assert run(infer_main, [str(photo), "-o", out, "--alpha", "0.5", "--model", "bicubic"]) == 2
    assert "'bicubic' is not a checkpoint" in capsys.readouterr().err
    blend = tmp_path / "b.pth"
    interp_main(["default", "default-gan", "--alpha", "0.5", "-o", str(blend)])
    assert run(infer_main, [str(photo), "-o", out, "--alpha", "0.5", "--model", str(blend)]) == 2
    assert "name the GAN model to blend with (--gan-model)" in capsys.readouterr().err
    assert run(infer_main, [str(photo), "-o", out, "--gan-model", "default-gan"]) == 2
    assert "only used with --alpha" in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists()


def test_sweep_of_the_bundled_pair_scores_niqe(tmp_path):
    data = tmp_path / "data"
    for name in ("astronaut", "chelsea"):  # 112 px: one 96x96 NIQE block after the 4-pixel crop
        write_image(data / f"{name}.png", load_sample(name)[:, 40:152, 100:212])
    out = tmp_path / "sweep"
    argv = ["default", "default-gan", "--alphas", "0,1", "-o", str(out), "--eval", str(data), "--scale", "4"]
    assert run(interp_main, [*argv, "--quiet"]) == 0
    report = json.loads((out / "sweep.json").read_text())
    assert report["niqe"] is True and report["niqe_note"] is None
    rows = {r["alpha"]: r for r in report["rows"]}
    assert all(isinstance(r["niqe"], float) for r in rows.values())
    assert rows[1.0]["niqe"] < rows[0.0]["niqe"]  # the GAN model's output looks more natural
    assert "| NIQE |" in (out / "sweep.md").read_text()


def test_precision_auto_is_bf16_for_the_bundled_models_where_native(tmp_path, photo, capsys):
    """``--precision auto`` (the default): bf16 for the bundled models and their blends on a device with
    native bf16, fp32 for any other checkpoint; the progress line says which ran."""
    cpu = torch.device("cpu")
    native = "bf16" if native_bf16(cpu) else "fp32"
    assert auto_precision("default", None, cpu) == native
    assert auto_precision("default", "default-gan", cpu) == native
    assert auto_precision(tmp_path / "other.pth", None, cpu) == "fp32"
    # the choice on a GPU is made from the device type alone (no GPU is needed to make it)
    gpu = torch.device("cuda")
    assert auto_precision("default", "default-gan", gpu) == "fp16"
    assert auto_precision(tmp_path / "other.pth", None, gpu) == "fp32"
    assert run(infer_main, [str(photo), "-o", str(tmp_path / "o.png"), "--device", "cpu"]) == 0
    assert f"{native} (auto) on cpu" in capsys.readouterr().err
