"""sr.data.imageio: real files in tmp_path, written by Pillow/OpenCV directly (independent of the code under
test) or by write_image, and read back."""

from __future__ import annotations

import io
import os
import re
import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from PIL import Image as PILImage
from PIL import ImageCms, ImageFile, ImageOps, features

from sr.data.imageio import (
    IMAGE_EXTENSIONS,
    ImageReadError,
    ImageWriteError,
    is_image_file,
    read_image,
    read_pixels,
    to_uint,
    write_image,
)

needs_webp = pytest.mark.skipif(not features.check("webp"), reason="Pillow built without WebP")


def _rng() -> np.random.Generator:
    return np.random.default_rng(1234)


def _u8(shape: tuple[int, ...]) -> np.ndarray:
    return _rng().integers(0, 256, shape, dtype=np.uint8)


def _tensor(arr: np.ndarray) -> torch.Tensor:
    """uint (H, W[, C]) -> float32 (C, H, W) in [0, 1], the library convention."""
    scale = 255.0 if arr.dtype == np.uint8 else 65535.0
    chw = arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1)
    return torch.from_numpy(chw.astype(np.float32) / np.float32(scale))


def _ramp16() -> np.ndarray:
    """(256, 256, 3) uint16 holding every one of the 65536 levels in each channel, in different orders
    (most are not multiples of 257, so an 8-bit detour cannot reproduce them)."""
    levels = np.arange(65536, dtype=np.uint16)
    return np.stack([levels, levels[::-1], _rng().permutation(levels)], axis=-1).reshape(256, 256, 3)


def _smooth_rgb(h: int = 64, w: int = 96) -> np.ndarray:
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    img = np.stack([x / w, y / h, 0.5 + 0.4 * np.sin(x / 9.0) * np.cos(y / 7.0)], axis=-1)
    return np.round(img * 255).astype(np.uint8)


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float(10 * np.log10(255.0**2 / mse))


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def _srgb_icc() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def test_extensions_and_is_image_file():
    assert frozenset({".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff"}) == IMAGE_EXTENSIONS
    assert is_image_file("a/b/photo.JPG") and is_image_file(Path("x.Tiff")) and is_image_file("x.webp")
    assert not is_image_file("x.gif") and not is_image_file("x.png.txt") and not is_image_file("png")


def test_to_uint_rounds_clamps_and_keeps_layout():
    # k/255 plus 0.4 or 0.6 of a step rounds to k or k + 1; out-of-range values clamp.
    x = torch.tensor([[-0.5, 0.0, (100 + 0.4) / 255, (100 + 0.6) / 255, 1.0, 7.0]])
    np.testing.assert_array_equal(to_uint(x), np.array([[0, 0, 100, 101, 255, 255]], np.uint8))
    y = torch.tensor([[(40000 + 0.4) / 65535, (40000 + 0.6) / 65535, 2.0]])
    out16 = to_uint(y, bit_depth=16)
    assert out16.dtype == np.uint16
    np.testing.assert_array_equal(out16, np.array([[40000, 40001, 65535]], np.uint16))
    chw = torch.rand(3, 4, 5)
    assert to_uint(chw).shape == (4, 5, 3)
    np.testing.assert_array_equal(to_uint(chw)[1, 2], to_uint(chw[:, 1, 2].reshape(3, 1, 1))[0, 0])
    with pytest.raises(ValueError, match="NaN"):
        to_uint(torch.tensor([[0.5, float("nan")]]))
    with pytest.raises(ValueError, match="bit_depth"):
        to_uint(chw, bit_depth=12)


def test_png_8bit_rgb_round_trip_is_exact(tmp_path):
    arr = _u8((20, 30, 3))
    out = write_image(tmp_path / "a.png", _tensor(arr))
    assert out == tmp_path / "a.png"
    np.testing.assert_array_equal(np.asarray(PILImage.open(out)), arr)  # independent reader
    img = read_image(out)
    assert img.data.dtype == torch.float32 and img.data.shape == (3, 20, 30)
    assert torch.equal(img.data, _tensor(arr)) and img.alpha is None and img.bit_depth == 8
    assert img.path == out and not img.is_gray


def test_rgb_file_with_equal_channels_stays_rgb(tmp_path):
    gray = _u8((8, 9))
    PILImage.fromarray(np.stack([gray] * 3, axis=-1)).save(tmp_path / "g.png")
    img = read_image(tmp_path / "g.png")
    assert img.data.shape == (3, 8, 9) and not img.is_gray


