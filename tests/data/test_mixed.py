"""Mixed-resolution and multi-scale data: MixedBatchSampler (shares, scale weights, determinism, DDP
ranks, resume through a real DataLoader), MixedSourceDataset (cached downsampled sources, per-source
patch sizes, LQ/GT relation, errors) and band-limited targets, on real files in tmp_path."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from sr.data import (
    DatasetError,
    HRImageDataset,
    ImageReadError,
    MixedBatchSampler,
    MixedSourceDataset,
    build_dataset,
    build_train_loader,
    iterate_forever,
)
from sr.data.imageio import write_image
from sr.data.sampler import TrainSampler, parse_key
from sr.data.transforms import band_limit, mod_crop, round_to_8bit
from sr.ops import imresize
from sr.ops.imresize import output_size
from sr.options.schema import DatasetOptions, SourceOptions


def textured(h: int, w: int, seed: int) -> torch.Tensor:
    """A smooth random RGB image (noise upsampled 4x, bilinear), 8-bit exact (as in test_datasets)."""
    g = torch.Generator().manual_seed(seed)
    small = torch.rand(1, 3, h // 4 + 1, w // 4 + 1, generator=g)
    big = torch.nn.functional.interpolate(small, size=(h, w), mode="bilinear", align_corners=False)
    return round_to_8bit(big[0])


def write_folder(root: Path, sizes: list[tuple[int, int]], seed: int = 0) -> Path:
    for n, (h, w) in enumerate(sizes):
        write_image(root / f"{n:02d}.png", textured(h, w, seed=seed + n))
    return root


def mixed_opt(tmp_path: Path, **kw: object) -> DatasetOptions:
    """Source 0 "low": two images (100x96, 97x101) at 1/4 resolution (cached 25x24, 25x26), share 85;
    source 1 "high": three native images (40x44, 48x40, 44x44), share 15."""
    low = write_folder(tmp_path / "low", [(100, 96), (97, 101)], seed=10)
    high = write_folder(tmp_path / "high", [(40, 44), (48, 40), (44, 44)], seed=20)
    sources = [
        SourceOptions(name="low", dataroot_gt=str(low), resolution=0.25, share=85),
        SourceOptions(name="high", dataroot_gt=str(high), resolution=1.0, share=15),
    ]
    base: dict = dict(name="t", type="HRImageDataset", gt_size=12, sources=sources)
    return DatasetOptions(**{**base, **kw})  # type: ignore[arg-type]


def binomial_ok(realised: float, p: float, n: int, sigmas: float = 4.0) -> bool:
    """|realised - p| within ``sigmas`` standard deviations of a binomial proportion over n draws."""
    return abs(realised - p) <= sigmas * math.sqrt(p * (1 - p) / n) + 1e-12


# ------------------------------------------------------------------------------------------ sampler
def test_realised_shares_and_scale_weights_match_in_expectation() -> None:
    n = 2000
    s = MixedBatchSampler([5, 7], [85, 15], [2, 3, 4], [1, 1, 2], 4, seed=1)
    assert s.expected_shares() == pytest.approx([0.85, 0.15])
    assert s.expected_scale_weights() == pytest.approx({2: 0.25, 3: 0.25, 4: 0.5})
    shares, scales = s.realised_shares(n)
    # 4 sigma of a binomial proportion: 0.85 +- 0.032, 0.25 +- 0.039 over 2000 iterations
    assert all(binomial_ok(r, p, n) for r, p in zip(shares, [0.85, 0.15], strict=True)), shares
    assert all(binomial_ok(scales[k], p, n) for k, p in {2: 0.25, 3: 0.25, 4: 0.5}.items()), scales
    assert not binomial_ok(shares[0], 0.5, n)  # the tolerance does tell 85/15 from 50/50
    # realised_shares counts exactly what batch() hands out
    for i in range(50):
        keys = s.batch(i)
        assert {(k[0], k[3]) for k in keys} == {s.plan(i)}
        assert all(0 <= k[1] < [5, 7][k[0]] for k in keys)
    never = MixedBatchSampler([3], [1], [2, 3, 4], [1, 0, 1], 2, seed=0)
    assert 3 not in {never.plan(i)[1] for i in range(300)}


def test_sampler_is_deterministic_given_the_seed() -> None:
    a = MixedBatchSampler([4, 9], [1, 1], [2, 4], None, 3, seed=5)
    b = MixedBatchSampler([4, 9], [1, 1], [2, 4], None, 3, seed=5)
    c = MixedBatchSampler([4, 9], [1, 1], [2, 4], None, 3, seed=6)
    first = [a.batch(i) for i in range(20)]
    assert first == [b.batch(i) for i in range(20)]
    assert first != [c.batch(i) for i in range(20)]
    it = iter(MixedBatchSampler([4, 9], [1, 1], [2, 4], None, 3, seed=5, start_iter=7))
    assert [next(it) for _ in range(13)] == first[7:]
    seeds = [k[2] for batch in first for k in batch]
    assert len(set(seeds)) == len(seeds)  # every sample its own augmentation seed


def test_ddp_ranks_share_source_and_scale_but_not_samples() -> None:
    ranks = [
        MixedBatchSampler([6, 8], [1, 2], [2, 3, 4], None, 3, seed=2, rank=r, world_size=2) for r in (0, 1)
    ]
    single = MixedBatchSampler([6, 8], [1, 2], [2, 3, 4], None, 6, seed=2)
    for i in range(40):
        b0, b1 = ranks[0].batch(i), ranks[1].batch(i)
        assert {(k[0], k[3]) for k in b0 + b1} == {ranks[0].plan(i)}  # one source, one scale
        assert {k[2] for k in b0}.isdisjoint({k[2] for k in b1})  # different samples
        assert b0 + b1 == single.batch(i)  # 2 ranks x 3 == 1 process x 6, as TrainSampler


def test_sampler_rejects_bad_configuration() -> None:
    with pytest.raises(ValueError, match="shares"):
        MixedBatchSampler([3, 3], [1], [4], None, 2, seed=0)
    with pytest.raises(ValueError, match="scale_weights"):
        MixedBatchSampler([3], [1], [2, 4], [1, 1, 1], 2, seed=0)
    with pytest.raises(ValueError, match="not all zero"):
        MixedBatchSampler([3], [1], [2, 4], [0, 0], 2, seed=0)
    s = MixedBatchSampler([3], [1], [4], None, 2, seed=0, start_iter=9)
    t = MixedBatchSampler([3], [1], [4], None, 2, seed=0)
    t.load_state_dict(s.state_dict())
    assert t.iter == 9
    with pytest.raises(ValueError, match="seed=0"):
        MixedBatchSampler([3], [1], [4], None, 2, seed=1).load_state_dict(s.state_dict())
    with pytest.raises(TypeError, match=r"\(source, index, seed, scale\)"):
        parse_key((1, 2, 3), 4)


# ------------------------------------------------------------------------------------------ dataset
def test_downsampled_source_is_cached_rounded_imresize(tmp_path: Path) -> None:
    ds = build_dataset(mixed_opt(tmp_path, gt_size=None), 4, key="datasets.train")
    assert isinstance(ds, MixedSourceDataset)
    assert ds.source_sizes == [2, 3] and ds.resolutions == [0.25, 1.0] and len(ds) == 5
    for n, (h, w) in enumerate([(100, 96), (97, 101)]):
        native = textured(h, w, seed=10 + n)
        expected = round_to_8bit(imresize(native, 0.25))
        cached = ds.sources[0].images[n]
        assert cached is not None
        # MATLAB's size: ceil(0.25 * 97) = 25, ceil(0.25 * 101) = 26
        assert tuple(cached.shape) == (3, *output_size((h, w), 0.25)) == tuple(expected.shape)
        item = ds[(0, n, 0, 4)]  # whole image (gt_size null): cropped to a multiple of 4
        assert torch.equal(item["gt"], mod_crop(expected, 4))
        assert torch.equal(item["lq"], round_to_8bit(imresize(item["gt"], 1 / 4)))
    assert ds.sources[1].images == [None, None, None]  # native, not cached without cache: true
    assert torch.equal(ds[(1, 2, 0, 4)]["gt"], textured(44, 44, seed=22))
    assert [ds[i]["key"] for i in range(5)] == ["00", "01", "00", "01", "02"]  # flat index
    assert [ds[i]["source"] for i in range(5)] == [0, 0, 1, 1, 1]


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_items_follow_scale_and_per_source_gt_size(tmp_path: Path, scale: int) -> None:
    opt = mixed_opt(tmp_path, gt_size=24)
    sources = [opt.sources[0], replace(opt.sources[1], gt_size=36)]  # type: ignore[index]
    ds = build_dataset(replace(opt, sources=sources), 4, key="k", scales=[2, 3, 4])
    assert isinstance(ds, MixedSourceDataset) and ds.gt_sizes == [24, 36]
    for source, size in ((0, 24), (1, 36)):
        for seed in range(3):
            item = ds[(source, seed % ds.source_sizes[source], seed, scale)]
            assert item["gt"].shape == (3, size, size) and item["lq"].shape == (
                3,
                size // scale,
                size // scale,
            )
            assert (item["scale"], item["source"]) == (scale, source)
            assert torch.equal(item["lq"], round_to_8bit(imresize(item["gt"], 1 / scale)))


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_lq_size_gives_the_same_lq_patch_at_every_scale(tmp_path: Path, scale: int) -> None:
    """``lq_size`` 6: a 6x6 LQ and a (6 * scale)^2 GT at every scale, mixed and plain HRImageDataset."""
    ds = build_dataset(mixed_opt(tmp_path, gt_size=None, lq_size=6), 4, key="k", scales=[2, 3, 4])
    plain = DatasetOptions(name="p", type="HRImageDataset", dataroot_gt=str(tmp_path / "high"), lq_size=6)
    hr = build_dataset(plain, 4, key="p", scales=[2, 3, 4])
    assert isinstance(ds, MixedSourceDataset) and isinstance(hr, HRImageDataset)
    assert ds.lq_sizes == [6, 6] and ds.gt_sizes == [None, None]
    items = [
        ds[(source, seed % ds.source_sizes[source], seed, scale)] for source in (0, 1) for seed in range(3)
    ]
    items += [hr[(0, seed, seed, scale)] for seed in range(3)]
    for item in items:
        assert item["gt"].shape == (3, 6 * scale, 6 * scale) and item["lq"].shape == (3, 6, 6)
        assert item["scale"] == scale
        assert torch.equal(item["lq"], round_to_8bit(imresize(item["gt"], 1 / scale)))


def test_lq_size_errors_name_the_key_and_the_patch(tmp_path: Path) -> None:
    opt = mixed_opt(tmp_path, gt_size=None, lq_size=7)  # x4 GT patch 28 > the 25x24 cached "low" images
    with pytest.raises(
        DatasetError, match=r"k\.sources\.0: .*smaller than the 28x28 GT patch of lq_size 7; lower lq_size"
    ):
        build_dataset(opt, 4, key="k", scales=[2, 3, 4])
    with pytest.raises(
        DatasetError, match=r"k\.lq_size: give gt_size or lq_size, not both \(gt_size 12, lq_size 3\)"
    ):
        build_dataset(mixed_opt(tmp_path, lq_size=3), 4, key="k")
    bad = [replace(mixed_opt(tmp_path).sources[0], lq_size=0)]  # type: ignore[index]
    with pytest.raises(DatasetError, match=r"k\.sources\.0\.lq_size: 0 must be positive"):
        build_dataset(mixed_opt(tmp_path, sources=bad), 4, key="k")
    plain = DatasetOptions(name="p", type="HRImageDataset", dataroot_gt=str(tmp_path / "high"), lq_size=11)
    hr = build_dataset(plain, 4, key="p")
    with pytest.raises(
        DatasetError, match=r"p: .*00\.png is 44x40, smaller than the 44x44 GT patch of lq_size 11"
    ):
        hr[0]


def test_native_source_items_equal_hr_dataset_items(tmp_path: Path) -> None:
    """A resolution-1 source gives exactly HRImageDataset's crops and augmentations."""
    opt = mixed_opt(tmp_path, gt_size=12)
    mixed = build_dataset(opt, 2, key="k", scales=[2, 4])
    hr = build_dataset(
        DatasetOptions(name="t", type="HRImageDataset", dataroot_gt=str(tmp_path / "high"), gt_size=12),
        2,
        key="k",
        scales=[2, 4],
    )
    assert isinstance(hr, HRImageDataset)
    for index, seed, scale in ((0, 1, 2), (1, 7, 4), (2, 3, 4)):
        a, b = mixed[(1, index, seed, scale)], hr[(0, index, seed, scale)]
        assert torch.equal(a["gt"], b["gt"]) and torch.equal(a["lq"], b["lq"])
        assert b["scale"] == scale and b["source"] == 0
    assert hr[(0, 5)]["scale"] == 2 and hr[0]["source"] == 0  # old keys still work, default scale
    with pytest.raises(DatasetError, match=r"scale 3 requested; this dataset makes \[2, 4\]"):
        hr[(0, 0, 0, 3)]


