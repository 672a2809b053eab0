"""Where a dataset's images come from: the file lists (folder, ``meta_info_file``, LMDB) and the
readers that decode one image by reference (a path, or an LMDB key), with an optional in-memory cache.

Every error names the options key (e.g. ``datasets.train.dataroot_gt``) and the path.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import torch

from sr.data.imageio import is_image_file, read_pixels
from sr.data.lmdb_io import LmdbReader, decode_image_bytes, read_meta_info, uint_to_float

log = logging.getLogger(__name__)


class DatasetError(ValueError):
    """A dataset cannot be built or an item cannot be made; the message names the key and the files."""


def require_dir(path: str | None, key: str, what: str = "folder") -> Path:
    """``path`` as an existing directory, else a :class:`DatasetError` naming ``key`` and the path."""
    if path is None:
        raise DatasetError(f"{key}: missing; give the {what}")
    p = Path(path).expanduser()
    if not p.is_dir():
        raise DatasetError(f"{key}: {what} not found: {p}")
    return p


def list_folder(folder: Path, key: str) -> list[Path]:
    """Image files directly in ``folder``, sorted by name; other files are skipped with a warning."""
    files = []
    for p in sorted(folder.iterdir()):
        if p.is_file() and is_image_file(p):
            files.append(p)
        elif p.is_file() and not p.name.startswith("."):
            log.warning("%s: skipping %s: not an image file", key, p)
    if not files:
        raise DatasetError(f"{key}: no image files in {folder}")
    return files


def to_rgb_float(arr: np.ndarray, bit_depth: int) -> torch.Tensor:
    """uint (C, H, W) (C 1 or 3; a crop view is fine) -> float32 (3, H, W) in [0, 1], gray replicated:
    the values :func:`sr.data.imageio.read_image` gives for the same pixels."""
    data = uint_to_float(np.ascontiguousarray(arr), bit_depth)
    return data.expand(3, -1, -1).contiguous() if data.shape[0] == 1 else data


def read_name_list(meta_file: str, key: str) -> list[str]:
    """BasicSR's ``meta_info_file``: the first whitespace-separated field of every non-empty line.

    Names are relative to the data root and may name subfolders (``sub/x.png``). An absolute name, one
    that leaves the root (``../x.png``, ``sub/../../x.png``) or one listed twice (``x.png`` and
    ``./x.png`` count as the same) raises :class:`DatasetError` naming the file, the line and the name.
    The check is on the names as written: symbolic links inside the root are the user's to make.
    """
    p = Path(meta_file).expanduser()
    try:
        lines = p.read_text(encoding="utf-8").splitlines()
    except OSError as e:
        raise DatasetError(f"{key}.meta_info_file: cannot read {p}: {e.strerror or e}") from e
    names: list[str] = []
    first_line: dict[str, int] = {}
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        name = line.split()[0]
        where = f"{key}.meta_info_file: {p} line {number}: {name!r}"
        if os.path.isabs(name):
            raise DatasetError(f"{where} is an absolute path; names must be relative to the data root")
        norm = os.path.normpath(name)
        if norm == os.pardir or norm.startswith(os.pardir + os.sep):
            raise DatasetError(f"{where} points outside the data root; names must stay inside it")
        if norm in first_line:
            raise DatasetError(f"{where} is listed twice (first on line {first_line[norm]})")
        first_line[norm] = number
        names.append(name)
    if not names:
        raise DatasetError(f"{key}.meta_info_file: {p} lists no files")
    return names


class ImageSource:
    """Decodes images of one dataroot by reference: a file path (``disk``) or a key (``lmdb``).

    :meth:`read` returns float32 (3, H, W) in [0, 1] (gray replicated, alpha dropped); :meth:`decode`
    the stored uint values (C, H, W), C 1 or 3, for :func:`to_rgb_float` after a crop. With
    :meth:`fill_cache`, decoded images are kept as uint8/uint16 arrays; call it in the main process
    before DataLoader workers start, so that the workers share those pages copy-on-write instead of
    each decoding its own copy. Cached and uncached reads give identical tensors.
    """

    def __init__(self, root: Path, backend: str) -> None:
        self.root = root
        self.backend = backend
        self.lmdb = LmdbReader(root) if backend == "lmdb" else None
        self.cache: dict[str, tuple[np.ndarray, int]] = {}

    def describe(self, ref: str) -> str:
        """A human-readable name of ``ref``: the file path, or ``ROOT.lmdb:KEY``."""
        return ref if self.lmdb is None else f"{self.root}:{ref}"

    def path_of(self, ref: str) -> Path:
        return Path(ref) if self.lmdb is None else self.root / ref

    def decode(self, ref: str) -> tuple[np.ndarray, int]:
        """``(uint array (C, H, W), bit_depth)``; raises ImageReadError naming the file or key."""
        if ref in self.cache:
            return self.cache[ref]
        if self.lmdb is not None:
            return decode_image_bytes(self.lmdb.get(ref), self.describe(ref))
        return read_pixels(ref)

    def read(self, ref: str) -> torch.Tensor:
        return to_rgb_float(*self.decode(ref))

    def fill_cache(self, ref: str) -> None:
        self.cache[ref] = self.decode(ref)

    def check(self, ref: str) -> None:
        """Decode ``ref`` once (raising ImageReadError if it cannot be read)."""
        self.decode(ref)


def gt_entries(root: Path, backend: str, meta_info_file: str | None, key: str) -> list[tuple[str, str]]:
    """``[(stem, ref)]`` of the GT images, in order: the folder's image files (sorted), the names of
    ``meta_info_file`` (relative to the folder), or the keys of the LMDB's ``meta_info.txt``."""
    if backend == "lmdb":
        if meta_info_file is not None:
            return [(_stem(n), _stem(n)) for n in read_name_list(meta_info_file, key)]
        return [(e.key, e.key) for e in lmdb_meta(root, f"{key}.dataroot_gt")]
    if meta_info_file is not None:
        out = []
        for name in read_name_list(meta_info_file, key):
            p = root / name
            if not p.is_file():
                raise DatasetError(f"{key}.meta_info_file: {meta_info_file} lists {name}, not found: {p}")
            out.append((p.stem, str(p)))
        return out
    return [(p.stem, str(p)) for p in list_folder(root, f"{key}.dataroot_gt")]


def lmdb_meta(root: Path, key: str) -> list:
    if not (root / "data.mdb").is_file():
        raise DatasetError(f"{key}: {root} is not an LMDB (no data.mdb); make one with tools/make_lmdb.py")
    try:
        return read_meta_info(root / "meta_info.txt")
    except (OSError, ValueError) as e:
        raise DatasetError(f"{key}: {e}") from e


def lq_index(root: Path, backend: str, key: str) -> dict[str, list[str]]:
    """Stem -> refs of the LQ images (several when the same stem has several extensions)."""
    index: dict[str, list[str]] = {}
    if backend == "lmdb":
        for e in lmdb_meta(root, key):
            index.setdefault(e.key, []).append(e.key)
    else:
        for p in list_folder(root, key):
            index.setdefault(p.stem, []).append(str(p))
    return index


def _stem(name: str) -> str:
    return os.path.splitext(name)[0] if is_image_file(name) else name
