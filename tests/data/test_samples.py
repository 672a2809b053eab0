"""``python -m sr.data.samples``: a user's existing files are never overwritten; identical ones are kept
(rerunning is fine). Real files in tmp_path."""

from __future__ import annotations

from pathlib import Path

import pytest

from sr.data.imageio import read_pixels
from sr.data.samples import SAMPLES, TRAIN_SAMPLES, SamplesError, build_samples, load_sample, main


def test_writes_then_keeps_identical_files(tmp_path: Path) -> None:
    paths = build_samples(tmp_path, ("camera", "coffee"))
    assert paths == [tmp_path / "camera.png", tmp_path / "coffee.png"]
    pixels, bits = read_pixels(paths[0])
    assert bits == 8 and pixels.shape == tuple(load_sample("camera").shape)  # 1-channel, as loaded
    before = [(p.stat().st_ino, p.stat().st_mtime_ns) for p in paths]
    assert build_samples(tmp_path, ("camera", "coffee")) == paths
    assert [(p.stat().st_ino, p.stat().st_mtime_ns) for p in paths] == before  # not rewritten


def test_other_file_is_an_error_and_nothing_is_written(tmp_path: Path) -> None:
    (tmp_path / "coffee.png").write_text("my own photo")
    with pytest.raises(SamplesError, match=r"coffee\.png: exists with other content"):
        build_samples(tmp_path, ("camera", "coffee"))
    assert (tmp_path / "coffee.png").read_text() == "my own photo"
    assert not (tmp_path / "camera.png").exists()  # checked before anything was written
    # a valid PNG of other pixels (here another sample's) is just as much the user's
    build_samples(tmp_path / "other", ("chelsea",))
    (tmp_path / "other" / "chelsea.png").rename(tmp_path / "camera.png")
    (tmp_path / "coffee.png").unlink()
    with pytest.raises(SamplesError, match=r"camera\.png"):
        build_samples(tmp_path, ("camera",))


def test_cli_refuses_in_either_folder_before_writing(tmp_path: Path, capsys) -> None:
    smp, train = tmp_path / "smp", tmp_path / "train"
    train.mkdir()
    (train / f"{TRAIN_SAMPLES[-1]}.png").write_bytes(b"mine")
    with pytest.raises(SystemExit) as exc:
        main([str(smp), "--train", str(train)])
    assert exc.value.code == 1
    err = capsys.readouterr().err
    assert f"{TRAIN_SAMPLES[-1]}.png: exists with other content" in err and "nothing was written" in err
    assert not smp.exists() and [p.name for p in train.iterdir()] == [f"{TRAIN_SAMPLES[-1]}.png"]
    assert (train / f"{TRAIN_SAMPLES[-1]}.png").read_bytes() == b"mine"


def test_cli_rerun_exits_0(tmp_path: Path, capsys) -> None:
    main([str(tmp_path)])
    assert capsys.readouterr().out.split() == [str(tmp_path / f"{n}.png") for n in SAMPLES]
    main([str(tmp_path)])  # returns normally: exit status 0
    assert len(capsys.readouterr().out.split()) == len(SAMPLES)