def test_png_16bit_rgb_written_by_opencv_keeps_every_level(tmp_path):
    ramp = _ramp16()
    assert cv2.imwrite(str(tmp_path / "r.png"), ramp[..., ::-1])  # OpenCV wants BGR
    img = read_image(tmp_path / "r.png")
    assert img.bit_depth == 16 and img.data.shape == (3, 256, 256)
    np.testing.assert_array_equal(to_uint(img.data, 16), ramp)


@pytest.mark.parametrize("name", ["r.png", "r.tif"])
def test_16bit_rgba_round_trip_is_exact(tmp_path, name):
    ramp = _ramp16()
    alpha = ramp[..., 2:]
    write_image(tmp_path / name, _tensor(ramp), alpha=_tensor(alpha), bit_depth=16)
    written = cv2.imread(str(tmp_path / name), cv2.IMREAD_UNCHANGED)  # independent reader, BGRA
    assert written.dtype == np.uint16
    np.testing.assert_array_equal(written[..., [2, 1, 0]], ramp)
    img = read_image(tmp_path / name)
    assert img.bit_depth == 16 and img.alpha is not None
    np.testing.assert_array_equal(to_uint(img.data, 16), ramp)
    np.testing.assert_array_equal(to_uint(img.alpha, 16), alpha)


@pytest.mark.parametrize("name", ["g.png", "g.tiff"])
def test_16bit_gray_round_trip_is_exact(tmp_path, name):
    levels = _ramp16()[..., 2]
    PILImage.fromarray(levels).save(tmp_path / f"pil_{name}")  # Pillow writes mode I;16
    img = read_image(tmp_path / f"pil_{name}")
    assert img.is_gray and img.bit_depth == 16
    np.testing.assert_array_equal(to_uint(img.data[0], 16), levels)
    write_image(tmp_path / name, img.data, bit_depth=16)
    np.testing.assert_array_equal(np.asarray(PILImage.open(tmp_path / name)), levels)


def test_png_16bit_gray_alpha_reads_as_gray_with_alpha(tmp_path):
    # Neither Pillow nor OpenCV writes 16-bit gray+alpha (PNG colour type 4), so build the file by hand.
    la = _rng().integers(0, 65536, (5, 7, 2), dtype=np.uint16)
    rows = b"".join(b"\x00" + la[y].astype(">u2").tobytes() for y in range(5))
    ihdr = struct.pack(">IIBBBBB", 7, 5, 16, 4, 0, 0, 0)
    png = b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", zlib.compress(rows))
    (tmp_path / "la16.png").write_bytes(png + _png_chunk(b"IEND", b""))
    img = read_image(tmp_path / "la16.png")
    assert img.is_gray and img.bit_depth == 16 and img.alpha is not None
    np.testing.assert_array_equal(to_uint(img.data[0], 16), la[..., 0])
    np.testing.assert_array_equal(to_uint(img.alpha[0], 16), la[..., 1])


def test_rgba_png_keeps_alpha(tmp_path):
    rgba = _u8((6, 10, 4))
    PILImage.fromarray(rgba).save(tmp_path / "pil.png")
    img = read_image(tmp_path / "pil.png")
    assert img.data.shape == (3, 6, 10) and img.alpha is not None and img.alpha.shape == (1, 6, 10)
    assert torch.equal(img.alpha, _tensor(rgba[..., 3])) and torch.equal(img.data, _tensor(rgba[..., :3]))
    write_image(tmp_path / "out.png", img.data, alpha=img.alpha)
    np.testing.assert_array_equal(np.asarray(PILImage.open(tmp_path / "out.png")), rgba)


def test_gray_alpha_png_round_trip(tmp_path):
    la = _u8((6, 10, 2))
    PILImage.fromarray(la).save(tmp_path / "la.png")
    img = read_image(tmp_path / "la.png")
    assert img.is_gray and img.alpha is not None
    assert torch.equal(img.data, _tensor(la[..., 0])) and torch.equal(img.alpha, _tensor(la[..., 1]))
    write_image(tmp_path / "out.png", img.data, alpha=img.alpha)
    with PILImage.open(tmp_path / "out.png") as im:
        assert im.mode == "LA"
        np.testing.assert_array_equal(np.asarray(im), la)


