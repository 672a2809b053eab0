"""The 19 photographs the bundled model and the photo recipes train on, fetched from the two Debian
packages that publish them and checked byte for byte:

    python -m sr.data.photos datasets/photos                      # downloads two .deb files (141 MB)
    python -m sr.data.photos datasets/photos --debs ~/Downloads   # .deb files you already have
    python -m sr.data.photos datasets/photos --copy-from DIR      # a copy you already have (checked)

It writes ``mate/*.jpg`` (12, from ``mate-backgrounds`` 1.26.0, GPL-2+) and ``plasma/*.jpg`` (7, the
2560x1600 JPEG of each wallpaper of ``plasma-workspace-wallpapers`` 5.27.5, LGPL-3), and
``LICENSES.md`` with their authors. Every file's sha256 must match ``PHOTOS`` (and each package's
``PACKAGES``), so a recipe trains on exactly the images its figures came from; the files are
1280x1024 to 2560x1920 JPEG. The ``.deb`` files are read in Python (an ``ar`` archive holding
``data.tar.xz``): no ``dpkg`` needed. Existing files are kept when their sha256 matches and are
otherwise an error (nothing is overwritten).
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import tarfile
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from sr.atomic import atomic_write, atomic_write_bytes

POOL = "http://deb.debian.org/debian/pool/main"


@dataclass(frozen=True)
class Package:
    name: str
    file: str  # in Debian's pool
    sha256: str
    size: int  # bytes: a download stops past it

    @property
    def url(self) -> str:
        return f"{POOL}/{self.name[0]}/{self.name}/{self.file}"


PACKAGES = {
    "mate": Package(
        "mate-backgrounds",
        "mate-backgrounds_1.26.0-1_all.deb",
        "7bf4c2209f34b4f61ba6d24c8b58c28b361e82e4b943aae6d42c030169af9e04",
        46638500,
    ),
    "plasma": Package(
        "plasma-workspace-wallpapers",
        "plasma-workspace-wallpapers_5.27.5-2_all.deb",
        "32cd18b71c8c938a18b3b351f217c02ac590e323caa3cf322fbb875ce8892f8b",
        94047772,
    ),
}
MATE_DIR, PLASMA_DIR = "usr/share/backgrounds/mate/nature", "usr/share/wallpapers"
# name -> sha256; mate/X.jpg is MATE_DIR/X.jpg, plasma/X.jpg is PLASMA_DIR/X/contents/images/2560x1600.jpg
PHOTOS = {
    "mate/Aqua.jpg": "5c30118205982da441bf7e6a1ada636a8a0be879408140b3148280c665ed6bce",
    "mate/Blinds.jpg": "f7aac0dcc2e06d0491643e84df3da1d9db7c4610f58806a880d56e074799f600",
    "mate/Dune.jpg": "8a67c2cb0be8c46b70c237311a4fa4d2b4ac7d39568135384787801fa5cc9a91",
    "mate/FreshFlower.jpg": "972b0a0c4e5e3fa93f4f244fc84bc64b121a5eac3aaa5856f1308c1f38a02f8e",
    "mate/Garden.jpg": "d3095ee09d425ef23d27155412136cf14fc3c9af76ca58b452f55e23da324e78",
    "mate/GreenMeadow.jpg": "8fa0de0aa4089f7319c9fb7a6d006d4cab6023e8c8853731557cff53567b4832",
    "mate/LadyBird.jpg": "e35a9a4126ef969c90b29c038058c5a575a20eadd84106a37bf1fa9931e7b61d",
    "mate/RainDrops.jpg": "3e4ea9671c28c90a86cf67b3db9daf18c4741587c596333a7529ca589aaa0c16",
    "mate/Storm.jpg": "77ca53077831d3237f73393a91fc879158abc046d852941c26e90de336356957",
    "mate/TwoWings.jpg": "665e5abf8a5399070a91a9a8e455fe071e5b61697ff78fdeda4e9843ef545aeb",
    "mate/Wood.jpg": "19c78500ac00a622e19907ab9cc7d06d46fe08c4a6142759a84195696150ec07",
    "mate/YellowFlower.jpg": "254da96256acb7add685679775a04d1e4a5bc8cd13e5a5a3d61351ce198a5306",
    "plasma/BytheWater.jpg": "c272434ef39f2abf1ed48a15a8910088020f3165329a5092f3940ec9464bc05f",
    "plasma/EveningGlow.jpg": "586682dcb362b9f620068f10138f87d0d3649939aef238adc5807cb951976a7a",
    "plasma/FallenLeaf.jpg": "95603a6560c7e8d50e0e03b3f4adbe39c5258c72528e74e4ecaea1daf4e499de",
    "plasma/Grey.jpg": "88c31d8944b7e6935d1b9a296654c692f0772cb512491713eb30a972a604c0ed",
    "plasma/Kite.jpg": "bdca288ce296a981e80659c021cf707caddc702c0c8d4247e60bd618476d47f8",
    "plasma/OneStandsOut.jpg": "cb507baf1dafdcae362264f3aba9483ed4be5f6c9fdd770f0ec0920c6d9e80fd",
    "plasma/Path.jpg": "7477457d7f17b736259f1b021864778ad4ba802cf3214e6728181ff29126bba8",
}
LICENSES = """# Photographs: provenance and licences (written by `python -m sr.data.photos`)

