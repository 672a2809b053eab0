"""Network interpolation (sr.inference.interp): golden blends of real saved checkpoints, layouts,
compatibility errors, alpha parsing and file names."""

from __future__ import annotations

import pytest
import torch
from layouts import to_esrgan_repo, to_old_layout

from sr.archs import SRCNN, MSRResNet, RRDBNet, SRResNet
from sr.checkpoints import CheckpointError, read_state_dict, save_checkpoint
from sr.inference.interp import (
    ImageBlend,
    InterpError,
    alpha_filename,
    alpha_label,
    check_compatible,
    interpolate,
    parse_alphas,
    read_weights,
)

RRDB = {"type": "RRDBNet", "num_feat": 8, "num_block": 1, "num_grow_ch": 4, "scale": 4}


def rrdb(seed: int) -> RRDBNet:
    torch.manual_seed(seed)
    return RRDBNet(num_feat=8, num_block=1, num_grow_ch=4, scale=4).eval()


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    """Two RRDBNets saved in sr's format; the PSNR model's conv_first.bias is set by hand."""
    d = tmp_path_factory.mktemp("pair")
    a, b = rrdb(0), rrdb(1)
    with torch.no_grad():
        a.conv_first.bias[:2] = torch.tensor([1.0, 2.0])
        b.conv_first.bias[:2] = torch.tensor([3.0, -2.0])
    return save_checkpoint(d / "psnr.pth", a, arch=RRDB), save_checkpoint(d / "gan.pth", b, arch=RRDB)


def test_blend_of_saved_checkpoints_is_exact(pair):
    psnr, gan = read_weights(pair[0]), read_weights(pair[1])
    out = interpolate(psnr.state, gan.state, 0.25)
    # hand check: 0.75 * 1 + 0.25 * 3 = 1.5; 0.75 * 2 + 0.25 * (-2) = 1.0 (exact in binary)
    assert out["conv_first.bias"][:2].tolist() == [1.5, 1.0]
    assert list(out) == list(psnr.state)
    for k, a in psnr.state.items():
        b = gan.state[k]
        want = (0.75 * a.double() + 0.25 * b.double()).float()  # the formula, in float64 then rounded
        assert out[k].dtype == torch.float32 and torch.equal(out[k], want), k
        assert not torch.equal(out[k], a) or torch.equal(a, b), k  # really blended
    # alpha = 0.8 is 80 % GAN (the ESRGAN paper's convention): 0.2 * 1 + 0.8 * 3 = 2.6
    assert interpolate(psnr.state, gan.state, 0.8)["conv_first.bias"][0].item() == pytest.approx(2.6)


def test_alpha_0_and_1_reproduce_the_inputs_bit_for_bit(pair):
    psnr, gan = read_weights(pair[0]), read_weights(pair[1])
    for alpha, want in ((0.0, psnr.state), (1.0, gan.state)):
        out = interpolate(psnr.state, gan.state, alpha)
        assert all(torch.equal(out[k], want[k]) for k in want)


def test_dtypes_kept_and_integer_buffers_copied(tmp_path):
    torch.manual_seed(0)
    a, b = SRResNet(num_feat=8, num_block=1, upscale=2), SRResNet(num_feat=8, num_block=1, upscale=2)
    sa, sb = a.state_dict(), b.state_dict()
    int_keys = [k for k, v in sa.items() if not v.is_floating_point()]
    assert int_keys  # BatchNorm's num_batches_tracked
    for k in int_keys:
        sa[k], sb[k] = torch.tensor(3), torch.tensor(1000)
    sa = {k: v.half() if v.is_floating_point() else v for k, v in sa.items()}
    sb = {k: v.half() if v.is_floating_point() else v for k, v in sb.items()}
    out = interpolate(sa, sb, 0.5)
    for k in int_keys:
        assert out[k].dtype == torch.int64 and out[k].item() == 3  # the PSNR model's, not 501
    mean = next(k for k in sa if k.endswith("running_mean"))
    assert out[mean].dtype == torch.float16
    assert torch.equal(out[mean], ((sa[mean].double() + sb[mean].double()) / 2).half())


