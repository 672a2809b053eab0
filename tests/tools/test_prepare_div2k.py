"""tools/prepare_div2k.py on a tiny fake DIV2K (folders and zip archives) with the crop shrunk by flags."""

from __future__ import annotations

import struct
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest
import torch

from sr.data.imageio import read_image, write_image

# HR sizes (H, W); all divisible by 4 so LR x2/x4 are exact
SIZES = {"0001": (36, 48), "0002": (24, 28)}


def fake_div2k(src: Path, scales: tuple[int, ...] = (2, 4)) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    images = {}
    for stem, (h, w) in SIZES.items():
        hr = torch.rand(3, h, w, generator=g).mul(255).round().div(255)
        images[stem] = hr
        write_image(src / "DIV2K_train_HR" / f"{stem}.png", hr)
        for s in scales:  # any content will do; only sizes and positions matter here
            lr = hr[:, ::s, ::s].contiguous()
            images[f"{stem}x{s}"] = lr
            write_image(src / "DIV2K_train_LR_bicubic" / f"X{s}" / f"{stem}x{s}.png", lr)
    return images


ARCHIVES = {
    "DIV2K_train_HR.zip": "DIV2K_train_HR",
    "DIV2K_train_LR_bicubic_X2.zip": "DIV2K_train_LR_bicubic/X2",
    "DIV2K_train_LR_bicubic_X4.zip": "DIV2K_train_LR_bicubic/X4",
}


def zip_div2k(src: Path, zips: Path) -> Path:
    """The folders of :func:`fake_div2k` as the official archives, in ``zips``."""
    zips.mkdir()
    for name, folder in ARCHIVES.items():
        with zipfile.ZipFile(zips / name, "w", zipfile.ZIP_DEFLATED) as z:
            for p in sorted((src / folder).iterdir()):
                z.write(p, f"{folder}/{p.name}")
    return zips


def set_recorded_size(archive: Path, member: str, size: int) -> None:
    """Make the archive claim ``size`` uncompressed bytes for ``member`` (central directory and local
    header; the data and CRC are left alone), as a crafted archive would."""
    raw = bytearray(archive.read_bytes())
    with zipfile.ZipFile(archive) as z:
        local = z.getinfo(member).header_offset
    assert raw[local : local + 4] == b"PK\x03\x04"
    struct.pack_into("<I", raw, local + 22, size)  # local file header: uncompressed size
    # the central directory entry of this member: signature, ..., local header offset at byte 42
    central = raw.index(b"PK\x01\x02", raw.index(b"PK\x01\x02"))
    while struct.unpack_from("<I", raw, central + 42)[0] != local:
        central = raw.index(b"PK\x01\x02", central + 4)
    assert raw[central + 46 : central + 46 + len(member)] == member.encode()
    struct.pack_into("<I", raw, central + 24, size)  # central directory: uncompressed size
    archive.write_bytes(bytes(raw))


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def zero_png(width: int, height: int) -> bytes:
    """A 1-bit gray PNG of zeros, compressed while streaming 256 rows at a time: a 20000 x 9000 image
    (180M pixels, 180 MB once decoded to uint8) is 22 kB of file and a few MB of memory to make."""
    row = bytes(1 + (width + 7) // 8)  # filter byte 0 + packed bits
    z = zlib.compressobj(1)
    parts = [z.compress(row * min(256, height - y)) for y in range(0, height, 256)] + [z.flush()]
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", b"".join(parts)) + _chunk(b"IEND", b"")
    )


def run(tool: ModuleType, src: Path, dst: Path, *extra: str) -> int:
    return tool.main(
        [
            "--src",
            str(src),
            "--dst",
            str(dst),
            "--scales",
            "2",
            "4",
            "--splits",
            "train",
            "--crop-size",
            "12",
            "--step",
            "8",
            "--workers",
            "2",
            "--quiet",
            *extra,
        ]
    )


