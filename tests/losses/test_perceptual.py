"""PerceptualLoss against a hand computation on torchvision's own VGG19 layers (same random weights)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import torch
from torchvision.models.vgg import cfgs, make_layers

from sr.checkpoints.pretrained import MissingWeightsError
from sr.losses import PerceptualLoss, build_loss
from sr.losses.perceptual import gram_matrix

MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
FILENAME = "vgg19-dcbb9e9d.pth"  # torchvision's ImageNet VGG19 file name


@pytest.fixture(scope="module")
def vgg19_file(tmp_path_factory) -> tuple[Path, torch.nn.Sequential]:
    """Random VGG19 weights saved as a torchvision-style state dict (features.N.*, classifier.*)."""
    torch.manual_seed(3)
    features = make_layers(cfgs["E"]).eval()  # torchvision's vgg19 "features" (cfg E)
    sd = {f"features.{k}": v for k, v in features.state_dict().items()}
    sd["classifier.6.weight"] = torch.zeros(10, 4)  # a (small) classifier key, to be ignored
    path = tmp_path_factory.mktemp("weights") / FILENAME
    torch.save(sd, path)
    return path, features


def _torchvision_feats(features: torch.nn.Sequential, x: torch.Tensor, last: int) -> dict[int, torch.Tensor]:
    out = {}
    h = (x - MEAN) / STD
    for i, layer in enumerate(features[: last + 1]):
        h = layer(h)
        out[i] = h.clone()
    return out


def _images():
    g = torch.Generator().manual_seed(0)
    return torch.rand(2, 3, 16, 16, generator=g), torch.rand(2, 3, 16, 16, generator=g)


def test_equals_hand_computation_l1(vgg19_file):
    path, features = vgg19_file
    # ESRGAN's setting (conv5_4 before activation) plus an after-activation layer
    loss = PerceptualLoss({"conv5_4": 1.0, "relu2_2": 0.5}, perceptual_weight=2.0, weights_path=path)
    pred, gt = _images()
    percep, style = loss(pred, gt)
    assert style is None
    with torch.no_grad():
        fp, fg = _torchvision_feats(features, pred, 34), _torchvision_feats(features, gt, 34)
    # indices in torchvision's vgg19.features: conv5_4 = 34, relu2_2 = 8
    expected = 2.0 * ((fp[34] - fg[34]).abs().mean() + 0.5 * (fp[8] - fg[8]).abs().mean())
    assert percep is not None
    torch.testing.assert_close(percep, expected, rtol=1e-5, atol=0)


@pytest.mark.parametrize("criterion", ["l2", "fro"])
def test_style_term_and_other_criteria(vgg19_file, criterion):
    path, features = vgg19_file
    loss = PerceptualLoss(
        {"relu5_4": 1.0}, perceptual_weight=0.0, style_weight=3.0, criterion=criterion, weights_path=path
    )
    pred, gt = _images()
    percep, style = loss(pred, gt)
    assert percep is None and style is not None
    with torch.no_grad():
        a, b = _torchvision_feats(features, pred, 35)[35], _torchvision_feats(features, gt, 35)[35]
    _, c, h, w = a.shape
    ga = torch.einsum("nchw,ndhw->ncd", a, a) / (c * h * w)  # Gram matrix written out
    gb = torch.einsum("nchw,ndhw->ncd", b, b) / (c * h * w)
    d = ga - gb
    expected = 3.0 * ((d**2).mean() if criterion == "l2" else d.pow(2).sum().sqrt())
    torch.testing.assert_close(style, expected, rtol=1e-4, atol=0)
    torch.testing.assert_close(gram_matrix(a), ga, rtol=1e-5, atol=1e-7)


def test_frozen_no_graph_for_target_and_stays_eval(vgg19_file):
    path, _ = vgg19_file
    loss = PerceptualLoss({"conv3_4": 1.0}, weights_path=path)
    loss.train()
    assert loss.training and not loss.vgg.training
    assert not any(p.requires_grad for p in loss.parameters())
    pred, gt = _images()
    pred.requires_grad_(True)
    gt.requires_grad_(True)
    percep, _ = loss(pred, gt)
    assert percep is not None
    percep.backward()
    assert pred.grad is not None and pred.grad.abs().sum() > 0
    assert gt.grad is None  # target features were computed without a graph
    assert all(p.grad is None for p in loss.parameters())
    assert loss(gt, gt)[0].item() == 0.0


def test_found_through_sr_pretrained_dir(vgg19_file, monkeypatch):
    path, _ = vgg19_file
    monkeypatch.setenv("SR_PRETRAINED_DIR", str(path.parent))
    by_env = PerceptualLoss({"relu1_1": 1.0})
    by_path = PerceptualLoss({"relu1_1": 1.0}, weights_path=path)
    torch.testing.assert_close(by_env.state_dict(), by_path.state_dict())


def test_missing_weights_error_names_the_file(tmp_path, monkeypatch):
    monkeypatch.delenv("SR_PRETRAINED_DIR", raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    with pytest.raises(MissingWeightsError, match=rf"perceptual loss.*{FILENAME}.*torch_home"):
        PerceptualLoss({"conv5_4": 1.0})
    with pytest.raises(MissingWeightsError, match=r"nowhere\.pth is not a file"):
        PerceptualLoss({"conv5_4": 1.0}, weights_path=tmp_path / "nowhere.pth")


def test_random_weights_only_on_request_with_a_warning(caplog):
    with caplog.at_level(logging.WARNING, logger="sr.losses.perceptual"):
        loss = PerceptualLoss({"relu2_2": 1.0}, vgg_type="vgg16", pretrained=False)
    assert "random weights (Kaiming normal, seed 0)" in caplog.text
    assert len(loss.vgg.features) == 9  # Johnson et al.'s relu2_2 of VGG16, truncated there
    with pytest.raises(ValueError, match="pretrained=False"):
        PerceptualLoss({"relu2_2": 1.0}, pretrained=False, weights_path="x.pth")


def test_random_weights_are_seeded_and_keep_the_feature_scale():
    """The same seed gives the same network in every run; fan-in Kaiming init keeps the deepest
    features at the input's scale instead of letting them vanish through 16 layers."""
    a = PerceptualLoss({"conv5_4": 1.0}, pretrained=False, random_seed=3)
    b = PerceptualLoss({"conv5_4": 1.0}, pretrained=False, random_seed=3)
    c = PerceptualLoss({"conv5_4": 1.0}, pretrained=False, random_seed=4)
    assert torch.equal(a.vgg.features[0].weight, b.vgg.features[0].weight)
    assert not torch.equal(a.vgg.features[0].weight, c.vgg.features[0].weight)
    x = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    scale = a.vgg(x)["conv5_4"].abs().mean().item()
    assert 0.05 < scale < 20, scale


def test_option_errors():
    with pytest.raises(ValueError, match="criterion 'l3'"):
        PerceptualLoss({"conv5_4": 1.0}, criterion="l3", pretrained=False)
    with pytest.raises(ValueError, match="no layer 'conv5_5'"):
        PerceptualLoss({"conv5_5": 1.0}, pretrained=False)
    with pytest.raises(ValueError, match="unknown key 'layers'"):
        build_loss({"type": "PerceptualLoss", "layers": {"conv5_4": 1.0}}, "train.perceptual_opt")