@pytest.mark.parametrize("layouts", [("esrgan-old", "basicsr"), ("esrgan-repo", "esrgan-old")])
def test_different_layouts_of_the_same_weights_blend_identically(tmp_path, layouts):
    a, b = rrdb(0).state_dict(), rrdb(1).state_dict()
    convert = {
        "basicsr": lambda sd: sd,
        "esrgan-repo": to_esrgan_repo,
        "esrgan-old": lambda sd: to_old_layout(sd, 1),
    }
    reference = interpolate(a, b, 0.3)
    torch.save(convert[layouts[0]](a), tmp_path / "psnr.pth")
    torch.save({"params_ema": convert[layouts[1]](b)}, tmp_path / "gan.pth")
    psnr, gan = read_weights(tmp_path / "psnr.pth"), read_weights(tmp_path / "gan.pth")
    assert psnr.arch == gan.arch and psnr.arch["num_feat"] == 8 and psnr.arch["scale"] == 4
    out = interpolate(psnr.state, gan.state, 0.3)
    assert set(out) == set(reference) and all(torch.equal(out[k], reference[k]) for k in reference)


def test_incompatible_models_name_the_first_difference():
    a = rrdb(0).state_dict()
    with pytest.raises(
        InterpError, match=r"key 'conv_last\.bias' is in PSNR model but missing from GAN model"
    ):
        interpolate(a, {k: v for k, v in a.items() if k != "conv_last.bias"}, 0.5)
    with pytest.raises(InterpError, match=r"key 'extra' is in GAN model but missing from PSNR model"):
        check_compatible(a, {**a, "extra": torch.zeros(1)})
    wide = RRDBNet(num_feat=12, num_block=1, num_grow_ch=4).state_dict()
    with pytest.raises(
        InterpError, match=r"shape of 'conv_first\.weight' differs: \(8, 3, 3, 3\) .* \(12, 3, 3, 3\)"
    ):
        interpolate(a, wide, 0.5)
    with pytest.raises(InterpError, match="PSNR model is RRDBNet, GAN model is MSRResNet"):
        check_compatible(a, a, psnr_arch=RRDB, gan_arch={"type": "MSRResNet"})
    # same keys and shapes, different behaviour: SRCNN's padding mode
    s = SRCNN().state_dict()
    with pytest.raises(InterpError, match=r"argument 'padding_mode' is 'zeros' in PSNR model, 'replicate'"):
        check_compatible(
            s, s, psnr_arch={"type": "SRCNN"}, gan_arch={"type": "SRCNN", "padding_mode": "replicate"}
        )
    # equivalent descriptions (defaults spelled out or not, SRCNN's num_out_ch None) are compatible
    check_compatible(
        s, s, psnr_arch={"type": "SRCNN", "num_out_ch": None}, gan_arch={"type": "SRCNN", "num_out_ch": 1}
    )


def test_alpha_range_and_extrapolation():
    a, b = {"w": torch.tensor([1.0, 2.0])}, {"w": torch.tensor([3.0, -2.0])}
    for bad in (-0.1, 1.5):
        with pytest.raises(InterpError, match=r"outside \[0, 1\].*--allow-extrapolation"):
            interpolate(a, b, bad)
    with pytest.raises(InterpError, match="not a finite number"):
        interpolate(a, b, float("nan"), allow_extrapolation=True)
    # hand check: -0.5 * [1, 2] + 1.5 * [3, -2] = [4, -4]
    assert interpolate(a, b, 1.5, allow_extrapolation=True)["w"].tolist() == [4.0, -4.0]


