"""Fuzz suite, data loss: no command writes over an input (by any path, symlink or hard link), into an
input folder, outside its output folder, or over an output that appeared meanwhile. Each case checks
the exit status, the message and that every input is byte-identical afterwards (issue 19)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from fuzz_helpers import digest, digests, image, run, tiny_checkpoint

from sr.atomic import atomic_write
from sr.cli.eval import main as eval_main
from sr.cli.infer import main as infer_main
from sr.cli.interp import main as interp_main
from sr.data.imageio import ImageWriteError, write_image
from sr.options import OptionsError, load_options


@pytest.fixture
def bench(tmp_path: Path) -> Path:
    """A benchmark-like folder ``data/Set`` of two PNG ground-truth images."""
    folder = tmp_path / "data" / "Set"
    image(folder / "a.png", (32, 32), 1)
    image(folder / "b.png", (32, 28), 2)
    return folder


def _eval(bench: Path, *extra: str) -> int:
    return run(eval_main, ["--model", "bicubic", "--scale", "2", "--data", str(bench), "--quiet", *extra])


@pytest.mark.parametrize("where", ["parent", "inside"])
def test_eval_save_images_never_writes_into_the_data_folder(bench, where, capsys):
    before = digests(bench.parent)
    target = bench.parent if where == "parent" else bench / "out"  # parent: DIR/Set/a.png is the GT
    assert _eval(bench, "--save-images", str(target)) == 2
    assert "input" in capsys.readouterr().err
    assert digests(bench.parent) == before


@pytest.mark.parametrize("how", ["same", "symlink", "hardlink", "model"])
def test_eval_json_never_replaces_an_input(bench, tmp_path, how, capsys):
    model = tiny_checkpoint(tmp_path / "m.pth")
    target = {"same": bench / "a.png", "model": model}.get(how, tmp_path / "alias.png")
    if how == "symlink":
        target.symlink_to(bench / "a.png")
    elif how == "hardlink":
        os.link(bench / "a.png", target)
    before = digests(bench), digest(model)
    code = run(
        eval_main,
        ["--model", str(model), "--scale", "2", "--data", str(bench), "--json", str(target), "--overwrite"],
    )
    assert code == 2
    assert "never overwritten" in capsys.readouterr().err
    assert (digests(bench), digest(model)) == before


def test_eval_json_path_is_checked_before_the_evaluation(bench, tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    for bad in (tmp_path, blocker / "sub" / "r.json"):  # a folder; a folder that cannot be made
        assert _eval(bench, "--json", str(bad)) == 2
        err = capsys.readouterr()
        assert "--json" in err.err and "mean" not in err.out  # refused before any image was scored


def test_eval_existing_outputs_need_overwrite(bench, tmp_path, capsys):
    out = tmp_path / "r.json"
    out.write_text("keep")
    assert _eval(bench, "--json", str(out)) == 2
    assert "--overwrite" in capsys.readouterr().err and out.read_text() == "keep"
    assert _eval(bench, "--json", str(out), "--overwrite") == 0
    assert out.read_text().startswith("{")


def test_eval_negative_crop_border_and_tiny_images_are_named(bench, tmp_path, capsys):
    assert _eval(bench, "--crop-border", "-1") == 2
    assert "--crop-border -1" in capsys.readouterr().err
    small = tmp_path / "small"
    image(small / "dot.png", (3, 3))
    assert run(eval_main, ["--model", "bicubic", "--scale", "4", "--data", str(small)]) == 2
    assert "dot.png" in capsys.readouterr().err


@pytest.mark.parametrize("suffix", ["/../../x", "/x", "../x"])
def test_infer_suffix_stays_in_the_output_folder(tmp_path, suffix, capsys):
    src = image(tmp_path / "in" / "a.png")
    out = tmp_path / "deep" / "out"
    argv = [str(src), "-o", str(out), "--model", "bicubic", "--scale", "2", "--suffix", suffix]
    assert run(infer_main, argv) == 2
    assert "--suffix" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == ["a.png"]


def test_infer_hard_link_to_the_input_is_never_written(tmp_path, capsys):
    src = image(tmp_path / "a.png")
    os.link(src, tmp_path / "a_x2.png")
    before = digest(src)
    argv = [str(src), "--model", "bicubic", "--scale", "2", "--overwrite"]
    assert run(infer_main, argv) == 1
    assert "never overwritten" in capsys.readouterr().err and digest(src) == before


def test_interp_output_hard_linked_to_an_input_is_refused(tmp_path, capsys):
    a = tiny_checkpoint(tmp_path / "a.pth")
    os.link(a, tmp_path / "blend.pth")
    before = digest(a)
    argv = [str(a), str(a), "--alpha", "0.5", "-o", str(tmp_path / "blend.pth"), "--overwrite"]
    assert run(interp_main, argv) == 2
    assert "input" in capsys.readouterr().err and digest(a) == before


@pytest.mark.parametrize("name", ["../../x", "/tmp/abs_run", "", ".", "a/b"])
def test_train_run_name_is_one_folder_inside_experiments(tmp_path, name):
    recipe = Path(__file__).resolve().parents[2] / "options" / "quickstart_x4.yml"
    with pytest.raises(OptionsError, match="name"):
        load_options(recipe, [f"name='{name}'"])


def test_exclusive_write_keeps_a_file_that_appeared_meanwhile(tmp_path):
    """Two writers race for one name: the one that loses gets FileExistsError, the winner's file stays
    (the ``write`` callback stands in for the other process, finishing first)."""
    target = tmp_path / "out.png"

    def other_process_wins(f):
        f.write(b"mine")
        target.write_bytes(b"theirs")

    with pytest.raises(FileExistsError):
        atomic_write(target, other_process_wins, exclusive=True)
    assert target.read_bytes() == b"theirs"
    assert [p.name for p in tmp_path.iterdir()] == ["out.png"]  # no temporary file left


def test_write_image_without_overwrite_is_exclusive(tmp_path):
    src = image(tmp_path / "a.png")
    with pytest.raises(ImageWriteError, match="exists"):
        write_image(src, __import__("torch").zeros(3, 4, 4), overwrite=False)
