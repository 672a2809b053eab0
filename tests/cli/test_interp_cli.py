"""``sr-interp`` end to end: real checkpoints in different layouts and formats, a folder of real
photographs, the sweep's table/JSON/plot checked against ``sr-eval`` (an independent path)."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
import torch
import torchvision
from layouts import to_old_layout

from sr.archs import MSRResNet, RRDBNet
from sr.checkpoints import read_state_dict, save_checkpoint
from sr.cli.eval import main as eval_main
from sr.cli.interp import main
from sr.data.imageio import read_image, write_image
from sr.data.samples import load_sample
from sr.inference.interp import interpolate

RRDB = {"type": "RRDBNet", "num_feat": 8, "num_block": 1, "num_grow_ch": 4, "scale": 4}


def _rrdb(seed: int) -> dict[str, torch.Tensor]:
    torch.manual_seed(seed)
    return RRDBNet(num_feat=8, num_block=1, num_grow_ch=4, scale=4).state_dict()


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """PSNR model: a raw state dict in the old ESRGAN layout; GAN model: sr's safetensors."""
    d = tmp_path_factory.mktemp("models")
    torch.save(to_old_layout(_rrdb(0), 1), d / "psnr_old_layout.pth")
    save_checkpoint(d / "gan.safetensors", _rrdb(1), arch=RRDB)
    return d / "psnr_old_layout.pth", d / "gan.safetensors"


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """Three 48x72 crops of real photographs (one grayscale), written as PNG."""
    d = tmp_path_factory.mktemp("photos")
    for name in ("astronaut", "camera", "chelsea"):
        write_image(d / f"{name}.png", load_sample(name)[:, 96:144, 120:192])
    return d


def _err(capsys, argv: list[str]) -> str:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    return capsys.readouterr().err


def test_single_alpha_writes_the_blend_with_the_arch(tmp_path, models):
    psnr, gan = models
    for name in ("out.pth", "out.safetensors"):
        main([str(psnr), str(gan), "--alpha", "0.8", "-o", str(tmp_path / name)])
        state, meta = read_state_dict(tmp_path / name)
        assert meta["arch"] == {"type": "RRDBNet", "num_in_ch": 3, "num_out_ch": 3, **RRDB}
        want = interpolate(_rrdb(0), _rrdb(1), 0.8)
        assert set(state) == set(want) and all(torch.equal(state[k], want[k]) for k in want)
        # hand check of the convention on one weight: 0.2 * PSNR + 0.8 * GAN
        k = "conv_last.bias"
        assert torch.allclose(state[k], 0.2 * _rrdb(0)[k] + 0.8 * _rrdb(1)[k])
    assert not any(p.name.endswith(".tmp") for p in tmp_path.iterdir())  # atomic: no leftovers


def test_inputs_and_existing_outputs_are_protected(tmp_path, models, capsys):
    psnr, gan = models
    before = psnr.read_bytes()
    assert "is the input" in _err(capsys, [str(psnr), str(gan), "--alpha", "0.5", "-o", str(psnr)])
    assert psnr.read_bytes() == before
    out = tmp_path / "o.pth"
    out.write_bytes(b"keep")
    assert "exists; pass --overwrite" in _err(capsys, [str(psnr), str(gan), "--alpha", "0.5", "-o", str(out)])
    assert out.read_bytes() == b"keep"
    main([str(psnr), str(gan), "--alpha", "0.5", "-o", str(out), "--overwrite"])
    assert "conv_first.weight" in read_state_dict(out)[0]
    assert "ending in" in _err(capsys, [str(psnr), str(gan), "--alpha", "0.5", "-o", str(tmp_path / "o.txt")])


