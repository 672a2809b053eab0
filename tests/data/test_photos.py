"""``python -m sr.data.photos``: the 19 training photographs out of Debian package files (built here
as real ``ar`` archives around the shared photos, at the paths the real packages use), or copied
from a folder, every byte checked; nothing existing is overwritten."""

from __future__ import annotations

import hashlib
import io
import tarfile
from pathlib import Path

import pytest

from sr.data.debian import PackageError
from sr.data.photos import PHOTOS, SETS, PhotosError, extract_from_deb, fetch, main


def ar_archive(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    out.write(b"!<arch>\n")
    for name, data in members.items():
        header = f"{name + '/':<16}{0:<12}{0:<6}{0:<6}{'100644':<8}{len(data):<10}`\n"
        out.write(header.encode() + data + (b"\n" if len(data) % 2 else b""))
    return out.getvalue()


def deb_of(photos: Path, group: str, path: Path) -> Path:
    """A .deb (ar: debian-binary, control.tar, data.tar) holding ``group``'s photos where the real
    package has them, plus an unrelated file."""
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w") as tar:
        tar.addfile(tarfile.TarInfo("./usr/share/doc/readme"), io.BytesIO(b""))
        for name, photo in PHOTOS.files.items():
            if photo.package != group:
                continue
            blob = (photos / name).read_bytes()
            info = tarfile.TarInfo("./" + photo.member)
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
    path.write_bytes(
        ar_archive({"debian-binary": b"2.0\n", "control.tar": b"x", "data.tar": data.getvalue()})
    )
    return path


@pytest.fixture
def photos(shared_dir: Path) -> Path:
    return shared_dir / "data" / "photos"


def test_photos_come_out_of_package_files_byte_for_byte(photos: Path, tmp_path: Path):
    out = tmp_path / "out"
    for group in PHOTOS.packages:
        names = extract_from_deb(deb_of(photos, group, tmp_path / f"{group}.deb"), PHOTOS, group, out)
        assert len(names) == (12 if group == "mate" else 7)
    for name, photo in PHOTOS.files.items():
        assert hashlib.sha256((out / name).read_bytes()).hexdigest() == photo.sha256


def test_copy_checks_every_file_and_keeps_identical_ones(photos: Path, tmp_path: Path, capsys):
    out = tmp_path / "photos"
    assert len(fetch(out, copy_from=photos)) == 19
    assert "GPL-2+" in (out / "LICENSES.md").read_text()
    main([str(out), "--copy-from", str(photos)])  # again: identical files are kept
    assert "19 photographs" in capsys.readouterr().out
    (out / "plasma" / "Kite.jpg").write_bytes(b"mine")
    with pytest.raises(SystemExit):
        main([str(out), "--copy-from", str(photos)])
    assert "Kite.jpg exists with other content" in capsys.readouterr().err
    assert (out / "plasma" / "Kite.jpg").read_bytes() == b"mine"


def test_a_wrong_file_or_package_is_named(photos: Path, tmp_path: Path):
    bad = tmp_path / "bad"
    (bad / "mate").mkdir(parents=True)
    for name in PHOTOS.files:
        (bad / name).parent.mkdir(exist_ok=True)
        (bad / name).write_bytes((photos / name).read_bytes())
    (bad / "mate" / "Dune.jpg").write_bytes(b"not the photo")
    with pytest.raises(PhotosError, match=r"Dune\.jpg: sha256 .* is not the expected"):
        fetch(tmp_path / "out", copy_from=bad)
    debs = tmp_path / "debs"
    debs.mkdir()
    (debs / "mate-backgrounds_1.26.0-1_all.deb").write_bytes(b"!<arch>\n")
    with pytest.raises(PackageError, match=r"no mate-backgrounds_\*\.deb with sha256"):
        fetch(tmp_path / "out2", debs=debs)
    with pytest.raises(PackageError, match=r"no data\.tar"):
        extract_from_deb(debs / "mate-backgrounds_1.26.0-1_all.deb", PHOTOS, "mate", tmp_path / "out3")


@pytest.mark.parametrize("size", [b"-60", b"abc", b"99999999"])
def test_a_damaged_archive_header_is_an_error_not_a_hang(tmp_path: Path, size: bytes):
    member = b"\xffname/".ljust(16) + b"0".ljust(12) + b"0".ljust(6) * 2 + b"100644".ljust(8)
    deb = tmp_path / "x.deb"
    deb.write_bytes(b"!<arch>\n" + member + size.ljust(10) + b"`\n" + b"data")
    with pytest.raises(PackageError, match="damaged ar archive"):
        extract_from_deb(deb, PHOTOS, "mate", tmp_path / "out")


def test_every_set_names_distinct_files_with_their_licences():
    for photo_set in SETS.values():
        assert len({p.member for p in photo_set.files.values()}) == len(photo_set.files)
        assert {p.package for p in photo_set.files.values()} == set(photo_set.packages)
        for name in photo_set.files:  # every photograph's name appears in the licences it ships with
            assert " " not in name
            stem = name.split("/")[1].split("_by_")[0].removesuffix(".jpg").removesuffix(".png")
            assert stem in photo_set.licences or stem.split("_")[0] + "_" in photo_set.licences, name
