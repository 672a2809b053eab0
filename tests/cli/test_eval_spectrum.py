"""``sr-eval --spectrum`` end to end on small real photographs written by the test: the bicubic
baseline lacks the high frequencies (hf_error near 1), the plot is a real image, the JSON holds the
per-image and mean summaries and the dataset's spectra, errors name the culprit."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image as PILImage

from sr.cli.eval import SPECTRUM_BANDS, main
from sr.data.imageio import write_image
from sr.data.samples import load_sample


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """Three 192x180 crops (RGB fur, RGB face, grayscale) of scikit-image's photographs as PNG."""
    d = tmp_path_factory.mktemp("photos")
    write_image(d / "chelsea.png", load_sample("chelsea")[:, 60:252, 150:330])
    write_image(d / "astronaut.png", load_sample("astronaut")[:, 0:192, 150:330])
    write_image(d / "camera.png", load_sample("camera")[:, 100:292, 200:380])
    return d


def _fail(capsys, *args: str) -> str:
    """Run ``sr-eval`` expecting exit code 2; return its stderr."""
    with pytest.raises(SystemExit) as exc:
        main(list(args))
    assert exc.value.code == 2
    return capsys.readouterr().err


def test_bicubic_spectrum_json_table_and_plot(tmp_path, data, capsys):
    out = tmp_path / "r.json"
    main(["--model", "bicubic", "--scale", "4", "--data", str(data), "--spectrum", "--json", str(out)])
    r = json.loads(out.read_text())
    ds = r["datasets"][data.name]
    for stem, v in ds["images"].items():
        # MATLAB bicubic keeps little above the LR Nyquist (0.125 cycles/pixel): measured per image
        # 0.87-0.95, with spurious_energy < 0.02 and lf_error < 0.05 (tests/metrics/test_spectral.py)
        assert 0.8 < v["hf_error"] < 1.05, stem
        assert v["spurious_energy"] < 0.05 and v["lf_error"] < 0.1, stem
    for k in ("hf_error", "spurious_energy", "lf_error", "psnr"):
        assert ds[k] == pytest.approx(sum(v[k] for v in ds["images"].values()) / 3)
    spec = ds["spectrum"]
    assert spec["bands"] == SPECTRUM_BANDS and spec["lr_nyquist"] == 0.125
    assert len(spec["freqs"]) == len(spec["sr_power"]) == len(spec["residual_ratio"]) == SPECTRUM_BANDS
    f = np.array(spec["freqs"])
    sr_p, gt_p, ratio = (np.array(spec[k]) for k in ("sr_power", "gt_power", "residual_ratio"))
    assert (sr_p[f > 0.2] < 0.2 * gt_p[f > 0.2]).all()  # the output lacks the high frequencies
    assert ratio[f < 0.05].max() < 0.1 and ratio[f > 0.2].min() > 0.7

    # the plot: next to the JSON by default, a real, non-blank image
    plot = tmp_path / "r_spectrum" / f"{data.name}_x4.png"
    assert spec["plot"] == str(plot)
    with PILImage.open(plot) as im:
        assert im.format == "PNG" and im.size[0] > 400 and im.size[1] > 200
        px = np.asarray(im.convert("RGB"))
    assert px.std() > 20 and len(np.unique(px.reshape(-1, 3), axis=0)) > 50
    assert (np.abs(px.astype(int) - [214, 39, 40]).sum(-1) < 30).sum() > 100  # the red SR curve is drawn

    printed = capsys.readouterr().out
    assert "hf-err" in printed and "spurious" in printed and str(plot) in printed


def test_spectrum_dir_and_json_round_trip(tmp_path, data):
    out, plots = tmp_path / "a.json", tmp_path / "plots" / "deep"
    main(
        [
            "--model",
            "bicubic",
            "--scale",
            "2",
            "--data",
            str(data),
            "--spectrum-dir",
            str(plots),
            "--json",
            str(out),
        ]
    )
    assert (plots / f"{data.name}_x2.png").is_file()  # --spectrum-dir implies --spectrum
    assert not (tmp_path / "a_spectrum").exists()
    r = json.loads(out.read_text())
    assert json.loads(json.dumps(r)) == r
    ds = r["datasets"][data.name]
    assert ds["spectrum"]["lr_nyquist"] == 0.25 and ds["spectrum"]["plot"] == str(
        plots / f"{data.name}_x2.png"
    )
    # x2: more of the band above its LR Nyquist survives than at x4, but most is still missing
    assert 0.6 < ds["hf_error"] < 1.05 and ds["lf_error"] < 0.05


def test_without_spectrum_nothing_changes(tmp_path, data):
    out = tmp_path / "plain.json"
    main(["--model", "bicubic", "--scale", "4", "--data", str(data), "--json", str(out), "--quiet"])
    ds = json.loads(out.read_text())["datasets"][data.name]
    assert "spectrum" not in ds and "hf_error" not in ds["images"]["camera"]
    assert not (tmp_path / "plain_spectrum").exists()


def test_errors_name_the_culprit(tmp_path, data, capsys):
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    base = ["--model", "bicubic", "--data", str(data)]
    err = _fail(capsys, *base, "--scale", "4", "--spectrum-dir", str(a_file))
    assert f"--spectrum-dir {a_file}: exists and is not a folder" in err
    assert "--spectrum needs --scale >= 2" in _fail(capsys, *base, "--scale", "1", "--spectrum")
    small = tmp_path / "small"
    write_image(small / "tiny.png", load_sample("camera")[:, :120, :120])
    err = _fail(capsys, "--model", "bicubic", "--data", str(small), "--scale", "4", "--spectrum")
    # 120 - 2 * 4 = 112 pixels: fewer than the 128 that 64 bands need
    assert f"{small / 'tiny.png'}: spectrum: nbins=64" in err and "at least 128 pixels" in err


def test_on_scored_gets_the_pair_psnr_scored(data):
    # the spectra are computed on the luma PSNR is computed on: same pixels, same crop
    from sr.inference.baselines import Interpolation
    from sr.inference.evaluate import evaluate_folder
    from sr.metrics import psnr

    seen: dict[str, tuple] = {}

    def hook(path, sr_y, gt_y):
        seen[path.stem] = (tuple(sr_y.shape), psnr(sr_y, gt_y))
        return {"extra": 1.0}

    result = evaluate_folder(Interpolation("bicubic", 3), data, 3, "y", None, on_scored=hook)
    for stem, v in result.images.items():
        assert seen[stem][0] == (1, 192 - 6, 180 - 6) and v["extra"] == 1.0
        assert seen[stem][1] == pytest.approx(v["psnr"], abs=1e-12)
