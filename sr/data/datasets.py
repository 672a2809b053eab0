"""Training and validation datasets over DIV2K-style folders, BasicSR meta-info lists and LMDBs.

Items are dicts ``{"lq": float32 (3, h, w), "gt": float32 (3, h * scale, w * scale), "key": GT stem,
"scale": int, "source": 0}``, RGB in [0, 1] (gray files replicated to three channels, alpha dropped);
whole-image items (validation) also carry ``"gray"``: whether the GT file has one channel, so that
validation scores it as ``sr-eval`` scores a gray file.

An item is addressed by ``dataset[index]``, ``dataset[(index, seed)]`` or (multi-scale training,
:class:`sr.data.sampler.MixedBatchSampler`) ``dataset[(0, index, seed, scale)]``; the random crop
(``gt_size``, or ``lq_size * scale``) and the flips/transposes (``use_hflip``, ``use_rot``) are drawn from
``numpy.random.default_rng(seed)``, so an item depends only on its key: never on global RNG state or
on the worker. A plain int means seed 0 and the dataset's scale (validation sets, with ``gt_size``
null, draw nothing). Only :class:`HRImageDataset` takes other scales than the one it was built for
(those of ``build_dataset(..., scales=)``); its LQ is made at the item's scale.

``gt_bandlimit: b`` (a study baseline) replaces the GT of every item, after the LQ was made from the
original GT, by :func:`sr.data.transforms.band_limit` ``(gt, b)``: MATLAB bicubic down by ``b`` and up
to its size again, neither clamped nor rounded; the target then holds no frequency above ``b`` times
its Nyquist frequency (up to the bicubic kernel's leakage).

- :class:`PairedImageDataset`: GT and LQ images; the LQ of GT stem ``S`` is ``filename_tmpl.format(S)``
  with any image extension (DIV2K: ``'{}x4'``). The LQ must be exactly GT size / scale. Training crops
  ``gt_size`` from the GT and ``gt_size / scale`` from the LQ at the matching place (or, with
  ``lq_size``, ``lq_size`` from the LQ and ``lq_size * scale`` from the GT).
- :class:`HRImageDataset`: GT only; the LQ is MATLAB bicubic (``sr.ops.imresize``) at 1/scale of the GT,
  rounded to 8 bits as a saved file would be. Training crops the GT patch first (anywhere), augments it
  and downscales the patch (cheap; the LQ is exactly ``round8(imresize(gt_patch, 1/scale))``).
  Validation crops the whole GT to a multiple of the scale (bottom/right), then downscales it.

``cache: true`` decodes every image in the main process when the dataset is built; DataLoader workers
forked afterwards share those pages copy-on-write (one copy in memory, not one per worker).
``on_corrupt: skip`` decodes every image at build time, drops pairs with an unreadable file (warning
each, listed in ``dataset.skipped``); ``error`` (the default) fails at the first read naming the file.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from sr.data.imageio import ImageReadError
from sr.data.mixed import MixedSourceDataset, build_mixed_dataset
from sr.data.sampler import parse_key
from sr.data.sources import DatasetError, ImageSource, gt_entries, lq_index, require_dir, to_rgb_float
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

Item = dict[str, Any]


class _SRDataset(Dataset):
    """Shared machinery: the entry list ``(stem, gt_ref, lq_ref | None)``, corrupt-file handling,
    caching and the key protocol. Subclasses implement :meth:`make_item`. ``scales``: the scales an
    item may ask for (default: just ``scale``)."""

    lq_from_gt = False  # True where the dataset makes the LQ from the GT (validation's protocol y)

    def __init__(
        self,
        opt: DatasetOptions,
        scale: int,
        key: str,
        entries: list[tuple[str, str, str | None]],
        gt: ImageSource,
        lq: ImageSource | None,
        scales: tuple[int, ...] | None = None,
    ) -> None:
        self.opt, self.scale, self.key = opt, scale, key
        self.scales = tuple(scales) if scales else (scale,)
        self.gt_source, self.lq_source = gt, lq
        self.skipped: list[Path] = []
        self._gray: dict[str, bool] = {}  # GT ref -> one channel in the file (whole images read so far)
        if opt.on_corrupt == "skip" or opt.cache:
            entries = self._preload(entries, cache=opt.cache, skip=opt.on_corrupt == "skip")
        if not entries:
            raise DatasetError(f"{key}: no readable images ({len(self.skipped)} skipped)")
        self.entries = entries

    def _preload(
        self, entries: list[tuple[str, str, str | None]], *, cache: bool, skip: bool
    ) -> list[tuple[str, str, str | None]]:
        kept = []
        for stem, gt_ref, lq_ref in entries:
            try:
                for source, ref in ((self.gt_source, gt_ref), (self.lq_source, lq_ref)):
                    if source is not None and ref is not None:
                        source.fill_cache(ref) if cache else source.check(ref)
            except ImageReadError as e:
                if not skip:
                    raise ImageReadError(f"{self.key}: {e}") from e
                bad = source.path_of(ref) if source is not None and ref is not None else Path(gt_ref)
                log.warning("%s: skipping %s: %s", self.key, bad, e)
                self.skipped.append(bad)
                continue
            kept.append((stem, gt_ref, lq_ref))
        if self.skipped:
            log.warning("%s: skipped %d unreadable image(s)", self.key, len(self.skipped))
        return kept

    def __len__(self) -> int:
        return len(self.entries)

    def __getitem__(self, item: int | tuple[int, ...]) -> Item:
        source, index, seed, scale = parse_key(item, self.scale)
        if source != 0:
            raise IndexError(f"{self.key}: source {source} requested from a single-source dataset")
        if scale not in self.scales:
            raise DatasetError(f"{self.key}: scale {scale} requested; this dataset makes {list(self.scales)}")
        stem, gt_ref, lq_ref = self.entries[index]
        rng = np.random.default_rng(seed)
        lq, gt = self.make_item(gt_ref, lq_ref, rng, scale)
        if self.opt.gt_bandlimit is not None:
            gt = band_limit(gt, self.opt.gt_bandlimit)
        out: Item = {"lq": lq, "gt": gt, "key": stem, "scale": scale, "source": 0}
        if self._patch(scale) is None:
            out["gray"] = self._gray.get(gt_ref, False)
        return out

    def make_item(
        self, gt_ref: str, lq_ref: str | None, rng: np.random.Generator, scale: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError

    def _read(self, source: ImageSource, ref: str) -> torch.Tensor:
        """The whole image as float RGB; notes in ``_gray`` whether the file has one channel."""
        arr, bits = self._decode(source, ref)
        if source is self.gt_source:
            self._gray[ref] = arr.shape[0] == 1
        return to_rgb_float(arr, bits)

    def _decode(self, source: ImageSource, ref: str) -> tuple[np.ndarray, int]:
        """The stored uint values (C, H, W) and bit depth: training crops these and converts only the
        crop to float (:func:`to_rgb_float`), the same values as cropping :meth:`_read`'s image."""
        try:
            return source.decode(ref)
        except ImageReadError as e:
            raise ImageReadError(f"{self.key}: {e}") from e

    def _augment(self, rng: np.random.Generator, *xs: torch.Tensor) -> list[torch.Tensor]:
        flags = draw_augment(rng, self.opt.use_hflip, self.opt.use_rot)
        return [apply_augment(x, flags) for x in xs]

    def _patch(self, scale: int) -> int | None:
        """The GT patch side at ``scale`` (``gt_size``, or ``lq_size * scale``); None: whole images."""
        return gt_patch_size(self.opt.gt_size, self.opt.lq_size, scale)

    def _check_fits(self, gt: torch.Tensor | np.ndarray, gt_ref: str, size: int) -> None:
        if gt.shape[-2] < size or gt.shape[-1] < size:
            raise DatasetError(
                f"{self.key}: {self.gt_source.describe(gt_ref)} is {gt.shape[-1]}x{gt.shape[-2]}, "
                f"smaller than {describe_patch(size, self.opt.lq_size)}"
            )