def test_starts_follow_basicsr(load_tool: Callable[[str], ModuleType]) -> None:
    tool = load_tool("prepare_div2k")
    # BasicSR extract_subimages: arange(0, L - crop + 1, step), plus L - crop if leftover > thresh
    assert tool.starts(36, 12, 8, 0) == [0, 8, 16, 24]
    assert tool.starts(48, 12, 8, 0) == [0, 8, 16, 24, 32, 36]
    assert tool.starts(48, 12, 8, 4) == [0, 8, 16, 24, 32]
    assert tool.starts(2040, 480, 240, 0) == [0, 240, 480, 720, 960, 1200, 1440, 1560]
    assert tool.starts(10, 12, 8, 0) == []


def test_sub_images_match_crops_and_resume(tmp_path: Path, load_tool: Callable[[str], ModuleType]) -> None:
    tool = load_tool("prepare_div2k")
    images = fake_div2k(tmp_path / "src")
    dst = tmp_path / "dst"
    assert run(tool, tmp_path / "src", dst) == 0
    hr_dir = dst / "DIV2K_train_HR_sub"
    # 0001: 4 x 6 crops, 0002: starts(24) = [0, 8, 12] x starts(28) = [0, 8, 16] -> 9
    assert len(list(hr_dir.glob("0001_s*.png"))) == 24 and len(list(hr_dir.glob("0002_s*.png"))) == 9
    for s in (2, 4):
        lr_dir = dst / "DIV2K_train_LR_bicubic" / f"X{s}_sub"
        assert sorted(p.name for p in lr_dir.iterdir()) == sorted(p.name for p in hr_dir.iterdir())
    # _s008 of 0001 is row 1 (y = 8), column 1 (x = 8)
    assert torch.equal(read_image(hr_dir / "0001_s008.png").data, images["0001"][:, 8:20, 8:20])
    # the border-flush last column: _s006 at x = 36
    assert torch.equal(read_image(hr_dir / "0001_s006.png").data, images["0001"][:, 0:12, 36:48])
    lr4 = read_image(dst / "DIV2K_train_LR_bicubic" / "X4_sub" / "0001_s008.png").data
    assert torch.equal(lr4, images["0001x4"][:, 2:5, 2:5])
    # resume: a removed sub-image is rewritten, present ones are left alone
    (hr_dir / "0002_s003.png").unlink()
    before = (hr_dir / "0001_s001.png").stat().st_mtime_ns
    assert run(tool, tmp_path / "src", dst) == 0
    assert (hr_dir / "0002_s003.png").is_file()
    assert (hr_dir / "0001_s001.png").stat().st_mtime_ns == before


def test_zip_archives_give_the_same_files(tmp_path: Path, load_tool: Callable[[str], ModuleType]) -> None:
    tool = load_tool("prepare_div2k")
    src = tmp_path / "src"
    fake_div2k(src)
    zips = zip_div2k(src, tmp_path / "zips")
    assert run(tool, src, tmp_path / "a") == 0
    assert run(tool, zips, tmp_path / "b") == 0
    files_a = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*.png"))
    files_b = sorted(p.relative_to(tmp_path / "b") for p in (tmp_path / "b").rglob("*.png"))
    assert files_a == files_b and len(files_a) == 33 * 3
    for rel in files_a:
        assert torch.equal(read_image(tmp_path / "a" / rel).data, read_image(tmp_path / "b" / rel).data)


def test_problems_give_nonzero_exit_naming_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], load_tool: Callable[[str], ModuleType]
) -> None:
    tool = load_tool("prepare_div2k")
    src = tmp_path / "src"
    fake_div2k(src)
    (src / "DIV2K_train_LR_bicubic" / "X2" / "0002x2.png").unlink()
    write_image(src / "DIV2K_train_LR_bicubic" / "X4" / "0001x4.png", torch.rand(3, 8, 12))
    assert run(tool, src, tmp_path / "dst") == 1
    err = capsys.readouterr().err
    assert "train 0002: HR image without LR X2 image" in err
    assert "train 0001: LR X4" in err and "is 12x8, HR" in err and "not exactly HR / 4" in err
    assert run(tool, tmp_path / "nowhere", tmp_path / "dst") == 2
    assert "DIV2K_train_HR.zip found" in capsys.readouterr().err


