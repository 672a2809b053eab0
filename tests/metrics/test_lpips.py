"""LPIPS without downloads: a clear error when the backbone weights are missing, and a working
metric when a torchvision-format weights file sits in the torch hub cache."""

from __future__ import annotations

import pytest
import torch
import torchvision

from sr.checkpoints.pretrained import MissingWeightsError
from sr.metrics.lpips import LPIPS


def test_missing_backbone_names_file_and_place(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "hub"))
    monkeypatch.delenv("SR_PRETRAINED_DIR", raising=False)
    with pytest.raises(MissingWeightsError) as err:
        LPIPS("alex")
    msg = str(err.value)
    assert "alexnet-owt-7be5be79.pth" in msg
    assert str(tmp_path / "hub" / "hub" / "checkpoints") in msg  # torch.hub.get_dir() is $TORCH_HOME/hub
    with pytest.raises(MissingWeightsError, match="not a file"):
        LPIPS("alex", backbone_weights=tmp_path / "nope.pth")


def test_lpips_loads_backbone_from_hub_cache(tmp_path, monkeypatch):
    # stand-in ImageNet weights: a real torchvision AlexNet state_dict (random init) in the hub cache
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    hub = tmp_path / "hub"
    (hub / "checkpoints").mkdir(parents=True)
    torch.manual_seed(0)
    state = torchvision.models.alexnet().state_dict()
    torch.save(state, hub / "checkpoints" / "alexnet-owt-7be5be79.pth")
    metric = LPIPS("alex")
    # the backbone holds exactly the file's tensors
    torch.testing.assert_close(getattr(metric.model.net.slice1, "0").weight, state["features.0.weight"])
    torch.testing.assert_close(getattr(metric.model.net.slice5, "10").weight, state["features.10.weight"])
    x = torch.rand(2, 3, 64, 64)
    d_same = metric(x, x)
    d_diff = metric(x, torch.rand(2, 3, 64, 64))
    assert d_same.shape == (2,)
    assert torch.all(d_same.abs() < 1e-6)
    assert torch.all(d_diff > d_same)