def test_parse_alphas():
    grid = parse_alphas("0:1:0.1")
    assert grid == [i / 10 for i in range(11)]  # 0.3, not 0.30000000000000004; STOP included
    assert len(parse_alphas("0:1:0.05")) == 21 and parse_alphas("0:1:0.05")[-1] == 1.0
    assert parse_alphas("0:1:0.3") == [0.0, 0.3, 0.6, 0.9]  # STOP off the grid: not added
    assert parse_alphas("1:0:-0.5") == [1.0, 0.5, 0.0]
    assert parse_alphas("0, 0.5,0.8,0.85,1") == [0.0, 0.5, 0.8, 0.85, 1.0]
    assert parse_alphas("0.7") == [0.7]
    for bad, msg in [
        ("0:1:0", "non-zero"),
        ("1:0:0.1", "lead from START to STOP"),
        ("0:1", "START:STOP:STEP"),
        ("a,b", "not a number list"),
        ("0.5,0.5", "given twice"),
        ("0:1:1e-6", "at most"),
        ("", "no values"),
    ]:
        with pytest.raises(InterpError, match=msg):
            parse_alphas(bad)


def test_file_names_never_collide():
    assert alpha_filename(0.8, ".pth") == "interp_alpha0.80.pth"
    assert alpha_filename(0.85, ".pth") == "interp_alpha0.85.pth"
    assert alpha_filename(0.125, "safetensors") == "interp_alpha0.125.safetensors"
    assert alpha_label(-0.0) == "0.00" and alpha_label(1.5) == "1.50" and alpha_label(-0.25) == "-0.25"
    grid = parse_alphas("0:1:0.05")
    names = {alpha_filename(a) for a in grid}
    assert len(names) == len(grid) == 21
    assert all(float(alpha_label(a)) == a for a in [*grid, 0.1 + 0.2, 1 / 3])  # labels read back exactly


def test_read_weights_errors_name_the_file(tmp_path):
    torch.manual_seed(0)
    save_checkpoint(tmp_path / "srcnn.pth", SRCNN().state_dict())  # no arch: the scale is unknown
    with pytest.raises(CheckpointError, match=r"srcnn\.pth: the scale of this SRCNN .* --scale"):
        read_weights(tmp_path / "srcnn.pth")
    assert read_weights(tmp_path / "srcnn.pth", scale=3).arch["upscale"] == 3
    from sr.archs import VGGStyleDiscriminator

    save_checkpoint(tmp_path / "d.pth", VGGStyleDiscriminator(num_feat=4))
    with pytest.raises(
        CheckpointError, match=r"d\.pth: holds a VGGStyleDiscriminator, not a super-resolution"
    ):
        read_weights(tmp_path / "d.pth")


def test_image_blend_module_is_the_pixel_blend():
    torch.manual_seed(0)
    p, g = (
        MSRResNet(num_feat=8, num_block=1, upscale=2).eval(),
        MSRResNet(num_feat=8, num_block=1, upscale=2).eval(),
    )
    blend = ImageBlend(p, g)
    x = torch.rand(1, 3, 8, 8)
    with torch.inference_mode():
        yp, yg = p(x), g(x)
        for alpha, want in ((0.0, yp), (1.0, yg)):
            blend.alpha = alpha
            assert torch.equal(blend(x), want)  # the two models' own outputs, exactly
        blend.alpha = 0.8
        assert torch.allclose(blend(x), 0.2 * yp + 0.8 * yg)
    assert len(blend._cache) == 1  # each network ran once for this input


def test_saved_interpolation_reads_back(tmp_path, pair):
    psnr, gan = read_weights(pair[0]), read_weights(pair[1])
    out = save_checkpoint(tmp_path / "x.safetensors", interpolate(psnr.state, gan.state, 0.5), arch=psnr.arch)
    state, meta = read_state_dict(out)
    assert meta["arch"] == psnr.arch
    assert torch.equal(state["conv_first.bias"][:2], torch.tensor([2.0, 0.0]))  # (1+3)/2, (2-2)/2
