"""LPIPS (Zhang et al., CVPR 2018) through the ``lpips`` package, without any download.

The ``lpips`` package ships its calibrated linear layers but takes the backbone's ImageNet weights
from torchvision, which would download them. Here the backbone is built empty and filled from the
file :func:`sr.checkpoints.pretrained.find_torchvision_weights` locates (a path option, then the
torch hub cache); a missing file is an error naming it and where to put it.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import torch
from torch import nn

from sr.checkpoints.pretrained import load_torchvision_state

BACKBONES = {"alex": "alexnet", "vgg": "vgg16", "squeeze": "squeezenet1_1"}


class LPIPS(nn.Module):
    """``LPIPS()(sr, hr)``: distance per image, inputs ``(N, 3, H, W)`` in [0, 1] (lower is closer)."""

    def __init__(self, net: str = "alex", backbone_weights: str | Path | None = None) -> None:
        super().__init__()
        if net not in BACKBONES:
            raise ValueError(f"LPIPS net {net!r}; choose one of {sorted(BACKBONES)}")
        state = load_torchvision_state(BACKBONES[net], backbone_weights, purpose=f"LPIPS ({net})")
        import lpips

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torchvision's 'pretrained' deprecation inside lpips
            self.model = lpips.LPIPS(net=net, pnet_rand=True, verbose=False)
        # lpips splits torchvision's `features` into slices that keep the original indices
        backbone = {}
        for key in self.model.net.state_dict():
            _slice, index, param = key.split(".", 2)
            backbone[key] = state[f"features.{index}.{param}"]
        self.model.net.load_state_dict(backbone)
        self.model.eval().requires_grad_(False)

    def forward(self, sr: torch.Tensor, hr: torch.Tensor) -> torch.Tensor:
        return self.model(sr * 2 - 1, hr * 2 - 1).flatten()
