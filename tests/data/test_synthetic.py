"""sr.data.synthetic: deterministic per (seed, index), written as real PNG files, usable as an
HRImageDataset source, bad arguments named."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from sr.data.imageio import read_image
from sr.data.synthetic import build_synthetic, draw_image, main


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


BAD = [(0, 96, "count must be at least 1, got 0"), (2, 100, "multiple of 12"), (2, 0, "got 0")]


@pytest.mark.parametrize(("count", "size", "message"), BAD)
def test_bad_arguments_are_named_and_nothing_written(
    tmp_path: Path, count: int, size: int, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        build_synthetic(tmp_path / "out", count=count, size=size)
    assert not (tmp_path / "out").exists()


def test_cli_writes_the_images_and_rejects_a_bad_size(
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
