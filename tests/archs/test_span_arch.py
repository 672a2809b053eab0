"""SPAN: the authors' layout and deployed size, the fused 3x3 convolutions, and a cross-check against
spandrel's independent implementation (spandrel 0.4's ``SPAN``, which follows the authors' code)."""

from __future__ import annotations

import pytest
import spandrel
import torch

from sr.archs import build, scale_of
from sr.archs.span_arch import SPAN, Conv3XC
from sr.checkpoints import detect_arch


def small(**kwargs) -> SPAN:
    torch.manual_seed(0)
    return build({"type": "SPAN", "feature_channels": 8, **kwargs})  # type: ignore[return-value]


def test_deployed_size_is_the_papers():
    # Wan et al. 2024, Table 1: SPAN x4 with 48 features has 426K parameters once each Conv3XC is one
    # 3x3 conv. Hand sum: conv_1 3*48*9+48 = 1344; 18 block convs and conv_2 19*(48*48*9+48) = 394896;
    # conv_cat 192*48+48 = 9264; upsampler 48*48*9+48 = 20784 -> 426288
    model = build({"type": "SPAN"})
    training_only = (".conv.", ".sk.")
    deployed = sum(p.numel() for n, p in model.named_parameters() if not any(t in n for t in training_only))
    assert deployed == 426_288


@pytest.mark.parametrize("upscale", [1, 2, 3, 4])
@pytest.mark.parametrize("norm", [True, False])
def test_fused_eval_equals_training_branches_and_spandrel(upscale, norm):
    model = small(upscale=upscale, norm=norm)
    x = torch.rand(2, 3, 13, 9, generator=torch.Generator().manual_seed(1))
    trained = model.train()(x)
    with torch.no_grad():
        fused = model.eval()(x)
    assert fused.shape == (2, 3, 13 * upscale, 9 * upscale) and scale_of(model) == upscale
    scale = fused.abs().max().item()  # the input is multiplied by 255 with norm: compare relatively
    torch.testing.assert_close(fused, trained.detach(), atol=1e-5 * max(scale, 1), rtol=0)

    theirs = spandrel.ModelLoader().load_from_state_dict(dict(model.state_dict()))
    assert theirs.architecture.id == "SPAN" and theirs.scale == upscale
    assert set(theirs.model.state_dict()) == set(model.state_dict())  # the same keys, nothing left out
    theirs.model.eval()
    with torch.no_grad():
        torch.testing.assert_close(fused, theirs.model(x), atol=1e-5 * max(scale, 1), rtol=0)


def test_saved_eval_conv_is_the_fused_kernel():
    conv = Conv3XC(4, 6)
    with torch.no_grad():
        conv.conv[1].weight.mul_(3)  # as after training steps: eval_conv must follow
    state = conv.state_dict()
    kernel, bias = conv.fused()
    torch.testing.assert_close(state["eval_conv.weight"], kernel)
    torch.testing.assert_close(state["eval_conv.bias"], bias)
    assert not conv.eval_conv.weight.requires_grad


def test_detected_from_its_weights():
    for kwargs in ({"upscale": 4}, {"upscale": 2, "norm": False}):
        model = small(**kwargs)
        spec = detect_arch(model.state_dict(), "span.pth")
        assert spec.type == "SPAN"
        assert spec.kwargs == {
            "num_in_ch": 3,
            "num_out_ch": 3,
            "feature_channels": 8,
            "upscale": kwargs["upscale"],
            "norm": kwargs.get("norm", True),
        }
        build(spec.as_opt()).load_state_dict(model.state_dict())


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="upscale 9 is not supported"):
        SPAN(upscale=9)
    with pytest.raises(ValueError, match="rgb_mean has 3 values for 1 input channels"):
        SPAN(num_in_ch=1, num_out_ch=1)
    SPAN(num_in_ch=1, num_out_ch=1, norm=False, feature_channels=4)
