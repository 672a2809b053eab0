"""LMDB image stores in BasicSR's layout, and the in-memory encoding of their values.

An ``NAME.lmdb`` folder holds LMDB's ``data.mdb``/``lock.mdb`` and ``meta_info.txt``, one line per
image: ``KEY.png (H,W,C) COMPRESSION`` (BasicSR's format, so BasicSR-made LMDBs read here and ours
there). Keys are the file stems (UTF-8); values are PNG files in memory (8 or 16 bit, gray or colour).

The environment is opened lazily in each process (an LMDB handle must not cross a ``fork``), read-only
and without locking, as BasicSR does.
"""

from __future__ import annotations

import io
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from PIL import Image as PILImage

from sr.data.imageio import _DECODE_ERRORS, ImageReadError, to_uint

_META_LINE = re.compile(r"^(\S+)\s+\((\d+),\s*(\d+),\s*(\d+)\)(?:\s+(\S+))?\s*$")


@dataclass(frozen=True)
class MetaEntry:
    key: str
    height: int
    width: int
    channels: int


def read_meta_info(path: Path) -> list[MetaEntry]:
    """Parse an LMDB ``meta_info.txt``: ``NAME.png (H,W,C) [COMPRESSION]`` per line; the key is NAME
    without its extension. Raises ValueError naming the file and line for anything else."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise FileNotFoundError(f"cannot read LMDB meta info {path}: {e.strerror or e}") from e
    entries = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        m = _META_LINE.match(line.strip())
        if m is None:
            raise ValueError(f"{path}:{n}: expected 'NAME.png (H,W,C) COMPRESSION', got {line!r}")
        name, h, w, c = m.group(1), int(m.group(2)), int(m.group(3)), int(m.group(4))
        entries.append(MetaEntry(os.path.splitext(name)[0], h, w, c))
    if not entries:
        raise ValueError(f"{path}: no entries")
    return entries


def encode_png(data: torch.Tensor, bit_depth: int = 8, compress_level: int = 1) -> bytes:
    """Float (C, H, W) in [0, 1], C 1 or 3 -> PNG bytes (8 or 16 bit), as stored in an LMDB."""
    arr = to_uint(data, bit_depth)
    if arr.ndim == 3 and arr.shape[2] == 3:
        arr = cv2.cvtColor(arr, cv2.COLOR_RGB2BGR)
    elif arr.ndim == 3:
        arr = arr[..., 0]
    ok, buf = cv2.imencode(".png", arr, [cv2.IMWRITE_PNG_COMPRESSION, compress_level])
    if not ok:
        raise ValueError("OpenCV could not encode the PNG")
    return buf.tobytes()


def decode_image_bytes(raw: bytes | None, name: str) -> tuple[np.ndarray, int]:
    """Encoded image bytes -> ``(array, bit_depth)``: uint8/uint16 (C, H, W) with C 1 or 3, RGB, alpha
    dropped. ``name`` (e.g. ``'/data/x.lmdb:0001'``) is used in the :class:`ImageReadError` raised for
    missing, empty, unrecognised or undecodable data, and for an image above the pixel limit of
    :func:`~sr.data.imageio.read_image` (Pillow's ``2 * Image.MAX_IMAGE_PIXELS``), refused from the header
    before any pixel is decoded."""
    if not raw:
        raise ImageReadError(f"{name}: no image data")
    # OpenCV's own cap is 2**30 pixels (several GB); read_image refuses far less, through Pillow's
    # decompression-bomb check. PIL.Image.open parses only the header and applies that same check.
    try:
        with PILImage.open(io.BytesIO(raw)) as im:
            width, height = im.size
    except PILImage.DecompressionBombError as e:
        raise ImageReadError(f"{name}: refused: {e}") from e
    except PILImage.UnidentifiedImageError as e:
        raise ImageReadError(f"{name}: not a recognised image ({len(raw)} bytes)") from e
    except _DECODE_ERRORS as e:
        raise ImageReadError(f"{name}: cannot read the image header: {e}") from e
    try:
        arr = cv2.imdecode(np.frombuffer(raw, np.uint8), cv2.IMREAD_UNCHANGED)
    except cv2.error as e:  # e.g. a failed allocation
        raise ImageReadError(f"{name}: cannot decode {width}x{height} image: {e}") from e
    if arr is None or arr.dtype not in (np.uint8, np.uint16):
        raise ImageReadError(f"{name}: cannot decode image data ({len(raw)} bytes)")
    if arr.ndim == 2:
        chw = arr[None]
    elif arr.shape[2] in (3, 4):
        chw = cv2.cvtColor(arr[..., :3], cv2.COLOR_BGR2RGB).transpose(2, 0, 1)
    else:  # gray + alpha
        chw = arr[None, ..., 0]
    return np.ascontiguousarray(chw), 8 if arr.dtype == np.uint8 else 16


def uint_to_float(arr: np.ndarray, bit_depth: int) -> torch.Tensor:
    """uint (C, H, W) -> float32 in [0, 1], dividing by exactly 255 or 65535 as ``read_image`` does."""
    return torch.from_numpy(arr.astype(np.float32) / np.float32(2**bit_depth - 1))


# py-lmdb refuses to open one environment twice in a process (two datasets over the same LMDB would),
# so handles are shared per (process, path): a cache of read-only handles, not state that changes results.
_ENVS: dict[tuple[int, str], Any] = {}


def _open_env(root: Path) -> Any:
    import lmdb

    ident = (os.getpid(), str(root.resolve()))
    if ident not in _ENVS:
        _ENVS[ident] = lmdb.open(ident[1], readonly=True, lock=False, readahead=False, meminit=False)
    return _ENVS[ident]


class LmdbReader:
    """Read-only access to one LMDB by key, opened on first use in each process (picklable)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def get(self, key: str) -> bytes | None:
        with _open_env(self.root).begin(write=False) as txn:
            value = txn.get(key.encode("utf-8"))
        return None if value is None else bytes(value)
