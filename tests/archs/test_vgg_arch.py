"""VGGFeatureExtractor against torchvision's VGG (an independent construction of the same layout)."""

from __future__ import annotations

import pytest
import torch
from torchvision.models import vgg19
from torchvision.models.vgg import cfgs, make_layers

from sr.archs import ARCHS, build
from sr.archs.vgg_arch import VGGFeatureExtractor, vgg_layer_names

# torchvision's cfg letters (torchvision/models/vgg.py: vgg11 = "A", vgg13 = "B", vgg16 = "D", vgg19 = "E")
CFG = {"vgg11": "A", "vgg13": "B", "vgg16": "D", "vgg19": "E"}


def _torchvision_features(vgg_type: str) -> torch.nn.Sequential:
    """torchvision's ``features`` (what vgg19() etc. build, without the 120M-parameter classifier)."""
    base = vgg_type.removesuffix("_bn")
    return make_layers(cfgs[CFG[base]], batch_norm=vgg_type.endswith("_bn"))


@pytest.mark.parametrize("vgg_type", ["vgg11", "vgg13", "vgg16", "vgg19", "vgg16_bn", "vgg19_bn"])
def test_full_key_list_and_layer_types_match_torchvision(vgg_type):
    names = vgg_layer_names(vgg_type)
    ref = _torchvision_features(vgg_type)
    ours = VGGFeatureExtractor([names[-1]], vgg_type=vgg_type)
    assert list(ours.state_dict()) == [f"features.{k}" for k in ref.state_dict()]
    assert [type(m) for m in ours.features] == [type(m) for m in ref]
    # BasicSR's names: the first block and the layer kinds line up with torchvision's modules
    assert names[:2] == ["conv1_1", "bn1_1" if vgg_type.endswith("_bn") else "relu1_1"]
    kinds = {
        "conv": torch.nn.Conv2d,
        "bn": torch.nn.BatchNorm2d,
        "relu": torch.nn.ReLU,
        "pool": torch.nn.MaxPool2d,
    }
    for name, module in zip(names, ref, strict=True):
        assert isinstance(module, kinds[name.rstrip("0123456789_")])


def test_vgg19_names_known_indices():
    names = vgg_layer_names("vgg19")
    # indices in torchvision's vgg19.features: conv5_4 = 34, relu5_4 = 35 (ESRGAN/SRGAN's layers), pool5 = 36
    assert (names.index("relu2_2"), names.index("conv5_4"), names.index("relu5_4"), len(names)) == (
        8,
        34,
        35,
        37,
    )
    assert vgg_layer_names("vgg16").index("relu2_2") == 8  # Johnson et al.'s layer


@pytest.mark.parametrize(
    ("layers", "kept"),
    [(["relu2_2"], 9), (["conv1_1", "conv3_4"], 17), (["relu5_4", "conv5_4"], 36), (["pool5"], 37)],
)
def test_truncated_after_last_requested_layer(layers, kept):
    ours = VGGFeatureExtractor(layers)
    assert len(ours.features) == kept
    ref_keys = [f"features.{k}" for k in _torchvision_features("vgg19")[:kept].state_dict()]
    assert list(ours.state_dict()) == ref_keys


def test_output_shapes_and_values_equal_torchvision():
    ref = _torchvision_features("vgg19").eval()
    sd = {f"features.{k}": v for k, v in ref.state_dict().items()}
    sd["classifier.0.weight"] = torch.zeros(2, 2)  # ignored
    layers = ["relu1_2", "conv2_2", "conv3_4", "relu4_4", "conv5_4", "relu5_4", "pool5"]
    ours = VGGFeatureExtractor(layers)
    ours.load_torchvision_state(sd)
    x = torch.rand(2, 3, 32, 32)
    out = ours(x)
    assert list(out) == layers
    shapes = {k: tuple(v.shape) for k, v in out.items()}
    assert shapes == {
        "relu1_2": (2, 64, 32, 32),
        "conv2_2": (2, 128, 16, 16),
        "conv3_4": (2, 256, 8, 8),
        "relu4_4": (2, 512, 4, 4),
        "conv5_4": (2, 512, 2, 2),
        "relu5_4": (2, 512, 2, 2),
        "pool5": (2, 512, 1, 1),
    }
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    with torch.no_grad():
        h = (x - mean) / std
        expected = {}
        for i, layer in enumerate(ref):
            h = layer(h)
            expected[i] = h.clone()
    torch.testing.assert_close(out["conv5_4"], expected[34])  # before ReLU: has negative values
    assert (out["conv5_4"] < 0).any()
    torch.testing.assert_close(out["relu5_4"], expected[35])
    torch.testing.assert_close(out["conv2_2"], expected[7])
    torch.testing.assert_close(out["pool5"], expected[36])


