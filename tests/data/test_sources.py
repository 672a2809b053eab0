"""``meta_info_file`` names (sr.data.sources): they stay inside the data root and are listed once;
every refusal names the meta file, the line and the name. Real files in tmp_path."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from sr.data import DatasetError
from sr.data.imageio import write_image
from sr.data.sources import gt_entries, read_name_list


@pytest.fixture
def root(tmp_path: Path) -> Path:
    img = torch.zeros(3, 8, 8)
    for rel in ("HR/0001.png", "HR/sub/0002.png", "outside/secret.png"):
        write_image(tmp_path / rel, img)
    return tmp_path / "HR"


def entries(root: Path, text: str) -> list[tuple[str, str]]:
    meta = root.parent / "meta.txt"
    meta.write_text(text)
    return gt_entries(root, "disk", str(meta), "datasets.train")


def test_subfolder_names_work(root: Path) -> None:
    got = entries(root, "sub/0002.png (8,8,3)\n\n0001.png\n")
    assert got == [("0002", str(root / "sub" / "0002.png")), ("0001", str(root / "0001.png"))]
    # ".." that stays inside the root is fine
    assert entries(root, "sub/../0001.png\n") == [("0001", str(root / "sub" / ".." / "0001.png"))]


@pytest.mark.parametrize("name", ["../outside/secret.png", "sub/../../outside/secret.png", ".."])
def test_names_escaping_the_root_are_refused(root: Path, name: str) -> None:
    meta = root.parent / "meta.txt"
    with pytest.raises(DatasetError) as exc:
        entries(root, f"0001.png\n\n{name} (8,8,3)\n")
    assert str(exc.value) == (
        f"datasets.train.meta_info_file: {meta} line 3: {name!r} points outside the data root; "
        "names must stay inside it"
    )


def test_absolute_names_are_refused(root: Path) -> None:
    meta, name = root.parent / "meta.txt", str(root / "0001.png")  # even one inside the root
    with pytest.raises(DatasetError) as exc:
        entries(root, f"{name}\n")
    assert str(exc.value) == (
        f"datasets.train.meta_info_file: {meta} line 1: {name!r} is an absolute path; "
        "names must be relative to the data root"
    )


@pytest.mark.parametrize("again", ["0001.png", "./0001.png", "sub/../0001.png"])
def test_duplicate_names_are_refused(root: Path, again: str) -> None:
    meta = root.parent / "meta.txt"
    with pytest.raises(DatasetError, match=rf"{meta} line 3: '{again}' is listed twice \(first on line 1\)"):
        entries(root, f"0001.png\nsub/0002.png\n{again}\n")


def test_lmdb_key_lists_are_checked_too(tmp_path: Path) -> None:
    meta = tmp_path / "meta.txt"
    meta.write_text("a.png\n../b.png\n")
    with pytest.raises(DatasetError, match=r"line 2: '\.\./b\.png' points outside"):
        read_name_list(str(meta), "k")
