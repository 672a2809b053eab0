"""Files out of Debian package files (``.deb``), read in Python: a ``.deb`` is an ``ar`` archive
holding ``debian-binary``, ``control.tar.*`` and ``data.tar.*``; no ``dpkg`` needed. Packages come
from Debian's pool (``download``, size and sha256 checked) or a folder of ``.deb`` files
(``find_deb``). Used by :mod:`sr.data.photos`.
"""

from __future__ import annotations

import hashlib
import sys
import tarfile
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from sr.atomic import atomic_write

POOL = "http://deb.debian.org/debian/pool/main"
CHUNK = 1 << 20


class PackageError(RuntimeError):
    """A download, package or member that is not what was expected."""


@dataclass(frozen=True)
class Package:
    name: str
    file: str  # in Debian's pool
    sha256: str
    size: int  # bytes: a download stops past it
    source: str = ""  # the source package, whose folder of the pool holds it (default: name)

    @property
    def url(self) -> str:
        src = self.source or self.name
        return f"{POOL}/{src[0]}/{src}/{self.file}"


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(CHUNK):
            h.update(block)
    return h.hexdigest()


def ar_member(deb: IO[bytes], prefix: str, source: Path) -> tuple[int, int]:
    """``(offset, size)`` of the first member of the ``ar`` archive ``deb`` whose name starts with
    ``prefix``. A damaged header (a size that is not digits or runs past the file) is an error."""
    if deb.read(8) != b"!<arch>\n":
        raise PackageError(f"{source}: not a Debian package (no ar header)")
    end = deb.seek(0, 2)
    deb.seek(8)
    while header := deb.read(60):
        size_field = header[48:58].strip()
        if len(header) < 60 or header[58:60] != b"`\n" or not size_field.isdigit():
            raise PackageError(
                f"{source}: damaged ar archive (member header at byte {deb.tell() - len(header)})"
            )
        name, size = header[:16].decode("latin-1").strip().rstrip("/"), int(size_field)
        if deb.tell() + size > end:
            raise PackageError(
                f"{source}: damaged ar archive (member {name!r} runs past the end of the file)"
            )
        if name.startswith(prefix):
            return deb.tell(), size
        deb.seek(size + size % 2, 1)  # members are 2-byte aligned
    raise PackageError(f"{source}: holds no {prefix}*")


def extract(
    deb_path: Path, members: Iterable[str], take: Callable[[str, bytes], None], max_size: int
) -> None:
    """Call ``take(member, data)`` for each of ``members`` (paths inside the package, without ``./``)
    found in ``deb_path``'s data; a missing one, or one over ``max_size`` bytes, is an error."""
    wanted, done = set(members), set()
    with deb_path.open("rb") as deb:
        offset, _ = ar_member(deb, "data.tar", deb_path)
        deb.seek(offset)
        with tarfile.open(fileobj=deb, mode="r|*") as tar:  # streamed: xz, gz or plain tars
            for info in tar:
                name = info.name.removeprefix("./")
                f = tar.extractfile(info) if name in wanted and info.isfile() else None
                if f is None:
                    continue
                if info.size > max_size:
                    raise PackageError(f"{deb_path}: {info.name} is {info.size} bytes, more than expected")
                take(name, f.read())
                done.add(name)
    missing = sorted(wanted - done)
    if missing:
        raise PackageError(f"{deb_path}: lacks {', '.join(missing)}")


def download(package: Package, folder: Path) -> Path:
    """``package`` from Debian's pool into ``folder``, its size and sha256 checked."""
    dst = folder / package.file
    print(f"downloading {package.url}", file=sys.stderr)
    h = hashlib.sha256()

    def write(f: IO[bytes]) -> None:
        got = 0
        with urllib.request.urlopen(package.url, timeout=60) as r:
            while block := r.read(CHUNK):
                got += len(block)
                if got > package.size:
                    raise PackageError(f"{package.url}: larger than the expected {package.size} bytes")
                h.update(block)
                f.write(block)

    atomic_write(dst, write)
    if h.hexdigest() != package.sha256:
        dst.unlink()
        raise PackageError(f"{package.url}: sha256 {h.hexdigest()} is not the expected {package.sha256}")
    return dst


def find_deb(folder: Path, package: Package) -> Path:
    """The file of ``package`` in ``folder`` (any name ``<package>_*.deb``, sha256 checked)."""
    for p in sorted(folder.glob(f"{package.name}_*.deb")):
        if sha256_of(p) == package.sha256:
            return p
    raise PackageError(
        f"{folder}: no {package.name}_*.deb with sha256 {package.sha256[:16]}... ({package.url}; "
        f"`apt-get download {package.name}` on Debian 12 fetches it)"
    )
