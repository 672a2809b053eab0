"""sr.data.lmdb_io: values decoded from bytes refuse what read_image refuses (Pillow's pixel limit), from
the header, and every decoding failure is an ImageReadError naming the entry. PNGs are built here byte by
byte (independent of the code under test), or written by write_image."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from PIL import Image as PILImage

from sr.data.imageio import ImageReadError, read_image, write_image
from sr.data.lmdb_io import decode_image_bytes, encode_png


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def zero_png(width: int, height: int, bit_depth: int = 1, rows: int | None = None) -> bytes:
    """A gray PNG of ``width`` x ``height`` zeros. The pixel data is compressed while streaming 256 rows at
    a time, so a huge image costs a few MB of memory and some kB of file; ``rows`` < height writes only
    that many rows (a header that promises more than the data holds)."""
    row = bytes(1 + (width * bit_depth + 7) // 8)  # filter byte 0 + packed samples
    z = zlib.compressobj(1)
    parts, left = [], height if rows is None else rows
    while left > 0:
        n = min(256, left)
        parts.append(z.compress(row * n))
        left -= n
    parts.append(z.flush())
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, 0, 0, 0, 0)  # colour type 0: gray
    return (
        b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", b"".join(parts)) + _chunk(b"IEND", b"")
    )


def test_values_round_trip() -> None:
    g = torch.Generator().manual_seed(0)
    for c in (1, 3):
        for bits in (8, 16):
            levels = 2**bits - 1
            data = torch.randint(0, levels + 1, (c, 5, 7), generator=g).float() / levels
            arr, got_bits = decode_image_bytes(encode_png(data, bits), "x.lmdb:k")
            assert got_bits == bits and arr.shape == (c, 5, 7)
            assert np.array_equal(arr.astype(np.int64), (data * levels).round().long().numpy())


def test_pixel_bomb_is_refused_from_the_header_like_read_image(tmp_path: Path) -> None:
    # 20000 x 9000 = 180M pixels, above Pillow's default 2 * MAX_IMAGE_PIXELS (178,956,970); 22 kB of
    # 1-bit PNG that OpenCV would decode to 180 MB of uint8
    raw = zero_png(20000, 9000)
    assert len(raw) < 100_000
    with pytest.raises(ImageReadError, match=r"^/d/x\.lmdb:0001: refused: .*exceeds limit"):
        decode_image_bytes(raw, "/d/x.lmdb:0001")
    (tmp_path / "bomb.png").write_bytes(raw)
    with pytest.raises(ImageReadError, match="exceeds limit"):
        read_image(tmp_path / "bomb.png")


def test_the_limit_is_read_images_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # whatever Pillow's limit is set to, both readers draw the line at the same pixel count
    monkeypatch.setattr(PILImage, "MAX_IMAGE_PIXELS", 50)
    for (w, h), refused in {(10, 10): False, (10, 11): True}.items():  # 2 * 50 = 100 pixels allowed
        data = torch.zeros(1, h, w)
        write_image(tmp_path / "a.png", data)
        raw = (tmp_path / "a.png").read_bytes()
        if refused:
            with pytest.raises(ImageReadError, match=r"^e:k: refused"):
                decode_image_bytes(raw, "e:k")
            with pytest.raises(ImageReadError, match="exceeds limit"):
                read_image(tmp_path / "a.png")
        else:
            with pytest.warns(PILImage.DecompressionBombWarning):  # above MAX_IMAGE_PIXELS: warned, read
                assert decode_image_bytes(raw, "e:k")[0].shape == (1, h, w)
                assert read_image(tmp_path / "a.png").data.shape == (1, h, w)


def test_opencv_errors_become_image_read_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    # with Pillow's limit switched off, OpenCV's own check (2**30 pixels) raises cv2.error from the
    # header of this 40000 x 30000 PNG (one row of data present; nothing is allocated)
    monkeypatch.setattr(PILImage, "MAX_IMAGE_PIXELS", None)
    raw = zero_png(40000, 30000, rows=1)
    with pytest.raises(cv2.error):
        cv2.imdecode(np.frombuffer(raw, np.uint8), cv2.IMREAD_UNCHANGED)
    with pytest.raises(ImageReadError, match=r"^/d/x\.lmdb:0007: cannot decode 40000x30000 image"):
        decode_image_bytes(raw, "/d/x.lmdb:0007")


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (None, "no image data"),
        (b"", "no image data"),
        (b"not an image at all", "not a recognised image"),
        (b"\x89PNG\r\n\x1a\n" + b"\0" * 30, "not a recognised image"),
        (zero_png(8, 8, 8)[:-20], "cannot decode image data"),  # header, then the pixel data cut short
    ],
    ids=["none", "empty", "text", "broken header", "truncated"],
)
def test_bad_values_name_the_entry(raw: bytes | None, message: str) -> None:
    with pytest.raises(ImageReadError, match=rf"^db\.lmdb:0042: {message}"):
        decode_image_bytes(raw, "db.lmdb:0042")