def test_alpha_range(tmp_path, models, capsys):
    psnr, gan = models
    assert "alpha 1.2 is outside [0, 1]" in _err(
        capsys, [str(psnr), str(gan), "--alpha", "1.2", "-o", "x.pth"]
    )
    assert "alpha -0.1 is outside" in _err(capsys, [str(psnr), str(gan), "--alphas=-0.1,0.5", "-o", "d"])
    main([str(psnr), str(gan), "--alpha", "1.2", "-o", str(tmp_path / "x.pth"), "--allow-extrapolation"])
    k = "conv_first.bias"
    want = (-0.2 * _rrdb(0)[k].double() + 1.2 * _rrdb(1)[k].double()).float()
    assert torch.equal(read_state_dict(tmp_path / "x.pth")[0][k], want)


def test_incompatible_models_exit_2_naming_the_key(tmp_path, models, capsys):
    psnr, _ = models
    sd = _rrdb(1)
    save_checkpoint(tmp_path / "missing.pth", {k: v for k, v in sd.items() if k != "conv_hr.bias"}, arch=RRDB)
    torch.manual_seed(0)
    save_checkpoint(tmp_path / "msr.pth", MSRResNet(num_feat=8, num_block=1, upscale=4))
    wide = {**RRDB, "num_grow_ch": 6}
    save_checkpoint(tmp_path / "wide.pth", RRDBNet(num_feat=8, num_block=1, num_grow_ch=6), arch=wide)
    # hand-made checkpoint: right arch recorded, one tensor of the wrong shape
    save_checkpoint(tmp_path / "shape.pth", {**sd, "conv_hr.weight": torch.zeros(8, 8, 1, 1)}, arch=RRDB)
    cases = {
        # a file whose recorded arch disagrees with its own tensors is refused on reading (issue 19)
        "missing.pth": r"missing\.pth: weights do not fit RRDBNet: missing key 'conv_hr\.bias'",
        "msr.pth": "architectures differ: PSNR model .* is RRDBNet, GAN model .* is MSRResNet",
        "wide.pth": "RRDBNet argument 'num_grow_ch' is 4 in PSNR model .*, 6 in GAN model",
        "shape.pth": r"shape\.pth: .*shape mismatch at 'conv_hr\.weight': model expects \(8, 8, 3, 3\)",
    }
    for name, pattern in cases.items():
        err = _err(
            capsys, [str(psnr), str(tmp_path / name), "--alpha", "0.5", "-o", str(tmp_path / "never.pth")]
        )
        assert re.search(pattern, err), err
        assert not (tmp_path / "never.pth").exists()
    # once as a user runs it: a separate process, exit code 2 and the message on stderr
    proc = subprocess.run(
        [sys.executable, "-m", "sr.cli.interp", str(psnr), str(tmp_path / "missing.pth"), "--alpha", "0.5",
         "-o", str(tmp_path / "never.pth")],
        capture_output=True,
        text=True,
    )  # fmt: skip
    assert proc.returncode == 2 and re.search(cases["missing.pth"], proc.stderr), proc.stderr


def test_alphas_write_one_distinct_file_each(tmp_path, models):
    psnr, gan = models
    out = tmp_path / "sweep"
    main([str(psnr), str(gan), "--alphas", "0,0.5,0.8,0.85,1", "-o", str(out), "--quiet"])
    names = sorted(p.name for p in out.iterdir())
    assert names == [f"interp_alpha{a}.pth" for a in ("0.00", "0.50", "0.80", "0.85", "1.00")]
    s80, s85 = (
        read_state_dict(out / "interp_alpha0.80.pth")[0],
        read_state_dict(out / "interp_alpha0.85.pth")[0],
    )
    assert not torch.equal(s80["conv_last.weight"], s85["conv_last.weight"])
    assert torch.equal(
        read_state_dict(out / "interp_alpha0.00.pth")[0]["conv_last.weight"], _rrdb(0)["conv_last.weight"]
    )
    main(
        [
            str(psnr),
            str(gan),
            "--alphas",
            "0:1:0.05",
            "-o",
            str(tmp_path / "grid"),
            "--quiet",
            "--format",
            "safetensors",
        ]
    )
    assert len(list((tmp_path / "grid").glob("interp_alpha*.safetensors"))) == 21