def test_oversized_archive_member_is_refused_before_it_is_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], load_tool: Callable[[str], ModuleType]
) -> None:
    tool = load_tool("prepare_div2k")
    src = tmp_path / "src"
    fake_div2k(src)
    zips = zip_div2k(src, tmp_path / "zips")
    # a member recorded as 1.5 GB uncompressed (a PNG padded with zeros): refused from the directory
    set_recorded_size(zips / "DIV2K_train_HR.zip", "DIV2K_train_HR/0002.png", 1536 * 2**20)
    assert run(tool, zips, tmp_path / "dst") == 1
    err = capsys.readouterr().err
    label = f"{zips / 'DIV2K_train_HR.zip'}:DIV2K_train_HR/0002.png"
    assert f"{label}: archive member is 1,610,612,736 bytes uncompressed; refused" in err
    assert "the limit is 268,435,456 bytes" in err and "Traceback" not in err
    assert len(list((tmp_path / "dst" / "DIV2K_train_HR_sub").glob("0001_s*.png"))) == 24  # the rest goes on


def test_archive_member_over_the_limit_or_longer_than_recorded(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    load_tool: Callable[[str], ModuleType],
) -> None:
    tool = load_tool("prepare_div2k")
    monkeypatch.setattr(tool, "MAX_MEMBER_BYTES", 64 * 2**10)  # forked workers see it too
    src = tmp_path / "src"
    fake_div2k(src)
    pad = bytes(100 * 2**10)  # trailing zeros after IEND: still a valid PNG
    for stem in ("0001", "0002"):
        p = src / "DIV2K_train_HR" / f"{stem}.png"
        p.write_bytes(p.read_bytes() + pad)
    zips = zip_div2k(src, tmp_path / "zips")
    # 0001 honestly recorded as 100+ KiB; 0002 recorded as 2 KiB but inflating to 100+ KiB
    set_recorded_size(zips / "DIV2K_train_HR.zip", "DIV2K_train_HR/0002.png", 2048)
    assert run(tool, zips, tmp_path / "dst") == 1
    err = capsys.readouterr().err
    n = (src / "DIV2K_train_HR" / "0001.png").stat().st_size
    assert f"DIV2K_train_HR.zip:DIV2K_train_HR/0001.png: archive member is {n:,} bytes uncompressed" in err
    assert "the limit is 65,536 bytes" in err
    assert "DIV2K_train_HR.zip:DIV2K_train_HR/0002.png: Bad CRC-32" in err  # stopped at the recorded size
    assert "Traceback" not in err


@pytest.mark.parametrize("archive", [False, True])
def test_pixel_bomb_is_a_per_file_error(
    archive: bool,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    load_tool: Callable[[str], ModuleType],
) -> None:
    tool = load_tool("prepare_div2k")
    src = tmp_path / "src"
    fake_div2k(src)
    # 180M pixels: above Pillow's 2 * MAX_IMAGE_PIXELS (178,956,970), which read_image also refuses
    (src / "DIV2K_train_HR" / "0003.png").write_bytes(zero_png(20000, 9000))
    where = zip_div2k(src, tmp_path / "zips") if archive else src
    assert run(tool, where, tmp_path / "dst") == 1
    err = capsys.readouterr().err
    label = f"{where / 'DIV2K_train_HR.zip'}:DIV2K_train_HR/0003.png" if archive else "0003.png"
    assert f"{label}: Image size (180000000 pixels) exceeds limit" in err and "Traceback" not in err
    assert len(list((tmp_path / "dst" / "DIV2K_train_HR_sub").glob("0001_s*.png"))) == 24
