"""Discriminators for the (relativistic) GAN recipes.

``VGGStyleDiscriminator`` is BasicSR's (ESRGAN's) with the same keys: for 128x128 input, five
stride-2 stages down to 4x4 and two linear layers; 256x256 input adds a sixth stage.
``VGGStyleDiscriminatorAnySize`` has exactly the keys of the 128 variant (weights are
interchangeable) but pools the last feature map to 4x4 adaptively, so it accepts any patch of at
least 32x32, as mixed-resolution training needs.

``forward(x, return_features=True)`` also returns the activation after each stride-2 stage (a list of
``num_stages`` maps): what the feature-matching loss (``sr.losses.FeatureMatchingLoss``) compares.
"""

from __future__ import annotations

import torch
from torch import nn

INPUT_SIZES = (128, 256)


class _VGGFeatures(nn.Module):
    """The conv stack shared by both discriminators: ``num_stages`` stride-2 stages."""

    def __init__(self, num_in_ch: int, num_feat: int, num_stages: int) -> None:
        super().__init__()
        self.num_stages = num_stages
        widths = [num_feat, num_feat * 2, num_feat * 4, num_feat * 8, num_feat * 8, num_feat * 8]
        self.conv0_0 = nn.Conv2d(num_in_ch, num_feat, 3, 1, 1, bias=True)
        self.conv0_1 = nn.Conv2d(num_feat, num_feat, 4, 2, 1, bias=False)
        self.bn0_1 = nn.BatchNorm2d(num_feat, affine=True)
        for i in range(1, num_stages):
            c_in, c_out = widths[i - 1], widths[i]
            setattr(self, f"conv{i}_0", nn.Conv2d(c_in, c_out, 3, 1, 1, bias=False))
            setattr(self, f"bn{i}_0", nn.BatchNorm2d(c_out, affine=True))
            setattr(self, f"conv{i}_1", nn.Conv2d(c_out, c_out, 4, 2, 1, bias=False))
            setattr(self, f"bn{i}_1", nn.BatchNorm2d(c_out, affine=True))
        self.lrelu = nn.LeakyReLU(negative_slope=0.2, inplace=True)

    def stages(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The activation after each stage (``num_stages`` maps, each half the size of the last)."""
        feat = self.lrelu(self.conv0_0(x))
        feat = self.lrelu(self.bn0_1(self.conv0_1(feat)))
        out = [feat]
        for i in range(1, self.num_stages):
            feat = self.lrelu(getattr(self, f"bn{i}_0")(getattr(self, f"conv{i}_0")(feat)))
            feat = self.lrelu(getattr(self, f"bn{i}_1")(getattr(self, f"conv{i}_1")(feat)))
            out.append(feat)
        return out

    def head(self, feat: torch.Tensor) -> torch.Tensor:
        """The two linear layers on the flattened ``(N, C, 4, 4)`` map: ``(N, 1)`` logits."""
        linear1: nn.Linear = self.linear1  # type: ignore[assignment]
        linear2: nn.Linear = self.linear2  # type: ignore[assignment]
        return linear2(self.lrelu(linear1(feat.flatten(1))))


class VGGStyleDiscriminator(_VGGFeatures):
    """Input ``(N, C, input_size, input_size)``, output ``(N, 1)`` raw logits."""

    def __init__(self, num_in_ch: int = 3, num_feat: int = 64, input_size: int = 128) -> None:
        if input_size not in INPUT_SIZES:
            raise ValueError(
                f"VGGStyleDiscriminator input_size {input_size!r}; choose one of {list(INPUT_SIZES)} "
                "(or VGGStyleDiscriminatorAnySize for other patch sizes)"
            )
        super().__init__(num_in_ch, num_feat, 5 if input_size == 128 else 6)
        self.input_size = input_size
        self.linear1 = nn.Linear(num_feat * 8 * 4 * 4, 100)
        self.linear2 = nn.Linear(100, 1)

    def forward(
        self, x: torch.Tensor, return_features: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, list[torch.Tensor]]:
        if x.shape[-2:] != (self.input_size, self.input_size):
            raise ValueError(
                f"VGGStyleDiscriminator built for {self.input_size}x{self.input_size} input, got "
                f"{tuple(x.shape[-2:])}; use VGGStyleDiscriminatorAnySize for other patch sizes"
            )
        feats = self.stages(x)
        logits = self.head(feats[-1])
        return (logits, feats) if return_features else logits


class VGGStyleDiscriminatorAnySize(_VGGFeatures):
    """Same keys as the 128 variant; the last feature map is average-pooled to 4x4, so any patch
    of at least 32x32 is accepted (a 128 patch gives exactly the 128 variant's output)."""

    MIN_SIZE = 32

    def __init__(self, num_in_ch: int = 3, num_feat: int = 64) -> None:
        super().__init__(num_in_ch, num_feat, 5)
        self.pool = nn.AdaptiveAvgPool2d(4)
        self.linear1 = nn.Linear(num_feat * 8 * 4 * 4, 100)
        self.linear2 = nn.Linear(100, 1)

    def forward(
        self, x: torch.Tensor, return_features: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, list[torch.Tensor]]:
        if min(x.shape[-2:]) < self.MIN_SIZE:
            raise ValueError(
                f"VGGStyleDiscriminatorAnySize needs patches of at least {self.MIN_SIZE}x"
                f"{self.MIN_SIZE}, got {tuple(x.shape[-2:])}"
            )
        feats = self.stages(x)
        logits = self.head(self.pool(feats[-1]))
        return (logits, feats) if return_features else logits
