"""Architecture detection from shapes: detected kwargs equal the constructor's and load strictly."""

from __future__ import annotations

import pytest
import torch

from sr.archs import build
from sr.checkpoints import ArchSpec, CheckpointError, detect_arch, load_model, load_weights, read_state_dict

CASES = [
    # RRDBNet: x4 native, x2 and x1 through pixel-unshuffle; widths, depths and channels off the defaults
    {
        "type": "RRDBNet",
        "num_in_ch": 3,
        "num_out_ch": 3,
        "scale": 4,
        "num_feat": 16,
        "num_block": 2,
        "num_grow_ch": 8,
    },
    {
        "type": "RRDBNet",
        "num_in_ch": 1,
        "num_out_ch": 1,
        "scale": 4,
        "num_feat": 8,
        "num_block": 1,
        "num_grow_ch": 4,
    },
    {
        "type": "RRDBNet",
        "num_in_ch": 3,
        "num_out_ch": 3,
        "scale": 2,
        "num_feat": 8,
        "num_block": 3,
        "num_grow_ch": 4,
    },
    {
        "type": "RRDBNet",
        "num_in_ch": 1,
        "num_out_ch": 1,
        "scale": 1,
        "num_feat": 12,
        "num_block": 1,
        "num_grow_ch": 6,
    },
    {"type": "MSRResNet", "num_in_ch": 3, "num_out_ch": 3, "num_feat": 8, "num_block": 2, "upscale": 2},
    {"type": "MSRResNet", "num_in_ch": 1, "num_out_ch": 1, "num_feat": 8, "num_block": 3, "upscale": 3},
    {"type": "MSRResNet", "num_in_ch": 3, "num_out_ch": 3, "num_feat": 12, "num_block": 1, "upscale": 4},
    {"type": "SRResNet", "num_in_ch": 3, "num_out_ch": 3, "num_feat": 8, "num_block": 2, "upscale": 2},
    {"type": "SRResNet", "num_in_ch": 1, "num_out_ch": 3, "num_feat": 8, "num_block": 1, "upscale": 3},
    {"type": "SRResNet", "num_in_ch": 3, "num_out_ch": 3, "num_feat": 12, "num_block": 3, "upscale": 4},
    {"type": "VGGStyleDiscriminator", "num_in_ch": 3, "num_feat": 8, "input_size": 128},
    {"type": "VGGStyleDiscriminator", "num_in_ch": 1, "num_feat": 4, "input_size": 256},
]
SRCNN_CASES = [
    {"type": "SRCNN", "num_in_ch": c, "num_out_ch": c, "num_feat": 64, "num_feat2": 32, "kernel_sizes": ks}
    for ks in [(9, 1, 5), (9, 5, 5), (9, 3, 5)]
    for c in (1, 3)
]


def _name(opt: dict) -> str:
    return "-".join(str(v) for v in opt.values())


@pytest.mark.parametrize("opt", CASES, ids=_name)
def test_detected_kwargs_equal_the_constructor_arguments(opt):
    state = build(opt).state_dict()
    spec = detect_arch(state)
    assert spec == ArchSpec(opt["type"], {k: v for k, v in opt.items() if k != "type"}, ())
    model = build(spec.as_opt())
    load_weights(model, state, "test")
    for k, v in model.state_dict().items():
        assert torch.equal(v, state[k]), k


@pytest.mark.parametrize("opt", SRCNN_CASES, ids=_name)
def test_srcnn_detection_leaves_only_upscale_undetermined(opt):
    state = build({**opt, "upscale": 3}).state_dict()
    spec = detect_arch(state)
    assert spec.type == "SRCNN"
    assert spec.kwargs == {k: v for k, v in opt.items() if k != "type"}
    assert spec.undetermined == ("upscale",)
    load_weights(build({**spec.as_opt(), "upscale": 3}), state, "test")


def test_unknown_architecture_lists_known_ones_and_first_keys():
    state = {
        "head.weight": torch.zeros(4, 3, 3, 3),
        "head.bias": torch.zeros(4),
        "tail.weight": torch.zeros(1),
    }
    with pytest.raises(CheckpointError) as err:
        detect_arch(state, source="edsr.pth")
    message = str(err.value)
    assert message.startswith("edsr.pth: cannot detect the architecture; sr knows ")
    for name in ("MSRResNet", "RRDBNet", "SRCNN", "SRResNet", "VGGStyleDiscriminator"):
        assert name in message
    assert "'head.weight', 'head.bias', 'tail.weight'" in message


def test_srcnn_signature_with_extra_layers_is_not_srcnn():
    state = build({"type": "SRCNN", "upscale": 2}).state_dict()
    state["conv4.weight"] = torch.zeros(1, 1, 3, 3)
    with pytest.raises(CheckpointError, match="cannot detect the architecture"):
        detect_arch(state)


def test_inconsistent_shapes_are_reported():
    state = build({"type": "MSRResNet", "num_feat": 8, "num_block": 1, "upscale": 2}).state_dict()
    state["upconv1.weight"] = torch.zeros(40, 8, 3, 3)
    with pytest.raises(CheckpointError, match="upconv1 of 40 channels for 8 features match no upscale"):
        detect_arch(state)
    state = build({"type": "RRDBNet", "num_feat": 8, "num_block": 3, "num_grow_ch": 4}).state_dict()
    state = {k: v for k, v in state.items() if not k.startswith("body.1.")}
    with pytest.raises(CheckpointError, match=r"body\.N blocks are not numbered 0\.\.1: \[0, 2\]"):
        detect_arch(state)


def test_official_srcnn_x4_weights(shared_dir):
    path = shared_dir / "weights" / "srcnn_x4_955_imagenet_official.pth"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    state, meta = read_state_dict(path)
    assert meta["key"] is None
    spec = detect_arch(state)
    assert spec == ArchSpec(
        "SRCNN",
        {"num_in_ch": 1, "num_out_ch": 1, "num_feat": 64, "num_feat2": 32, "kernel_sizes": (9, 5, 5)},
        ("upscale",),
    )
    model = load_model(path, scale=4, net_opt={"padding_mode": "replicate"})
    assert (model.upscale, model.padding_mode, model.conv1.padding_mode) == (4, "replicate", "replicate")
    assert not model.training
    for k, v in model.state_dict().items():
        assert torch.equal(v, state[k])
    with pytest.raises(CheckpointError, match="pass --scale N or --net-opt upscale=N"):
        load_model(path)
