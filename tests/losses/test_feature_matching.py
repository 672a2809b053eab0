"""Discriminator feature matching: the stage activations the discriminators return, the loss's value
against a hand computation, its gradient path, and its place in the GAN step."""

from __future__ import annotations

import pytest
import torch

from sr.archs import VGGStyleDiscriminator, VGGStyleDiscriminatorAnySize
from sr.losses import FeatureMatchingLoss, build_loss
from sr.models.gan_model import GANModel
from sr.options.loader import options_from_dict
from tests.engine.engine_helpers import tiny_options


@pytest.mark.parametrize(
    ("disc", "size", "stages"),
    [
        (VGGStyleDiscriminator(num_feat=4), 128, 5),
        (VGGStyleDiscriminator(num_feat=4, input_size=256), 256, 6),
        (VGGStyleDiscriminatorAnySize(num_feat=4), 48, 5),
    ],
)
def test_discriminators_return_their_stage_activations(disc, size, stages):
    disc.eval()
    x = torch.rand(2, 3, size, size)
    logits, feats = disc(x, return_features=True)
    assert torch.equal(logits, disc(x))  # the plain call is unchanged
    assert len(feats) == stages
    widths = [4, 8, 16, 32, 32, 32][:stages]
    for i, (f, c) in enumerate(zip(feats, widths, strict=True)):
        assert f.shape == (2, c, size // 2 ** (i + 1), size // 2 ** (i + 1))


def test_loss_value_by_hand():
    fake = [torch.tensor([[1.0, 2.0]]), torch.tensor([[0.0, 4.0, 1.0]])]
    real = [torch.tensor([[2.0, 2.0]]), torch.tensor([[1.0, 1.0, 1.0]])]
    # stage means |diff|: (1 + 0) / 2 = 0.5 and (1 + 3 + 0) / 3 = 4/3; default weights 1/2 each
    assert FeatureMatchingLoss()(fake, real).item() == pytest.approx(0.5 * 0.5 + 0.5 * 4 / 3)
    assert FeatureMatchingLoss(loss_weight=3, layer_weights=[1, 0])(fake, real).item() == pytest.approx(1.5)
    # l2: (1 + 0) / 2 and (1 + 9 + 0) / 3
    l2 = FeatureMatchingLoss(criterion="l2", layer_weights=[1, 1])(fake, real).item()
    assert l2 == pytest.approx(0.5 + 10 / 3)


def test_gradient_reaches_the_fake_side_only():
    fake = [torch.rand(1, 2, 4, 4, requires_grad=True)]
    real = [torch.rand(1, 2, 4, 4, requires_grad=True)]
    FeatureMatchingLoss()(fake, real).backward()
    assert fake[0].grad is not None and fake[0].grad.abs().sum() > 0
    assert real[0].grad is None


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="criterion 'l3'"):
        FeatureMatchingLoss(criterion="l3")
    with pytest.raises(ValueError, match="layer_weights"):
        FeatureMatchingLoss(layer_weights=[-1.0])
    with pytest.raises(ValueError, match="3 values, the discriminator 2 stages"):
        FeatureMatchingLoss(layer_weights=[1, 1, 1])([torch.ones(1)] * 2, [torch.ones(1)] * 2)
    with pytest.raises(ValueError, match=r"train\.feature_matching_opt: unknown key 'weight'"):
        build_loss({"type": "FeatureMatchingLoss", "weight": 1}, "train.feature_matching_opt")


def _gan_options(tmp_path, fm: dict | None) -> dict:
    opt = tiny_options(tmp_path)
    opt["model_type"] = "ESRGANModel"
    opt["network_d"] = {"type": "VGGStyleDiscriminatorAnySize", "num_feat": 4}
    opt["train"].update(
        optim_d={"type": "Adam", "lr": 1e-3},
        gan_opt={"type": "GANLoss", "gan_type": "ragan", "loss_weight": 0.5},
    )
    if fm is not None:
        opt["train"]["feature_matching_opt"] = fm
    return opt


def test_gan_step_adds_the_term_and_it_moves_the_generator(tmp_path):
    g = torch.Generator().manual_seed(0)
    batch = {"lq": torch.rand(2, 3, 8, 8, generator=g), "gt": torch.rand(2, 3, 32, 32, generator=g)}
    runs = {}
    for name, fm in (("plain", None), ("fm", {"type": "FeatureMatchingLoss", "loss_weight": 10.0})):
        torch.manual_seed(0)
        model = GANModel(options_from_dict(_gan_options(tmp_path / name, fm)), torch.device("cpu"))
        log = model.train_step(batch, 1)
        runs[name] = (log, model.net_g.state_dict())
    assert "l_g_fm" in runs["fm"][0] and runs["fm"][0]["l_g_fm"] > 0
    assert "l_g_fm" not in runs["plain"][0]
    # same start, same batch: only the feature-matching term can make the generators differ
    moved = [not torch.equal(a, runs["plain"][1][k]) for k, a in runs["fm"][1].items()]
    assert any(moved)


def test_feature_matching_needs_a_gan_recipe(tmp_path):
    opt = tiny_options(tmp_path)
    opt["train"]["feature_matching_opt"] = {"type": "FeatureMatchingLoss"}
    with pytest.raises(ValueError, match=r"train\.feature_matching_opt: .* needs a GAN model_type"):
        options_from_dict(opt)
