"""Discriminator feature matching (Wang et al., pix2pixHD, CVPR 2018, eq. 4; Salimans et al. 2016):
a perceptual loss that needs no downloaded weights.

The generator is asked to make the discriminator's intermediate activations on its output match
those on the ground truth, stage by stage:

    L_FM = loss_weight * sum_k w_k * mean |D_k(G(x)) - D_k(y)|      (criterion l1; l2: squared)

where ``D_k`` is the activation after stride-2 stage ``k`` of the discriminator
(``VGGStyleDiscriminator*.stages``) and ``w_k = layer_weights[k]`` (default: ``1 / K`` each, as
pix2pixHD's ``1 / N_i`` normalisation up to the per-element mean). The ground-truth activations are
detached: the term trains the generator only. Unlike VGG's ImageNet features, these are learned on
the task itself while the GAN trains, so they pick out exactly the texture statistics that tell the
output from a real image. Used by ``SRGANModel``/``ESRGANModel`` through ``train.feature_matching_opt``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

CRITERIA = ("l1", "l2")


class FeatureMatchingLoss(nn.Module):
    def __init__(
        self,
        loss_weight: float = 1.0,
        criterion: str = "l1",
        layer_weights: Sequence[float] | None = None,
    ) -> None:
        super().__init__()
        if criterion not in CRITERIA:
            raise ValueError(f"FeatureMatchingLoss criterion {criterion!r}; choose one of {list(CRITERIA)}")
        if layer_weights is not None and (
            not layer_weights or any(not isinstance(w, int | float) or w < 0 for w in layer_weights)
        ):
            raise ValueError(f"FeatureMatchingLoss layer_weights {layer_weights!r}: give numbers >= 0")
        self.loss_weight = float(loss_weight)
        self.criterion = criterion
        self.layer_weights = None if layer_weights is None else [float(w) for w in layer_weights]

    def forward(self, fake_feats: Sequence[torch.Tensor], real_feats: Sequence[torch.Tensor]) -> torch.Tensor:
        """``fake_feats``/``real_feats``: the discriminator's stage activations on the output and the
        ground truth (same lengths and shapes). Returns the weighted scalar loss."""
        if len(fake_feats) != len(real_feats):
            raise ValueError(f"feature matching: {len(fake_feats)} fake vs {len(real_feats)} real stages")
        weights = self.layer_weights or [1.0 / len(fake_feats)] * len(fake_feats)
        if len(weights) != len(fake_feats):
            raise ValueError(
                f"FeatureMatchingLoss layer_weights has {len(weights)} values, the discriminator "
                f"{len(fake_feats)} stages"
            )
        dist = F.l1_loss if self.criterion == "l1" else F.mse_loss
        total = fake_feats[0].new_zeros(())
        for w, fake, real in zip(weights, fake_feats, real_feats, strict=True):
            if w:
                total = total + w * dist(fake.float(), real.detach().float())
        return total * self.loss_weight