def test_bandlimited_targets_lack_high_frequencies(tmp_path: Path) -> None:
    # white noise: energy at every frequency, so what is left above the band shows
    noise_image = round_to_8bit(torch.rand(3, 64, 64, generator=torch.Generator().manual_seed(3)))
    write_image(tmp_path / "hr" / "noise.png", noise_image)
    base = dict(name="t", type="HRImageDataset", dataroot_gt=str(tmp_path / "hr"), gt_size=32)
    plain = build_dataset(DatasetOptions(**base), 2, key="k")  # type: ignore[arg-type]
    limited = build_dataset(DatasetOptions(**base, gt_bandlimit=0.5), 2, key="k")  # type: ignore[arg-type]
    p, q = plain[(0, 4)], limited[(0, 4)]
    assert torch.equal(p["lq"], q["lq"])  # the LQ is made from the original patch
    assert torch.equal(q["gt"], imresize(imresize(p["gt"], 0.5), size=(32, 32)))

    def energy_above(x: torch.Tensor, band: float) -> float:
        """Hann-windowed power above ``band`` x Nyquist (max-norm of the frequency)."""
        win = torch.hann_window(x.shape[-1], periodic=False)
        x = (x - x.mean(dim=(-2, -1), keepdim=True)) * win[:, None] * win[None, :]
        power = torch.fft.fft2(x).abs() ** 2
        f = torch.fft.fftfreq(x.shape[-1])
        mask = torch.maximum(f[:, None].abs(), f[None, :].abs()) > band * 0.5
        return power[..., mask].sum().item()

    # measured ~0.9% left above half Nyquist (the bicubic kernel's leakage), against 100% unfiltered;
    # a GT that kept the band (no gt_bandlimit) fails this by a factor of 50
    assert energy_above(q["gt"], 0.5) < 0.02 * energy_above(p["gt"], 0.5)
    assert energy_above(p["gt"], 0.5) > 0.5 * energy_above(p["gt"], 0.0)  # noise: most energy is high
    mixed = build_dataset(mixed_opt(tmp_path, gt_bandlimit=0.5), 4, key="k")
    unlimited = build_dataset(mixed_opt(tmp_path), 4, key="k")
    a, b = mixed[(0, 1, 9, 4)], unlimited[(0, 1, 9, 4)]
    assert torch.equal(a["gt"], band_limit(b["gt"], 0.5)) and torch.equal(a["lq"], b["lq"])
    with pytest.raises(DatasetError, match=r"k\.gt_bandlimit: 1\.5 must be in \(0, 1\]"):
        build_dataset(DatasetOptions(**base, gt_bandlimit=1.5), 2, key="k")  # type: ignore[arg-type]


