"""Perceptual (VGG feature) loss with an optional style (Gram matrix) term, BasicSR's ``PerceptualLoss``.

``L_percep = perceptual_weight * sum_k w_k * crit(phi_k(pred), phi_k(target))`` and
``L_style = style_weight * sum_k w_k * crit(G(phi_k(pred)), G(phi_k(target)))`` with
``G(f) = f f^T / (C H W)`` per image (Gatys et al.; Johnson et al. 2016 eq. 3-4). ``phi_k`` is the VGG
layer named ``k``: ``conv5_4`` before the activation (ESRGAN, Wang et al. 2018 sec. 3.3), ``relu5_4``
after it (SRGAN's VGG54, Ledig et al. 2017 eq. 5), ``relu2_2`` of ``vgg16`` (Johnson et al.).
``crit`` is the mean absolute (``l1``) or squared (``l2``/``mse``) difference, or the Frobenius norm of
the difference (``fro``, not divided by the size).

ImageNet weights come from ``sr.checkpoints.pretrained`` (``weights_path``, ``$SR_PRETRAINED_DIR`` or
the torch hub cache); nothing is downloaded. When they are absent its ``MissingWeightsError`` says
which file and where to put it. ``pretrained=False`` gives seeded random weights (``random_seed``;
logged as a warning): random-weight networks still measure texture and structure (Ustyuzhaninov et al.,
ICLR 2017; Liu et al., "Generic Perceptual Loss", CVPR 2021), the offline option ``docs/gan.md`` measures.
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch
from torch import nn

from sr.archs.vgg_arch import VGGFeatureExtractor
from sr.checkpoints.pretrained import load_torchvision_state

logger = logging.getLogger(__name__)

CRITERIA = ("l1", "l2", "mse", "fro")


def init_random_vgg(vgg: VGGFeatureExtractor, seed: int) -> None:
    """Seeded Kaiming-normal (fan-in, ReLU) convolutions with zero biases, so that each layer keeps the
    scale of its input and the loss means the same thing in every run with the same ``seed``."""
    gen = torch.Generator().manual_seed(int(seed))
    for m in vgg.features:
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu", generator=gen)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


def gram_matrix(x: torch.Tensor) -> torch.Tensor:
    """``(N, C, H, W)`` -> ``(N, C, C)`` Gram matrix divided by ``C * H * W`` (BasicSR's ``_gram_mat``)."""
    n, c, h, w = x.shape
    f = x.reshape(n, c, h * w)
    return f.bmm(f.transpose(1, 2)) / (c * h * w)


class PerceptualLoss(nn.Module):
    """VGG feature (and optional Gram) distance between ``pred`` and ``target``.

    ``forward(pred, target)`` takes ``(N, 3, H, W)`` RGB in [0, 1] (or [-1, 1] with ``range_norm``)
    and returns ``(perceptual, style)``: each a weighted scalar, or ``None`` when its weight is 0.
    The VGG is frozen and stays in eval mode whatever ``train()`` is called with; the target's
    features are computed without a graph.
    """

    def __init__(
        self,
        layer_weights: dict[str, float],
        vgg_type: str = "vgg19",
        use_input_norm: bool = True,
        range_norm: bool = False,
        perceptual_weight: float = 1.0,
        style_weight: float = 0.0,
        criterion: str = "l1",
        pretrained: bool = True,
        weights_path: str | Path | None = None,
        random_seed: int = 0,
    ) -> None:
        super().__init__()
        if criterion not in CRITERIA:
            raise ValueError(f"unknown criterion {criterion!r}; choose one of {', '.join(CRITERIA)}")
        if not isinstance(layer_weights, dict) or not layer_weights:
            raise ValueError(
                f"layer_weights must be a non-empty {{layer_name: weight}} dict, got {layer_weights!r}"
            )
        if perceptual_weight < 0 or style_weight < 0:
            raise ValueError(
                f"perceptual_weight and style_weight must be >= 0 (0 disables a term), "
                f"got {perceptual_weight} and {style_weight}"
            )
        self.layer_weights = {str(k): float(v) for k, v in layer_weights.items()}
        self.perceptual_weight = float(perceptual_weight)
        self.style_weight = float(style_weight)
        self.criterion = criterion
        self.vgg = VGGFeatureExtractor(
            list(self.layer_weights),
            vgg_type=vgg_type,
            use_input_norm=use_input_norm,
            range_norm=range_norm,
            requires_grad=False,
        )
        if pretrained:
            state = load_torchvision_state(vgg_type, weights_path, purpose="the perceptual loss")
            self.vgg.load_torchvision_state(state)
        else:
            if weights_path is not None:
                raise ValueError(f"weights_path={str(weights_path)!r} is given but pretrained=False")
            init_random_vgg(self.vgg, random_seed)
            logger.warning(
                "PerceptualLoss: pretrained=False, the %s feature extractor has random weights "
                "(Kaiming normal, seed %d), not ImageNet's",
                vgg_type,
                random_seed,
            )

    def train(self, mode: bool = True) -> PerceptualLoss:
        super().train(mode)
        self.vgg.eval()  # frozen: its (BN) statistics must never update
        return self

    def _distance(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        if self.criterion == "l1":
            return (a - b).abs().mean()
        if self.criterion == "fro":
            return torch.linalg.vector_norm(a - b)
        return ((a - b) ** 2).mean()

    def forward(
        self, pred: torch.Tensor, target: torch.Tensor
    ) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        if pred.shape != target.shape:
            raise ValueError(f"pred and target shapes differ: {tuple(pred.shape)} vs {tuple(target.shape)}")
        pred_feats = self.vgg(pred)
        with torch.no_grad():
            target_feats = self.vgg(target.detach())

        percep: torch.Tensor | None = None
        if self.perceptual_weight > 0:
            percep = sum(
                (w * self._distance(pred_feats[k], target_feats[k]) for k, w in self.layer_weights.items()),
                start=pred.new_zeros(()),
            )
            percep = percep * self.perceptual_weight
        style: torch.Tensor | None = None
        if self.style_weight > 0:
            style = sum(
                (
                    w * self._distance(gram_matrix(pred_feats[k]), gram_matrix(target_feats[k]))
                    for k, w in self.layer_weights.items()
                ),
                start=pred.new_zeros(()),
            )
            style = style * self.style_weight
        return percep, style

    def extra_repr(self) -> str:
        return (
            f"layer_weights={self.layer_weights}, perceptual_weight={self.perceptual_weight}, "
            f"style_weight={self.style_weight}, criterion={self.criterion!r}"
        )
