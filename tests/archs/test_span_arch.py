"""SPAN: the authors' layout and deployed size, the fused 3x3 convolutions, and a cross-check against
spandrel's independent implementation (spandrel 0.4's ``SPAN``, which follows the authors' code)."""

from __future__ import annotations

import pytest
import spandrel
import torch

from sr.archs import build, scale_of
from sr.archs.span_arch import SPAN, Conv3XC
from sr.checkpoints import CheckpointError, detect_arch
from sr.inference.interp import Weights, blend_for_saving


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


def test_saved_eval_conv_is_the_fused_kernel_and_the_module_is_not_changed():
    conv = Conv3XC(4, 6)
    with torch.no_grad():
        conv.conv[1].weight.mul_(3)  # as after training steps: the saved eval_conv must follow
    stale = conv.eval_conv.weight.clone()
    state = conv.state_dict()
    kernel, bias = conv.fused()
    torch.testing.assert_close(state["eval_conv.weight"], kernel)
    torch.testing.assert_close(state["eval_conv.bias"], bias)
    assert torch.equal(conv.eval_conv.weight, stale) and not conv.eval_conv.weight.requires_grad
    assert conv.state_dict(keep_vars=True)["eval_conv.weight"] is conv.eval_conv.weight
    with torch.inference_mode():  # a model built for inference can still be saved outside it
        built = Conv3XC(4, 6)
    assert built.state_dict()["eval_conv.weight"].shape == (6, 4, 3, 3)


def test_weights_without_eval_conv_load_with_the_kernel_fused():
    model = small(upscale=2)
    partial = {k: v for k, v in model.state_dict().items() if "eval_conv" not in k}
    other = build({"type": "SPAN", "feature_channels": 8, "upscale": 2})
    other.load_state_dict(partial)  # strict: the missing kernels are filled in, not reported
    x = torch.rand(1, 3, 9, 8)
    with torch.no_grad():
        torch.testing.assert_close(other.eval()(x), model.eval()(x))
    with pytest.raises(RuntimeError, match="size mismatch"):  # a misfit still names its key
        build({"type": "SPAN", "feature_channels": 4, "upscale": 2}).load_state_dict(partial)


def test_deployed_model_runs_one_conv_per_layer_and_equals_the_fused_one():
    model = small(upscale=3).eval()
    x = torch.rand(1, 3, 10, 7)
    with torch.no_grad():
        fused = model(x)
        for m in model.modules():
            if isinstance(m, Conv3XC):
                m.deploy()
                with torch.no_grad():  # from now on the training branches are not read
                    m.conv[1].weight.zero_()
        torch.testing.assert_close(model(x), fused, atol=1e-5 * fused.abs().max().item(), rtol=0)
    model.train()
    assert not any(m.deployed for m in model.modules() if isinstance(m, Conv3XC))


def test_a_saved_blend_holds_the_fused_kernel_of_the_blend():
    """Blending fused kernels is not fusing the blend (the fusion is a product of the weights):
    sr-interp's file must hold the latter, as the blended model would save it."""
    a, b = small(upscale=2), build({"type": "SPAN", "feature_channels": 8, "upscale": 2})
    arch = {"type": "SPAN", "num_in_ch": 3, "num_out_ch": 3, "feature_channels": 8, "upscale": 2}
    blend = blend_for_saving(Weights(None, a.state_dict(), arch), Weights(None, b.state_dict(), arch), 0.5)  # type: ignore[arg-type]
    model = build(arch)
    model.load_state_dict(blend)
    kernel, _ = model.block_3.c2_r.fused()
    torch.testing.assert_close(blend["block_3.c2_r.eval_conv.weight"], kernel)


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


@pytest.mark.parametrize(
    ("key", "shape", "message"),
    [
        ("conv_1.sk.weight", (16, 0, 1, 1), r"conv_1.sk.weight of shape \[16, 0, 1, 1\]"),
        ("upsampler.0.weight", (), "need two non-empty 4-D"),
        ("conv_1.sk.weight", (16,), "need two non-empty 4-D"),
        ("upsampler.0.weight", (50, 8, 3, 3), "makes 50 channels"),
    ],
)
def test_malformed_span_weights_are_named(key, shape, message):
    state = dict(small().state_dict())
    state[key] = torch.zeros(shape)
    with pytest.raises(CheckpointError, match=f"bad.pth: .*{message}"):
        detect_arch(state, "bad.pth")


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="upscale 9 is not supported"):
        SPAN(upscale=9)
    with pytest.raises(ValueError, match="rgb_mean has 3 values for 1 input channels"):
        SPAN(num_in_ch=1, num_out_ch=1)
    SPAN(num_in_ch=1, num_out_ch=1, norm=False, feature_channels=4)
    with pytest.raises(ValueError, match="rgb_mean must hold colours in"):
        SPAN(rgb_mean=[1e30, 0, 0])
    with pytest.raises(ValueError, match="img_range must lie in"):
        SPAN(img_range=float("inf"))