def _eval_psnr(tmp_path, model, data) -> tuple[float, float]:
    out = tmp_path / f"{model.stem}.json"
    eval_main(["--model", str(model), "--scale", "4", "--data", str(data), "--json", str(out), "--quiet"])
    ds = json.loads(out.read_text())["datasets"][data.name]
    return ds["psnr"], ds["ssim"]


def test_eval_sweep_table_json_plot_agree_with_sr_eval(tmp_path, models, data, capsys, monkeypatch):
    monkeypatch.delenv("SR_PRETRAINED_DIR", raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty_torch_home"))  # no AlexNet weights: no LPIPS
    psnr, gan = models
    out = tmp_path / "sweep"
    main(
        [
            str(psnr),
            str(gan),
            "--alphas",
            "0:1:0.5",
            "-o",
            str(out),
            "--eval",
            str(data),
            "--image-blend",
            "--quiet",
        ]
    )
    captured = capsys.readouterr()
    assert (captured.out + captured.err).count("LPIPS left out") == 1
    report = json.loads((out / "sweep.json").read_text())
    assert report["lpips"] is None and report["scale"] == 4 and report["protocol"] == "y"
    rows = {(r["method"], r["alpha"]): r for r in report["rows"]}
    assert set(rows) == {(m, a) for m in ("network", "image") for a in (0.0, 0.5, 1.0)}
    assert set(rows["network", 0.0]["images"]) == {"astronaut", "camera", "chelsea"}

    # independent path: sr-eval on the two input files (one of them in the old ESRGAN layout)
    p_psnr, p_ssim = _eval_psnr(tmp_path, psnr, data)
    g_psnr, g_ssim = _eval_psnr(tmp_path, gan, data)
    assert abs(p_psnr - g_psnr) > 0.01  # the two models differ, so the equalities below mean something
    for method in ("network", "image"):
        assert (rows[method, 0.0]["psnr"], rows[method, 0.0]["ssim"]) == (p_psnr, p_ssim)
        assert (rows[method, 1.0]["psnr"], rows[method, 1.0]["ssim"]) == (g_psnr, g_ssim)
    assert rows["network", 0.5]["psnr"] != rows["image", 0.5]["psnr"]  # two different blends

    table = (out / "sweep.md").read_text()
    assert (
        "LPIPS" not in table
        and "| network interpolation | 0.50 |" in table
        and "| image blend | 1.00 |" in table
    )
    assert f"| {p_psnr:.4f} |" in table and "| network interpolation | 0.00 |" in captured.out
    plot = read_image(out / "sweep.png")
    assert plot.data.shape[-2:] == (480, 640)
    assert plot.data.std() > 0.05  # not a blank canvas


@pytest.mark.slow  # builds LPIPS (lpips import, AlexNet): ~10 s on 2 CPU cores
def test_eval_sweep_with_lpips(tmp_path, models, data, monkeypatch):
    # random AlexNet weights stand in for ImageNet's (not downloadable here); LPIPS is then a
    # well-defined distance, enough to check where its numbers go
    torch.manual_seed(0)
    torch.save(torchvision.models.alexnet().state_dict(), tmp_path / "alexnet-owt-7be5be79.pth")
    monkeypatch.setenv("SR_PRETRAINED_DIR", str(tmp_path))
    psnr, gan = models
    out = tmp_path / "sweep"
    main(
        [
            str(psnr),
            str(gan),
            "--alphas",
            "0,1",
            "-o",
            str(out),
            "--eval",
            str(data),
            "--image-blend",
            "--quiet",
        ]
    )
    report = json.loads((out / "sweep.json").read_text())
    assert report["lpips"] == "alex" and report["lpips_note"] is None
    rows = {(r["method"], r["alpha"]): r for r in report["rows"]}
    for a in (0.0, 1.0):
        assert rows["network", a]["lpips"] == rows["image", a]["lpips"]  # same images at the ends
        per_image = [v["lpips"] for v in rows["network", a]["images"].values()]
        assert rows["network", a]["lpips"] == pytest.approx(sum(per_image) / 3)
    assert rows["network", 0.0]["lpips"] != rows["network", 1.0]["lpips"]
    assert "| LPIPS |" in (out / "sweep.md").read_text()


def test_sweep_flag_errors(tmp_path, models, data, capsys):
    psnr, gan = models
    base = [str(psnr), str(gan)]
    assert "need --alphas" in _err(capsys, [*base, "--alpha", "0.5", "-o", "x.pth", "--eval", str(data)])
    assert "--image-blend needs --eval" in _err(
        capsys, [*base, "--alphas", "0,1", "-o", "d", "--image-blend"]
    )
    assert "folder not found" in _err(
        capsys, [*base, "--alphas", "0,1", "-o", "d", "--eval", str(tmp_path / "no")]
    )
    assert "--scale 2, but the models upscale x4" in _err(
        capsys, [*base, "--alphas", "0,1", "-o", str(tmp_path / "d"), "--eval", str(data), "--scale", "2"]
    )
    (tmp_path / "d2").mkdir()
    (tmp_path / "d2" / "interp_alpha1.00.pth").write_bytes(b"old")
    assert "interp_alpha1.00.pth exists" in _err(
        capsys, [*base, "--alphas", "0,1", "-o", str(tmp_path / "d2")]
    )
    assert not (tmp_path / "d2" / "interp_alpha0.00.pth").exists()  # checked before writing anything


def test_eval_folder_is_an_input(tmp_path, models, capsys):
    """--eval DIR is protected as sr-eval protects --data: the sweep's files may not land in it (a
    plot there would be scored as a ground-truth image next time, sweep.png would replace a GT image),
    whatever --overwrite says, and nothing is written before the refusal."""
    psnr, gan = models
    data = tmp_path / "ip" / "data"
    for name in ("x", "sweep"):
        write_image(data / f"{name}.png", load_sample("camera")[:, 96:144, 120:192])
    gt = (data / "sweep.png").read_bytes()
    base = [str(psnr), str(gan), "--alphas", "0,1", "--eval", str(data), "--overwrite"]
    for out in (data, data / "sub", tmp_path / "ip" / "data" / ".." / "data"):
        err = _err(capsys, [*base, "-o", str(out)])
        assert f"lies inside the input folder {data}" in err, err
    link = tmp_path / "link"  # a symlink to the folder is the folder
    link.symlink_to(data, target_is_directory=True)
    assert "lies inside the input folder" in _err(capsys, [*base, "-o", str(link)])
    assert sorted(p.name for p in data.iterdir()) == ["sweep.png", "x.png"]
    assert (data / "sweep.png").read_bytes() == gt


def test_eval_image_too_large_is_refused_before_any_checkpoint(tmp_path, models, capsys, monkeypatch):
    """The memory check of sr-eval, here before the sweep writes its checkpoints: a 4000x4000 PNG
    with the tiny RRDBNet (x4) needs ~5.5 GB by the estimate; 1 GiB is made free here."""
    from PIL import Image as PILImage

    import sr.inference.evaluate as evaluate

    psnr, gan = models
    data = tmp_path / "big"
    data.mkdir()
    PILImage.new("RGB", (4000, 4000), (90, 120, 200)).save(data / "huge.png")
    monkeypatch.setattr(evaluate, "available_memory", lambda device: 2**30)
    out = tmp_path / "sweep"
    err = _err(capsys, [str(psnr), str(gan), "--alphas", "0,1", "-o", str(out), "--eval", str(data)])
    assert f"{data / 'huge.png'}: 4000x4000 pixels needs about" in err and err.count("\n") == 1
    assert not out.exists()
