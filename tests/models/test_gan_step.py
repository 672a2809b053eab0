"""The adversarial step computes D(gt) once and reuses it for both updates; the weights after a few
iterations equal those of the reference order (BasicSR's ESRGANModel: D(gt) again in the D update)."""

from __future__ import annotations

import copy

import torch

from sr.models.gan_model import GANModel
from sr.options.loader import options_from_dict
from tests.engine.engine_helpers import tiny_options


def reference_step(m: GANModel, batch: dict, it: int) -> None:
    """BasicSR's order: G update with D frozen (D(gt) detached, D(sr)), then D(gt), D(sr.detach())."""
    lq, gt = m.feed(batch)
    m.net_g.train()
    m.net_d.train()
    m.net_d.requires_grad_(False)
    sr = m.generate(lq, batch)
    losses = m.content_losses(sr, gt)
    losses["l_g_gan"] = m.cri_gan.generator_loss(m.net_d(sr), m.net_d(gt).detach())
    m.backward_step(sum(losses.values()), m.net_g, m.optimizer_g, "generator")
    m.net_d.requires_grad_(True)
    l_d = m.cri_gan.discriminator_loss(m.net_d(gt), m.net_d(sr.detach()))
    m.backward_step(l_d, m.net_d, m.optimizer_d, "discriminator")
    m.end_of_step()


def test_one_d_of_gt_per_iteration_gives_the_reference_weights(tmp_path):
    opt = tiny_options(tmp_path)
    opt["model_type"] = "ESRGANModel"
    opt["network_d"] = {"type": "VGGStyleDiscriminatorAnySize", "num_feat": 4}
    opt["train"].update(
        optim_d={"type": "Adam", "lr": 1e-3},
        gan_opt={"type": "GANLoss", "gan_type": "ragan", "loss_weight": 0.5},
    )
    options = options_from_dict(opt)
    ours = GANModel(options, torch.device("cpu"))
    ref = copy.deepcopy(ours)
    g = torch.Generator().manual_seed(0)
    for it in range(1, 4):
        batch = {"lq": torch.rand(2, 3, 8, 8, generator=g), "gt": torch.rand(2, 3, 32, 32, generator=g)}
        ours.train_step(batch, it)
        reference_step(ref, batch, it)
    for net in ("net_g", "net_d"):
        a, b = dict(getattr(ours, net).named_parameters()), dict(getattr(ref, net).named_parameters())
        for k in a:
            torch.testing.assert_close(a[k], b[k], rtol=1e-5, atol=1e-6, msg=f"{net}.{k}")
