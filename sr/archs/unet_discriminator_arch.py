"""Real-ESRGAN's U-Net discriminator with spectral normalisation (Wang et al., ICCVW 2021, sec. 3.3),
with BasicSR's name, constructor arguments and keys (``UNetDiscriminatorSN``; ``conv1.weight_orig``,
``conv1.weight_u``, ... as ``torch.nn.utils.spectral_norm`` stores them), so Real-ESRGAN's ``net_d``
files load as they are.

Unlike the VGG-style discriminators, which give one realness logit per patch, it gives one per
pixel: ``(N, 1, H, W)`` for an ``(N, C, H, W)`` input. The generator is told *where* its output looks
fake, and the spectral normalisation keeps the discriminator from over-reacting, which is what keeps
a long GAN run free of the artefacts a patch discriminator drives into texture.

Three stride-2 stages go down to 1/8 of the size, three bilinear x2 steps come back up, each adding
the encoder map of its size (``skip_connection``); two more 3x3 convolutions and a final one give the
logits. Height and width must be multiples of 8.

``spectral_norm=False`` (sr's option; BasicSR has none) leaves conv1-conv8 plain, with keys
``convN.weight``: a discriminator free to amplify small differences, which ``docs/gan.md`` measures.

``forward(x, return_features=True)`` also returns the six maps after each down and up step (1/2,
1/4, 1/8, then 1/4, 1/2, 1/1 of the size), what ``sr.losses.FeatureMatchingLoss`` compares.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import spectral_norm as _spectral_norm


def _conv(c_in: int, c_out: int, kernel: int, stride: int, sn: bool) -> nn.Module:
    conv = nn.Conv2d(c_in, c_out, kernel, stride, 1, bias=False)
    return _spectral_norm(conv) if sn else conv


class UNetDiscriminatorSN(nn.Module):
    MULTIPLE = 8

    def __init__(
        self, num_in_ch: int = 3, num_feat: int = 64, skip_connection: bool = True, spectral_norm: bool = True
    ) -> None:
        super().__init__()
        self.skip_connection = skip_connection
        f, sn = num_feat, spectral_norm
        self.conv0 = nn.Conv2d(num_in_ch, f, 3, 1, 1)
        # down: 4x4 stride-2 convolutions
        self.conv1 = _conv(f, f * 2, 4, 2, sn)
        self.conv2 = _conv(f * 2, f * 4, 4, 2, sn)
        self.conv3 = _conv(f * 4, f * 8, 4, 2, sn)
        # up: bilinear x2, then a 3x3 convolution
        self.conv4 = _conv(f * 8, f * 4, 3, 1, sn)
        self.conv5 = _conv(f * 4, f * 2, 3, 1, sn)
        self.conv6 = _conv(f * 2, f, 3, 1, sn)
        self.conv7 = _conv(f, f, 3, 1, sn)
        self.conv8 = _conv(f, f, 3, 1, sn)
        self.conv9 = nn.Conv2d(f, 1, 3, 1, 1)

    def forward(
        self, x: torch.Tensor, return_features: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, list[torch.Tensor]]:
        h, w = x.shape[-2:]
        if h % self.MULTIPLE or w % self.MULTIPLE:
            raise ValueError(
                f"UNetDiscriminatorSN needs a height and width that are multiples of {self.MULTIPLE}, "
                f"got {h}x{w}"
            )

        def act(t: torch.Tensor) -> torch.Tensor:
            return F.leaky_relu(t, negative_slope=0.2)

        def up(t: torch.Tensor) -> torch.Tensor:
            return F.interpolate(t, scale_factor=2, mode="bilinear", align_corners=False)

        x0 = act(self.conv0(x))
        x1 = act(self.conv1(x0))
        x2 = act(self.conv2(x1))
        x3 = act(self.conv3(x2))
        feats = [x1, x2, x3]
        for conv, skip in ((self.conv4, x2), (self.conv5, x1), (self.conv6, x0)):
            y = act(conv(up(feats[-1])))
            feats.append(y + skip if self.skip_connection else y)
        out = self.conv9(act(self.conv8(act(self.conv7(feats[-1])))))
        return (out, feats) if return_features else out
