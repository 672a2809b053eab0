"""Image files <-> float32 tensors: the only module in ``sr`` that sees uint8/uint16, BGR or HWC arrays.

Inside the library an image is float32 RGB (or single-channel gray), CHW, in [0, 1]. Reading divides the
stored integers by exactly 255 or 65535, so ``round(x * (2**bits - 1))`` (:func:`to_uint`) gives back the
stored values. Pillow decodes and encodes almost everything; OpenCV handles 16-bit colour PNG/TIFF, which
Pillow silently reduces to 8 bits, and decodes plain 8-bit gray/RGB PNGs (no palette, transparency or
EXIF), the bulk of training data, faster than Pillow (same values; it also rejects short pixel data,
which Pillow decodes half-way without an error).

Truncated files raise: Pillow decodes fully at read time (``ImageFile.LOAD_TRUNCATED_IMAGES`` is left
alone, and is False unless someone sets it), and PNG/JPEG are also checked for their end markers, so
those two formats are rejected even when that global is set.
"""

from __future__ import annotations

import io
import logging
import os
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from PIL import Image as PILImage

from sr.atomic import OutputExistsError, atomic_write_bytes

logger = logging.getLogger(__name__)

IMAGE_EXTENSIONS: frozenset[str] = frozenset({".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff"})
_READ_FORMATS = frozenset({"PNG", "JPEG", "MPO", "WEBP", "BMP", "TIFF"})  # MPO: multi-picture phone JPEGs
_UINT16_MODES = frozenset({"I;16", "I;16L", "I;16B", "I;16N"})
# Pillow mode -> the mode it is converted to before reading the pixels.
# CMYK -> RGB is Pillow's naive inversion; the CMYK ICC profile is then dropped.
_CONVERT = {"1": "L", "La": "LA", "PA": "RGBA", "RGBX": "RGB", "RGBa": "RGBA", "YCbCr": "RGB", "CMYK": "RGB"}
_KEEP = frozenset({"L", "LA", "RGB", "RGBA"}) | _UINT16_MODES
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, IndexError, KeyError, TypeError, struct.error)


class ImageReadError(ValueError):
    """A file could not be read as an image; the message names the file and the problem."""


class ImageWriteError(ValueError):
    """An image could not be written; the message names the file and the problem."""


@dataclass(frozen=True, eq=False)
class Image:
    """A decoded image.

    ``data``: float32 (C, H, W) in [0, 1], C == 1 (gray) or 3 (RGB), never alpha; EXIF orientation applied.
    ``alpha``: float32 (1, H, W) in [0, 1], or None when the file has no alpha (or transparency) channel.
    ``bit_depth``: 8 or 16 bits per channel as stored (1-bit and palette files count as 8).
    ``icc_profile``: the embedded ICC profile when it describes ``data`` (an RGB profile for C == 3, a gray
    one for C == 1), so it can be passed on to :func:`write_image`; otherwise None.
    """

    data: torch.Tensor
    alpha: torch.Tensor | None
    bit_depth: int
    icc_profile: bytes | None
    path: Path | None

    @property
    def is_gray(self) -> bool:
        return self.data.shape[0] == 1

    def rgb(self) -> torch.Tensor:
        """``data`` as (3, H, W); a gray image is replicated to three channels."""
        return self.data.repeat(3, 1, 1) if self.is_gray else self.data


