"""Multi-scale checkpoints: detection of raw state dicts, ``load_model`` head selection and its errors,
the single <-> multi-scale conversions (round trips with equal outputs), ``tools/convert_scales.py``
and ``sr-eval --scale`` picking the head, all on real files in tmp_path."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest
import torch

from sr.archs import MSRResNet, MultiScaleMSRResNet, MultiScaleRRDBNet, RRDBNet, ScaleView, build
from sr.checkpoints import CheckpointError, detect_arch, load_model, read_state_dict, save_checkpoint
from sr.checkpoints.bundled import bundled_model_path
from sr.checkpoints.convert import deepen, extract_scale, single_to_multiscale
from sr.cli.eval import main as sr_eval
from sr.data.imageio import write_image
from sr.data.samples import load_sample
from sr.inference.evaluate import evaluate_folder

ROOT = Path(__file__).resolve().parents[2]
TINY_RRDB = {"num_feat": 8, "num_block": 1, "num_grow_ch": 4}
TINY_MSR = {"num_feat": 8, "num_block": 2}


def seeded(build_fn, seed=0):
    torch.manual_seed(seed)
    return build_fn().eval()


def full(arch_type: str, **kwargs) -> dict:
    """The arch dict with every constructor argument, as the conversions return it."""
    defaults = {
        "MSRResNet": {"num_in_ch": 3, "num_out_ch": 3, "num_feat": 64, "num_block": 16, "upscale": 4},
        "RRDBNet": {
            "num_in_ch": 3,
            "num_out_ch": 3,
            "scale": 4,
            "num_feat": 64,
            "num_block": 23,
            "num_grow_ch": 32,
        },
    }[arch_type]
    return {"type": arch_type, **defaults, **kwargs}


# -- detection ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "kwargs"),
    [
        (
            MultiScaleMSRResNet(num_feat=8, num_block=3, scales=(2, 3, 4)),
            {"num_in_ch": 3, "num_out_ch": 3, "num_feat": 8, "num_block": 3, "scales": [2, 3, 4]},
        ),
        (
            MultiScaleMSRResNet(num_in_ch=1, num_out_ch=1, num_feat=4, num_block=1, scales=(3,)),
            {"num_in_ch": 1, "num_out_ch": 1, "num_feat": 4, "num_block": 1, "scales": [3]},
        ),
        (
            MultiScaleRRDBNet(
                num_in_ch=3, num_out_ch=1, num_feat=8, num_block=2, num_grow_ch=4, scales=(2, 4)
            ),
            {
                "num_in_ch": 3,
                "num_out_ch": 1,
                "num_feat": 8,
                "num_block": 2,
                "num_grow_ch": 4,
                "scales": [2, 4],
            },
        ),
    ],
    ids=["msr-234", "msr-x3-gray", "rrdb-24"],
)
def test_detect_raw_multiscale_state_dicts(model, kwargs):
    spec = detect_arch(model.state_dict())
    assert spec.type == type(model).__name__ and spec.kwargs == kwargs and not spec.undetermined
    build(spec.as_opt()).load_state_dict(model.state_dict(), strict=True)


def test_detect_refuses_inconsistent_heads():
    sd = MultiScaleRRDBNet(**TINY_RRDB).state_dict()
    with pytest.raises(CheckpointError, match=r"ms.pth: MultiScaleRRDBNet head x4 has upsampling convs"):
        detect_arch({k: v for k, v in sd.items() if "x4.conv_up2" not in k}, source="ms.pth")
    sd8 = {k.replace("heads.x2.", "heads.x8."): v for k, v in sd.items()}
    with pytest.raises(
        CheckpointError, match="heads x3, x4, x8; MultiScaleRRDBNet has heads for x2, x3, x4 only"
    ):
        detect_arch(sd8)
    msr = MultiScaleMSRResNet(**TINY_MSR).state_dict()
    msr["heads.x2.upconv1.weight"] = msr["heads.x3.upconv1.weight"]  # x3's 9x channels under x2
    with pytest.raises(CheckpointError, match=r"head x2 has upsampling convs of \[72\] channels"):
        detect_arch(msr)


def test_single_scale_detection_is_unchanged():
    assert detect_arch(RRDBNet(scale=2, **TINY_RRDB).state_dict()).type == "RRDBNet"
    assert detect_arch(MSRResNet(upscale=3, **TINY_MSR).state_dict()).kwargs["upscale"] == 3


# -- load_model -----------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".pth", ".safetensors"])
def test_load_model_picks_the_head(tmp_path, suffix):
    model = seeded(lambda: MultiScaleRRDBNet(**TINY_RRDB))
    path = save_checkpoint(tmp_path / f"ms{suffix}", model, arch={"type": "MultiScaleRRDBNet", **TINY_RRDB})
    x = torch.rand(1, 3, 5, 7)
    for s in (2, 3, 4):
        view = load_model(path, scale=s)
        assert isinstance(view, ScaleView) and view.scale == s and not view.training
        with torch.no_grad():
            torch.testing.assert_close(view(x), model(x, s), rtol=0, atol=0)


def test_load_model_raw_state_dict_is_detected(tmp_path):
    model = seeded(lambda: MultiScaleMSRResNet(scales=(2, 4), **TINY_MSR))
    torch.save(model.state_dict(), tmp_path / "raw.pth")
    view = load_model(tmp_path / "raw.pth", scale=4)
    assert view.module.scales == (2, 4)
    x = torch.rand(1, 3, 4, 4)
    with torch.no_grad():
        torch.testing.assert_close(view(x), model(x, 4), rtol=0, atol=0)


def test_load_model_scale_errors(tmp_path):
    path = tmp_path / "ms.pth"
    torch.save(MultiScaleMSRResNet(**TINY_MSR).state_dict(), path)
    with pytest.raises(CheckpointError, match=r"ms.pth: the model has scales x2, x3, x4; asked for x8"):
        load_model(path, scale=8)
    with pytest.raises(CheckpointError, match=r"ms.pth: the model has scales x2, x3, x4; pass --scale N"):
        load_model(path)
    one = tmp_path / "one.pth"
    torch.save(MultiScaleMSRResNet(scales=[3], **TINY_MSR).state_dict(), one)
    assert load_model(one).scale == 3  # one head: no scale needed


def test_saving_a_view_saves_the_whole_model(tmp_path):
    model = seeded(lambda: MultiScaleMSRResNet(**TINY_MSR))
    view = ScaleView(model, 2)
    path = save_checkpoint(tmp_path / "v.pth", view, arch={"type": "MultiScaleMSRResNet", **TINY_MSR})
    state, meta = read_state_dict(path)
    assert list(state) == list(model.state_dict())
    assert meta["arch"]["scales"] == [2, 3, 4]  # the constructor default, recorded as a list
    assert load_model(path, scale=3).scale == 3


def test_load_upscaler_and_sr_eval_pick_the_head(tmp_path):
    data = tmp_path / "tiny"
    write_image(data / "cat.png", load_sample("chelsea")[:, 100:148, 150:210])
    write_image(data / "cam.png", load_sample("camera")[:, 200:236, 200:245])  # gray, odd size
    model = seeded(lambda: MultiScaleMSRResNet(**TINY_MSR))
    ckpt = save_checkpoint(tmp_path / "ms.pth", model, arch={"type": "MultiScaleMSRResNet", **TINY_MSR})
    scores = {}
    for s in (2, 3):
        out = tmp_path / f"x{s}.json"
        sr_eval(["--model", str(ckpt), "--scale", str(s), "--data", str(data), "--json", str(out), "--quiet"])
        scores[s] = json.loads(out.read_text())["datasets"]["tiny"]

    class Head3(torch.nn.Module):  # the x3 head run by hand
        def __init__(self):
            super().__init__()
            self.net, self.num_in_ch = model, 3

        def forward(self, x):
            return self.net(x, 3)

    by_hand = evaluate_folder(Head3(), data, 3).to_dict()
    assert scores[3]["images"] == by_hand["images"] and scores[3]["psnr"] == by_hand["psnr"]
    assert scores[2]["psnr"] != scores[3]["psnr"]
    with pytest.raises(SystemExit):
        sr_eval(["--model", str(ckpt), "--scale", "8", "--data", str(data)])


# -- conversions ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("arch", "scale"),
    [
        (full("MSRResNet", upscale=2, **TINY_MSR), 2),
        (full("MSRResNet", upscale=3, **TINY_MSR), 3),
        (full("MSRResNet", upscale=4, **TINY_MSR), 4),
        (full("RRDBNet", scale=4, **TINY_RRDB), 4),
    ],
    ids=["msr-x2", "msr-x3", "msr-x4", "rrdb-x4"],
)
def test_round_trip_single_multi_single(tmp_path, arch, scale):
    single = seeded(lambda: build(arch))
    sd = single.state_dict()
    multi_sd, multi_arch, report = single_to_multiscale(sd, arch, [4, 3, 2], seed=1)
    assert multi_arch["scales"] == [2, 3, 4] and multi_arch["type"] == "MultiScale" + arch["type"]
    assert sorted(report.copied.values()) == sorted(sd)  # everything of a same-layout model is used
    assert not report.unused
    assert report.initialised and all(
        k.startswith("heads.x") and f"x{scale}." not in k for k in report.initialised
    )

    back_sd, back_arch = extract_scale(multi_sd, multi_arch, scale)
    assert back_arch == arch
    assert list(back_sd) == list(sd) and all(torch.equal(back_sd[k], sd[k]) for k in sd)

    path = save_checkpoint(tmp_path / "ms.pth", multi_sd, arch=multi_arch)
    x = torch.rand(1, 3, 5, 6)
    with torch.no_grad():
        torch.testing.assert_close(load_model(path, scale=scale)(x), single(x), rtol=0, atol=0)


def test_fresh_heads_are_seeded_and_the_callers_rng_untouched():
    arch = full("MSRResNet", upscale=4, **TINY_MSR)
    sd = seeded(lambda: build(arch)).state_dict()
    torch.manual_seed(123)
    before = torch.random.get_rng_state()
    a, _, _ = single_to_multiscale(sd, arch, [2, 4], seed=5)
    assert torch.equal(torch.random.get_rng_state(), before)
    b, _, _ = single_to_multiscale(sd, arch, [2, 4], seed=5)
    c, _, _ = single_to_multiscale(sd, arch, [2, 4], seed=6)
    key = "heads.x2.upconv1.weight"
    assert torch.equal(a[key], b[key]) and not torch.equal(a[key], c[key])
    assert torch.equal(a["heads.x4.upconv1.weight"], c["heads.x4.upconv1.weight"])  # copied, not drawn


def test_rrdb_x2_gives_only_its_body():
    # RRDBNet x2 pixel-unshuffles its input (conv_first sees 12 channels) and upsamples x4 from h/2
    arch = full("RRDBNet", scale=2, **TINY_RRDB)
    sd = seeded(lambda: build(arch)).state_dict()
    multi_sd, multi_arch, report = single_to_multiscale(sd, arch, [2, 4])
    assert {k.rsplit(".", 2)[0] for k in report.copied} == {
        "body.0.rdb1",
        "body.0.rdb2",
        "body.0.rdb3",
        "conv_body",
    }
    assert "conv_first.weight" in report.initialised and "heads.x2.conv_up1.weight" in report.initialised
    assert report.unused == [k for k in sd if not k.startswith(("body.", "conv_body."))]
    assert "unused: conv_first, conv_up1, conv_up2, conv_hr, conv_last" in report.summary()
    build(multi_arch).load_state_dict(multi_sd, strict=True)


def test_extract_rrdb_x3_is_a_one_scale_multiscale_model(tmp_path):
    model = seeded(lambda: MultiScaleRRDBNet(**TINY_RRDB))
    arch = {"type": "MultiScaleRRDBNet", **TINY_RRDB}
    sd, one_arch = extract_scale(model.state_dict(), arch, 3)
    assert one_arch == {
        "type": "MultiScaleRRDBNet",
        "num_in_ch": 3,
        "num_out_ch": 3,
        **TINY_RRDB,
        "scales": [3],
    }
    assert not any(k.startswith(("heads.x2.", "heads.x4.")) for k in sd)
    path = save_checkpoint(tmp_path / "x3.pth", sd, arch=one_arch)
    x = torch.rand(1, 3, 4, 5)
    with torch.no_grad():
        torch.testing.assert_close(load_model(path)(x), model(x, 3), rtol=0, atol=0)


def test_conversion_errors():
    msr = MultiScaleMSRResNet(scales=(2, 4), **TINY_MSR).state_dict()
    arch = {"type": "MultiScaleMSRResNet", "scales": [2, 4], **TINY_MSR}
    with pytest.raises(CheckpointError, match=r"m.pth: the model has scales x2, x4; asked for x3"):
        extract_scale(msr, arch, 3, source="m.pth")
    with pytest.raises(CheckpointError, match=r"m.pth: weights do not fit MultiScaleMSRResNet: missing key"):
        extract_scale(msr, {**arch, "scales": [2, 3, 4]}, 2, source="m.pth")
    srcnn = build({"type": "SRCNN", "upscale": 2})
    with pytest.raises(
        CheckpointError, match=r"cannot convert a 'SRCNN'.*convertible: \['MSRResNet', 'RRDBNet'\]"
    ):
        single_to_multiscale(srcnn.state_dict(), {"type": "SRCNN", "upscale": 2}, [2])
    single = MSRResNet(**TINY_MSR).state_dict()
    with pytest.raises(CheckpointError, match=r"scales \[8\] are not supported"):
        single_to_multiscale(single, full("MSRResNet", **TINY_MSR), [8])
    with pytest.raises(CheckpointError, match="shape mismatch"):
        single_to_multiscale(single, full("MSRResNet", num_feat=16, num_block=2), [4])


# -- tools/convert_scales.py ----------------------------------------------------------------------


def load_tool(name: str = "convert_scales") -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"tools_{name}", ROOT / "tools" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_convert_scales_tool_round_trip(tmp_path, capsys):
    tool = load_tool()
    single = seeded(lambda: MSRResNet(upscale=3, **TINY_MSR))
    torch.save({"params": single.state_dict()}, tmp_path / "x3.pth")  # BasicSR-style, no arch stored
    tool.main(
        ["to-multi", str(tmp_path / "x3.pth"), str(tmp_path / "ms.safetensors"), "--scales", "2", "3", "4"]
    )
    printed = capsys.readouterr().out
    assert "MultiScaleMSRResNet x2, x3, x4" in printed and "initialised: heads.x2.upconv1" in printed
    state, meta = read_state_dict(tmp_path / "ms.safetensors")
    assert meta["arch"]["type"] == "MultiScaleMSRResNet" and meta["arch"]["scales"] == [2, 3, 4]
    assert torch.equal(state["heads.x3.upconv1.weight"], single.upconv1.weight)  # own scale's head copied
    tool.main(["extract", str(tmp_path / "ms.safetensors"), str(tmp_path / "back.pth"), "--scale", "3"])
    back, meta = read_state_dict(tmp_path / "back.pth")
    assert meta["arch"] == full("MSRResNet", upscale=3, **TINY_MSR)
    assert list(back) == list(single.state_dict())
    assert all(torch.equal(back[k], v) for k, v in single.state_dict().items())
    with pytest.raises(SystemExit):
        tool.main(["extract", str(tmp_path / "ms.safetensors"), str(tmp_path / "x8.pth"), "--scale", "8"])
    assert "the model has scales x2, x3, x4; asked for x8" in capsys.readouterr().err
    assert not (tmp_path / "x8.pth").exists()


# -- deepen ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model_fn", "calls"),
    [
        (
            lambda: MultiScaleMSRResNet(scales=[2, 3, 4], **TINY_MSR),
            [{"scale": 2}, {"scale": 3}, {"scale": 4}],
        ),
        (lambda: MSRResNet(upscale=3, **TINY_MSR), [{}]),
    ],
)
def test_deepen_keeps_the_output_and_trains_from_there(model_fn, calls):
    model = seeded(model_fn).eval()
    arch = {"type": type(model).__name__, **TINY_MSR}
    arch.update({"scales": [2, 3, 4]} if calls[0] else {"upscale": 3})
    state, grown = deepen(model.state_dict(), arch, 5, seed=1)
    assert grown["num_block"] == 5
    deeper = build(grown).eval()
    deeper.load_state_dict(state)
    assert list(state) == list(deeper.state_dict())  # the model's own key order
    x = torch.rand(1, 3, 11, 9, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        for kw in calls:
            assert torch.equal(deeper(x, **kw), model(x, **kw))
    for n in (2, 3, 4):  # new blocks: a zero last conv (identity), a seeded first conv
        assert not state[f"body.{n}.conv2.weight"].any() and not state[f"body.{n}.conv2.bias"].any()
        assert state[f"body.{n}.conv1.weight"].abs().sum() > 0
    assert torch.equal(
        deepen(model.state_dict(), arch, 5, seed=1)[0]["body.4.conv1.weight"], state["body.4.conv1.weight"]
    )
    # one optimiser step later the new blocks have left the identity: their gradient is not zero
    deeper.train()
    deeper(x, **calls[-1]).square().mean().backward()
    assert deeper.body[4].conv2.weight.grad.abs().sum() > 0


def test_deepen_errors():
    rrdb = seeded(lambda: RRDBNet(**TINY_RRDB))
    with pytest.raises(CheckpointError, match="cannot deepen a 'RRDBNet'"):
        deepen(rrdb.state_dict(), {"type": "RRDBNet", **TINY_RRDB}, 3, source="r.pth")
    msr = seeded(lambda: MSRResNet(**TINY_MSR))
    with pytest.raises(CheckpointError, match="num_block must be more than the model's 2, got 2"):
        deepen(msr.state_dict(), {"type": "MSRResNet", **TINY_MSR}, 2)
    with pytest.raises(CheckpointError, match="num_block: 5000 is out of range"):
        deepen(msr.state_dict(), {"type": "MSRResNet", **TINY_MSR}, 5000)


def test_tools_never_write_over_their_input(tmp_path, capsys):
    """convert_scales (every command) and package_default_model refuse an output that is their input
    (also through a hard link), before reading it, and leave the file as it was."""
    convert = load_tool()
    ckpt = tmp_path / "ms.safetensors"
    model = seeded(lambda: MultiScaleMSRResNet(scales=[2, 4], **TINY_MSR))
    save_checkpoint(
        ckpt, model.state_dict(), arch={"type": "MultiScaleMSRResNet", "scales": [2, 4], **TINY_MSR}
    )
    link = tmp_path / "link.safetensors"
    link.hardlink_to(ckpt)
    before = ckpt.read_bytes()
    for argv in (
        ["extract", str(ckpt), str(ckpt), "--scale", "2", "--overwrite"],
        ["deepen", str(ckpt), str(link), "--num-block", "3", "--overwrite"],
        ["to-multi", str(ckpt), str(ckpt), "--scales", "2"],
    ):
        with pytest.raises(SystemExit):
            convert.main(argv)
        assert "an input is never overwritten" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        load_tool("package_default_model").main([str(ckpt), "--out", str(link)])
    assert "is the input" in capsys.readouterr().err
    assert ckpt.read_bytes() == before
    # packaging default-gan reads the bundled default (found by review: it could be --out)
    default = bundled_model_path("default")
    shipped = default.read_bytes()
    with pytest.raises(SystemExit):
        load_tool("package_default_model").main([str(ckpt), "--name", "default-gan", "--out", str(default)])
    assert "is the input" in capsys.readouterr().err
    assert default.read_bytes() == shipped
    # an existing output needs --overwrite; deepen's output loads as the deeper model
    out = tmp_path / "deep.pth"
    convert.main(["deepen", str(ckpt), str(out), "--num-block", "3"])
    assert "with 3 blocks (was 2), same output" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        convert.main(["deepen", str(ckpt), str(out), "--num-block", "4"])
    assert "exists; pass --overwrite" in capsys.readouterr().err
    convert.main(["deepen", str(ckpt), str(out), "--num-block", "4", "--overwrite"])
    assert load_model(out, scale=4).module.body[3].conv2.weight.abs().sum() == 0
