"""tools/make_lmdb.py: a folder packed into a BasicSR-layout LMDB reads back, through
PairedImageDataset with ``io_backend: lmdb``, exactly as the folder does through the disk backend."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest
import torch

from sr.data import DatasetError, build_dataset
from sr.data.imageio import write_image
from sr.data.lmdb_io import read_meta_info
from sr.data.transforms import round_to_8bit
from sr.ops import imresize
from sr.options.schema import DatasetOptions, IOBackend


def make_pairs(root: Path) -> None:
    g = torch.Generator().manual_seed(0)
    for n, (h, w) in enumerate([(32, 48), (24, 24)], 1):
        hr = round_to_8bit(torch.rand(3, h, w, generator=g))
        write_image(root / "HR" / f"{n:04d}.png", hr)
        write_image(root / "LR" / f"{n:04d}.png", round_to_8bit(imresize(hr, 1 / 4)))
    write_image(root / "HR" / "0003.png", round_to_8bit(torch.rand(1, 16, 16, generator=g)))  # gray
    write_image(root / "LR" / "0003.png", round_to_8bit(torch.rand(1, 4, 4, generator=g)))


def test_lmdb_reads_back_identical_samples(tmp_path: Path, load_tool: Callable[[str], ModuleType]) -> None:
    tool = load_tool("make_lmdb")
    make_pairs(tmp_path)
    assert tool.make_lmdb(tmp_path / "HR", tmp_path / "hr.lmdb", workers=1, progress=False) == 3
    assert tool.make_lmdb(tmp_path / "LR", tmp_path / "lr.lmdb", workers=2, progress=False) == 3
    meta = read_meta_info(tmp_path / "hr.lmdb" / "meta_info.txt")
    assert [(e.key, e.height, e.width, e.channels) for e in meta] == [
        ("0001", 32, 48, 3),
        ("0002", 24, 24, 3),
        ("0003", 16, 16, 1),
    ]
    assert (tmp_path / "hr.lmdb" / "meta_info.txt").read_text().splitlines()[0] == "0001.png (32,48,3) 1"
    whole = {}
    for gt_size in (None, 16):
        disk = build_dataset(
            DatasetOptions(
                name="d", dataroot_gt=str(tmp_path / "HR"), dataroot_lq=str(tmp_path / "LR"), gt_size=gt_size
            ),
            4,
            key="datasets.train",
        )
        lmdb = build_dataset(
            DatasetOptions(
                name="l",
                dataroot_gt=str(tmp_path / "hr.lmdb"),
                dataroot_lq=str(tmp_path / "lr.lmdb"),
                gt_size=gt_size,
                io_backend=IOBackend("lmdb"),
            ),
            4,
            key="datasets.train",
        )
        assert len(disk) == len(lmdb) == 3
        for i in range(3):
            a, b = disk[(i, 5)], lmdb[(i, 5)]
            assert a["key"] == b["key"]
            assert torch.equal(a["gt"], b["gt"]) and torch.equal(a["lq"], b["lq"]), (i, gt_size)
            if gt_size is None:
                whole[i] = a
    cached = build_dataset(
        DatasetOptions(
            name="l",
            dataroot_gt=str(tmp_path / "hr.lmdb"),
            dataroot_lq=str(tmp_path / "lr.lmdb"),
            cache=True,
            io_backend=IOBackend("lmdb"),
        ),
        4,
        key="k",
    )
    for i in range(3):
        assert torch.equal(cached[i]["gt"], whole[i]["gt"]) and torch.equal(cached[i]["lq"], whole[i]["lq"])


def test_lmdb_errors(tmp_path: Path, load_tool: Callable[[str], ModuleType]) -> None:
    tool = load_tool("make_lmdb")
    make_pairs(tmp_path)
    tool.make_lmdb(tmp_path / "HR", tmp_path / "hr.lmdb", progress=False)
    with pytest.raises(FileExistsError):
        tool.make_lmdb(tmp_path / "HR", tmp_path / "hr.lmdb", progress=False)
    opt = DatasetOptions(
        name="l",
        dataroot_gt=str(tmp_path / "hr.lmdb"),
        dataroot_lq=str(tmp_path / "LR"),
        io_backend=IOBackend("lmdb"),
    )
    with pytest.raises(DatasetError, match=r"k\.dataroot_lq: .*LR is not an LMDB"):
        build_dataset(opt, 4, key="k")
    (tmp_path / "LR" / "0002.png").unlink()
    tool.make_lmdb(tmp_path / "LR", tmp_path / "lr.lmdb", progress=False)
    opt = DatasetOptions(
        name="l",
        dataroot_gt=str(tmp_path / "hr.lmdb"),
        dataroot_lq=str(tmp_path / "lr.lmdb"),
        io_backend=IOBackend("lmdb"),
    )
    with pytest.raises(DatasetError, match=r"no LQ image for GT .*hr\.lmdb:0002: expected .*lr\.lmdb:0002"):
        build_dataset(opt, 4, key="k")


def test_cli_refuses_existing_output_and_overwrites_on_request(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], load_tool: Callable[[str], ModuleType]
) -> None:
    tool = load_tool("make_lmdb")
    make_pairs(tmp_path)
    argv = [str(tmp_path / "HR"), str(tmp_path / "o.lmdb"), "--quiet", "--workers", "1"]
    assert tool.main(argv) == 0
    assert tool.main(argv) == 2
    assert "o.lmdb exists" in capsys.readouterr().err
    (tmp_path / "HR" / "0001.png").unlink()
    assert tool.main([*argv, "--overwrite"]) == 0
    assert len(read_meta_info(tmp_path / "o.lmdb" / "meta_info.txt")) == 2


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("where", ["same", "inside", "parent", "symlink to it"])
def test_output_overlapping_the_input_is_refused_before_anything_is_deleted(
    where: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    load_tool: Callable[[str], ModuleType],
) -> None:
    tool = load_tool("make_lmdb")
    make_pairs(tmp_path / "data")
    src = tmp_path / "data" / "HR"
    dst = {
        "same": src,
        "inside": src / "hr.lmdb",
        "parent": tmp_path / "data",
        "symlink to it": tmp_path / "link.lmdb",
    }[where]
    if where == "symlink to it":
        dst.symlink_to(src, target_is_directory=True)
    before = _snapshot(tmp_path)
    assert tool.main([str(src), str(dst), "--overwrite", "--quiet", "--workers", "1"]) == 2
    err = capsys.readouterr().err
    assert f"output {dst} " in err and f"the input folder {src} " in err, err
    assert _snapshot(tmp_path) == before  # the images, and nothing new (no temporary folder)
    assert sorted(p.name for p in tmp_path.iterdir()) == (
        ["data", "link.lmdb"] if dst.is_symlink() else ["data"]
    )
    with pytest.raises(ValueError, match="the input folder"):
        tool.make_lmdb(src, dst, progress=False)  # without overwrite as well


@pytest.mark.parametrize("workers", [1, 2])
def test_failed_overwrite_keeps_the_old_output_and_leaves_no_temporary_folder(
    workers: int,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    load_tool: Callable[[str], ModuleType],
) -> None:
    tool = load_tool("make_lmdb")
    make_pairs(tmp_path)
    out = tmp_path / "o.lmdb"
    argv = [str(tmp_path / "HR"), str(out), "--quiet", "--workers", str(workers)]
    assert tool.main(argv) == 0
    before = _snapshot(out)
    (tmp_path / "HR" / "0004.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    assert tool.main([*argv, "--overwrite"]) == 2
    assert "0004.png" in capsys.readouterr().err
    assert _snapshot(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["HR", "LR", "o.lmdb"]
    # and with the bad file gone the overwrite goes through, replacing the old database
    (tmp_path / "HR" / "0004.png").unlink()
    (tmp_path / "HR" / "0003.png").unlink()
    assert tool.main([*argv, "--overwrite"]) == 0
    assert [e.key for e in read_meta_info(out / "meta_info.txt")] == ["0001", "0002"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["HR", "LR", "o.lmdb"]


def test_interrupted_run_removes_its_temporary_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, load_tool: Callable[[str], ModuleType]
) -> None:
    tool = load_tool("make_lmdb")
    make_pairs(tmp_path)
    real = tool._encode
    calls = []

    def encode_then_interrupt(args: tuple[str, int]) -> object:
        calls.append(args)
        if len(calls) == 2:
            assert (tmp_path / ".o.lmdb.tmp" / "data.mdb").is_file()  # mid-build
            raise KeyboardInterrupt
        return real(args)

    monkeypatch.setattr(tool, "_encode", encode_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        tool.make_lmdb(tmp_path / "HR", tmp_path / "o.lmdb", progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["HR", "LR"]
