"""sr.data.synthetic: deterministic per (seed, index), written as real PNG files, text drawn, usable as
an HRImageDataset source (multi-scale patches), bad arguments named, a failed write exit 1."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from skimage.measure import label

from sr.data import build_dataset
from sr.data import synthetic as syn
from sr.data.imageio import read_image
from sr.data.synthetic import build_synthetic, draw_image, main
from sr.options.schema import DatasetOptions


def test_image_depends_on_seed_and_index_only(tmp_path: Path) -> None:
    two = build_synthetic(tmp_path / "a", count=2, size=96, seed=3)
    three = build_synthetic(tmp_path / "b", count=3, size=96, seed=3)
    assert [p.name for p in three] == ["synth_3_0000.png", "synth_3_0001.png", "synth_3_0002.png"]
    for p, q in zip(two, three[:2], strict=True):  # a larger count adds images, changes none
        assert p.read_bytes() == q.read_bytes()
    assert not torch.equal(draw_image(3, 0, 96), draw_image(4, 0, 96))
    assert not torch.equal(draw_image(3, 0, 96), draw_image(3, 1, 96))


def test_written_image_is_rgb_8bit_with_sharp_edges(tmp_path: Path) -> None:
    (path,) = build_synthetic(tmp_path, count=1, size=120, seed=0)
    img = read_image(path)
    assert img.data.shape == (3, 120, 120) and img.bit_depth == 8 and img.alpha is None
    assert torch.equal(img.data, draw_image(0, 0, 120))
    # drawn content, not a flat field: many colours and steps between neighbours of over half the range
    assert torch.unique(img.data.reshape(3, -1), dim=1).shape[1] > 50
    assert (img.data[:, :, 1:] - img.data[:, :, :-1]).abs().max() > 0.5


def test_text_shapes_draw_separate_glyphs(monkeypatch: pytest.MonkeyPatch) -> None:
    # only the text kind: every shape is 1-3 lines of text in Pillow's built-in font
    monkeypatch.setattr(syn, "KIND_P", np.array([0.0] * (len(syn.KINDS) - 1) + [1.0]))
    img = Image.new("RGB", (192, 192), (255, 255, 255))
    rng = np.random.default_rng(0)
    for _ in range(5):
        syn._draw_shape(img, rng, np.array([[0, 0, 0]], dtype=np.uint8))
    ink = np.asarray(img.convert("L")) < 128
    assert 0.005 < ink.mean() < 0.5  # some ink, not a filled area
    # glyphs are separate blobs: 26 here; five shapes of any other kind give at most 6 (by hand, seeds 0-2)
    assert label(ink).max() > 12


def test_images_load_through_hr_image_dataset_at_every_scale(tmp_path: Path) -> None:
    build_synthetic(tmp_path / "syn", count=2, size=96, seed=0)
    opt = DatasetOptions(name="t", type="HRImageDataset", dataroot_gt=str(tmp_path / "syn"), lq_size=16)
    ds = build_dataset(opt, 4, key="datasets.train", scales=[2, 3, 4])
    assert len(ds) == 2
    for scale in (2, 3, 4):
        item = ds[0, 0, 5, scale]
        assert item["gt"].shape == (3, 16 * scale, 16 * scale) and item["lq"].shape == (3, 16, 16)


BAD = [
    (0, 96, 0, "count must be at least 1, got 0"),
    (2, 100, 0, "size must be a positive multiple of 12 .*got 100"),
    (2, 0, 0, "size must be a positive multiple of 12 .*got 0"),
    (2, 96, -1, "seed must be 0 or more, got -1"),
]


@pytest.mark.parametrize(("count", "size", "seed", "message"), BAD)
def test_bad_arguments_are_named_and_nothing_written(
    tmp_path: Path, count: int, size: int, seed: int, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        build_synthetic(tmp_path / "out", count=count, size=size, seed=seed)
    assert not (tmp_path / "out").exists()


def test_draw_image_checks_its_arguments() -> None:
    with pytest.raises(ValueError, match=r"size must be a positive multiple of 12 .*got 50"):
        draw_image(0, 0, 50)
    with pytest.raises(ValueError, match="index must be 0 or more, got -1"):
        draw_image(0, -1, 96)


def test_cli_writes_the_images_and_rejects_bad_arguments(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main([str(tmp_path / "syn"), "--count", "2", "--size", "48", "--seed", "7"])
    assert sorted(p.name for p in (tmp_path / "syn").iterdir()) == ["synth_7_0000.png", "synth_7_0001.png"]
    assert capsys.readouterr().out.split() == [
        str(tmp_path / "syn" / f"synth_7_000{i}.png") for i in range(2)
    ]
    with pytest.raises(SystemExit) as e:
        main([str(tmp_path / "bad"), "--size", "50"])
    assert e.value.code == 2
    assert "size must be a positive multiple of 12" in capsys.readouterr().err
    assert not (tmp_path / "bad").exists()
    with pytest.raises(SystemExit) as e:
        main([str(tmp_path / "neg"), "--seed", "-3"])
    assert e.value.code == 2 and "seed must be 0 or more, got -3" in capsys.readouterr().err


def test_cli_write_failure_is_exit_1_naming_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "taken").write_text("a file where the folder should be")
    with pytest.raises(SystemExit) as e:
        main([str(tmp_path / "taken"), "--count", "1", "--size", "48"])
    assert e.value.code == 1
    err = capsys.readouterr().err
    assert str(tmp_path / "taken" / "synth_0_0000.png") in err and "usage:" not in err
    assert (tmp_path / "taken").read_text() == "a file where the folder should be"