def is_image_file(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` has one of :data:`IMAGE_EXTENSIONS` (case-insensitive); the file is not opened."""
    return Path(path).suffix.lower() in IMAGE_EXTENSIONS


def to_uint(data: torch.Tensor, bit_depth: int = 8) -> np.ndarray:
    """Float (C, H, W) -> uint (H, W, C), or (H, W) -> (H, W): ``round(clamp(x, 0, 1) * (2**bits - 1))``.

    A tensor already of the matching integer dtype (uint8 for 8 bits, uint16 for 16) is passed through
    (transposed; no copy when it is a CHW view of an HWC array), so large outputs need no float copy.

    Raises ValueError for a non-float tensor, another rank, NaN/inf values or a bit depth other than 8/16.
    """
    if bit_depth not in (8, 16):
        raise ValueError(f"bit_depth must be 8 or 16, got {bit_depth}")
    if data.dtype == (torch.uint8 if bit_depth == 8 else torch.uint16):  # already quantised: no copy
        arr = data.detach().cpu().numpy()
        return arr if arr.ndim == 2 else np.ascontiguousarray(arr.transpose(1, 2, 0))
    if not data.is_floating_point() or data.ndim not in (2, 3):
        raise ValueError(f"expected a float (C, H, W) or (H, W) tensor, got {data.dtype} {tuple(data.shape)}")
    x = data.detach().to("cpu", torch.float32)
    if not bool(torch.isfinite(x).all()):
        raise ValueError("image data contains NaN or infinite values")
    x = (x.clamp(0.0, 1.0) * float(2**bit_depth - 1)).round()
    arr = x.numpy().astype(np.uint8 if bit_depth == 8 else np.uint16)
    return arr if arr.ndim == 2 else np.ascontiguousarray(arr.transpose(1, 2, 0))


def read_image(path: str | os.PathLike[str]) -> Image:
    """Read a PNG, JPEG, WebP, BMP or TIFF file (8- or 16-bit; gray, gray+alpha, RGB, RGBA, palette, 1-bit,
    CMYK) into an :class:`Image`, upright according to its EXIF orientation.

    The format comes from the content, not the extension. Only true gray modes give C == 1; an RGB file
    with equal channels stays RGB. Raises :class:`ImageReadError` naming the file when it is missing, not
    a regular file, empty, not a supported image, corrupt or truncated (never a partial decode).
    """
    pixels, alpha, bits, icc, p = _decode(path)
    data = _to_tensor(pixels, bits)
    if icc is not None and not _icc_matches(icc, data.shape[0]):
        logger.warning("%s: ICC profile (%r) does not describe the decoded data; dropped", p, icc[16:20])
        icc = None
    alpha_t = None if alpha is None else _to_tensor(alpha, bits)
    return Image(data=data, alpha=alpha_t, bit_depth=bits, icc_profile=icc, path=p)


def read_pixels(path: str | os.PathLike[str]) -> tuple[np.ndarray, int]:
    """The stored values of an image file as ``(uint8/uint16 array (C, H, W), bit_depth)``, C 1 or 3,
    alpha dropped, upright: what :func:`read_image` decodes, before any conversion to float (training
    data crops these and converts only the crop). Same formats and errors as :func:`read_image`."""
    pixels, _, bits, _, _ = _decode(path)
    chw = pixels[None] if pixels.ndim == 2 else pixels.transpose(2, 0, 1)
    return np.ascontiguousarray(chw), bits


def _decode(
    path: str | os.PathLike[str],
) -> tuple[np.ndarray, np.ndarray | None, int, bytes | None, Path]:
    """``(pixels (H, W[, 3]), alpha (H, W) or None, bit_depth, ICC profile, path)``, oriented."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as e:
        raise ImageReadError(f"{p}: cannot read file: {e.strerror or e}") from e
    if not raw:
        raise ImageReadError(f"{p}: file is empty")
    try:
        with PILImage.open(io.BytesIO(raw)) as im:
            if im.format not in _READ_FORMATS:
                raise ImageReadError(f"{p}: unsupported format {im.format}; use PNG, JPEG, WebP, BMP or TIFF")
            _check_complete(raw, im.format, p)
            frames = getattr(im, "n_frames", 1)
            if frames > 1:  # animated WebP/PNG, multi-page TIFF: one image in, one image out
                logger.warning("%s: holds %d frames (animation or pages); only the first is used", p, frames)
            icc = im.info.get("icc_profile") or None  # iCCP precedes the pixel data: known before load()
            orientation: object = 1
            if _is_plain_png(raw, im):
                pixels, alpha, bits = _decode_plain_png(raw, im, p), None, 8
            else:
                im.load()  # decode now, so that a corrupt or truncated file fails here
                orientation = _orientation(im, p)
                if _is_wide_colour(raw, im):
                    pixels, alpha, bits = _decode_wide(raw, im, p)
                else:
                    pixels, alpha, bits = _pixels_from_pil(im, p)
    except ImageReadError:
        raise
    except PILImage.UnidentifiedImageError as e:
        raise ImageReadError(f"{p}: not a recognised image file") from e
    except (*_DECODE_ERRORS, PILImage.DecompressionBombError, cv2.error) as e:
        raise ImageReadError(f"{p}: cannot decode image: {e}") from e
    pixels, alpha = _orient(pixels, orientation), None if alpha is None else _orient(alpha, orientation)
    return pixels, alpha, bits, icc, p


def write_image(
    path: str | os.PathLike[str],
    data: torch.Tensor,
    *,
    alpha: torch.Tensor | None = None,
    bit_depth: int = 8,
    icc_profile: bytes | None = None,
    quality: int = 95,
    overwrite: bool = True,
) -> Path:
    """Write float ``data`` (C, H, W), C 1 or 3, values clamped to [0, 1] and rounded, to ``path`` (or
    ``data``/``alpha`` already quantised: uint8 with ``bit_depth`` 8, uint16 with 16; see :func:`to_uint`).

    The extension picks the format: PNG (8/16 bit, alpha), JPEG (8 bit, no alpha), WebP (8 bit, alpha,
    stored as RGB; ``quality`` 100 means lossless, keeping the colour under transparent pixels), TIFF (8/16
    bit, alpha), BMP (8 bit, no alpha). ``alpha`` is (1, H, W). ``icc_profile`` must describe ``data`` (RGB
    or gray) and is embedded in PNG, JPEG, WebP and 8-bit/gray TIFF (not in BMP or 16-bit colour TIFF, with
    a logged warning). The file is encoded in memory, written to ``.<name>.<random>.tmp`` in the same
    folder, fsynced and renamed into place, so ``path`` holds either the old or the complete new file.
    Parent folders are created. Returns ``path``. Raises :class:`ImageWriteError` naming the file for any
    failure, including an existing file with ``overwrite=False`` (checked before encoding, and again
    race-free at the end: the file is created exclusively, so a file that appeared meanwhile stays).
    """
    p = Path(path)
    ext = p.suffix.lower()
    if ext not in IMAGE_EXTENSIONS:
        allowed = ", ".join(sorted(IMAGE_EXTENSIONS))
        raise ImageWriteError(f"{p}: unknown image extension {ext!r}; allowed: {allowed}")
    if not overwrite and (p.exists() or p.is_symlink()):
        raise ImageWriteError(f"{p}: file exists and overwrite=False")
    try:
        encoded = _encode(ext, data, alpha, bit_depth, icc_profile, quality, p)
    except (ValueError, OSError, cv2.error) as e:
        raise ImageWriteError(f"{p}: cannot encode image: {e}") from e
    try:
        atomic_write_bytes(p, encoded, exclusive=not overwrite)
    except OutputExistsError as e:
        raise ImageWriteError(f"{e}; use --overwrite / overwrite=True to replace it") from None
    except OSError as e:
        raise ImageWriteError(f"{p}: cannot write file: {e}") from e
    return p


def _check_complete(raw: bytes, fmt: str | None, p: Path) -> None:
    # Independent of ImageFile.LOAD_TRUNCATED_IMAGES (a global someone may have set): a PNG ends with an
    # empty IEND chunk, a JPEG has an EOI marker after its last start-of-scan.
    if fmt == "PNG" and b"\x00\x00\x00\x00IEND" not in raw:
        raise ImageReadError(f"{p}: truncated PNG (no IEND chunk)")
    if fmt in ("JPEG", "MPO") and raw.rfind(b"\xff\xd9") < raw.rfind(b"\xff\xda"):
        raise ImageReadError(f"{p}: truncated JPEG (no end-of-image marker after the last scan)")


def _is_wide_colour(raw: bytes, im: PILImage.Image) -> bool:
    """Whether the file is 16-bit colour (or gray+alpha), which Pillow reduces to 8 bits."""
    if im.format == "PNG":  # IHDR: bit depth at byte 24, colour type at 25 (2 RGB, 4 gray+alpha, 6 RGBA)
        return raw[24] == 16 and raw[25] in (2, 4, 6)
    if im.format == "TIFF":
        bits = getattr(im, "tag_v2", {}).get(258, (1,))  # BitsPerSample
        return max(bits if isinstance(bits, tuple) else (bits,)) > 8 and im.mode not in _UINT16_MODES
    return False


def _is_plain_png(raw: bytes, im: PILImage.Image) -> bool:
    """An 8-bit gray or RGB PNG without transparency or EXIF data (IHDR bit depth 8, colour type 0 or
    2; no tRNS, no eXIf chunk): the common case, which OpenCV's libpng decodes faster than Pillow."""
    return (
        im.format == "PNG"
        and raw[24] == 8
        and raw[25] in (0, 2)
        and "transparency" not in im.info
        and b"eXIf" not in raw  # an eXIf chunk may follow the pixel data; then Pillow reads it
    )


def _decode_plain_png(raw: bytes, im: PILImage.Image, p: Path) -> np.ndarray:
    """(H, W) or (H, W, 3) RGB uint8 of a plain PNG (:func:`_is_plain_png`), decoded by OpenCV: the same
    values as Pillow's decode (libpng/zlib both; a tested equality), about 25% faster on photographs."""
    arr = cv2.imdecode(np.frombuffer(raw, np.uint8), cv2.IMREAD_UNCHANGED)
    if arr is None or arr.dtype != np.uint8 or arr.shape[:2] != (im.height, im.width):
        got = "nothing" if arr is None else f"{arr.dtype} {arr.shape}"
        raise ImageReadError(f"{p}: corrupt or incomplete PNG image data (libpng via OpenCV got {got})")
    return cv2.cvtColor(arr, cv2.COLOR_BGR2RGB) if arr.ndim == 3 else arr


def _decode_wide(raw: bytes, im: PILImage.Image, p: Path) -> tuple[np.ndarray, np.ndarray | None, int]:
    arr = cv2.imdecode(np.frombuffer(raw, np.uint8), cv2.IMREAD_UNCHANGED)  # ignores EXIF orientation
    if arr is None or arr.dtype != np.uint16 or arr.shape[:2] != (im.height, im.width):
        got = "nothing" if arr is None else f"{arr.dtype} {arr.shape}"
        raise ImageReadError(f"{p}: OpenCV could not decode the 16-bit image (got {got})")
    alpha = None
    if arr.ndim == 3 and arr.shape[2] in (2, 4):
        arr, alpha = arr[..., :-1], arr[..., -1]
    gray = raw[25] == 4 if im.format == "PNG" else getattr(im, "tag_v2", {}).get(262) in (0, 1)  # TIFF gray
    if arr.ndim == 3:  # libpng expands 16-bit gray+alpha to BGRA with equal colour channels
        arr = arr[..., 0] if gray else arr[..., ::-1]  # BGR -> RGB
    return arr, alpha, 16


def _pixels_from_pil(im: PILImage.Image, p: Path) -> tuple[np.ndarray, np.ndarray | None, int]:
    mode = im.mode
    if mode == "P":
        mode = "RGBA" if "transparency" in im.info else "RGB"
    elif mode in ("L", "RGB") and "transparency" in im.info:
        mode += "A"  # a tRNS colour key becomes an alpha channel
    mode = _CONVERT.get(mode, mode)
    if mode not in _KEEP:
        raise ImageReadError(f"{p}: unsupported pixel mode {im.mode!r} ({im.format})")
    arr = np.asarray(im if mode == im.mode else im.convert(mode))
    bits = 16 if mode in _UINT16_MODES else 8
    if mode in ("LA", "RGBA"):
        return arr[..., 0] if mode == "LA" else arr[..., :3], arr[..., -1], bits
    return arr, None, bits


def _orientation(im: PILImage.Image, p: Path) -> object:
    try:
        return im.getexif().get(0x0112, 1)  # the EXIF Orientation tag
    except _DECODE_ERRORS as e:  # a broken EXIF block should not make the pixels unreadable
        logger.warning("%s: unreadable EXIF data (%s); orientation not applied", p, e)
        return 1


def _orient(arr: np.ndarray, orientation: object) -> np.ndarray:
    """Apply an EXIF orientation (1-8) to an (H, W[, C]) array, as ``PIL.ImageOps.exif_transpose`` does."""
    transforms = {
        2: lambda a: a[:, ::-1],
        3: lambda a: a[::-1, ::-1],
        4: lambda a: a[::-1],
        5: lambda a: a.swapaxes(0, 1),
        6: lambda a: np.rot90(a, -1),
        7: lambda a: a[::-1, ::-1].swapaxes(0, 1),
        8: lambda a: np.rot90(a, 1),
    }
    transform = transforms.get(orientation) if isinstance(orientation, int) else None
    return arr if transform is None else transform(arr)


def _to_tensor(arr: np.ndarray, bits: int) -> torch.Tensor:
    chw = arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1)
    return torch.from_numpy(np.ascontiguousarray(chw, dtype=np.float32) / np.float32(2**bits - 1))


def _icc_matches(icc: bytes, channels: int) -> bool:
    # ICC header bytes 16-19: the data colour space signature.
    return len(icc) >= 128 and icc[16:20] == (b"RGB " if channels == 3 else b"GRAY")


def _encode(
    ext: str,
    data: torch.Tensor,
    alpha: torch.Tensor | None,
    bit_depth: int,
    icc: bytes | None,
    quality: int,
    p: Path,
) -> bytes:
    if data.ndim != 3 or data.shape[0] not in (1, 3):
        raise ValueError(f"data must be (C, H, W) with C 1 or 3, got {tuple(data.shape)}")
    if alpha is not None and tuple(alpha.shape) != (1, *data.shape[1:]):
        raise ValueError(f"alpha must be (1, {data.shape[1]}, {data.shape[2]}), got {tuple(alpha.shape)}")
    if bit_depth == 16 and ext not in (".png", ".tif", ".tiff"):
        raise ValueError(f"16-bit output needs PNG or TIFF, not {ext}")
    if alpha is not None and ext in (".jpg", ".jpeg", ".bmp"):
        raise ValueError(f"{ext} cannot store alpha; use .png, .webp or .tiff")
    if not 1 <= quality <= 100:
        raise ValueError(f"quality must be in 1..100, got {quality}")
    colour = 3 if ext == ".webp" else data.shape[0]  # WebP has no gray: stored as RGB
    if icc is not None and not _icc_matches(icc, colour):
        raise ValueError(
            f"ICC profile colour space {icc[16:20]!r} does not match {colour}-channel {ext} data"
        )
    pixels = to_uint(data.expand(colour, -1, -1), bit_depth)
    if alpha is not None:
        pixels = np.concatenate([pixels, to_uint(alpha, bit_depth)], axis=2)
    if bit_depth == 16 and pixels.shape[2] == 2:
        raise ValueError("16-bit gray with alpha is not supported; write RGB (data.expand(3, -1, -1))")
    if bit_depth == 16 and pixels.shape[2] >= 3:
        return _encode_wide(ext, pixels, icc, p)
    im = PILImage.fromarray(pixels.squeeze(2) if pixels.shape[2] == 1 else pixels)
    options: dict[str, object] = {"icc_profile": icc}
    if ext in (".jpg", ".jpeg"):
        options["quality"] = quality
    elif ext == ".webp":  # quality is the compression effort when lossless; exact keeps hidden colours
        lossless = quality == 100
        options |= {"lossless": lossless, "quality": 80 if lossless else quality, "exact": lossless}
    elif ext in (".tif", ".tiff"):
        options["compression"] = "tiff_deflate"
    elif icc is not None and ext == ".bmp":
        logger.warning("%s: BMP cannot embed an ICC profile; written without it", p)
    buf = io.BytesIO()
    fmt = {".jpg": "JPEG", ".jpeg": "JPEG", ".tif": "TIFF", ".tiff": "TIFF"}.get(ext, ext[1:].upper())
    im.save(buf, format=fmt, **options)
    return buf.getvalue()


def _encode_wide(ext: str, pixels: np.ndarray, icc: bytes | None, p: Path) -> bytes:
    bgr = cv2.cvtColor(pixels, cv2.COLOR_RGB2BGR if pixels.shape[2] == 3 else cv2.COLOR_RGBA2BGRA)
    ok, buf = cv2.imencode(ext, bgr)
    if not ok:
        raise ValueError(f"OpenCV could not encode a 16-bit {ext} image")
    encoded = buf.tobytes()
    if icc is not None and ext == ".png":
        # OpenCV writes only IHDR/IDAT/IEND; iCCP must precede IDAT, so it goes right after IHDR (33 bytes).
        payload = b"ICC Profile\x00\x00" + zlib.compress(icc)
        crc = zlib.crc32(b"iCCP" + payload)
        chunk = struct.pack(">I", len(payload)) + b"iCCP" + payload + struct.pack(">I", crc)
        encoded = encoded[:33] + chunk + encoded[33:]
    elif icc is not None:
        logger.warning("%s: 16-bit colour TIFF is written without the ICC profile", p)
    return encoded
