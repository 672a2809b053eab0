"""Structure of the multi-scale generators: key lists, parameter counts derived from the single-scale
models, output shapes at every scale (odd sizes too), the head = single-scale-tail equivalence,
``ScaleView``, ``scales_of`` and the errors."""

from __future__ import annotations

import pytest
import torch

from sr.archs import (
    ARCHS,
    MULTISCALE_ARCHS,
    SCALE_ARG,
    MSRResNet,
    MultiScaleMSRResNet,
    MultiScaleRRDBNet,
    RRDBNet,
    ScaleView,
    build,
    scale_of,
    scales_of,
)

TINY_RRDB = {"num_feat": 8, "num_block": 1, "num_grow_ch": 4}
TINY_MSR = {"num_feat": 8, "num_block": 2}


def n_params(m: torch.nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


def test_parameter_counts_at_the_defaults():
    with torch.device("meta"):  # shapes only: no memory, no init time
        check_parameter_counts()


def check_parameter_counts():
    # MSRResNet (BasicSR, CONVENTIONS.md): x4 1,517,571. Shared part conv_first 3*64*9+64 = 1,792 plus
    # 16 blocks of 2*(64*64*9+64) = 1,181,696 -> 1,183,488. Heads (upconvs + conv_hr 36,928 + conv_last
    # 64*3*9+3 = 1,731): x4 2*147,712 + 38,659 = 334,083 (1,183,488 + 334,083 = 1,517,571);
    # x2 (64*256*9+256) + 38,659 = 186,371; x3 (64*576*9+576) + 38,659 = 371,011.
    assert n_params(MultiScaleMSRResNet()) == 1_517_571 + 186_371 + 371_011 == 2_074_953
    # the same, from the single-scale models: sum of the three minus the shared part counted twice
    singles = sum(n_params(MSRResNet(upscale=s)) for s in (2, 3, 4))
    assert n_params(MultiScaleMSRResNet()) == singles - 2 * 1_183_488
    # RRDBNet x4 (BasicSR): 16,697,987; its x4 tail is conv_up1, conv_up2, conv_hr (3*36,928) plus
    # conv_last 1,731 = 112,515; the x2 and x3 heads have one upsampling conv: 2*36,928 + 1,731 = 75,587
    assert n_params(MultiScaleRRDBNet()) == 16_697_987 + 2 * 75_587 == 16_849_161
    assert n_params(MultiScaleRRDBNet(scales=(4,))) == n_params(RRDBNet(scale=4))


def test_key_lists():
    msr = MultiScaleMSRResNet(num_block=1)
    head = {2: ["upconv1"], 3: ["upconv1"], 4: ["upconv1", "upconv2"]}
    names = ["conv_first", "body.0.conv1", "body.0.conv2"] + [
        f"heads.x{s}.{n}" for s in (2, 3, 4) for n in [*head[s], "conv_hr", "conv_last"]
    ]
    assert list(msr.state_dict()) == [f"{n}.{p}" for n in names for p in ("weight", "bias")]
    rrdb = MultiScaleRRDBNet(num_block=1, scales=(4, 2))
    body = [f"body.0.rdb{r}.conv{c}" for r in (1, 2, 3) for c in (1, 2, 3, 4, 5)]
    names = ["conv_first", *body, "conv_body"] + [
        f"heads.x{s}.{n}"
        for s, ups in ((2, ["conv_up1"]), (4, ["conv_up1", "conv_up2"]))
        for n in [*ups, "conv_hr", "conv_last"]
    ]
    assert list(rrdb.state_dict()) == [f"{n}.{p}" for n in names for p in ("weight", "bias")]
    assert rrdb.scales == (2, 4)


@pytest.mark.parametrize(
    "model",
    [
        MultiScaleMSRResNet(**TINY_MSR),
        MultiScaleRRDBNet(**TINY_RRDB),
        MultiScaleRRDBNet(num_out_ch=1, **TINY_RRDB),
    ],
    ids=["msr", "rrdb", "rrdb-1ch-out"],
)
@pytest.mark.parametrize(("h", "w"), [(8, 8), (7, 5), (1, 3)])
def test_output_shapes_at_every_scale(model, h, w):
    c_out = model.heads["x2"].conv_last.out_channels
    for s in (2, 3, 4):
        assert model(torch.rand(2, 3, h, w), s).shape == (2, c_out, s * h, s * w)


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_msrresnet_head_is_the_single_scale_model(scale):
    # a single-scale MSRResNet's weights placed into the shared part and one head reproduce it exactly
    torch.manual_seed(0)
    single = MSRResNet(upscale=scale, **TINY_MSR).eval()
    multi = MultiScaleMSRResNet(**TINY_MSR).eval()
    state = {k if k.startswith(("conv_first", "body")) else f"heads.x{scale}.{k}": v
             for k, v in single.state_dict().items()}  # fmt: skip
    missing, unexpected = multi.load_state_dict(state, strict=False)
    assert not unexpected and all(not k.startswith(f"heads.x{scale}.") for k in missing)
    x = torch.rand(1, 3, 7, 6)
    torch.testing.assert_close(multi(x, scale), single(x), rtol=0, atol=0)


def test_rrdb_x4_head_is_the_single_scale_model():
    torch.manual_seed(0)
    single = RRDBNet(scale=4, **TINY_RRDB).eval()
    multi = MultiScaleRRDBNet(**TINY_RRDB).eval()
    shared = ("conv_first", "body", "conv_body")
    state = {k if k.startswith(shared) else f"heads.x4.{k}": v for k, v in single.state_dict().items()}
    multi.load_state_dict(state, strict=False)
    x = torch.rand(1, 3, 5, 6)
    torch.testing.assert_close(multi(x, 4), single(x), rtol=0, atol=0)


def test_heads_differ_and_share_the_body():
    torch.manual_seed(0)
    model = MultiScaleMSRResNet(**TINY_MSR).eval()
    x = torch.rand(1, 3, 6, 6)
    out2 = model(x, 2)
    with torch.no_grad():
        model.heads["x3"].conv_last.weight.add_(1.0)  # another head: x2 unchanged
    torch.testing.assert_close(model(x, 2), out2, rtol=0, atol=0)
    with torch.no_grad():
        model.conv_first.bias.add_(0.5)  # the shared part: every scale changes
    assert not torch.allclose(model(x, 2), out2)


def test_init_matches_the_single_scale_models():
    # same scaled kaiming (0.1) as MSRResNet: equal per-layer weight spread, zero biases
    torch.manual_seed(0)
    multi = MultiScaleMSRResNet(num_block=1)
    single = MSRResNet(num_block=1)
    for name in ("conv_first", "heads.x4.upconv1", "heads.x4.conv_last"):
        w_multi = multi.get_submodule(name)
        w_single = single.get_submodule(name.removeprefix("heads.x4."))
        assert w_multi.bias.abs().max() == 0
        ratio = (w_multi.weight.std() / w_single.weight.std()).item()
        assert 0.9 < ratio < 1.1, name


def test_forward_scale_errors():
    model = MultiScaleRRDBNet(scales=(2, 4), **TINY_RRDB)
    x = torch.rand(1, 3, 4, 4)
    with pytest.raises(ValueError, match="has scales x2, x4; asked for x3"):
        model(x, 3)
    with pytest.raises(ValueError, match="has scales x2, x4; pass scale="):
        model(x)
    one = MultiScaleMSRResNet(scales=[3], **TINY_MSR)
    assert one(x).shape == (1, 3, 12, 12)  # a single head needs no scale


@pytest.mark.parametrize("scales", [(), (8,), (2, 2), (1, 2), ("2",), 4, (True,)])
def test_bad_scales_are_rejected(scales):
    for cls in (MultiScaleMSRResNet, MultiScaleRRDBNet):
        with pytest.raises(ValueError, match=r"scales .*\[2, 3, 4\]"):
            cls(scales=scales, num_feat=8, num_block=1)


def test_scale_view_presents_one_head():
    torch.manual_seed(0)
    model = MultiScaleRRDBNet(num_in_ch=1, num_out_ch=1, **TINY_RRDB).eval()
    view = ScaleView(model, 3)
    x = torch.rand(1, 1, 5, 4)
    assert view.scale == 3 and view.num_in_ch == 1 and scale_of(view) == 3 and scales_of(view) == (3,)
    torch.testing.assert_close(view(x), model(x, 3), rtol=0, atol=0)
    # the whole model is the submodule `module` (DDP-style prefix that sr.checkpoints strips)
    assert list(view.state_dict()) == [f"module.{k}" for k in model.state_dict()]
    with pytest.raises(ValueError, match="has scales x2, x3, x4; asked for x8"):
        ScaleView(model, 8)
    single = MSRResNet(upscale=2, **TINY_MSR).eval()
    torch.testing.assert_close(ScaleView(single, 2)(x.expand(1, 3, 5, 4)), single(x.expand(1, 3, 5, 4)))
    with pytest.raises(ValueError, match="upscales x2; cannot view it as x4"):
        ScaleView(single, 4)


def test_scales_of_and_scale_of():
    assert scales_of(MultiScaleMSRResNet(scales=(4, 2), **TINY_MSR)) == (2, 4)
    assert scales_of(RRDBNet(scale=2, **TINY_RRDB)) == (2,)
    assert scale_of(MultiScaleRRDBNet(scales=(3,), **TINY_RRDB)) == 3
    with pytest.raises(
        ValueError, match=r"multi-scale generator \(x2, x3, x4\); pick one scale with ScaleView"
    ):
        scale_of(MultiScaleRRDBNet(**TINY_RRDB))
    with pytest.raises(ValueError, match="not a super-resolution generator"):
        scales_of(torch.nn.Conv2d(1, 1, 1))


def test_registered_and_buildable_from_yaml_like_options():
    assert (
        ARCHS["MultiScaleMSRResNet"] is MultiScaleMSRResNet
        and ARCHS["MultiScaleRRDBNet"] is MultiScaleRRDBNet
    )
    assert SCALE_ARG["MultiScaleRRDBNet"] == SCALE_ARG["MultiScaleMSRResNet"] == "scales"
    assert MULTISCALE_ARCHS == {"MultiScaleMSRResNet", "MultiScaleRRDBNet"}
    # a YAML list, as a stored arch has it
    model = build({"type": "MultiScaleRRDBNet", "scales": [4, 3], **TINY_RRDB})
    assert model.scales == (3, 4)