def test_palette_png_with_and_without_transparency(tmp_path):
    index = np.array([[0, 1, 2], [2, 1, 0]], np.uint8)
    palette = [255, 0, 0, 0, 255, 0, 0, 0, 255]
    im = PILImage.new("P", (3, 2))
    im.putdata(index.ravel().tolist())
    im.putpalette(palette)
    im.save(tmp_path / "opaque.png")
    im.save(tmp_path / "clear.png", transparency=bytes([255, 0, 128]))
    expected_rgb = np.array(palette, np.uint8).reshape(3, 3)[index]
    opaque = read_image(tmp_path / "opaque.png")
    assert opaque.alpha is None and torch.equal(opaque.data, _tensor(expected_rgb))
    clear = read_image(tmp_path / "clear.png")
    assert clear.alpha is not None and torch.equal(clear.data, _tensor(expected_rgb))
    assert torch.equal(clear.alpha, _tensor(np.array([255, 0, 128], np.uint8)[index]))


@pytest.mark.parametrize("mode", ["L", "RGB"])
def test_colour_key_transparency_becomes_alpha(tmp_path, mode):
    arr = np.array([[10, 20, 30], [20, 10, 20]], np.uint8)
    im = PILImage.fromarray(arr).convert(mode)
    im.save(tmp_path / "key.png", transparency=20 if mode == "L" else (20, 20, 20))  # a PNG tRNS chunk
    img = read_image(tmp_path / "key.png")
    assert img.data.shape[0] == len(mode) and img.alpha is not None
    assert torch.equal(img.alpha, _tensor(np.where(arr == 20, 0, 255).astype(np.uint8)))
    assert torch.equal(img.data, _tensor(np.asarray(im)))


def test_one_bit_png_reads_as_gray_0_or_1(tmp_path):
    bits = (np.indices((7, 9)).sum(axis=0) % 3 == 0).astype(np.uint8) * 255
    PILImage.fromarray(bits).convert("1").save(tmp_path / "b.png")
    img = read_image(tmp_path / "b.png")
    assert img.is_gray and img.bit_depth == 8
    assert torch.equal(img.data[0], torch.from_numpy(bits == 255).float())


@needs_webp
def test_webp_lossless_is_exact_even_under_transparent_pixels(tmp_path):
    rgba = _u8((12, 16, 4))
    rgba[::2, ::3, 3] = 0  # fully transparent pixels whose colour libwebp would otherwise discard
    write_image(tmp_path / "a.webp", _tensor(rgba[..., :3]), alpha=_tensor(rgba[..., 3]), quality=100)
    img = read_image(tmp_path / "a.webp")
    assert img.alpha is not None
    assert torch.equal(img.data, _tensor(rgba[..., :3])) and torch.equal(img.alpha, _tensor(rgba[..., 3]))


def test_jpeg_is_close_and_quality_sets_size(tmp_path):
    arr = _smooth_rgb()
    hi = write_image(tmp_path / "hi.jpg", _tensor(arr), quality=95)
    lo = write_image(tmp_path / "lo.JPEG", _tensor(arr), quality=30)
    img = read_image(hi)
    assert img.data.shape == (3, 64, 96) and img.bit_depth == 8
    assert _psnr(to_uint(img.data), arr) > 35
    assert lo.stat().st_size < 0.8 * hi.stat().st_size


@pytest.mark.parametrize("name", ["a.tif", "a.bmp"])
@pytest.mark.parametrize("channels", [1, 3])
def test_tiff_and_bmp_8bit_round_trip_is_exact(tmp_path, name, channels):
    arr = _u8((9, 11, channels))
    write_image(tmp_path / name, _tensor(arr))
    img = read_image(tmp_path / name)
    assert img.data.shape == (channels, 9, 11) and img.bit_depth == 8
    assert torch.equal(img.data, _tensor(arr))


def test_cmyk_jpeg_reads_as_rgb(tmp_path):
    arr = _smooth_rgb()
    PILImage.fromarray(arr).convert("CMYK").save(tmp_path / "cmyk.jpg", quality=95)
    img = read_image(tmp_path / "cmyk.jpg")
    assert img.data.shape == (3, 64, 96) and img.alpha is None
    assert _psnr(to_uint(img.data), arr) > 30


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_matches_pillow_exif_transpose(tmp_path, orientation):
    arr = _u8((5, 8, 3))  # non-square and random, so every one of the 8 transforms gives a different array
    exif = PILImage.Exif()
    exif[0x0112] = orientation
    PILImage.fromarray(arr).save(tmp_path / "o.png", exif=exif)
    with PILImage.open(tmp_path / "o.png") as im:
        expected = np.asarray(ImageOps.exif_transpose(im))
    img = read_image(tmp_path / "o.png")
    assert torch.equal(img.data, _tensor(expected))


