"""Locate ImageNet weights of torchvision backbones (LPIPS's AlexNet/VGG16, the perceptual loss's
VGG19) without downloading anything.

Search order: an explicit path, then ``$SR_PRETRAINED_DIR/<file>``, then the torch hub cache
(``torch.hub.get_dir()/checkpoints/<file>``, where torchvision itself would have saved it). When
absent, :class:`MissingWeightsError` names the file, its official URL and where to put it.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

# torchvision's ImageNet checkpoints (file name -> official URL)
TORCHVISION_WEIGHTS = {
    "alexnet": "https://download.pytorch.org/models/alexnet-owt-7be5be79.pth",
    "vgg16": "https://download.pytorch.org/models/vgg16-397923af.pth",
    "vgg19": "https://download.pytorch.org/models/vgg19-dcbb9e9d.pth",
    "squeezenet1_1": "https://download.pytorch.org/models/squeezenet1_1-b8a52dc0.pth",
}


class MissingWeightsError(FileNotFoundError):
    pass


def find_torchvision_weights(arch: str, explicit: str | Path | None = None, purpose: str = "") -> Path:
    """Path of torchvision's ImageNet weights for ``arch`` (a key of ``TORCHVISION_WEIGHTS``)."""
    if arch not in TORCHVISION_WEIGHTS:
        raise ValueError(f"no known ImageNet weights for {arch!r}; known: {sorted(TORCHVISION_WEIGHTS)}")
    url = TORCHVISION_WEIGHTS[arch]
    filename = url.rsplit("/", 1)[-1]
    what = f"{purpose} needs" if purpose else "needed:"
    if explicit is not None:
        path = Path(explicit)
        if not path.is_file():
            raise MissingWeightsError(f"{what} the ImageNet {arch} weights, but {path} is not a file ({url})")
        return path
    candidates = []
    if os.environ.get("SR_PRETRAINED_DIR"):
        candidates.append(Path(os.environ["SR_PRETRAINED_DIR"]) / filename)
    hub = Path(torch.hub.get_dir()) / "checkpoints"
    candidates.append(hub / filename)
    for c in candidates:
        if c.is_file():
            return c
    raise MissingWeightsError(
        f"{what} the ImageNet {arch} weights file {filename!r}, which was not found in "
        f"{' or '.join(str(c.parent) for c in candidates)}. Download {url} into {hub} (the torch hub cache; "
        f"set TORCH_HOME to move it) or SR_PRETRAINED_DIR, or pass the file's path explicitly."
    )


def load_torchvision_state(arch: str, explicit: str | Path | None = None, purpose: str = "") -> dict:
    """The state_dict of torchvision's ImageNet ``arch``, loaded with ``weights_only=True``."""
    return torch.load(
        find_torchvision_weights(arch, explicit, purpose), map_location="cpu", weights_only=True
    )