class PairedImageDataset(_SRDataset):
    """GT/LQ pairs from folders, a meta-info list or LMDBs (see the module docstring)."""

    def make_item(
        self, gt_ref: str, lq_ref: str | None, rng: np.random.Generator, scale: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        assert lq_ref is not None and self.lq_source is not None and scale == self.scale
        gt, gt_bits = self._decode(self.gt_source, gt_ref)
        lq, lq_bits = self._decode(self.lq_source, lq_ref)
        s = self.scale
        if gt.shape[-2] != lq.shape[-2] * s or gt.shape[-1] != lq.shape[-1] * s:
            raise DatasetError(
                f"{self.key}: LQ {self.lq_source.describe(lq_ref)} is {lq.shape[-1]}x{lq.shape[-2]} but "
                f"GT {self.gt_source.describe(gt_ref)} is {gt.shape[-1]}x{gt.shape[-2]}; "
                f"the LQ must be exactly GT / {s}"
            )
        size = self._patch(s)
        if size is None:
            return to_rgb_float(lq, lq_bits), to_rgb_float(gt, gt_bits)
        self._check_fits(gt, gt_ref, size)
        lq_size = size // s
        top, left = random_crop_origin(rng, lq.shape[-2], lq.shape[-1], lq_size)
        lq = lq[:, top : top + lq_size, left : left + lq_size]
        gt = gt[:, top * s : (top + lq_size) * s, left * s : (left + lq_size) * s]
        lq_f, gt_f = self._augment(rng, to_rgb_float(lq, lq_bits), to_rgb_float(gt, gt_bits))
        return lq_f, gt_f


class HRImageDataset(_SRDataset):
    """GT only; the LQ made by MATLAB bicubic at 1/scale and rounded to 8 bits (module docstring),
    at the scale each item asks for (one of ``scales``: multi-scale training).

    With ``cache`` and no ``gt_size`` (validation), the LQ images at the dataset's ``scale`` are
    computed once at build time."""

    lq_from_gt = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._lq_cache: dict[str, torch.Tensor] = {}
        if self.opt.cache and self._patch(self.scale) is None:
            for _, gt_ref, _ in self.entries:
                self._lq_cache[gt_ref] = self._downscale(
                    mod_crop(self._read(self.gt_source, gt_ref), self.scale)
                )

    def _downscale(self, gt: torch.Tensor, scale: int | None = None) -> torch.Tensor:
        return round_to_8bit(imresize(gt, 1 / (scale or self.scale)))

    def make_item(
        self, gt_ref: str, lq_ref: str | None, rng: np.random.Generator, scale: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        size = self._patch(scale)
        if size is None:
            gt = mod_crop(self._read(self.gt_source, gt_ref), scale)
            lq = self._lq_cache.get(gt_ref) if scale == self.scale else None
            return (self._downscale(gt, scale) if lq is None else lq), gt
        arr, bits = self._decode(self.gt_source, gt_ref)
        self._check_fits(arr, gt_ref, size)
        top, left = random_crop_origin(rng, arr.shape[-2], arr.shape[-1], size)
        (gt,) = self._augment(rng, to_rgb_float(arr[:, top : top + size, left : left + size], bits))
        return self._downscale(gt, scale), gt


def build_dataset(
    opt: DatasetOptions, scale: int, *, key: str, scales: list[int] | None = None
) -> _SRDataset | MixedSourceDataset:
    """The dataset ``opt`` describes, for upscaling factor ``scale``; ``key`` (e.g. ``datasets.train``)
    names it in errors. ``scales``: the run's ``scales`` (multi-scale training; None = ``scale``
    only): the scales items may ask for. With ``sources``, a :class:`MixedSourceDataset`.
    Raises :class:`DatasetError` for a missing dataroot, a GT without its LQ, an impossible
    ``gt_size``, or (``on_corrupt: error`` with ``cache``) an unreadable image."""
    all_scales = tuple(scales) if scales else (scale,)
    if scale < 1 or any(s < 1 for s in all_scales):
        raise DatasetError(f"{key}: scales must be >= 1, got scale {scale}, scales {scales}")
    if scale not in all_scales:
        raise DatasetError(f"{key}: scale {scale} is not one of scales {list(all_scales)}")
    problem = patch_size_problem(opt.gt_size, opt.lq_size, all_scales)
    if problem:
        raise DatasetError(f"{key}.{problem}")
    if opt.gt_bandlimit is not None and not 0 < opt.gt_bandlimit <= 1:
        raise DatasetError(f"{key}.gt_bandlimit: {opt.gt_bandlimit} must be in (0, 1] (1 = no limit)")
    if opt.sources is not None:
        if opt.type != "HRImageDataset":
            raise DatasetError(f"{key}.sources: only for HRImageDataset, not {opt.type}")
        if opt.dataroot_gt is not None or opt.dataroot_lq is not None or opt.meta_info_file is not None:
            raise DatasetError(f"{key}.dataroot_gt: give the folders in {key}.sources, not here")
        return build_mixed_dataset(opt, scale, key=key, scales=all_scales)
    backend = opt.io_backend.type
    what = "LMDB folder" if backend == "lmdb" else "folder"
    gt_root = require_dir(opt.dataroot_gt, f"{key}.dataroot_gt", what)
    gt_source = ImageSource(gt_root, backend)
    gts = gt_entries(gt_root, backend, opt.meta_info_file, key)
    if opt.type == "HRImageDataset":
        if opt.dataroot_lq is not None:
            raise DatasetError(
                f"{key}.dataroot_lq: HRImageDataset makes the LQ itself; remove dataroot_lq "
                "or use type: PairedImageDataset"
            )
        return HRImageDataset(opt, scale, key, [(s, r, None) for s, r in gts], gt_source, None, all_scales)
    if opt.type != "PairedImageDataset":
        raise DatasetError(f"{key}.type: unknown {opt.type!r}; allowed: HRImageDataset, PairedImageDataset")
    if len(all_scales) > 1:
        raise DatasetError(
            f"{key}.type: PairedImageDataset holds LQ files of one scale; multi-scale training "
            f"(scales {list(all_scales)}) needs HRImageDataset, which makes the LQ at each batch's scale"
        )
    lq_root = require_dir(opt.dataroot_lq, f"{key}.dataroot_lq", what)
    index = lq_index(lq_root, backend, f"{key}.dataroot_lq")
    entries: list[tuple[str, str, str | None]] = []
    for stem, gt_ref in gts:
        try:
            lq_stem = opt.filename_tmpl.format(stem)
        except (IndexError, KeyError, ValueError) as e:
            raise DatasetError(
                f"{key}.filename_tmpl: {opt.filename_tmpl!r} is not a template with one '{{}}' ({e})"
            ) from e
        found = index.get(lq_stem, [])
        where = f"{lq_root}:{lq_stem}" if backend == "lmdb" else f"{lq_root / lq_stem}.<image extension>"
        if not found:
            raise DatasetError(f"{key}: no LQ image for GT {gt_source.describe(gt_ref)}: expected {where}")
        if len(found) > 1:
            raise DatasetError(f"{key}: several LQ images for GT {gt_source.describe(gt_ref)}: {found}")
        entries.append((stem, gt_ref, found[0]))
    return PairedImageDataset(opt, scale, key, entries, gt_source, ImageSource(lq_root, backend))
