"""Reading every wrapper/format, writing sr's format, and atomic saves."""

from __future__ import annotations

import numpy as np
import pytest
import safetensors.torch
import torch

from sr.archs import SRResNet
from sr.checkpoints import CheckpointError, read_state_dict, save_checkpoint


def _small_state() -> dict[str, torch.Tensor]:
    # batch norm gives int64 buffers too, so dtypes are checked as well as values
    return SRResNet(num_feat=8, num_block=1, upscale=2).state_dict()


def _assert_same(got: dict[str, torch.Tensor], want: dict[str, torch.Tensor]) -> None:
    assert sorted(got) == sorted(want)  # safetensors stores keys in its own order
    for k, v in want.items():
        assert got[k].dtype == v.dtype, k
        assert torch.equal(got[k], v), k


def _prefixed(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {f"module.{k}": v for k, v in sd.items()}


WRAPPERS = {
    "raw": (lambda sd: sd, None),
    "params": (lambda sd: {"params": sd}, "params"),
    "state_dict": (lambda sd: {"state_dict": sd, "epoch": 7, "optimizer": {"lr": 0.1}}, "state_dict"),
    "module_prefix": (_prefixed, None),
    "state_dict_module_prefix": (lambda sd: {"state_dict": _prefixed(sd)}, "state_dict"),
    "netG": (lambda sd: {"netG": sd, "netD": {"x": torch.zeros(1)}}, "netG"),
}


@pytest.mark.parametrize("wrapper", list(WRAPPERS))
@pytest.mark.parametrize("suffix", [".pth", ".pt", ".ckpt", ".bin"])
def test_torch_wrappers_round_trip(tmp_path, wrapper, suffix):
    sd = _small_state()
    wrap, key = WRAPPERS[wrapper]
    path = tmp_path / f"net{suffix}"
    torch.save(wrap(sd), path)
    got, meta = read_state_dict(path)
    _assert_same(got, sd)
    assert meta["key"] == key
    assert meta["format"] == "torch"
    assert "arch" not in meta


def test_params_ema_is_preferred_and_params_selectable(tmp_path):
    sd, ema = _small_state(), {k: v + 1 for k, v in _small_state().items()}
    path = tmp_path / "net.pth"
    torch.save({"params": sd, "params_ema": ema}, path)
    got, meta = read_state_dict(path)
    _assert_same(got, ema)
    assert meta["key"] == "params_ema"
    got, meta = read_state_dict(path, key="params")
    _assert_same(got, sd)
    assert meta["key"] == "params"


@pytest.mark.parametrize("wrapper", ["raw", "module_prefix"])
def test_safetensors_round_trip(tmp_path, wrapper):
    sd = _small_state()
    path = tmp_path / "net.safetensors"
    safetensors.torch.save_file(WRAPPERS[wrapper][0](sd), str(path))
    got, meta = read_state_dict(path)
    _assert_same(got, sd)
    assert meta == {"format": "safetensors", "key": None, "legacy_layout": None}


@pytest.mark.parametrize("suffix", [".pth", ".safetensors"])
def test_save_checkpoint_round_trip(tmp_path, suffix):
    net = SRResNet(num_feat=8, num_block=1, upscale=2)
    sd, ema = net.state_dict(), {k: v * 2 for k, v in net.state_dict().items()}
    arch = {"type": "SRResNet", "num_feat": 8, "num_block": 1, "upscale": 2}

    path = save_checkpoint(tmp_path / f"a{suffix}", net, arch=arch)
    got, meta = read_state_dict(path)
    _assert_same(got, sd)
    assert (meta["key"], meta["arch"]) == ("params", arch)

    path = save_checkpoint(tmp_path / f"b{suffix}", sd, params_ema=ema)
    got, meta = read_state_dict(path)
    _assert_same(got, ema)
    assert meta["key"] == "params_ema"
    assert "arch" not in meta
    if suffix == ".pth":
        _assert_same(read_state_dict(path, key="params")[0], sd)
        raw = torch.load(path, weights_only=True)
        assert set(raw) == {"params", "params_ema"}


def test_format_is_told_from_content_not_suffix(tmp_path):
    sd = _small_state()
    path = tmp_path / "weights.bin"
    safetensors.torch.save_file(sd, str(path))
    got, meta = read_state_dict(path)
    _assert_same(got, sd)
    assert meta["format"] == "safetensors"


def test_non_tensor_entries_of_a_raw_state_dict_are_dropped(tmp_path):
    path = tmp_path / "net.pth"
    torch.save({"w": torch.ones(2), "iteration": 5, "note": "x"}, path)
    got, _ = read_state_dict(path)
    assert list(got) == ["w"]


def test_the_only_unnamed_state_dict_is_found_and_several_are_refused(tmp_path):
    sd = _small_state()
    torch.save({"weights_of_generator": sd, "iter": 3}, tmp_path / "one.pth")
    got, meta = read_state_dict(tmp_path / "one.pth")
    _assert_same(got, sd)
    assert meta["key"] == "weights_of_generator"
    torch.save({"a": sd, "b": sd}, tmp_path / "two.pth")
    with pytest.raises(CheckpointError, match=r"several state dicts \('a', 'b'\); choose one with key="):
        read_state_dict(tmp_path / "two.pth")


def test_requested_key_absent_lists_the_keys_present(tmp_path):
    path = tmp_path / "net.pth"
    torch.save({"params": _small_state(), "iter": 10}, path)
    with pytest.raises(
        CheckpointError, match=r"net\.pth: key 'params_ema' not found; keys present: 'params', 'iter'"
    ):
        read_state_dict(path, key="params_ema")
    st = save_checkpoint(tmp_path / "net.safetensors", _small_state())
    with pytest.raises(
        CheckpointError, match=r"key 'params_ema' not found.*one state dict \(saved from 'params'\)"
    ):
        read_state_dict(st, key="params_ema")


def test_read_errors_name_the_file(tmp_path):
    with pytest.raises(CheckpointError, match=r"nothing\.pth: no such file"):
        read_state_dict(tmp_path / "nothing.pth")
    with pytest.raises(CheckpointError, match="is a directory"):
        read_state_dict(tmp_path)
    (tmp_path / "empty.pth").write_bytes(b"")
    with pytest.raises(CheckpointError, match=r"empty\.pth: empty file"):
        read_state_dict(tmp_path / "empty.pth")
    (tmp_path / "garbage.pth").write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(CheckpointError, match=r"garbage\.pth: not a readable PyTorch checkpoint \(corrupt"):
        read_state_dict(tmp_path / "garbage.pth")
    good = tmp_path / "good.pth"
    torch.save(_small_state(), good)
    (tmp_path / "cut.pth").write_bytes(good.read_bytes()[:1000])
    with pytest.raises(CheckpointError, match=r"cut\.pth: not a readable PyTorch checkpoint"):
        read_state_dict(tmp_path / "cut.pth")
    st = save_checkpoint(tmp_path / "good.safetensors", _small_state())
    (tmp_path / "cut.safetensors").write_bytes(st.read_bytes()[:200])
    with pytest.raises(CheckpointError, match=r"cut\.safetensors: not a readable safetensors file"):
        read_state_dict(tmp_path / "cut.safetensors")
    torch.save({"epoch": 3, "lr": 0.1}, tmp_path / "state.pth")
    with pytest.raises(CheckpointError, match=r"state\.pth: no tensors found; top-level keys: 'epoch', 'lr'"):
        read_state_dict(tmp_path / "state.pth")
    torch.save([torch.zeros(1)], tmp_path / "list.pth")
    with pytest.raises(CheckpointError, match=r"list\.pth: holds a list, not a state dict"):
        read_state_dict(tmp_path / "list.pth")


def test_save_rejects_bad_input_before_writing(tmp_path):
    with pytest.raises(CheckpointError, match=r"suffix '\.ckpt'; use \.pth, \.pt or \.safetensors"):
        save_checkpoint(tmp_path / "a.ckpt", _small_state())
    with pytest.raises(CheckpointError, match=r"params\['x'\] is a int, not a tensor"):
        save_checkpoint(tmp_path / "a.pth", {"x": 1})  # type: ignore[dict-item]
    with pytest.raises(CheckpointError, match="unknown argument 'depth'"):
        save_checkpoint(tmp_path / "a.pth", _small_state(), arch={"type": "SRResNet", "depth": 3})
    with pytest.raises(CheckpointError, match="one of"):
        save_checkpoint(tmp_path / "a.pth", _small_state(), arch={"type": "EDSR"})
    assert list(tmp_path.iterdir()) == []


class _Unpicklable(torch.Tensor):
    """A tensor whose pickling fails, so that torch.save fails after the file was opened."""

    def __reduce_ex__(self, protocol):
        raise RuntimeError("cannot pickle this tensor")


def test_failed_save_leaves_no_temp_file_and_keeps_the_old_checkpoint(tmp_path):
    path = save_checkpoint(tmp_path / "net.pth", _small_state())
    before = path.read_bytes()
    bad = {"w": torch.zeros(3).as_subclass(_Unpicklable)}
    with pytest.raises(
        CheckpointError, match=r"net\.pth: could not save: RuntimeError: cannot pickle this tensor"
    ):
        save_checkpoint(path, bad)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["net.pth"]

    target = tmp_path / "folder.pth"
    target.mkdir()
    with pytest.raises(CheckpointError, match=r"folder\.pth: is a directory"):
        save_checkpoint(target, _small_state())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["folder.pth", "net.pth"]
    assert list(target.iterdir()) == []


def test_save_creates_the_folder_and_replaces_an_existing_file(tmp_path):
    path = tmp_path / "run" / "models" / "net_g.safetensors"
    save_checkpoint(path, _small_state())
    ema = {k: v + 3 for k, v in _small_state().items()}
    save_checkpoint(path, _small_state(), params_ema=ema)
    _assert_same(read_state_dict(path)[0], ema)
    assert [p.name for p in path.parent.iterdir()] == ["net_g.safetensors"]