def test_errors_name_the_source_key_file_resolution_and_size(tmp_path: Path) -> None:
    opt = mixed_opt(tmp_path)
    bad = [opt.sources[0], SourceOptions(name="x", dataroot_gt=str(tmp_path / "nope"))]  # type: ignore[index]
    with pytest.raises(
        DatasetError, match=r"datasets\.train\.sources\.1\.dataroot_gt: folder not found: .*nope"
    ):
        build_dataset(replace(opt, sources=bad), 4, key="datasets.train")
    write_image(tmp_path / "small" / "tiny.png", textured(40, 36, seed=1))
    small = [SourceOptions(name="s", dataroot_gt=str(tmp_path / "small"), resolution=0.25)]
    with pytest.raises(
        DatasetError, match=r"sources\.0: .*tiny\.png is 9x10 at resolution 0\.25 \(36x40 before.*gt_size 12"
    ):
        build_dataset(replace(opt, sources=small), 4, key="datasets.train")
    odd = [opt.sources[0], SourceOptions(name="o", dataroot_gt=str(tmp_path / "high"), gt_size=12)]  # type: ignore[index]
    with pytest.raises(
        DatasetError,
        match=r"d\.sources\.1\.gt_size: 12 must be a positive multiple of every scale of \[4, 8\]",
    ):
        build_dataset(replace(opt, sources=odd, gt_size=16), 4, key="d", scales=[4, 8])
    paired = DatasetOptions(name="p", dataroot_gt=str(tmp_path / "high"), dataroot_lq=str(tmp_path / "high"))
    with pytest.raises(DatasetError, match=r"PairedImageDataset holds LQ files of one scale"):
        build_dataset(paired, 2, key="d", scales=[2, 4])


