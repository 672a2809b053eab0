"""``Upscaler``: load a model once, upscale numpy arrays, PIL images, tensors or files with it.

The image kinds are handled at this edge (the models see float32 RGB in [0, 1], NCHW):

- RGB: the model's output. A one-channel (luma) model such as the official SRCNN gets the BT.601 luma
  (MATLAB ``rgb2ycbcr``), and the chroma is upscaled with MATLAB bicubic, as in the SRCNN paper.
- gray: an RGB model gets the gray replicated to three channels; the luma of its output
  (``0.299 R + 0.587 G + 0.114 B``, gray in = gray out) is returned.
- alpha: upscaled with MATLAB bicubic (clamped), not with the model: an alpha mask carries no texture
  for a network trained on photos to restore, and bicubic neither invents detail nor shifts edges.
  Before the colour is upscaled, fully transparent pixels (whose colour is often garbage: black,
  white, anything) take the colour of the nearest visible pixel, so none of it bleeds into the
  visible edge as a halo or fringe.
- bit depth: uint8 in -> uint8 out, uint16 -> uint16, float -> float32 (values clamped to [0, 1]).

``outscale`` resizes the model's ``scale``-times result to ``ceil(outscale * size)`` with MATLAB
bicubic (:func:`sr.inference.tiling.resize_buffer`, streaming).
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import cv2
import numpy as np
import torch
from PIL import Image as PILImage
from torch import nn
from tqdm import tqdm

from sr.archs import scale_of
from sr.data.imageio import ImageWriteError, read_image, write_image
from sr.device import available_memory, pick_device
from sr.inference.baselines import Interpolation
from sr.inference.loading import precision_dtype, resolve_model
from sr.inference.tiling import (
    auto_tile_size,
    check_tile_work,
    count_tiles,
    resize_buffer,
    tile_spans,
    upscale_split,
    upscale_tiled,
)
from sr.ops.color import rgb_to_ycbcr, ycbcr_to_rgb
from sr.ops.imresize import imresize, output_size

log = logging.getLogger(__name__)

# Core size (LR pixels) of the exact sub-tiles in which a model split into trunk and tail (``tail_halo``)
# runs its tail, per device; a device not listed runs the whole model per tile instead. CPU: the default
# model's x4 tail took ~12 us per LR pixel in 48- and 64-pixel sub-tiles (halo included), ~17 us on a
# whole 299x352 tile, whose 4x maps leave the caches; the 1280x800 x4 upscale took 20.2 s with 64,
# 20.8 s with 48, 22.1 s with 32 (by-hand, in-process, 3 alternating repetitions, medians).
TAIL_TILE = {"cpu": 64}
_LUMA = (0.299, 0.587, 0.114)  # MATLAB rgb2ycbcr's Y row (65.481, 128.553, 24.966) / 219
T = TypeVar("T")


def _is_count(v: object) -> bool:
    """An int >= 0 and not a bool (``True`` is an int to Python, never a tile size here)."""
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


def fill_transparent(rgb: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
    """``rgb`` ``(C, h, w)`` with every pixel of ``alpha == 0`` given the colour of its nearest pixel
    with ``alpha > 0`` (Euclidean distance, OpenCV's exact distance transform). Unchanged if no pixel
    or every pixel is transparent."""
    hidden = (alpha[0] == 0).numpy()
    if not hidden.any() or hidden.all():
        return rgb
    _, labels = cv2.distanceTransformWithLabels(
        hidden.astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE, labelType=cv2.DIST_LABEL_PIXEL
    )
    ys, xs = np.nonzero(~hidden)  # raster order, which is the order OpenCV numbers the labels
    lab = labels[hidden] - 1
    out = rgb.clone()
    out[:, torch.from_numpy(hidden)] = rgb[:, torch.from_numpy(ys[lab]), torch.from_numpy(xs[lab])]
    return out


def check_output_memory(
    size: tuple[int, int], channels: int, scale: int, outscale: float | None, dtype: np.dtype
) -> None:
    """Refuse (``ValueError`` with the sizes) an image whose output cannot fit in the memory this
    machine has free, before anything is allocated: the output buffer at the model's scale, the
    resized one for ``outscale``, the float32 input and about two more output-sized copies for the
    encoding (``write_image`` quantises and encodes in memory)."""
    h, w = size
    out_px = scale * h * scale * w
    final = output_size((h, w), outscale) if outscale is not None else (scale * h, scale * w)
    final_px = float(final[0]) * float(final[1])  # float: inf rather than an overflow for absurd scales
    need = (out_px + 3 * final_px) * channels * dtype.itemsize + h * w * channels * 4
    free = available_memory(torch.device("cpu"))
    if need > free:
        raise ValueError(
            f"a {w}x{h} input makes a {final[1]}x{final[0]} output, which needs about "
            f"{need / 2**30:.3g} GiB; "
            f"this machine has {free / 2**30:.1f} GiB free"
        )


def _header_size(path: Path) -> tuple[int, int, int] | None:
    """``(h, w, channels)`` from an image file's header alone (channels with alpha, counted high for a
    palette), or None where Pillow cannot open it (``read_image`` then names the problem)."""
    try:
        with PILImage.open(path) as im:
            w, h = im.size
            gray = im.mode in ("1", "L", "LA", "I", "I;16", "F")
            alpha = "A" in im.mode or "transparency" in im.info
    except (OSError, ValueError, PILImage.DecompressionBombError):
        return None
    return h, w, (1 if gray else 3) + alpha


class Upscaler:
    """Load once, upscale many images.

    ``model``: checkpoint path (any format ``sr.checkpoints`` reads), a baseline name (``bicubic``, ...),
    an ``nn.Module``, or ``"default"``/None (the bundled default model, x2/x3/x4).
    ``scale``: must match the model's (None: the model's own). ``outscale``: final factor (None: scale).
    ``tile``: core tile size in LR pixels, 0 for none, ``"auto"`` (from free memory, see
    :func:`sr.inference.tiling.auto_tile_size`). ``tile_pad``: context in LR pixels around each tile.
    ``precision``: ``fp32``, ``bf16`` (CPU or CUDA), ``fp16`` (CUDA only). ``device``: auto/cpu/cuda.
    ``alpha``: upscale with the ESRGAN network interpolation ``(1 - alpha) * model + alpha *
    gan_model`` (weights blended in memory; ``gan_model`` defaults to ``default-gan`` for the default).
    ``split``: run a model split into trunk and tail (``tail_halo``) in two stages on the devices of
    :data:`TAIL_TILE` (see :func:`sr.inference.tiling.upscale_split`); False: the whole model per tile.
    """

    def __init__(
        self,
        model: str | os.PathLike[str] | nn.Module | None = "default",
        scale: int | None = None,
        outscale: float | None = None,
        tile: int | str = "auto",
        tile_pad: int = 16,
        precision: str = "fp32",
        device: str | torch.device = "auto",
        net_opt: Mapping[str, Any] | None = None,
        progress: bool = False,
        split: bool = True,
        alpha: float | None = None,
        gan_model: str | os.PathLike[str] | None = None,
    ) -> None:
        self.device = pick_device(device) if isinstance(device, str) else device
        self.dtype = precision_dtype(precision, self.device)
        if tile != "auto" and not _is_count(tile):
            raise ValueError(f"tile must be a size >= 0 (0: no tiling) or 'auto', got {tile!r}")
        if not _is_count(tile_pad):
            raise ValueError(f"tile_pad must be an int >= 0, got {tile_pad!r}")
        if not isinstance(split, bool):
            raise ValueError(f"split must be True or False, got {split!r}")
        if outscale is not None and not (math.isfinite(outscale) and outscale > 0):
            raise ValueError(f"outscale must be a finite number > 0, got {outscale}")
        if scale is not None and (isinstance(scale, bool) or not isinstance(scale, int) or scale < 1):
            raise ValueError(f"scale must be an integer >= 1, got {scale!r}")
        module = resolve_model(model, scale, net_opt, alpha=alpha, gan_model=gan_model)
        self.scale = scale_of(module)
        # channels_last: oneDNN's bf16 convolutions are many times slower in the default layout on
        # CPUs (SRCNN x4 on 64x64: 52 s vs 2.4 s), and fp32 ones slower too (the default model on a
        # 1280x800 image: 45.5 s vs 25.8 s; RRDBNet, MSRResNet and SRCNN are all faster or equal)
        self.memory_format = torch.channels_last
        self.model = module.to(self.device, self.dtype).eval().requires_grad_(False)
        self.model.to(memory_format=self.memory_format)
        self.model_in_ch: int | None = getattr(module, "num_in_ch", None)
        halo, tail_tile = getattr(self.model, "tail_halo", None), TAIL_TILE.get(self.device.type)
        # (tail_halo, tail tile) when the model runs as trunk then tail here, else None
        self.split_plan: tuple[int, int] | None = None
        if split and halo is not None and tail_tile is not None:
            self.split_plan = (int(halo), tail_tile)
        self.outscale, self.tile, self.tile_pad, self.progress = outscale, tile, tile_pad, progress
        self.keep_bar = False  # leave the tiles bar on screen when done (sr-infer: one image only)

    # -- the tile functions: (1, C, h, w) float32 CPU tiles in, float32 CPU tensors out --
    def _run(self, fn: Any, *xs: torch.Tensor, pixels: bool = True) -> torch.Tensor:
        """``fn(*xs)`` on the model's device, dtype and memory format, no autograd; float32 CPU out.
        ``pixels``: the output is image pixels, checked to be finite (features are not: a NaN in them
        reaches the pixels anyway, and they are many times larger)."""
        with torch.inference_mode():
            args = [x.to(self.device, self.dtype).contiguous(memory_format=self.memory_format) for x in xs]
            out = fn(*args).to("cpu", torch.float32).contiguous()
        if pixels and not bool(torch.isfinite(out).all()):  # else a black or garbage image is written
            raise ValueError(
                f"the model produced NaN or infinite values in {str(self.dtype).removeprefix('torch.')} "
                "(broken weights, or an overflow: try --precision fp32)"
            )
        return out

    def _rgb_in(self, x: torch.Tensor) -> torch.Tensor:
        """Gray to three channels for an RGB model (see the module docstring)."""
        return x.expand(-1, 3, -1, -1) if self.model_in_ch == 3 and x.shape[1] == 1 else x

    def _gray_out(self, out: torch.Tensor, c: int) -> torch.Tensor:
        """An RGB model's output on gray input back to gray: its luma."""
        if self.model_in_ch == 3 and c == 1:
            return (out * torch.tensor(_LUMA).view(1, 3, 1, 1)).sum(1, keepdim=True)
        return out

    def _tile_fn(self, x: torch.Tensor) -> torch.Tensor:
        c = x.shape[1]
        if self.model_in_ch == 1 and c == 3:  # luma model: Y through it, CbCr bicubic
            ycc = rgb_to_ycbcr(x)
            cbcr = imresize(ycc[:, 1:], self.scale)
            return ycbcr_to_rgb(torch.cat([self._run(self.model, ycc[:, :1]), cbcr], 1))
        return self._gray_out(self._run(self.model, self._rgb_in(x)), c)

    def _trunk_fn(self, x: torch.Tensor) -> torch.Tensor:
        return self._run(self.model.forward_trunk, self._rgb_in(x), pixels=False)

    def _tail_fn(self, feat: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return self._gray_out(self._run(self.model.forward_tail, feat, self._rgb_in(x)), x.shape[1])

    def _split(self, c: int) -> tuple[int, int] | None:
        """``(tail_halo, tail tile)`` if the model runs as trunk then tail on a ``c``-channel image
        (:func:`sr.inference.tiling.upscale_split`): it has the split, the device a :data:`TAIL_TILE`,
        and the image is not a luma model's RGB; else None."""
        return None if self.model_in_ch == 1 and c == 3 else self.split_plan

    def _tile_size(self, h: int, w: int, split: bool) -> int:
        if self.tile != "auto":
            return int(self.tile)
        return auto_tile_size(
            self.model, self.scale, self.device, self.dtype, self.tile_pad, (h, w), split=split
        )

    def upscale_planes(
        self, rgb: torch.Tensor, alpha: torch.Tensor | None, dtype: type[np.generic] | np.dtype
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """The core: ``rgb`` ``(C, h, w)`` (C 1 or 3) and ``alpha`` ``(1, h, w)`` or None, float32 in [0, 1]
        -> HWC buffers of ``dtype`` (uint8, uint16 or float32) at the final size."""
        rgb = rgb.to("cpu", torch.float32)
        c, h, w = rgb.shape
        if c not in (1, 3):
            raise ValueError(f"expected 1 or 3 colour channels, got {c}")
        if alpha is not None:
            alpha = alpha.to("cpu", torch.float32)
            rgb = fill_transparent(rgb, alpha)
        check_output_memory((h, w), c + (alpha is not None), self.scale, self.outscale, np.dtype(dtype))
        split = self._split(c)
        tile, s = self._tile_size(h, w, split is not None), self.scale
        check_tile_work(h, w, tile, self.tile_pad)
        n = count_tiles(h, w, tile) * (1 if alpha is None else 2) + (len(tile_spans(h, tile)) if split else 0)
        bar = tqdm(
            total=n, desc="tiles", unit="tile", leave=self.keep_bar, disable=not self.progress or n < 2
        )
        with bar:
            buf = np.empty((s * h, s * w, c), dtype)
            if split is not None:
                halo, tail_tile = split
                out = upscale_split(
                    trunk=self._trunk_fn,
                    tail=self._tail_fn,
                    halo=halo,
                    x=rgb,
                    scale=s,
                    out=buf,
                    tile=tile,
                    tile_pad=self.tile_pad,
                    tail_tile=tail_tile,
                    on_tile=bar.update,
                    on_band=bar.update,
                )
            else:
                out = upscale_tiled(self._tile_fn, rgb, s, buf, tile, self.tile_pad, bar.update)
            out_a = None
            if alpha is not None:
                bicubic = Interpolation("bicubic", s)
                out_a = np.empty((s * h, s * w, 1), dtype)
                upscale_tiled(bicubic, alpha, s, out_a, tile, max(self.tile_pad, 4), bar.update)
        if self.outscale is not None and self.outscale != s:
            size = output_size((h, w), self.outscale)
            out = resize_buffer(out, size)
            out_a = None if out_a is None else resize_buffer(out_a, size)
        return out, out_a

    def upscale(self, x: T) -> T:
        """Upscale a numpy array (HW, HWC with C 1/2/3/4; uint8, uint16 or float), a PIL image (L, LA,
        RGB, RGBA, I;16; other modes are converted to RGB(A)) or a float tensor (CHW or NCHW in [0, 1],
        C 1/2/3/4), returning the same kind (float results as float32, clamped to [0, 1])."""
        if isinstance(x, torch.Tensor):
            return self._upscale_tensor(x)  # type: ignore[return-value]
        if isinstance(x, PILImage.Image):
            return self._upscale_pil(x)  # type: ignore[return-value]
        if isinstance(x, np.ndarray):
            return self._upscale_array(x)  # type: ignore[return-value]
        raise TypeError(f"cannot upscale a {type(x).__name__}; pass a numpy array, PIL image or tensor")

    def _upscale_array(self, arr: np.ndarray) -> np.ndarray:
        if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (1, 2, 3, 4)):
            raise ValueError(f"expected an (H, W) or (H, W, C) array with C 1-4, got {arr.shape}")
        if arr.dtype in (np.uint8, np.uint16):
            peak, out_dtype = float(np.iinfo(arr.dtype).max), arr.dtype
        elif np.issubdtype(arr.dtype, np.floating):
            peak, out_dtype = 1.0, np.dtype(np.float32)
        else:
            raise ValueError(f"array dtype {arr.dtype} not supported; use uint8, uint16 or float in [0, 1]")
        hwc = arr[..., None] if arr.ndim == 2 else arr
        chw = torch.from_numpy(np.ascontiguousarray(hwc.transpose(2, 0, 1), dtype=np.float32) / peak)
        colour, alpha = (chw[:-1], chw[-1:]) if chw.shape[0] in (2, 4) else (chw, None)
        out, out_a = self.upscale_planes(colour, alpha, out_dtype)
        full = out if out_a is None else np.concatenate([out, out_a], axis=2)
        return full[..., 0] if arr.ndim == 2 else full

    def _upscale_pil(self, im: PILImage.Image) -> PILImage.Image:
        if im.mode in ("I;16", "I;16L", "I;16B", "I;16N"):
            out = self._upscale_array(np.asarray(im).astype(np.uint16))
            return PILImage.fromarray(out)
        if im.mode not in ("L", "LA", "RGB", "RGBA"):
            has_alpha = "A" in im.mode or "transparency" in im.info
            im = im.convert("RGBA" if has_alpha else "RGB")
        return PILImage.fromarray(self._upscale_array(np.asarray(im)), mode=im.mode)

    def _upscale_tensor(self, x: torch.Tensor) -> torch.Tensor:
        if not x.is_floating_point() or x.ndim not in (3, 4) or x.shape[-3] not in (1, 2, 3, 4):
            raise ValueError(
                f"expected a float (C, H, W) or (N, C, H, W) tensor, C 1-4, got {x.dtype} {tuple(x.shape)}"
            )
        batch = x[None] if x.ndim == 3 else x
        outs = []
        for img in batch:
            arr = img.detach().to("cpu", torch.float32).permute(1, 2, 0).numpy()
            outs.append(torch.from_numpy(self._upscale_array(arr)).permute(2, 0, 1))
        out = torch.stack(outs).to(x.device, x.dtype)
        return out[0] if x.ndim == 3 else out

    def upscale_file(
        self,
        src: str | os.PathLike[str],
        dst: str | os.PathLike[str],
        overwrite: bool = False,
        quality: int = 95,
    ) -> Path:
        """Read ``src``, upscale, write ``dst`` atomically (format from its extension; ``quality`` for
        JPEG/WebP, 100 = lossless WebP). Keeps alpha, gray, 16 bits (PNG/TIFF; other formats get 8 bits)
        and the ICC profile. Refuses (``ImageWriteError``) to write over ``src`` whatever ``overwrite``
        says, and over an existing ``dst`` unless ``overwrite``; both are checked before any work."""
        src_p, dst_p = Path(src), Path(dst)
        if dst_p.exists() and (dst_p.resolve() == src_p.resolve() or os.path.samefile(src_p, dst_p)):
            raise ImageWriteError(f"{dst_p}: is the input file {src_p}; an input is never overwritten")
        if not overwrite and (dst_p.exists() or dst_p.is_symlink()):
            raise ImageWriteError(f"{dst_p}: file exists (use --overwrite / overwrite=True to replace it)")
        ext = dst_p.suffix.lower()
        header = _header_size(src_p)  # before decoding: the output must fit whatever the input is
        if header is not None:
            check_output_memory(header[:2], header[2], self.scale, self.outscale, np.dtype(np.uint8))
        img = read_image(src_p)
        if img.alpha is not None and ext in (".jpg", ".jpeg", ".bmp"):
            raise ImageWriteError(
                f"{dst_p}: {src_p} has an alpha channel, which {ext} cannot store; use png or webp"
            )
        bits = 16 if img.bit_depth == 16 and ext in (".png", ".tif", ".tiff") else 8
        if bits != img.bit_depth:
            log.info("%s: 16-bit input written with 8 bits (%s holds 8 bits)", dst_p, ext)
        icc = img.icc_profile
        if icc is not None and img.is_gray and ext == ".webp":
            log.warning("%s: WebP stores gray as RGB; the gray ICC profile of %s is dropped", dst_p, src_p)
            icc = None
        out, out_a = self.upscale_planes(img.data, img.alpha, np.uint8 if bits == 8 else np.uint16)
        return write_image(
            dst_p,
            torch.from_numpy(out).permute(2, 0, 1),
            alpha=None if out_a is None else torch.from_numpy(out_a).permute(2, 0, 1),
            bit_depth=bits,
            icc_profile=icc,
            quality=quality,
            overwrite=overwrite,
        )
