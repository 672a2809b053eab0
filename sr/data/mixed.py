"""Mixed-resolution training data: several HR sources, each at its own resolution, share and patch size.

A source (``datasets.train.sources.N``) is a folder, a ``meta_info_file`` list or an LMDB of GT
images (``io_backend`` of the dataset), listed with the same rules and errors as
:class:`sr.data.datasets.HRImageDataset`, the key named ``datasets.train.sources.N.dataroot_gt``.

- ``resolution`` r < 1: every image is decoded once when the dataset is built, downsampled by r
  with MATLAB bicubic (``sr.ops.imresize(gt, r)``, output ``ceil(r * H) x ceil(r * W)`` as MATLAB
  computes it), rounded to 8 bits as a stored image would be (:func:`round_to_8bit`, whatever the
  file's bit depth) and kept in memory as uint8 (3, h, w) arrays: the downsampled source is cached,
  never recomputed per epoch. DataLoader workers forked afterwards share those pages copy-on-write.
  An image smaller than the source's GT patch (at the largest scale) after downsampling is an error
  naming the file, the resolution and both sizes.
- ``resolution`` 1: the native images, read per item exactly as ``HRImageDataset`` reads them
  (decoded once and kept at their bit depth only with ``cache: true``).

An item is ``dataset[(source, image_index, sample_seed, scale)]`` (from
:class:`sr.data.sampler.MixedBatchSampler`); a plain index or ``(index, seed)`` counts through the
sources in order at the dataset's ``scale``. Items are ``{"lq", "gt", "key": stem, "scale", "source"}``
built as ``HRImageDataset`` builds them: a ``gt_size`` (or ``lq_size * scale``) crop of the source's
image (the source's own ``gt_size``/``lq_size``, else the dataset's) placed and augmented from
``default_rng(sample_seed)``, the LQ ``round8(imresize(gt_crop, 1 / scale))``, then ``gt_bandlimit``
if set. Both null: the whole image cropped to a multiple of the scale.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from sr.data.imageio import ImageReadError
from sr.data.sampler import parse_key
from sr.data.sources import DatasetError, ImageSource, gt_entries, require_dir, to_rgb_float
from sr.data.transforms import (
    apply_augment,
    band_limit,
    describe_patch,
    draw_augment,
    gt_patch_size,
    mod_crop,
    random_crop_origin,
    round_to_8bit,
)
from sr.ops import imresize
from sr.options.rules import patch_size_problem
from sr.options.schema import DatasetOptions

log = logging.getLogger(__name__)


@dataclass
class Source:
    """One source after listing: ``images[k]`` is the cached downsampled uint8 (3, h, w) array of
    ``entries[k]`` (None: read ``entries[k]`` from ``reader`` at native resolution)."""

    key: str
    name: str
    resolution: float
    share: float
    gt_size: int | None
    lq_size: int | None
    reader: ImageSource
    entries: list[tuple[str, str]]
    images: list[np.ndarray | None] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)


class MixedSourceDataset(Dataset):
    """Several HR sources at their own resolutions (module docstring). ``source_sizes``, ``shares``,
    ``resolutions``, ``gt_sizes`` and ``lq_sizes`` list the sources' properties in order (a source's patch
    is set by one of ``gt_size`` and ``lq_size``, the other is None; both None: whole images)."""

    lq_from_gt = True  # its sources are HR images; the LQ is made from them

    def __init__(
        self, opt: DatasetOptions, scale: int, key: str, scales: tuple[int, ...], sources: list[Source]
    ) -> None:
        self.opt, self.scale, self.key, self.scales = opt, scale, key, scales
        self.sources = sources
        self.source_sizes = [len(s.entries) for s in sources]
        self.shares = [s.share for s in sources]
        self.resolutions = [s.resolution for s in sources]
        self.gt_sizes = [s.gt_size for s in sources]
        self.lq_sizes = [s.lq_size for s in sources]
        self.skipped = [p for s in sources for p in s.skipped]

    def __len__(self) -> int:
        return sum(self.source_sizes)

    def _locate(self, flat: int) -> tuple[int, int]:
        if not 0 <= flat < len(self):
            raise IndexError(f"{self.key}: index {flat} out of range for {len(self)} images")
        for s, n in enumerate(self.source_sizes):
            if flat < n:
                return s, flat
            flat -= n
        raise AssertionError("unreachable")

    def __getitem__(self, item: int | tuple[int, ...]) -> dict[str, Any]:
        source, index, seed, scale = parse_key(item, self.scale)
        if not (isinstance(item, tuple | list) and len(item) == 4):
            source, index = self._locate(index)
        if not 0 <= source < len(self.sources):
            raise IndexError(f"{self.key}: source {source} out of range; there are {len(self.sources)}")
        if scale not in self.scales:
            raise DatasetError(f"{self.key}: scale {scale} requested; this dataset makes {list(self.scales)}")
        src = self.sources[source]
        stem, ref = src.entries[index]
        arr, bits = self._pixels(src, index)
        size = gt_patch_size(src.gt_size, src.lq_size, scale)
        if size is None:
            gt = mod_crop(to_rgb_float(arr, bits), scale)
        else:
            if arr.shape[-2] < size or arr.shape[-1] < size:
                raise DatasetError(_too_small(src, ref, arr.shape[-1], arr.shape[-2], None, size))
            rng = np.random.default_rng(seed)
            top, left = random_crop_origin(rng, arr.shape[-2], arr.shape[-1], size)
            flags = draw_augment(rng, self.opt.use_hflip, self.opt.use_rot)
            # only the crop becomes float, not the whole (cached or decoded) image
            gt = apply_augment(to_rgb_float(arr[:, top : top + size, left : left + size], bits), flags)
        lq = round_to_8bit(imresize(gt, 1 / scale))
        if self.opt.gt_bandlimit is not None:
            gt = band_limit(gt, self.opt.gt_bandlimit)
        out = {"lq": lq, "gt": gt, "key": stem, "scale": scale, "source": source}
        if size is None:  # whole images (validation): as sr.data.datasets
            out["gray"] = arr.shape[0] == 1
        return out

    def _pixels(self, src: Source, index: int) -> tuple[np.ndarray, int]:
        """The image's stored values (C, H, W) and bit depth: the cached 8-bit downsample, or the file's."""
        cached = src.images[index]
        if cached is not None:
            return cached, 8
        ref = src.entries[index][1]
        try:
            return src.reader.decode(ref)
        except ImageReadError as e:
            raise ImageReadError(f"{src.key}: {e}") from e


def _too_small(src: Source, ref: str, w: int, h: int, native: tuple[int, int] | None, size: int) -> str:
    was = f" ({native[0]}x{native[1]} before downsampling)" if native else ""
    what = "gt_size" if src.lq_size is None else "lq_size"
    return (
        f"{src.key}: {src.reader.describe(ref)} is {w}x{h} at resolution {src.resolution:g}{was}, "
        f"smaller than {describe_patch(size, src.lq_size)}; lower {what} or raise the resolution"
    )


def _load(src: Source, opt: DatasetOptions, scales: tuple[int, ...]) -> None:
    """Fill ``src.images`` (downsampled or, with ``cache``, decoded natives), handling unreadable
    files by ``on_corrupt``; checks the cached images against the largest GT patch of ``scales``."""
    size = max((gt_patch_size(src.gt_size, src.lq_size, s) or 0) for s in scales)
    kept: list[tuple[str, str]] = []
    skip = opt.on_corrupt == "skip"
    for stem, ref in src.entries:
        image: np.ndarray | None = None
        try:
            if src.resolution < 1:
                native = src.reader.read(ref)
                small = round_to_8bit(imresize(native, src.resolution))
                image = small.mul(255.0).round().to(torch.uint8).numpy()
                h, w = image.shape[-2:]
                if min(h, w) < size:
                    nh, nw = native.shape[-2:]
                    raise DatasetError(_too_small(src, ref, w, h, (nw, nh), size))
            elif opt.cache:
                src.reader.fill_cache(ref)
                h, w = src.reader.cache[ref][0].shape[-2:]
                if min(h, w) < size:
                    raise DatasetError(_too_small(src, ref, w, h, None, size))
            elif skip:
                src.reader.check(ref)
        except ImageReadError as e:
            if not skip:
                raise ImageReadError(f"{src.key}: {e}") from e
            log.warning("%s: skipping %s: %s", src.key, src.reader.path_of(ref), e)
            src.skipped.append(src.reader.path_of(ref))
            continue
        kept.append((stem, ref))
        src.images.append(image)
    if not kept:
        raise DatasetError(f"{src.key}: no readable images ({len(src.skipped)} skipped)")
    src.entries = kept


def build_mixed_dataset(
    opt: DatasetOptions, scale: int, *, key: str, scales: tuple[int, ...]
) -> MixedSourceDataset:
    """List, decode and downsample every source of ``opt.sources`` (module docstring) and log each
    source's image count, resolution, share and patch size. Errors name ``{key}.sources.N...``."""
    if not opt.sources:
        raise DatasetError(f"{key}.sources: empty; give at least one source")
    backend = opt.io_backend.type
    what = "LMDB folder" if backend == "lmdb" else "folder"
    sources = []
    for i, so in enumerate(opt.sources):
        here = f"{key}.sources.{i}"
        if not 0 < so.resolution <= 1:
            raise DatasetError(f"{here}.resolution: {so.resolution} must be in (0, 1] (1 = native)")
        if not so.share > 0:
            raise DatasetError(f"{here}.share: {so.share} must be > 0")
        own = so.gt_size is not None or so.lq_size is not None
        gt_size, lq_size = (so.gt_size, so.lq_size) if own else (opt.gt_size, opt.lq_size)
        problem = patch_size_problem(gt_size, lq_size, scales)
        if problem:
            raise DatasetError(f"{here}.{problem}")
        root = require_dir(so.dataroot_gt, f"{here}.dataroot_gt", what)
        reader = ImageSource(root, backend)
        src = Source(
            here,
            so.name,
            so.resolution,
            so.share,
            gt_size,
            lq_size,
            reader,
            gt_entries(root, backend, so.meta_info_file, here),
        )
        _load(src, opt, scales)
        sources.append(src)
    total = sum(s.share for s in sources)
    for i, s in enumerate(sources):
        log.info(
            "%s: source %d (%s): %d images at resolution %g%s, share %.3f, %s",
            key,
            i,
            s.name,
            len(s.entries),
            s.resolution,
            " (downsampled once, cached)" if s.resolution < 1 else "",
            s.share / total,
            _describe_size(s),
        )
    return MixedSourceDataset(opt, scale, key, scales, sources)


def _describe_size(src: Source) -> str:
    """The source's patch for the start-up log: by the option that sets it, or whole images."""
    if src.lq_size is not None:
        return f"lq_size {src.lq_size}"
    return "whole images" if src.gt_size is None else f"gt_size {src.gt_size}"
