"""load_weights' short errors and load_model's decisions (stored arch, net_opt, scale)."""

from __future__ import annotations

import pytest
import torch

from sr.archs import SRCNN, RRDBNet, VGGStyleDiscriminator, build
from sr.checkpoints import CheckpointError, load_model, load_weights, save_checkpoint

SMALL_RRDB = {"num_feat": 16, "num_block": 2, "num_grow_ch": 8}


def _rrdb_state(scale: int = 4) -> dict[str, torch.Tensor]:
    return RRDBNet(scale=scale, **SMALL_RRDB).state_dict()


def _error(model: torch.nn.Module, state: dict[str, torch.Tensor]) -> str:
    with pytest.raises(CheckpointError) as err:
        load_weights(model, state, "weights.pth")
    message = str(err.value)
    assert "\n" not in message and len(message) < 400, message  # one line, not a 40-line dump
    assert message.startswith("weights.pth: weights do not fit RRDBNet: ")
    return message


def test_load_weights_missing_key():
    state = _rrdb_state()
    del state["conv_hr.bias"], state["conv_last.weight"]
    assert _error(RRDBNet(**SMALL_RRDB), state).endswith("missing key 'conv_hr.bias' (2 in all)")


def test_load_weights_unexpected_key():
    state = {**_rrdb_state(), "body.2.rdb1.conv1.weight": torch.zeros(8, 16, 3, 3)}
    assert _error(RRDBNet(**SMALL_RRDB), state).endswith("unexpected key 'body.2.rdb1.conv1.weight'")


def test_load_weights_shape_mismatch_names_key_and_both_shapes():
    message = _error(RRDBNet(**SMALL_RRDB), _rrdb_state(scale=2))
    assert message.endswith(
        "shape mismatch at 'conv_first.weight': model expects (16, 3, 3, 3), file has (16, 12, 3, 3)"
    )


def test_load_weights_all_problems_at_once():
    state = _rrdb_state()
    del state["conv_up1.weight"]
    state["extra"] = torch.zeros(1)
    state["conv_last.bias"] = torch.zeros(1)
    message = _error(RRDBNet(**SMALL_RRDB), state)
    assert (
        "missing key 'conv_up1.weight'; unexpected key 'extra'; shape mismatch at 'conv_last.bias'" in message
    )
    assert message.endswith("model expects (3,), file has (1,)")


def test_load_weights_loads_every_tensor():
    state = {k: torch.randn_like(v.float()).to(v.dtype) for k, v in _rrdb_state().items()}
    model = RRDBNet(**SMALL_RRDB)
    load_weights(model, state, "x")
    for k, v in model.state_dict().items():
        assert torch.equal(v, state[k])


@pytest.mark.parametrize("suffix", [".pth", ".safetensors"])
def test_stored_arch_is_restored_without_detection(tmp_path, suffix):
    # upscale and padding_mode cannot be seen in SRCNN's shapes: only the stored arch can restore them
    arch = {
        "type": "SRCNN",
        "num_in_ch": 3,
        "kernel_sizes": (9, 1, 5),
        "upscale": 3,
        "padding_mode": "replicate",
    }
    net = build(arch)
    path = save_checkpoint(tmp_path / f"srcnn{suffix}", net, arch=arch)
    model = load_model(path)
    assert isinstance(model, SRCNN)
    assert (model.upscale, model.padding_mode, model.conv2.kernel_size) == (3, "replicate", (1, 1))
    assert not model.training
    x = torch.rand(1, 3, 6, 5)
    with torch.no_grad():
        assert torch.equal(model(x), net.eval()(x))
    assert load_model(path, scale=3).upscale == 3


def test_net_opt_overrides_and_is_checked(tmp_path):
    path = tmp_path / "srcnn.pth"
    torch.save(SRCNN(upscale=2).state_dict(), path)
    model = load_model(path, net_opt={"upscale": 2, "padding_mode": "replicate"})
    assert (model.upscale, model.padding_mode) == (2, "replicate")
    assert load_model(path, net_opt={"type": "SRCNN"}, scale=3).upscale == 3
    with pytest.raises(CheckpointError) as err:
        load_model(path, scale=2, net_opt={"padding": "replicate"})
    assert str(err.value) == (
        f"{path}: net_opt: SRCNN: unknown argument 'padding'; allowed: kernel_sizes, num_feat, num_feat2, "
        "num_in_ch, num_out_ch, padding_mode, upsample, upscale"
    )
    with pytest.raises(CheckpointError, match="the file holds a SRCNN, but net_opt asks for 'RRDBNet'"):
        load_model(path, scale=2, net_opt={"type": "RRDBNet"})
    with pytest.raises(CheckpointError, match=r"cannot build SRCNN\(.*\): SRCNN padding_mode 'circular'"):
        load_model(path, scale=2, net_opt={"padding_mode": "circular"})


def test_srcnn_without_scale_says_how_to_give_it(tmp_path):
    path = tmp_path / "srcnn.pth"
    torch.save(SRCNN().state_dict(), path)
    with pytest.raises(CheckpointError) as err:
        load_model(path)
    assert str(err.value) == (
        f"{path}: the scale of this SRCNN cannot be told from its weights; "
        "pass --scale N or --net-opt upscale=N"
    )


def test_scale_mismatch_names_both_scales(tmp_path):
    path = tmp_path / "rrdb.pth"
    torch.save({"params_ema": _rrdb_state(scale=2)}, path)
    assert load_model(path, scale=2).scale == 2
    with pytest.raises(CheckpointError) as err:
        load_model(path, scale=4)
    assert str(err.value) == f"{path}: the model is x2 (RRDBNet scale=2), but scale 4 was requested"


def test_discriminators_are_read_but_not_loaded_as_generators(tmp_path):
    path = save_checkpoint(tmp_path / "net_d.pth", VGGStyleDiscriminator(num_feat=4))
    with pytest.raises(
        CheckpointError, match="holds a VGGStyleDiscriminator, not a super-resolution generator"
    ):
        load_model(path)


def test_detected_model_is_loaded_in_eval_mode(tmp_path):
    net = RRDBNet(num_in_ch=1, num_out_ch=1, scale=1, **SMALL_RRDB)
    path = save_checkpoint(tmp_path / "rrdb.safetensors", net)
    model = load_model(path)
    assert isinstance(model, RRDBNet) and model.scale == 1 and not model.training
    x = torch.rand(1, 1, 8, 8)
    with torch.no_grad():
        assert torch.equal(model(x), net.eval()(x))