# ------------------------------------------------------------------------------------------ loader
@pytest.mark.parametrize("workers", [0, 2])
def test_mixed_loader_resumes_at_any_iteration(tmp_path: Path, workers: int) -> None:
    opt = mixed_opt(tmp_path, gt_size=12, batch_size_per_gpu=3, num_worker_per_gpu=workers)
    ds = build_dataset(opt, 4, key="k", scales=[2, 4])
    loader, sampler = build_train_loader(ds, opt, seed=7, scales=[2, 4], scale_weights=[1, 3])
    assert isinstance(sampler, MixedBatchSampler)
    stream = iterate_forever(loader, sampler)
    reference = [next(stream) for _ in range(9)]
    assert sampler.state_dict()["iter"] == 9
    for batch in reference:  # one source and one scale per batch; sizes follow them
        assert batch["scale"].dtype == batch["source"].dtype == torch.int64 and batch["scale"].shape == (3,)
        assert len(set(batch["scale"].tolist())) == len(set(batch["source"].tolist())) == 1
        s = int(batch["scale"][0])
        assert batch["gt"].shape == (3, 3, 12, 12) and batch["lq"].shape == (3, 3, 12 // s, 12 // s)
    for k in (0, 4, 8):
        loader_k, sampler_k = build_train_loader(
            ds, opt, seed=7, start_iter=k, scales=[2, 4], scale_weights=[1, 3]
        )
        resumed = iterate_forever(loader_k, sampler_k, k)
        for got, want in zip([next(resumed) for _ in range(9 - k)], reference[k:], strict=True):
            assert torch.equal(got["gt"], want["gt"]) and torch.equal(got["lq"], want["lq"]), k
            assert got["key"] == want["key"] and torch.equal(got["scale"], want["scale"])


def test_multiscale_hr_dataset_gets_batch_sampler_single_scale_keeps_train_sampler(tmp_path: Path) -> None:
    write_folder(tmp_path / "hr", [(24, 24), (28, 24)])
    opt = DatasetOptions(
        name="t",
        type="HRImageDataset",
        dataroot_gt=str(tmp_path / "hr"),
        gt_size=12,
        batch_size_per_gpu=2,
        num_worker_per_gpu=0,
    )
    multi = build_dataset(opt, 2, key="k", scales=[2, 3])
    loader, sampler = build_train_loader(multi, opt, seed=0, scales=[2, 3])
    assert isinstance(sampler, MixedBatchSampler) and sampler.source_sizes == [2]
    stream = iterate_forever(loader, sampler)
    seen = {int(next(stream)["scale"][0]) for _ in range(12)}
    assert seen == {2, 3}
    single = build_dataset(opt, 2, key="k")
    loader, plain = build_train_loader(single, opt, seed=0, scales=[2])
    assert isinstance(plain, TrainSampler)
    batch = next(iterate_forever(loader, plain))
    assert batch["scale"].tolist() == [2, 2] and batch["source"].tolist() == [0, 0]


def test_unreadable_source_image_errors_or_is_skipped(tmp_path: Path) -> None:
    opt = mixed_opt(tmp_path)
    bad = tmp_path / "low" / "01.png"
    bad.write_bytes(bad.read_bytes()[:60])  # truncated: decoded (and downsampled) at build time
    with pytest.raises(ImageReadError, match=r"datasets\.train\.sources\.0: .*01\.png"):
        build_dataset(opt, 4, key="datasets.train")
    ds = build_dataset(replace(opt, on_corrupt="skip"), 4, key="datasets.train")
    assert isinstance(ds, MixedSourceDataset)
    assert ds.source_sizes == [1, 3] and ds.skipped == [bad]
