"""Legacy layouts and detection checked against independent implementations.

RRDBNet: spandrel (its own ESRGAN implementation and key-layout conversion) must detect the same
architecture and scale in all three key layouts and compute the same output as the model sr builds.
MSRResNet: spandrel 0.4.2 has no MSRResNet/SRResNet architecture (checked below against
``spandrel.MAIN_REGISTRY``), so the model sr builds is compared with ``_msrresnet_reference``, a
re-implementation written here from BasicSR's published description of MSRResNet
(conv_first -> lrelu(0.1) -> ResidualBlockNoBN x N -> [upconv, pixel shuffle, lrelu] steps ->
conv_hr, lrelu -> conv_last, plus the bilinearly upsampled input), made of torch.nn.functional
calls on the state-dict tensors.
"""

from __future__ import annotations

import math

import pytest
import spandrel
import torch
import torch.nn.functional as F
from layouts import to_esrgan_repo, to_old_layout

from sr.archs import MSRResNet, RRDBNet
from sr.checkpoints import CheckpointError, detect_arch, load_model, read_state_dict

NUM_BLOCK = 2
TOL = 1e-5


def _randomise(model: torch.nn.Module, seed: int) -> torch.nn.Module:
    """Random weights of unit-ish gain (fan-in scaled), biases small and non-zero."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            scale = 1 / math.sqrt(p[0].numel()) if p.ndim > 1 else 0.05
            p.copy_(torch.randn(p.shape, generator=g) * scale)
    return model.eval()


LAYOUTS = {"basicsr": (lambda sd: sd, None), "esrgan-repo": (to_esrgan_repo, "esrgan")}
LAYOUTS["esrgan-old"] = (lambda sd: to_old_layout(sd, NUM_BLOCK), "esrgan-old")


@pytest.mark.parametrize(
    ("scale", "layout"),
    [(4, "basicsr"), (4, "esrgan-repo"), (4, "esrgan-old"), (2, "basicsr"), (1, "basicsr")],
)
def test_rrdbnet_matches_spandrel_in_every_layout(tmp_path, scale, layout):
    # spandrel's ESRGAN hard-codes 32 growth channels, hence num_grow_ch=32 here
    net = _randomise(RRDBNet(scale=scale, num_feat=16, num_block=NUM_BLOCK, num_grow_ch=32), seed=scale)
    convert, layout_name = LAYOUTS[layout]
    legacy = convert(net.state_dict())
    path = tmp_path / "rrdb.pth"
    torch.save(legacy, path)

    state, meta = read_state_dict(path)
    assert meta["legacy_layout"] == layout_name
    assert list(state) == list(net.state_dict())
    assert all(torch.equal(state[k], v) for k, v in net.state_dict().items())
    spec = detect_arch(state)
    assert spec.kwargs == {
        "num_in_ch": 3,
        "num_out_ch": 3,
        "scale": scale,
        "num_feat": 16,
        "num_block": NUM_BLOCK,
        "num_grow_ch": 32,
    }

    ours = load_model(path, scale=scale)
    theirs = spandrel.ModelLoader().load_from_state_dict(dict(legacy))
    assert theirs.architecture.id == "ESRGAN"
    assert theirs.scale == scale
    x = torch.rand(1, 3, 12, 16, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected = theirs.model.eval()(x)
        got = ours(x)
    assert got.shape == (1, 3, 12 * scale, 16 * scale)
    assert expected.abs().mean() > 0.05  # the comparison is not between two near-zero outputs
    assert (got - expected).abs().max().item() <= TOL


def _msrresnet_reference(sd: dict[str, torch.Tensor], x: torch.Tensor, upscale: int) -> torch.Tensor:
    def conv(t: torch.Tensor, name: str) -> torch.Tensor:
        return F.conv2d(t, sd[f"{name}.weight"], sd[f"{name}.bias"], padding=1)

    def lrelu(t: torch.Tensor) -> torch.Tensor:
        return F.leaky_relu(t, 0.1)

    out = lrelu(conv(x, "conv_first"))
    num_block = len({k.split(".")[1] for k in sd if k.startswith("body.")})
    for i in range(num_block):
        out = out + conv(F.relu(conv(out, f"body.{i}.conv1")), f"body.{i}.conv2")
    steps = [("upconv1", 2), ("upconv2", 2)] if upscale == 4 else [("upconv1", upscale)]
    for name, s in steps:
        out = lrelu(F.pixel_shuffle(conv(out, name), s))
    out = conv(lrelu(conv(out, "conv_hr")), "conv_last")
    return out + F.interpolate(x, scale_factor=upscale, mode="bilinear", align_corners=False)


def test_spandrel_has_no_msrresnet():
    ids = {support.architecture.id for support in spandrel.MAIN_REGISTRY.architectures()}
    assert "ESRGAN" in ids
    assert not ids & {"MSRResNet", "SRResNet"}


@pytest.mark.parametrize("upscale", [2, 3, 4])
def test_msrresnet_matches_the_reference_implementation(tmp_path, upscale):
    net = _randomise(MSRResNet(num_feat=16, num_block=3, upscale=upscale), seed=upscale)
    path = tmp_path / "msrresnet.pth"
    torch.save({"params": {f"module.{k}": v for k, v in net.state_dict().items()}}, path)
    model = load_model(path, scale=upscale)
    assert isinstance(model, MSRResNet)
    x = torch.rand(1, 3, 10, 7, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        expected = _msrresnet_reference(net.state_dict(), x, upscale)
        got = model(x)
    assert got.shape == (1, 3, 10 * upscale, 7 * upscale)
    assert (got - expected).abs().max().item() <= TOL


def test_old_layout_at_x2_is_refused(tmp_path):
    x4 = to_old_layout(RRDBNet(num_feat=8, num_block=1, num_grow_ch=4).state_dict(), 1)
    # the old x2 release: conv, body, (upsample, conv, lrelu), conv, lrelu, conv -> model.0/1/3/5/7
    x2 = {k.replace("model.8.", "model.5.").replace("model.10.", "model.7."): v for k, v in x4.items()}
    x2 = {k: v for k, v in x2.items() if not k.startswith("model.6.")}
    torch.save(x2, tmp_path / "RRDB_x2.pth")
    with pytest.raises(CheckpointError) as err:
        read_state_dict(tmp_path / "RRDB_x2.pth")
    message = str(err.value)
    assert "RRDB_x2.pth: old ESRGAN layout" in message
    assert "layers [0, 1, 3, 5, 7] (x2?)" in message
    assert "only the x4 old layout (model.0/1/3/6/8/10) can be converted" in message


def test_esrgan_repo_layout_variants_that_do_not_map_are_refused(tmp_path):
    sd = to_esrgan_repo(RRDBNet(num_feat=8, num_block=1, num_grow_ch=4).state_dict())
    torch.save({k: v for k, v in sd.items() if not k.startswith("upconv2.")}, tmp_path / "bsrgan_x2.pth")
    with pytest.raises(CheckpointError, match=r"single upsampling conv \(x2, as in BSRGAN\) does not map"):
        read_state_dict(tmp_path / "bsrgan_x2.pth")
    torch.save({**sd, "RRDB_trunk.0.RDB1.conv1x1.weight": torch.zeros(1)}, tmp_path / "plus.pth")
    with pytest.raises(
        CheckpointError, match=r"key 'RRDB_trunk\.0\.RDB1\.conv1x1\.weight' is not part of the ESRGAN"
    ):
        read_state_dict(tmp_path / "plus.pth")