def test_range_norm_and_no_input_norm():
    a = VGGFeatureExtractor(["conv1_1"], use_input_norm=False)
    b = VGGFeatureExtractor(["conv1_1"], use_input_norm=False, range_norm=True)
    b.load_state_dict(a.state_dict())
    x = torch.rand(1, 3, 8, 8)
    torch.testing.assert_close(b(x * 2 - 1)["conv1_1"], a(x)["conv1_1"])
    # without input norm conv1_1 is the plain convolution
    conv = a.features[0]
    torch.testing.assert_close(
        a(x)["conv1_1"], torch.nn.functional.conv2d(x, conv.weight, conv.bias, padding=1)
    )


def test_frozen_by_default_and_trainable_on_request():
    frozen = VGGFeatureExtractor(["relu1_1"])
    assert not any(p.requires_grad for p in frozen.parameters()) and not frozen.training
    trainable = VGGFeatureExtractor(["relu1_1"], requires_grad=True)
    assert all(p.requires_grad for p in trainable.parameters())


def test_remove_pooling_and_pooling_stride():
    x = torch.rand(1, 3, 16, 16)
    assert VGGFeatureExtractor(["conv2_1"], remove_pooling=True)(x)["conv2_1"].shape[-1] == 16
    assert VGGFeatureExtractor(["conv2_1"], pooling_stride=4)(x)["conv2_1"].shape[-1] == 4
    assert len(VGGFeatureExtractor(["conv2_1"], remove_pooling=True).features) == 6


def test_errors_name_the_problem():
    with pytest.raises(ValueError, match="relu5_5"):
        VGGFeatureExtractor(["relu5_5"])
    with pytest.raises(ValueError, match="vgg20"):
        VGGFeatureExtractor(["relu1_1"], vgg_type="vgg20")
    # a vgg16 state dict does not fit vgg19 up to conv5_4 (index 17 is a conv in vgg16, a ReLU in vgg19)
    sd16 = {f"features.{k}": v for k, v in _torchvision_features("vgg16").state_dict().items()}
    with pytest.raises(ValueError, match=r"'features\.17\.weight' does not exist in vgg19 \(layer relu3_4\)"):
        VGGFeatureExtractor(["conv5_4"]).load_torchvision_state(sd16)
    sd19 = {f"features.{k}": v for k, v in _torchvision_features("vgg19").state_dict().items()}
    del sd19["features.2.bias"]
    with pytest.raises(ValueError, match=r"lacks features\.2\.bias"):
        VGGFeatureExtractor(["relu1_2"]).load_torchvision_state(sd19)
    with pytest.raises(ValueError, match=r"module\.features\.0\.weight"):
        VGGFeatureExtractor(["relu1_2"]).load_torchvision_state({"module.features.0.weight": torch.zeros(1)})


def test_registered_and_buildable():
    assert ARCHS["VGGFeatureExtractor"] is VGGFeatureExtractor
    m = build({"type": "VGGFeatureExtractor", "layer_name_list": ["relu2_2"], "vgg_type": "vgg16"})
    assert len(m.features) == 9


@pytest.mark.slow
def test_keys_match_torchvision_vgg19_model():
    # the full model (with its 120M-parameter classifier) takes a few seconds to build
    ref = vgg19(weights=None)
    ours = VGGFeatureExtractor(["pool5"])
    ours.load_torchvision_state(ref.state_dict())
    assert list(ours.state_dict()) == [k for k in ref.state_dict() if k.startswith("features.")]