def test_jpeg_phone_photo_comes_out_upright(tmp_path):
    arr = np.zeros((40, 64, 3), np.uint8)
    arr[:8, :16] = 255  # white block in the top-left corner of the stored pixels
    exif = PILImage.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    PILImage.fromarray(arr).save(tmp_path / "phone.jpg", exif=exif.tobytes(), quality=95)
    img = read_image(tmp_path / "phone.jpg")
    assert img.data.shape == (3, 64, 40)
    with PILImage.open(tmp_path / "phone.jpg") as im:
        np.testing.assert_array_equal(to_uint(img.data), np.asarray(ImageOps.exif_transpose(im)))
    assert img.data[:, :16, -8:].mean() > 0.9 and img.data[:, :16, :8].mean() < 0.1  # now top-right


def test_exif_orientation_applies_to_16bit_png(tmp_path):
    ramp = _ramp16()[:128, :, :]  # non-square
    path = write_image(tmp_path / "r.png", _tensor(ramp), bit_depth=16)
    exif = PILImage.Exif()
    exif[0x0112] = 8
    png = path.read_bytes()  # insert an eXIf chunk (raw TIFF, without "Exif\0\0") after IHDR
    path.write_bytes(png[:33] + _png_chunk(b"eXIf", exif.tobytes()[6:]) + png[33:])
    img = read_image(path)
    assert img.bit_depth == 16
    np.testing.assert_array_equal(to_uint(img.data, 16), np.rot90(ramp, 1))


@pytest.mark.parametrize(
    ("name", "bit_depth"), [("a.png", 8), ("a.jpg", 8), ("a.webp", 8), ("a.tif", 8), ("a.png", 16)]
)
def test_icc_profile_survives_read_write_read(tmp_path, name, bit_depth):
    if name.endswith(".webp") and not features.check("webp"):
        pytest.skip("Pillow built without WebP")
    icc = _srgb_icc()
    src = tmp_path / f"src{Path(name).suffix}"
    PILImage.fromarray(_u8((8, 8, 3))).save(src, icc_profile=icc)
    first = read_image(src)
    assert first.icc_profile == icc
    write_image(tmp_path / name, first.data, bit_depth=bit_depth, icc_profile=first.icc_profile)
    again = read_image(tmp_path / name)
    assert again.icc_profile == icc and again.bit_depth == bit_depth


def test_icc_profile_must_match_the_data(tmp_path):
    with pytest.raises(ImageWriteError, match="ICC profile"):
        write_image(tmp_path / "g.png", torch.rand(1, 4, 4), icc_profile=_srgb_icc())
    assert list(tmp_path.iterdir()) == []


def _truncated(data: bytes) -> bytes:
    return data[: len(data) // 2]


def _encoded_png16() -> bytes:
    return cv2.imencode(".png", _ramp16())[1].tobytes()


def _encoded(fmt: str) -> bytes:
    buf = io.BytesIO()
    PILImage.fromarray(_u8((64, 64, 3))).save(buf, format=fmt)
    return buf.getvalue()


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("empty.png", b""),
        ("notes.png", b"this is a text file, not an image\n"),
        ("half.png", _truncated(_encoded("PNG"))),
        ("half.jpg", _truncated(_encoded("JPEG"))),
        ("half16.png", _truncated(_encoded_png16())),
        ("half.tif", _truncated(_encoded("TIFF"))),
        ("anim.png", _encoded("GIF")),  # a readable image, but not a supported format
    ],
)
def test_bad_files_raise_read_error_naming_the_file(tmp_path, name, content):
    (tmp_path / name).write_bytes(content)
    with pytest.raises(ImageReadError, match=re.escape(name)):
        read_image(tmp_path / name)


