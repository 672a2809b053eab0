"""``sr-eval`` checks every output against the inputs, the existing files and each other before it
scores an image: real folders and PNGs made here, the real ``main``; ``evaluate_folder`` is replaced
by a tripwire wherever a refusal must come before the work."""

from __future__ import annotations

import json

import pytest
import torch

import sr.cli.eval as eval_cli
from sr.cli.eval import main
from sr.data.imageio import read_image, write_image
from sr.data.samples import load_sample

BICUBIC = ["--model", "bicubic", "--scale", "2"]


def _set(folder):
    """A dataset folder named ``Set`` with one 160x160 photograph (large enough for the spectrum)."""
    write_image(folder / "a.png", load_sample("camera")[:, 100:260, 200:360])
    return folder


@pytest.fixture
def data(tmp_path):
    return _set(tmp_path / "x" / "Set")


@pytest.fixture
def no_work(monkeypatch):
    """Fail the test if any image is scored."""

    def tripwire(*args, **kwargs):
        raise AssertionError("the evaluation ran before the outputs were refused")

    monkeypatch.setattr(eval_cli, "evaluate_folder", tripwire)


def _refused(capsys, *args: str) -> str:
    with pytest.raises(SystemExit) as exc:
        main([*BICUBIC, *args])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("sr-eval: error: ") and err.count("\n") == 1, err  # one line, no traceback
    return err


def test_json_naming_the_spectrum_plot_is_refused_before_the_work(tmp_path, data, capsys, no_work):
    out = tmp_path / "sp2" / "out"
    for extra in ([], ["--overwrite"]):  # --overwrite does not let one output replace another
        err = _refused(
            capsys, "--data", str(data), "--json", str(out / "Set_x2.png"), "--spectrum-dir", str(out), *extra
        )
        assert (
            f"two outputs would be one file, {out / 'Set_x2.png'}: the --json file and the spectrum plot of "
            f"--data {data}; give them different paths" in err
        )
    assert not (tmp_path / "sp2").exists()  # nothing created, not even the plot folder


def test_json_naming_a_saved_image_or_its_folder_is_refused(tmp_path, data, capsys, no_work):
    o = tmp_path / "o"
    err = _refused(capsys, "--data", str(data), "--json", str(o / "Set" / "a.png"), "--save-images", str(o))
    assert (
        f"one file, {o / 'Set' / 'a.png'}: the --json file and the --save-images output of {data / 'a.png'}"
        in err
    )
    err = _refused(capsys, "--data", str(data), "--json", str(o / "Set"), "--save-images", str(o))
    assert f"({o / 'Set' / 'a.png'}) would lie inside {o / 'Set'}, which is the --json file" in err
    assert not o.exists()


def test_two_data_folders_with_one_name_are_refused(tmp_path, data, capsys, no_work):
    other = _set(tmp_path / "y" / "Set")
    report = tmp_path / "r.json"
    for extra in (["--json", str(report)], ["--spectrum"], ["--save-images", str(tmp_path / "s")], []):
        err = _refused(capsys, "--data", str(data), "--data", str(other), *extra)
        assert f"--data {data} and --data {other} share the name 'Set'" in err
    assert f"--data {data} and --data {data} share" in _refused(
        capsys, "--data", str(data), "--data", str(data)
    )
    assert not report.exists() and not (tmp_path / "s").exists()


def test_distinct_names_key_everything_apart(tmp_path, data):
    """The documented way round a clash (a symlink with another name): both datasets in the JSON, two
    plots, two saved-image folders; the same image scores the same under either name."""
    twin = tmp_path / "Set-y"
    twin.symlink_to(_set(tmp_path / "y" / "Set"), target_is_directory=True)
    report, saved = tmp_path / "r.json", tmp_path / "saved"
    both = ["--data", str(data), "--data", str(twin)]
    main([*BICUBIC, *both, "--json", str(report), "--spectrum", "--save-images", str(saved), "--quiet"])
    ds = json.loads(report.read_text())["datasets"]
    assert set(ds) == {"Set", "Set-y"} and ds["Set"]["psnr"] == ds["Set-y"]["psnr"]
    assert (tmp_path / "r_spectrum" / "Set_x2.png").is_file()
    assert (tmp_path / "r_spectrum" / "Set-y_x2.png").is_file()
    assert read_image(saved / "Set" / "a.png").data.shape == read_image(saved / "Set-y" / "a.png").data.shape


@pytest.mark.parametrize("where", ["spectrum-dir", "next-to-json"])
def test_an_existing_spectrum_plot_needs_overwrite(tmp_path, data, capsys, monkeypatch, where):
    if where == "spectrum-dir":
        plots, args = tmp_path / "sp" / "mine", ["--spectrum-dir", str(tmp_path / "sp" / "mine")]
    else:
        plots, args = tmp_path / "r_spectrum", ["--json", str(tmp_path / "r.json"), "--spectrum"]
    plots.mkdir(parents=True)
    mine = plots / "Set_x2.png"
    mine.write_bytes(b"a user's own file")
    real = eval_cli.evaluate_folder
    monkeypatch.setattr(eval_cli, "evaluate_folder", lambda *a, **k: pytest.fail("evaluated"))
    err = _refused(capsys, "--data", str(data), *args)
    assert f"spectrum plot {mine} exists; pass --overwrite to replace it" in err
    assert mine.read_bytes() == b"a user's own file"
    assert not (tmp_path / "r.json").exists()
    monkeypatch.setattr(eval_cli, "evaluate_folder", real)
    main([*BICUBIC, "--data", str(data), *args, "--overwrite", "--quiet"])
    assert mine.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"  # replaced by the plot, as asked


def test_outputs_inside_a_data_folder_are_refused_and_not_created(tmp_path, data, capsys, no_work):
    inside = data / "plots"
    err = _refused(capsys, "--data", str(data), "--spectrum-dir", str(inside))
    assert f"spectrum plot {inside / 'Set_x2.png'} lies inside the input folder {data}" in err
    assert not inside.exists()  # not created before the refusal (it would be a folder among the GT)
    report = tmp_path / "r.json"
    report.write_text("{}")
    new_dir = tmp_path / "new" / "plots"
    err = _refused(capsys, "--data", str(data), "--json", str(report), "--spectrum-dir", str(new_dir))
    assert f"--json {report} exists" in err and not new_dir.exists()


def test_a_refused_image_size_names_the_file_before_anything_is_written(tmp_path, capsys, monkeypatch):
    """A 4000x4000 PNG (tens of KB on disk) with the default model: the estimate (~30 GB: 1M LR pixels
    times the activation estimate sr-infer sizes its tiles by, plus 192 B per HR pixel) exceeds the
    8 GiB made free here, so it is refused by name and size before it is read or anything written."""
    from PIL import Image as PILImage

    import sr.inference.evaluate as evaluate

    big = tmp_path / "Big"
    big.mkdir()
    PILImage.new("RGB", (4000, 4000), (90, 120, 200)).save(big / "huge.png")
    write_image(big / "small.png", torch.full((3, 64, 64), 0.5))
    monkeypatch.setattr(evaluate, "available_memory", lambda device: 8 * 2**30)
    monkeypatch.setattr(evaluate, "read_image", lambda *a, **k: pytest.fail("read before the check"))
    report = tmp_path / "out" / "r.json"
    with pytest.raises(SystemExit) as exc:
        main(["--data", str(big), "--json", str(report), "--device", "cpu"])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and err.count("\n") == 1, err
    assert f"{big / 'huge.png'}: 4000x4000 pixels needs about" in err and "8.0 GiB are free" in err
    assert not (tmp_path / "out").exists()
