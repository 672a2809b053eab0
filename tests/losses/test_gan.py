"""GANLoss pinned against hand-written formulas (numpy, float64) on seeded logits.

BCE with logits written out: BCE(x, t) = -mean(t * log sigmoid(x) + (1 - t) * log(1 - sigmoid(x))),
with log sigmoid(x) = -log(1 + e^-x) and log(1 - sigmoid(x)) = -log(1 + e^x).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sr.losses import GANLoss, build_loss


def _bce(x: np.ndarray, t: float) -> float:
    return float(-np.mean(t * -np.logaddexp(0, -x) + (1 - t) * -np.logaddexp(0, x)))


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x))


@pytest.fixture
def logits():
    g = torch.Generator().manual_seed(7)
    real = torch.randn(4, 1, generator=g, dtype=torch.float64) + 1.0
    fake = torch.randn(4, 1, generator=g, dtype=torch.float64) - 0.5
    return real, fake


def test_vanilla(logits):
    real, fake = logits
    r, f = real.numpy(), fake.numpy()
    loss = GANLoss("vanilla", loss_weight=5e-3)
    assert loss.generator_loss(fake).item() == pytest.approx(5e-3 * _bce(f, 1.0), rel=1e-12)
    # not weighted; the sum of BasicSR's separately back-propagated l_d_real and l_d_fake
    assert loss.discriminator_loss(real, fake).item() == pytest.approx(_bce(r, 1.0) + _bce(f, 0.0), rel=1e-12)
    l_real, l_fake = loss.discriminator_terms(real, fake)
    assert (l_real.item(), l_fake.item()) == pytest.approx((_bce(r, 1.0), _bce(f, 0.0)), rel=1e-12)


def test_vanilla_label_values(logits):
    real, fake = logits
    r, f = real.numpy(), fake.numpy()
    loss = GANLoss("vanilla", real_label_val=0.9, fake_label_val=0.1)
    assert loss.generator_loss(fake).item() == pytest.approx(_bce(f, 0.9), rel=1e-12)
    assert loss.discriminator_loss(real, fake).item() == pytest.approx(_bce(r, 0.9) + _bce(f, 0.1), rel=1e-12)


def test_lsgan(logits):
    real, fake = logits
    r, f = real.numpy(), fake.numpy()
    loss = GANLoss("lsgan", loss_weight=2.0)
    assert loss.generator_loss(fake).item() == pytest.approx(2.0 * np.mean((f - 1) ** 2), rel=1e-12)
    assert loss.discriminator_loss(real, fake).item() == pytest.approx(
        np.mean((r - 1) ** 2) + np.mean(f**2), rel=1e-12
    )


def test_hinge_and_wgan(logits):
    real, fake = logits
    r, f = real.numpy(), fake.numpy()
    hinge = GANLoss("hinge", loss_weight=0.5)
    assert hinge.generator_loss(fake).item() == pytest.approx(-0.5 * f.mean(), rel=1e-12)
    assert hinge.discriminator_loss(real, fake).item() == pytest.approx(
        np.maximum(0, 1 - r).mean() + np.maximum(0, 1 + f).mean(), rel=1e-12
    )
    wgan = GANLoss("wgan", loss_weight=0.5)
    assert wgan.generator_loss(fake).item() == pytest.approx(-0.5 * f.mean(), rel=1e-12)
    assert wgan.discriminator_loss(real, fake).item() == pytest.approx(-r.mean() + f.mean(), rel=1e-12)


def test_ragan_values(logits):
    # ESRGAN eq. 1-2 with D_Ra(a, b) = sigmoid(C(a) - E[C(b)]), halved as in BasicSR's ESRGANModel
    real, fake = logits
    r, f = real.numpy(), fake.numpy()
    loss = GANLoss("ragan", loss_weight=5e-3)
    g_expected = 5e-3 * 0.5 * (_bce(r - f.mean(), 0.0) + _bce(f - r.mean(), 1.0))
    assert loss.generator_loss(fake, real).item() == pytest.approx(g_expected, rel=1e-12)
    d_expected = 0.5 * _bce(r - f.mean(), 1.0) + 0.5 * _bce(f - r.mean(), 0.0)
    assert loss.discriminator_loss(real, fake).item() == pytest.approx(d_expected, rel=1e-12)
    # the same in the paper's log-sigmoid form: -E[log D_Ra(x_r, x_f)] - E[log(1 - D_Ra(x_f, x_r))]
    eq1 = -np.mean(np.log(_sigmoid(r - f.mean()))) - np.mean(np.log(1 - _sigmoid(f - r.mean())))
    assert loss.discriminator_loss(real, fake).item() == pytest.approx(0.5 * eq1, rel=1e-10)


def test_ragan_gradients_follow_basicsr_detaching(logits):
    real, fake = (t.clone().requires_grad_(True) for t in logits)
    r, f = logits[0].numpy(), logits[1].numpy()
    n = r.size
    # discriminator: the other side's mean is a constant in each term, so
    # d/dr_i = 0.5 (sigmoid(r_i - mean f) - 1) / n and d/df_j = 0.5 sigmoid(f_j - mean r) / n
    GANLoss("ragan").discriminator_loss(real, fake).backward()
    np.testing.assert_allclose(real.grad.numpy(), 0.5 * (_sigmoid(r - f.mean()) - 1) / n, rtol=1e-10)
    np.testing.assert_allclose(fake.grad.numpy(), 0.5 * _sigmoid(f - r.mean()) / n, rtol=1e-10)
    # generator: real logits detached; fake enters via E[fake] in the first term and directly in the second
    real.grad, fake.grad = None, None
    GANLoss("ragan", loss_weight=2.0).generator_loss(fake, real).backward()
    assert real.grad is None
    through_mean = -np.sum(_sigmoid(r - f.mean())) / n / n
    direct = (_sigmoid(f - r.mean()) - 1) / n
    np.testing.assert_allclose(fake.grad.numpy(), 2.0 * 0.5 * (through_mean + direct), rtol=1e-10)


def test_errors_and_build(logits):
    _, fake = logits
    with pytest.raises(ValueError, match="needs real_pred"):
        GANLoss("ragan").generator_loss(fake)
    with pytest.raises(ValueError, match="unknown gan_type 'wgan-gp'; choose one of vanilla, lsgan"):
        GANLoss("wgan-gp")
    with pytest.raises(TypeError, match="generator_loss"):
        GANLoss()(fake)
    built = build_loss({"type": "GANLoss", "gan_type": "ragan", "loss_weight": 5e-3}, "train.gan_opt")
    assert isinstance(built, GANLoss) and built.gan_type == "ragan" and built.loss_weight == 5e-3
