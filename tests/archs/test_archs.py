"""Structure of the architectures: parameter counts and key lists pinned to BasicSR's, output shapes at
every scale, and the LR -> HR contract. Parameter counts: BasicSR's defaults as its docs and
CONVENTIONS.md state (RRDBNet x4 16,697,987; MSRResNet x4 1,517,571; VGG-style discriminator 128
14,499,401); the others are hand sums (see comments)."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from sr.archs import (
    ARCHS,
    SRCNN,
    RRDBNet,
    VGGStyleDiscriminator,
    VGGStyleDiscriminatorAnySize,
    build,
    scale_of,
)


def n_params(m: torch.nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


@pytest.mark.parametrize(
    ("opt", "count"),
    [
        ({"type": "RRDBNet"}, 16_697_987),
        ({"type": "MSRResNet"}, 1_517_571),
        ({"type": "VGGStyleDiscriminator"}, 14_499_401),
        # 64*1*81+64 + 32*64*25+32 + 1*32*25+1 = 5248 + 51232 + 801
        ({"type": "SRCNN"}, 57_281),
        # 9-1-5: 5248 + (32*64+32) + 801
        ({"type": "SRCNN", "kernel_sizes": (9, 1, 5)}, 8_129),
        # x4 with pixel unshuffle: only conv_first changes, 16x the input channels
        ({"type": "RRDBNet", "scale": 1}, 16_697_987 + 64 * 45 * 9),
        ({"type": "RRDBNet", "scale": 2}, 16_697_987 + 64 * 9 * 9),
    ],
)
def test_parameter_counts(opt, count):
    assert n_params(build(opt)) == count


def test_key_lists_match_basicsr_layout():
    rrdb = [
        "conv_first",
        *[f"body.0.rdb{r}.conv{c}" for r in (1, 2, 3) for c in (1, 2, 3, 4, 5)],
        "conv_body", "conv_up1", "conv_up2", "conv_hr", "conv_last",
    ]  # fmt: skip
    assert list(RRDBNet(num_block=1).state_dict()) == [f"{k}.{p}" for k in rrdb for p in ("weight", "bias")]
    msr = ["conv_first", "body.0.conv1", "body.0.conv2", "upconv1", "upconv2", "conv_hr", "conv_last"]
    assert list(build({"type": "MSRResNet", "num_block": 1}).state_dict()) == [
        f"{k}.{p}" for k in msr for p in ("weight", "bias")
    ]
    x3_tail = ["upconv1", "conv_hr", "conv_last"]
    assert list(build({"type": "MSRResNet", "num_block": 1, "upscale": 3}).state_dict())[-6:] == [
        f"{k}.{p}" for k in x3_tail for p in ("weight", "bias")
    ]
    disc = list(VGGStyleDiscriminator().state_dict())
    assert disc[:3] == ["conv0_0.weight", "conv0_0.bias", "conv0_1.weight"]
    assert disc[-4:] == ["linear1.weight", "linear1.bias", "linear2.weight", "linear2.bias"]
    assert "conv5_0.weight" in VGGStyleDiscriminator(input_size=256).state_dict()
    assert list(VGGStyleDiscriminatorAnySize().state_dict()) == disc
    assert list(SRCNN().state_dict()) == [f"conv{i}.{p}" for i in (1, 2, 3) for p in ("weight", "bias")]


SMALL = {"num_block": 1, "num_feat": 16}
GENERATORS = (
    [({"type": "RRDBNet", "scale": s, "num_grow_ch": 8, **SMALL}, s) for s in (1, 2, 4)]
    + [({"type": t, "upscale": s, **SMALL}, s) for t in ("MSRResNet", "SRResNet") for s in (2, 3, 4)]
    + [({"type": "SRCNN", "upscale": s, "num_in_ch": 3}, s) for s in (2, 3, 4)]
    + [({"type": "SPAN", "upscale": s, "feature_channels": 8}, s) for s in (1, 2, 3, 4)]
)


@pytest.mark.parametrize(("opt", "scale"), GENERATORS)
@pytest.mark.parametrize("size", [(12, 12), (13, 7)])
def test_lr_to_hr_shapes_at_every_scale(opt, scale, size):
    model = build(opt).eval()
    x = torch.rand(2, 3, *size)
    with torch.no_grad():
        y = model(x)
    assert y.shape == (2, 3, size[0] * scale, size[1] * scale)
    assert scale_of(model) == scale


def test_rrdbnet_odd_sizes_are_reflect_padded_then_cropped():
    # x2 folds 2x2 pixels with pixel-unshuffle; an odd input is reflect-padded by one pixel and the
    # output cropped to 2x the input, so any size maps LR -> HR
    torch.manual_seed(0)
    net = RRDBNet(scale=2, num_block=1, num_feat=8, num_grow_ch=4).eval()
    x = torch.rand(1, 3, 9, 7)
    with torch.no_grad():
        odd = net(x)
        padded = net(torch.nn.functional.pad(x, (0, 1, 0, 1), mode="reflect"))
    assert odd.shape == (1, 3, 18, 14)
    torch.testing.assert_close(odd, padded[..., :18, :14])
    with torch.no_grad():
        assert RRDBNet(scale=1, num_block=1, num_feat=8, num_grow_ch=4)(torch.rand(1, 3, 2, 3)).shape == (
            1,
            3,
            2,
            3,
        )


def test_srcnn_contract_bicubic_inside():
    from sr.ops.imresize import imresize

    torch.manual_seed(0)
    lr = torch.rand(1, 1, 10, 10)
    inner = SRCNN(upscale=3, upsample="bicubic")
    outer = SRCNN(upscale=3, upsample="none")
    outer.load_state_dict(inner.state_dict())
    torch.testing.assert_close(inner(lr), outer(imresize(lr, 3)))


def test_discriminators():
    x = torch.rand(2, 3, 128, 128)
    d128, anysize = VGGStyleDiscriminator().eval(), VGGStyleDiscriminatorAnySize().eval()
    anysize.load_state_dict(d128.state_dict())
    with torch.no_grad():
        torch.testing.assert_close(anysize(x), d128(x))  # 4x4 pooling of a 4x4 map is the identity
        assert anysize(torch.rand(2, 3, 48, 80)).shape == (2, 1)
    with pytest.raises(ValueError, match="128x128"):
        d128(torch.rand(1, 3, 64, 64))
    with pytest.raises(ValueError, match="at least 32"):
        anysize(torch.rand(1, 3, 16, 64))


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="unknown architecture 'RRDB'; choose one of"):
        build({"type": "RRDB"})
    with pytest.raises(ValueError, match=r"RRDBNet: unknown argument 'nb'; allowed: .*num_block"):
        build({"type": "RRDBNet", "nb": 3})
    with pytest.raises(ValueError, match="scale 3"):
        RRDBNet(scale=3)
    with pytest.raises(ValueError, match="padding_mode"):
        SRCNN(padding_mode="reflect")
    with pytest.raises(ValueError, match="input_size"):
        VGGStyleDiscriminator(input_size=96)
    assert set(ARCHS) >= {"SRCNN", "SRResNet", "MSRResNet", "RRDBNet", "VGGStyleDiscriminator"}


def test_import_sr_archs_stays_light():
    heavy = "('cv2', 'tensorboard', 'sr.data', 'PIL')"
    code = f"import sys, sr.archs; print([m for m in {heavy} if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
