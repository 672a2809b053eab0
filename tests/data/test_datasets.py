"""PairedImageDataset / HRImageDataset on real files in tmp_path: shapes, crop alignment, determinism,
augmentation coverage, caching, and the errors that name keys and files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from sr.data import DatasetError, HRImageDataset, ImageReadError, PairedImageDataset, build_dataset
from sr.data.imageio import write_image
from sr.data.transforms import round_to_8bit
from sr.ops import imresize
from sr.options.schema import DatasetOptions


def textured(h: int, w: int, seed: int, channels: int = 3) -> torch.Tensor:
    """A smooth random image (noise upsampled 4x, bilinear), 8-bit exact: alignment errors show."""
    g = torch.Generator().manual_seed(seed)
    small = torch.rand(1, channels, h // 4 + 1, w // 4 + 1, generator=g)
    big = torch.nn.functional.interpolate(small, size=(h, w), mode="bilinear", align_corners=False)
    return round_to_8bit(big[0])


def make_div2k(root: Path, scale: int = 4, sizes: tuple[tuple[int, int], ...] = ((48, 64), (40, 40))) -> Path:
    """DIV2K-like layout: HR/0001.png ... and LR/0001x{scale}.png = round8(imresize(HR, 1/scale))."""
    for n, (h, w) in enumerate(sizes, 1):
        hr = textured(h, w, seed=n)
        write_image(root / "HR" / f"{n:04d}.png", hr)
        write_image(root / "LR" / f"{n:04d}x{scale}.png", round_to_8bit(imresize(hr, 1 / scale)))
    return root


def paired_opt(root: Path, **kw: object) -> DatasetOptions:
    base: dict = dict(
        name="t", dataroot_gt=str(root / "HR"), dataroot_lq=str(root / "LR"), filename_tmpl="{}x4"
    )
    return DatasetOptions(**{**base, **kw})  # type: ignore[arg-type]


def test_paired_whole_images_and_keys(tmp_path: Path) -> None:
    ds = build_dataset(paired_opt(make_div2k(tmp_path)), 4, key="datasets.val")
    assert isinstance(ds, PairedImageDataset) and len(ds) == 2
    item = ds[0]
    assert item["key"] == "0001"
    assert item["gt"].shape == (3, 48, 64) and item["lq"].shape == (3, 12, 16)
    assert item["gt"].dtype == item["lq"].dtype == torch.float32


@pytest.mark.parametrize("patch", [{"gt_size": 24}, {"lq_size": 6}])
@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_paired_crop_is_aligned(tmp_path: Path, seed: int, patch: dict) -> None:
    ds = build_dataset(paired_opt(make_div2k(tmp_path), **patch), 4, key="datasets.train")
    item = ds[(0, seed)]
    gt, lq = item["gt"], item["lq"]
    assert gt.shape == (3, 24, 24) and lq.shape == (3, 6, 6)
    # interior LQ pixels depend only on GT pixels inside the crop (bicubic x1/4 support: 8 GT pixels
    # each side -> 2 LQ pixels), so there imresize(gt_crop) equals the file's LQ up to 8-bit rounding
    inner = (slice(None), slice(2, -2), slice(2, -2))
    diff = (imresize(gt, 1 / 4) - lq)[inner].abs().max().item()
    assert diff <= 0.6 / 255
    shifted = (imresize(gt.roll(4, dims=-1), 1 / 4) - lq)[inner].abs().max().item()
    assert shifted > 5 / 255  # a crop one LQ pixel off would be caught


@pytest.mark.parametrize("seed", [0, 5, 9])
def test_hr_dataset_lq_is_rounded_imresize_of_the_gt_crop(tmp_path: Path, seed: int) -> None:
    make_div2k(tmp_path)
    opt = DatasetOptions(name="t", type="HRImageDataset", dataroot_gt=str(tmp_path / "HR"), gt_size=24)
    ds = build_dataset(opt, 4, key="datasets.train")
    assert isinstance(ds, HRImageDataset)
    item = ds[(1, seed)]
    assert item["gt"].shape == (3, 24, 24) and item["key"] == "0002"
    assert torch.equal(item["lq"], round_to_8bit(imresize(item["gt"], 1 / 4)))
    assert torch.equal(item["lq"], round_to_8bit(item["lq"]))  # on the 8-bit grid


def test_hr_validation_mod_crops_whole_image(tmp_path: Path) -> None:
    write_image(tmp_path / "HR" / "a.png", textured(30, 27, seed=1))
    opt = DatasetOptions(name="v", type="HRImageDataset", dataroot_gt=str(tmp_path / "HR"))
    item = build_dataset(opt, 4, key="datasets.val")[0]
    assert item["gt"].shape == (3, 28, 24) and item["lq"].shape == (3, 7, 6)
    assert torch.equal(item["lq"], round_to_8bit(imresize(item["gt"], 1 / 4)))


def test_same_index_and_seed_same_sample_other_seed_differs(tmp_path: Path) -> None:
    ds = build_dataset(paired_opt(make_div2k(tmp_path), gt_size=16), 4, key="datasets.train")
    a, b = ds[(0, 123)], ds[(0, 123)]
    assert torch.equal(a["gt"], b["gt"]) and torch.equal(a["lq"], b["lq"])
    others = [ds[(0, s)]["gt"] for s in range(1, 6)]
    assert not any(torch.equal(a["gt"], o) for o in others)
    torch.manual_seed(99)  # global RNG state plays no part
    np.random.seed(99)  # noqa: NPY002
    assert torch.equal(ds[(0, 123)]["gt"], a["gt"])


def _distinct(tensors: list[torch.Tensor]) -> int:
    return len({t.numpy().tobytes() for t in tensors})


def test_all_eight_dihedral_transforms_are_reachable(tmp_path: Path) -> None:
    write_image(tmp_path / "HR" / "a.png", textured(16, 16, seed=3))  # gt_size = image: crop fixed
    base = dict(name="t", type="HRImageDataset", dataroot_gt=str(tmp_path / "HR"), gt_size=16)
    ds = build_dataset(DatasetOptions(**base), 2, key="k")  # type: ignore[arg-type]
    assert _distinct([ds[(0, s)]["gt"] for s in range(64)]) == 8
    only_h = build_dataset(DatasetOptions(**base, use_rot=False), 2, key="k")  # type: ignore[arg-type]
    assert _distinct([only_h[(0, s)]["gt"] for s in range(64)]) == 2
    none = build_dataset(DatasetOptions(**base, use_rot=False, use_hflip=False), 2, key="k")  # type: ignore[arg-type]
    assert _distinct([none[(0, s)]["gt"] for s in range(16)]) == 1


def test_gray_and_alpha_files_give_rgb(tmp_path: Path) -> None:
    gray = textured(16, 16, seed=1, channels=1)
    write_image(tmp_path / "HR" / "g.png", gray)
    write_image(tmp_path / "HR" / "h.png", textured(16, 16, seed=2), alpha=torch.full((1, 16, 16), 0.5))
    opt = DatasetOptions(name="t", type="HRImageDataset", dataroot_gt=str(tmp_path / "HR"))
    ds = build_dataset(opt, 2, key="k")
    assert torch.equal(ds[0]["gt"], gray.expand(3, -1, -1))
    assert ds[1]["gt"].shape == (3, 16, 16)


def test_meta_info_file_selects_and_orders(tmp_path: Path) -> None:
    make_div2k(tmp_path)
    meta = tmp_path / "meta.txt"
    meta.write_text("0002.png (40,40,3)\n0001.png (48,64,3)\n")
    ds = build_dataset(paired_opt(tmp_path, meta_info_file=str(meta)), 4, key="k")
    assert [ds[i]["key"] for i in range(len(ds))] == ["0002", "0001"]
    meta.write_text("0003.png\n")
    with pytest.raises(DatasetError, match=r"0003\.png"):
        build_dataset(paired_opt(tmp_path, meta_info_file=str(meta)), 4, key="k")


def test_missing_dataroot_names_key_and_path(tmp_path: Path) -> None:
    opt = DatasetOptions(name="t", dataroot_gt=str(tmp_path / "nope"), dataroot_lq=str(tmp_path))
    with pytest.raises(DatasetError, match=r"datasets\.train\.dataroot_gt: folder not found: .*nope"):
        build_dataset(opt, 4, key="datasets.train")
    make_div2k(tmp_path)
    with pytest.raises(DatasetError, match=r"datasets\.train\.dataroot_lq: folder not found: .*nolq"):
        build_dataset(paired_opt(tmp_path, dataroot_lq=str(tmp_path / "nolq")), 4, key="datasets.train")
    with pytest.raises(DatasetError, match=r"datasets\.x\.dataroot_lq: missing"):
        build_dataset(paired_opt(tmp_path, dataroot_lq=None), 4, key="datasets.x")


def test_gt_without_lq_names_both(tmp_path: Path) -> None:
    make_div2k(tmp_path)
    (tmp_path / "LR" / "0002x4.png").unlink()
    with pytest.raises(DatasetError, match=r"no LQ image for GT .*HR/0002\.png: expected .*LR/0002x4\."):
        build_dataset(paired_opt(tmp_path), 4, key="k")


def test_size_mismatch_names_pair_and_sizes(tmp_path: Path) -> None:
    make_div2k(tmp_path)
    write_image(tmp_path / "LR" / "0001x4.png", textured(13, 16, seed=1))
    ds = build_dataset(paired_opt(tmp_path), 4, key="k")
    with pytest.raises(DatasetError, match=r"LQ .*0001x4\.png is 16x13 but GT .*0001\.png is 64x48"):
        ds[0]


def test_gt_smaller_than_gt_size(tmp_path: Path) -> None:
    ds = build_dataset(paired_opt(make_div2k(tmp_path), gt_size=44), 4, key="k")
    ds[(0, 0)]  # 48x64 fits
    with pytest.raises(DatasetError, match=r"0002\.png is 40x40, smaller than gt_size 44"):
        ds[(1, 0)]
    with pytest.raises(DatasetError, match=r"k\.gt_size: 42 must be a positive multiple of scale 4"):
        build_dataset(paired_opt(tmp_path, gt_size=42), 4, key="k")


def test_corrupt_image_error_and_skip(tmp_path: Path) -> None:
    make_div2k(tmp_path, sizes=((16, 16), (16, 16), (16, 16)))
    bad = tmp_path / "HR" / "0002.png"
    bad.write_bytes(bad.read_bytes()[:60])  # truncated
    ds = build_dataset(paired_opt(tmp_path), 4, key="datasets.train")
    with pytest.raises(ImageReadError, match=r"datasets\.train: .*0002\.png"):
        ds[1]
    with pytest.raises(ImageReadError, match=r"0002\.png"):  # cache decodes at build time
        build_dataset(paired_opt(tmp_path, cache=True), 4, key="datasets.train")
    skipping = build_dataset(paired_opt(tmp_path, on_corrupt="skip"), 4, key="datasets.train")
    assert len(skipping) == 2 and skipping.skipped == [bad]
    assert [skipping[i]["key"] for i in range(2)] == ["0001", "0003"]
    lq_bad = tmp_path / "LR" / "0003x4.png"
    lq_bad.write_bytes(b"not a png")
    skipping = build_dataset(paired_opt(tmp_path, on_corrupt="skip"), 4, key="datasets.train")
    assert skipping.skipped == [bad, lq_bad] and len(skipping) == 1


@pytest.mark.parametrize("kind", ["PairedImageDataset", "HRImageDataset"])
def test_cache_gives_identical_samples(tmp_path: Path, kind: str) -> None:
    make_div2k(tmp_path)
    write_image(tmp_path / "HR" / "0003.png", textured(20, 20, seed=7, channels=1))  # gray
    write_image(tmp_path / "LR" / "0003x4.png", textured(5, 5, seed=8, channels=1))
    extra: dict = {"dataroot_lq": None, "type": kind} if kind == "HRImageDataset" else {}
    for gt_size in (None, 16):
        plain = build_dataset(paired_opt(tmp_path, gt_size=gt_size, **extra), 4, key="k")
        cached = build_dataset(paired_opt(tmp_path, gt_size=gt_size, cache=True, **extra), 4, key="k")
        assert len(cached.gt_source.cache) == 3
        for i in range(3):
            a, b = plain[(i, 11)], cached[(i, 11)]
            assert torch.equal(a["gt"], b["gt"]) and torch.equal(a["lq"], b["lq"]), (i, gt_size)
