"""Real-ESRGAN's U-Net discriminator: BasicSR's keys, one logit per pixel, the six feature maps that
feature matching compares, a clear size error, and a GAN run with it that resumes exactly."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from sr.archs import UNetDiscriminatorSN, build
from sr.cli.train import main
from sr.engine.state import load_state
from tests.engine.engine_helpers import tiny_options, write_options

# BasicSR's UNetDiscriminatorSN (basicsr/archs/discriminator_arch.py, used by Real-ESRGAN): conv0 and
# conv9 plain with bias, conv1-conv8 wrapped in torch.nn.utils.spectral_norm without bias, which
# saves weight_orig, weight_u and weight_v
BASICSR_KEYS = (
    ["conv0.weight", "conv0.bias"]
    + [f"conv{i}.{p}" for i in range(1, 9) for p in ("weight_orig", "weight_u", "weight_v")]
    + ["conv9.weight", "conv9.bias"]
)


def test_keys_and_shapes_are_basicsrs():
    d = UNetDiscriminatorSN(num_in_ch=3, num_feat=8)
    sd = d.state_dict()
    assert list(sd) == BASICSR_KEYS
    widths = {1: 16, 2: 32, 3: 64, 4: 32, 5: 16, 6: 8, 7: 8, 8: 8}
    for i, c in widths.items():
        assert sd[f"conv{i}.weight_orig"].shape[0] == c
        assert sd[f"conv{i}.weight_u"].shape == (c,)
    assert sd["conv9.weight"].shape == (1, 8, 3, 3)


def test_without_spectral_norm_the_convolutions_are_plain():
    keys = list(UNetDiscriminatorSN(num_feat=4, spectral_norm=False).state_dict())
    assert (
        keys == ["conv0.weight", "conv0.bias"] + [f"conv{i}.weight" for i in range(1, 9)] + BASICSR_KEYS[-2:]
    )


def test_one_logit_per_pixel_and_six_feature_maps():
    d = build({"type": "UNetDiscriminatorSN", "num_in_ch": 3, "num_feat": 4}).eval()
    x = torch.rand(2, 3, 48, 64)
    logits, feats = d(x, return_features=True)
    assert torch.equal(logits, d(x))
    assert logits.shape == (2, 1, 48, 64)
    sizes = [(24, 32, 8), (12, 16, 16), (6, 8, 32), (12, 16, 16), (24, 32, 8), (48, 64, 4)]
    assert [(f.shape[2], f.shape[3], f.shape[1]) for f in feats] == sizes


def test_skip_connections_change_the_output():
    torch.manual_seed(0)
    with_skip = UNetDiscriminatorSN(num_feat=4).eval()
    without = UNetDiscriminatorSN(num_feat=4, skip_connection=False).eval()
    without.load_state_dict(with_skip.state_dict())
    x = torch.rand(1, 3, 16, 16)
    assert not torch.allclose(with_skip(x), without(x))


def test_saved_weights_load_strictly_and_give_the_same_logits(tmp_path: Path):
    torch.manual_seed(1)
    d = UNetDiscriminatorSN(num_feat=4)
    d(torch.rand(1, 3, 16, 16))  # a training-mode call moves the power-iteration vectors
    torch.save({"params": d.state_dict()}, tmp_path / "net_d.pth")
    again = UNetDiscriminatorSN(num_feat=4)
    again.load_state_dict(torch.load(tmp_path / "net_d.pth", weights_only=True)["params"])
    x = torch.rand(1, 3, 24, 16)
    assert torch.equal(d.eval()(x), again.eval()(x))


@pytest.mark.parametrize("size", [(30, 32), (32, 36)])
def test_size_not_a_multiple_of_8_is_named(size):
    with pytest.raises(ValueError, match=rf"multiples of 8, got {size[0]}x{size[1]}"):
        UNetDiscriminatorSN(num_feat=4)(torch.rand(1, 3, *size))


def _run(yml: Path, *extra: str) -> int:
    try:
        return main(["-opt", str(yml), "--quiet", *extra])
    except SystemExit as exc:
        return int(exc.code or 0)


def test_gan_run_with_feature_matching_resumes_exactly(tmp_path: Path):
    """The spectral-norm power-iteration vectors are buffers: a resumed run is bit-identical."""
    opt = tiny_options(tmp_path)
    opt["model_type"] = "ESRGANModel"
    opt["network_d"] = {"type": "UNetDiscriminatorSN", "num_in_ch": 3, "num_feat": 4}
    opt["train"].update(
        optim_d={"type": "Adam", "lr": 1e-3},
        gan_opt={"type": "GANLoss", "gan_type": "vanilla", "loss_weight": 0.1},
        feature_matching_opt={"type": "FeatureMatchingLoss", "loss_weight": 1.0},
    )
    whole = write_options(tmp_path / "whole.yml", {**opt, "name": "whole"})
    parts = write_options(tmp_path / "parts.yml", {**opt, "name": "parts"})
    assert _run(whole) == 0
    assert _run(parts, "--set", "train.total_iter=3") == 0
    assert _run(parts, "--auto-resume") == 0
    a, b = (
        load_state(tmp_path / "experiments" / n / "training_states" / "6.state")["model"]
        for n in ("whole", "parts")
    )
    for net in ("net_g", "net_d"):
        assert a[net].keys() == b[net].keys()
        for k in a[net]:
            assert torch.equal(a[net][k], b[net][k]), f"{net}.{k}"
    assert "conv1.weight_u" in a["net_d"]