`mate/`: the 12 photographs of the Debian package `mate-backgrounds` 1.26.0
(`usr/share/backgrounds/mate/nature/`). Licence GPL-2+ (that package's `copyright` file). Authors:
Charles Barbin (Aqua, Garden, LadyBird, YellowFlower; TwoWings with Hylke Bons), Lennart Poettering
and Andrea Cimitan (Blinds), Marco Cogoni and Hylke Bons (Dune), Jens Ansorg (FreshFlower), Timothy
Schellhase and Lapo Calamandrei (GreenMeadow), "blackcombwhistler07" (RainDrops), Sergey Nazarov
(Storm), Jean-François Fortin Tam (Wood).

`plasma/`: 7 photographs of the Debian package `plasma-workspace-wallpapers` 5.27.5 (the 2560x1600
JPEG of each): BytheWater (Maciej Wiklo), Grey (Sigi Sagi), EveningGlow (Ian Hex), FallenLeaf
(Martin Klapetek), Kite, OneStandsOut and Path (Risto Saukonpää). Licence LGPL-3.
"""
CHUNK = 1 << 20
MAX_PHOTO = 32 << 20  # bytes; the largest of the 19 is under 4 MB


class PhotosError(RuntimeError):
    """A download, package or file that does not match what the recipes were trained on."""


def member_path(name: str) -> str:
    """Where ``name`` (``mate/X.jpg`` or ``plasma/X.jpg``) lies inside its package's data."""
    group, file = name.split("/")
    if group == "mate":
        return f"{MATE_DIR}/{file}"
    return f"{PLASMA_DIR}/{Path(file).stem}/contents/images/2560x1600.jpg"


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(CHUNK):
            h.update(block)
    return h.hexdigest()


def ar_member(deb: IO[bytes], prefix: str, source: Path) -> tuple[int, int]:
    """``(offset, size)`` of the first member of the ``ar`` archive ``deb`` whose name starts with
    ``prefix`` (a ``.deb`` is one: ``debian-binary``, ``control.tar.*``, ``data.tar.*``)."""
    if deb.read(8) != b"!<arch>\n":
        raise PhotosError(f"{source}: not a Debian package (no ar header)")
    end = deb.seek(0, 2)
    deb.seek(8)
    while header := deb.read(60):
        size_field = header[48:58].strip()
        if len(header) < 60 or header[58:60] != b"`\n" or not size_field.isdigit():
            raise PhotosError(
                f"{source}: damaged ar archive (member header at byte {deb.tell() - len(header)})"
            )
        name, size = header[:16].decode("latin-1").strip().rstrip("/"), int(size_field)
        if deb.tell() + size > end:
            raise PhotosError(f"{source}: damaged ar archive (member {name!r} runs past the end of the file)")
        if name.startswith(prefix):
            return deb.tell(), size
        deb.seek(size + size % 2, 1)  # members are 2-byte aligned
    raise PhotosError(f"{source}: holds no {prefix}*")


def extract_from_deb(deb_path: Path, group: str, out: Path) -> list[str]:
    """Write ``group``'s photos from the package file ``deb_path`` into ``out``; their names."""
    wanted = {member_path(n): n for n in PHOTOS if n.startswith(group + "/")}
    done: list[str] = []
    with deb_path.open("rb") as deb:
        offset, _ = ar_member(deb, "data.tar", deb_path)
        deb.seek(offset)
        with tarfile.open(fileobj=deb, mode="r|*") as tar:  # streamed: xz, gz or zstd-less tars
            for info in tar:
                name = wanted.get(info.name.removeprefix("./"))
                f = tar.extractfile(info) if name is not None and info.isfile() else None
                if f is not None and name is not None:
                    if info.size > MAX_PHOTO:
                        raise PhotosError(f"{deb_path}: {info.name} is {info.size} bytes, not a photograph")
                    data = f.read()
                    _place(out / name, data, f"{deb_path}:{info.name}")
                    done.append(name)
    missing = sorted(set(wanted.values()) - set(done))
    if missing:
        raise PhotosError(f"{deb_path}: lacks {', '.join(missing)}")
    return done


def _place(dst: Path, data: bytes, source: str) -> None:
    """Write ``data`` to ``dst`` if its sha256 is the manifest's; keep an identical existing file."""
    expected = PHOTOS[dst.parent.name + "/" + dst.name]
    got = hashlib.sha256(data).hexdigest()
    if got != expected:
        raise PhotosError(f"{source}: sha256 {got[:16]}... is not the expected {expected[:16]}...")
    if dst.exists():
        if sha256_of(dst) == expected:
            return
        raise PhotosError(f"{dst} exists with other content; move it away (nothing is overwritten)")
    atomic_write_bytes(dst, data, exclusive=True)


def download(package: Package, folder: Path) -> Path:
    """``package`` from Debian's pool into ``folder``, its sha256 checked."""
    dst = folder / package.file
    print(f"downloading {package.url}", file=sys.stderr)
    h = hashlib.sha256()

    def write(f: IO[bytes]) -> None:
        got = 0
        with urllib.request.urlopen(package.url, timeout=60) as r:
            while block := r.read(CHUNK):
                got += len(block)
                if got > package.size:
                    raise PhotosError(f"{package.url}: larger than the expected {package.size} bytes")
                h.update(block)
                f.write(block)

    atomic_write(dst, write)
    if h.hexdigest() != package.sha256:
        dst.unlink()
        raise PhotosError(f"{package.url}: sha256 {h.hexdigest()} is not the expected {package.sha256}")
    return dst


def find_deb(folder: Path, package: Package) -> Path:
    """The file of ``package`` in ``folder`` (any name ``<package>_*.deb``, sha256 checked)."""
    for p in sorted(folder.glob(f"{package.name}_*.deb")):
        if sha256_of(p) == package.sha256:
            return p
    raise PhotosError(
        f"{folder}: no {package.name}_*.deb with sha256 {package.sha256[:16]}... ({package.url}; "
        f"`apt-get download {package.name}` on Debian 12 fetches it)"
    )


def fetch(out: Path, debs: Path | None = None, copy_from: Path | None = None) -> list[Path]:
    """Write the 19 photos and ``LICENSES.md`` into ``out`` (module docstring); their paths."""
    if copy_from is not None:
        for name in PHOTOS:
            src = copy_from / name
            if not src.is_file():
                raise PhotosError(f"--copy-from {copy_from}: {name} is missing")
            if src.stat().st_size > MAX_PHOTO:
                raise PhotosError(f"{src}: {src.stat().st_size} bytes, larger than any of the photographs")
            _place(out / name, src.read_bytes(), str(src))
    else:
        with tempfile.TemporaryDirectory() as tmp:
            for group, package in PACKAGES.items():
                deb = find_deb(debs, package) if debs is not None else download(package, Path(tmp))
                extract_from_deb(deb, group, out)
    licences = out / "LICENSES.md"
    if not licences.exists():
        atomic_write_bytes(licences, LICENSES.encode())
    return [out / n for n in PHOTOS]


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(
        prog="python -m sr.data.photos",
        description="Fetch the 19 training photographs (two Debian packages; sha256 checked).",
    )
    p.add_argument("out", type=Path, help="folder to write (e.g. datasets/photos)")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--debs", type=Path, help="a folder holding the two .deb files (no download)")
    src.add_argument("--copy-from", type=Path, help="a folder with mate/ and plasma/ already (checked)")
    args = p.parse_args(argv)
    try:
        paths = fetch(args.out, args.debs, args.copy_from)
    except (PhotosError, OSError) as err:
        print(f"sr.data.photos: error: {err}", file=sys.stderr)
        raise SystemExit(1) from None
    print(f"{len(paths)} photographs in {args.out} (sha256 checked); licences in {args.out / 'LICENSES.md'}")


if __name__ == "__main__":
    main()
