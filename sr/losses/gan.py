"""Adversarial losses: vanilla (Goodfellow et al. 2014), LSGAN (Mao et al. 2017), hinge, WGAN and the
relativistic average GAN of ESRGAN (Jolicoeur-Martineau 2018; Wang et al. 2018, eq. 1-2).

The inputs are raw discriminator outputs (logits), any shape; ``BCE`` is
``binary_cross_entropy_with_logits`` and ``MSE`` the mean squared error, both averaged over elements.
``r`` = real label (``real_label_val``), ``f`` = fake label (``fake_label_val``); ``E`` = mean over the
batch (and any other dimension).

Generator (``generator_loss``, multiplied by ``loss_weight``):

- vanilla: ``BCE(D(G(z)), r)`` (non-saturating form)
- lsgan:   ``MSE(D(G(z)), r)``
- hinge, wgan: ``-E[D(G(z))]``
- ragan (half of ESRGAN eq. 2, as BasicSR):
  ``0.5 * (BCE(C(x_r) - E[C(x_f)], f) + BCE(C(x_f) - E[C(x_r)], r))``;
  the real logits are detached (they depend on D, not on G)

Discriminator (``discriminator_loss``, NOT multiplied by ``loss_weight``, as in BasicSR, which weights
only the generator's term): the sum of a real and a fake term (BasicSR's ``l_d_real + l_d_fake``, which
it back-propagates separately; the gradients add up to the same). ``discriminator_terms`` returns them
apart for logging.

- vanilla: ``BCE(D(x_r), r) + BCE(D(x_f), f)``
- lsgan:   ``MSE(D(x_r), r) + MSE(D(x_f), f)``
- hinge:   ``E[relu(1 - D(x_r))] + E[relu(1 + D(x_f))]``
- wgan:    ``-E[D(x_r)] + E[D(x_f)]``
- ragan (half of ESRGAN eq. 1, as BasicSR):
  ``0.5 * BCE(C(x_r) - E[C(x_f)], r) + 0.5 * BCE(C(x_f) - E[C(x_r)], f)``;
  in each term the other side's mean is detached, exactly as BasicSR's ``ESRGANModel`` computes it (so the
  gradient reaches D through ``C(x_r)`` in the first term and ``C(x_f)`` in the second only).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

GAN_TYPES = ("vanilla", "lsgan", "hinge", "wgan", "ragan")


class GANLoss(nn.Module):
    """Generator and discriminator adversarial losses for one ``gan_type`` (see the module docstring)."""

    def __init__(
        self,
        gan_type: str = "vanilla",
        real_label_val: float = 1.0,
        fake_label_val: float = 0.0,
        loss_weight: float = 1.0,
    ) -> None:
        super().__init__()
        if gan_type not in GAN_TYPES:
            raise ValueError(f"unknown gan_type {gan_type!r}; choose one of {', '.join(GAN_TYPES)}")
        self.gan_type = gan_type
        self.real_label_val = float(real_label_val)
        self.fake_label_val = float(fake_label_val)
        self.loss_weight = float(loss_weight)

    def _target(self, pred: torch.Tensor, is_real: bool) -> torch.Tensor:
        return torch.full_like(pred, self.real_label_val if is_real else self.fake_label_val)

    def _bce(self, pred: torch.Tensor, is_real: bool) -> torch.Tensor:
        return F.binary_cross_entropy_with_logits(pred, self._target(pred, is_real))

    def _labelled(self, pred: torch.Tensor, is_real: bool) -> torch.Tensor:
        """vanilla/lsgan: the distance of ``pred`` to the real or fake label."""
        if self.gan_type == "lsgan":
            return F.mse_loss(pred, self._target(pred, is_real))
        return self._bce(pred, is_real)

    def generator_loss(self, fake_pred: torch.Tensor, real_pred: torch.Tensor | None = None) -> torch.Tensor:
        """The generator's adversarial loss times ``loss_weight`` (a scalar).

        ``fake_pred`` = D(G(z)) with its graph to the generator; ``real_pred`` = D(x_r), required by
        ``ragan`` only (detached here).
        """
        if self.gan_type == "ragan":
            if real_pred is None:
                raise ValueError(
                    "gan_type 'ragan' needs real_pred (the discriminator's output on real images)"
                )
            real_pred = real_pred.detach()
            loss = 0.5 * (
                self._bce(real_pred - fake_pred.mean(), False) + self._bce(fake_pred - real_pred.mean(), True)
            )
        elif self.gan_type in ("hinge", "wgan"):
            loss = -fake_pred.mean()
        else:
            loss = self._labelled(fake_pred, True)
        return self.loss_weight * loss

    def discriminator_terms(
        self, real_pred: torch.Tensor, fake_pred: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The discriminator's real and fake terms ``(l_d_real, l_d_fake)``, unweighted.

        ``fake_pred`` = D(G(z).detach()): the generator gets no gradient from this loss.
        """
        if self.gan_type == "ragan":
            l_real = 0.5 * self._bce(real_pred - fake_pred.detach().mean(), True)
            l_fake = 0.5 * self._bce(fake_pred - real_pred.detach().mean(), False)
        elif self.gan_type == "hinge":
            l_real, l_fake = F.relu(1 - real_pred).mean(), F.relu(1 + fake_pred).mean()
        elif self.gan_type == "wgan":
            l_real, l_fake = -real_pred.mean(), fake_pred.mean()
        else:
            l_real, l_fake = self._labelled(real_pred, True), self._labelled(fake_pred, False)
        return l_real, l_fake

    def discriminator_loss(self, real_pred: torch.Tensor, fake_pred: torch.Tensor) -> torch.Tensor:
        """``l_d_real + l_d_fake`` (a scalar, not multiplied by ``loss_weight``)."""
        l_real, l_fake = self.discriminator_terms(real_pred, fake_pred)
        return l_real + l_fake

    def forward(self, *args: object, **kwargs: object) -> torch.Tensor:
        raise TypeError("GANLoss is not called directly: use generator_loss() or discriminator_loss()")

    def extra_repr(self) -> str:
        return (
            f"gan_type={self.gan_type!r}, real_label_val={self.real_label_val}, "
            f"fake_label_val={self.fake_label_val}, loss_weight={self.loss_weight}"
        )