def _png_with_idat(png: bytes, edit) -> bytes:
    """``png`` (one IDAT chunk, as Pillow writes small images) with its IDAT payload replaced by
    ``edit(payload)`` and a correct CRC, or, with ``edit`` None, one payload byte flipped (CRC wrong)."""
    start = png.index(b"IDAT") - 4
    n = struct.unpack(">I", png[start : start + 4])[0]
    payload = png[start + 8 : start + 8 + n]
    if edit is None:
        flipped = bytearray(png)
        flipped[start + 8 + n // 2] ^= 0xFF
        return bytes(flipped)
    return png[:start] + _png_chunk(b"IDAT", edit(payload)) + png[start + 12 + n :]


@pytest.mark.parametrize(
    "edit",
    [
        None,  # CRC mismatch
        lambda d: d[: len(d) // 2] + bytes([d[len(d) // 2] ^ 0xFF]) + d[len(d) // 2 + 1 :],  # bad zlib data
        lambda d: zlib.compress(zlib.decompress(d)[: 64 * 193 // 2]),  # half the rows (Pillow accepts this)
    ],
    ids=["crc", "zlib", "short"],
)
def test_corrupt_png_pixel_data_raises_read_error(tmp_path, edit):
    """Broken IDAT data behind an intact IEND: read_image rejects it, naming the file, also where
    Pillow alone would hand back a half-decoded image (short data)."""
    path = tmp_path / "broken.png"
    path.write_bytes(_png_with_idat(_encoded("PNG"), edit))
    with pytest.raises(ImageReadError, match=r"broken\.png"):
        read_image(path)


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("writer", ["pillow-fast", "pillow-optimize", "opencv"])
def test_plain_png_decodes_to_pillow_values(tmp_path, writer, channels):
    """8-bit gray/RGB PNGs without transparency or EXIF (decoded by OpenCV) give exactly Pillow's values,
    whatever the encoder's filters and compression."""
    arr = np.clip(_smooth_rgb(90, 130).astype(np.int16) + _rng().integers(-20, 21, (90, 130, 3)), 0, 255)
    arr = arr.astype(np.uint8) if channels == 3 else arr.astype(np.uint8)[..., 1]
    path = tmp_path / "plain.png"
    if writer == "opencv":
        cv2.imwrite(str(path), arr[..., ::-1] if channels == 3 else arr)
    else:
        PILImage.fromarray(arr).save(
            path, compress_level=1 if writer == "pillow-fast" else 9, optimize=writer != "pillow-fast"
        )
    with PILImage.open(path) as im:
        expected = np.asarray(im)
    pixels, bits = read_pixels(path)
    assert bits == 8 and pixels.shape == (channels, 90, 130)
    np.testing.assert_array_equal(pixels[0] if channels == 1 else pixels.transpose(1, 2, 0), expected)
    assert torch.equal(read_image(path).data, _tensor(expected))


def test_missing_file_and_directory_raise_read_error(tmp_path):
    with pytest.raises(ImageReadError, match=r"missing\.png"):
        read_image(tmp_path / "missing.png")
    (tmp_path / "folder.png").mkdir()
    with pytest.raises(ImageReadError, match=r"folder\.png"):
        read_image(tmp_path / "folder.png")


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_truncation_is_caught_even_with_load_truncated_images_set(tmp_path, monkeypatch, fmt):
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    path = tmp_path / f"cut.{fmt.lower()}"
    path.write_bytes(_truncated(_encoded(fmt)))
    with PILImage.open(path) as im:
        im.load()  # Pillow itself accepts the file when the global is set...
    with pytest.raises(ImageReadError, match="truncated"):
        read_image(path)  # ...read_image does not


def test_write_unknown_extension_lists_allowed(tmp_path):
    with pytest.raises(ImageWriteError, match=r"out\.gif.*allowed: \.bmp, \.jpeg, \.jpg, \.png"):
        write_image(tmp_path / "out.gif", torch.rand(3, 4, 4))


@pytest.mark.parametrize("name", ["a.jpg", "a.bmp"])
def test_write_alpha_to_format_without_alpha_raises(tmp_path, name):
    with pytest.raises(ImageWriteError, match=re.escape(name) + ".*alpha"):
        write_image(tmp_path / name, torch.rand(3, 4, 4), alpha=torch.rand(1, 4, 4))
    assert not (tmp_path / name).exists()


def test_write_16bit_jpeg_and_bad_shapes_raise(tmp_path):
    with pytest.raises(ImageWriteError, match="16-bit"):
        write_image(tmp_path / "a.jpg", torch.rand(3, 4, 4), bit_depth=16)
    with pytest.raises(ImageWriteError, match=r"\(C, H, W\)"):
        write_image(tmp_path / "a.png", torch.rand(2, 4, 4))
    with pytest.raises(ImageWriteError, match="alpha must be"):
        write_image(tmp_path / "a.png", torch.rand(3, 4, 4), alpha=torch.rand(1, 4, 5))


def test_overwrite_false_leaves_existing_file_byte_identical(tmp_path):
    path = write_image(tmp_path / "a.png", torch.rand(3, 4, 4))
    before = path.read_bytes()
    with pytest.raises(ImageWriteError, match=r"a\.png.*exists"):
        write_image(path, torch.zeros(3, 4, 4), overwrite=False)
    assert path.read_bytes() == before
    write_image(path, torch.zeros(3, 4, 4))  # overwrite=True replaces it
    assert path.read_bytes() != before


def test_failed_write_leaves_no_temp_file_and_old_file_untouched(tmp_path):
    blocker = tmp_path / "blocked.png"
    blocker.mkdir()
    (blocker / "keep.txt").write_text("x")
    with pytest.raises(ImageWriteError, match=r"blocked\.png"):
        write_image(blocker, torch.rand(3, 4, 4))  # the rename onto a directory fails after the temp write
    assert blocker.is_dir() and [p.name for p in blocker.iterdir()] == ["keep.txt"]
    old = write_image(tmp_path / "old.png", torch.rand(3, 4, 4))
    before = old.read_bytes()
    bad = torch.rand(3, 4, 4)
    bad[0, 0, 0] = float("nan")
    with pytest.raises(ImageWriteError, match=r"old\.png.*NaN"):
        write_image(old, bad)
    assert old.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blocked.png", "old.png"]  # no .tmp left


def test_write_creates_parents_with_umask_permissions(tmp_path):
    path = write_image(tmp_path / "x" / "y" / "a.png", torch.rand(3, 4, 4))
    assert path == tmp_path / "x" / "y" / "a.png" and path.is_file()
    if os.name == "posix":
        umask = os.umask(0)
        os.umask(umask)
        assert path.stat().st_mode & 0o777 == 0o666 & ~umask


def test_gray_webp_is_stored_as_rgb_and_rgb_helper(tmp_path):
    gray = torch.from_numpy(_u8((1, 5, 6)).astype(np.float32) / 255)
    if features.check("webp"):
        img = read_image(write_image(tmp_path / "g.webp", gray, quality=100))
        assert img.data.shape == (3, 5, 6) and torch.equal(img.data, gray.expand(3, -1, -1))
    img = read_image(write_image(tmp_path / "g.png", gray))
    assert img.is_gray and img.rgb().shape == (3, 5, 6) and torch.equal(img.rgb()[2], gray[0])


@pytest.mark.parametrize(
    "name, make",
    [
        ("rgb.png", lambda: PILImage.fromarray(_u8((6, 7, 3)))),
        ("gray.png", lambda: PILImage.fromarray(_u8((6, 7)))),
        ("rgba.png", lambda: PILImage.fromarray(_u8((6, 7, 4)))),
        ("pal.png", lambda: PILImage.fromarray(_u8((6, 7, 3))).convert("P")),
        ("rot.jpg", None),
    ],
)
def test_read_pixels_are_the_stored_values_of_read_image(tmp_path, name, make):
    """Training data crops ``read_pixels`` and converts the crop: the same values as read_image."""
    path = tmp_path / name
    if make is None:  # a JPEG with EXIF orientation 6: the pixels come out upright as well
        exif = PILImage.Exif()
        exif[0x0112] = 6
        PILImage.fromarray(_u8((6, 10, 3))).save(path, exif=exif)
    else:
        make().save(path)
    img = read_image(path)
    arr, bits = read_pixels(path)
    assert bits == img.bit_depth == 8 and arr.dtype == np.uint8
    assert arr.shape == tuple(img.data.shape)
    assert torch.equal(torch.from_numpy(arr.astype(np.float32) / np.float32(255)), img.data)


def test_read_pixels_of_16bit_png(tmp_path):
    assert cv2.imwrite(str(tmp_path / "w.png"), _ramp16())
    arr, bits = read_pixels(tmp_path / "w.png")
    assert bits == 16 and arr.dtype == np.uint16
    expected = read_image(tmp_path / "w.png").data
    assert torch.equal(torch.from_numpy(arr.astype(np.float32) / np.float32(65535)), expected)
