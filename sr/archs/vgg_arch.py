"""VGG feature extractor for the perceptual loss, with BasicSR's arguments and layer names.

The ``features`` stack is built here (torch only, no torchvision import) with torchvision's exact
layer layout, so ``features.N.weight`` / ``features.N.bias`` of torchvision's ImageNet checkpoints
(``vgg19-dcbb9e9d.pth`` ...) load unchanged with :meth:`VGGFeatureExtractor.load_torchvision_state`.
Layers are addressed by BasicSR's names (``conv1_1``, ``relu1_1``, ..., ``pool5``; ``bn1_1`` ... in the
``_bn`` variants): ``conv5_4`` is the feature map *before* the activation (ESRGAN), ``relu5_4`` after it
(SRGAN's VGG54), ``relu2_2`` of ``vgg16`` Johnson et al.'s.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import nn

# torchvision's cfgs: channel widths, "M" = max pooling
_CFGS: dict[str, list[int | str]] = {
    "vgg11": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "vgg13": [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "vgg16": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    "vgg19": [
        *(64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M"),
        *(512, 512, 512, 512, "M", 512, 512, 512, 512, "M"),
    ],
}
VGG_TYPES = sorted([*_CFGS, *(f"{k}_bn" for k in _CFGS)])

# ImageNet statistics of torchvision's preprocessing (RGB, input in [0, 1])
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def vgg_layer_names(vgg_type: str) -> list[str]:
    """BasicSR's names of the ``features`` layers of ``vgg_type``, in torchvision's index order."""
    if vgg_type not in VGG_TYPES:
        raise ValueError(f"unknown vgg_type {vgg_type!r}; choose one of {', '.join(VGG_TYPES)}")
    bn = vgg_type.endswith("_bn")
    names: list[str] = []
    block, idx = 1, 1
    for v in _CFGS[vgg_type.removesuffix("_bn")]:
        if v == "M":
            names.append(f"pool{block}")
            block, idx = block + 1, 1
        else:
            names += [f"conv{block}_{idx}", *([f"bn{block}_{idx}"] if bn else []), f"relu{block}_{idx}"]
            idx += 1
    return names


class VGGFeatureExtractor(nn.Module):
    """Intermediate VGG feature maps by layer name.

    Args:
        layer_name_list: names of the layers whose outputs ``forward`` returns (see ``vgg_layer_names``);
            the stack is truncated after the deepest one.
        vgg_type: ``vgg11|vgg13|vgg16|vgg19`` with optional ``_bn`` suffix.
        use_input_norm: subtract ImageNet mean and divide by std (input RGB in [0, 1]).
        range_norm: map input from [-1, 1] to [0, 1] first.
        requires_grad: if False (default) the parameters are frozen and the module is put in eval mode.
        remove_pooling: replace the max-pooling layers by identities (indices keep torchvision's layout).
        pooling_stride: kernel size and stride of the max-pooling layers (torchvision: 2).

    ``forward(x)`` takes ``(N, 3, H, W)`` and returns ``{name: (N, C, H', W')}`` for the requested names.
    The parameters live in ``self.features`` under torchvision's keys ``features.N.*``.
    """

    mean: torch.Tensor
    std: torch.Tensor

    def __init__(
        self,
        layer_name_list: Sequence[str],
        vgg_type: str = "vgg19",
        use_input_norm: bool = True,
        range_norm: bool = False,
        requires_grad: bool = False,
        remove_pooling: bool = False,
        pooling_stride: int = 2,
    ) -> None:
        super().__init__()
        names = vgg_layer_names(vgg_type)
        if not layer_name_list:
            raise ValueError("layer_name_list is empty; name at least one layer, e.g. 'conv5_4'")
        for n in layer_name_list:
            if n not in names:
                raise ValueError(f"{vgg_type} has no layer {n!r}; layers: {', '.join(names)}")
        self.layer_name_list = list(layer_name_list)
        self.vgg_type = vgg_type
        self.use_input_norm = use_input_norm
        self.range_norm = range_norm
        last = max(names.index(n) for n in layer_name_list)
        self.names = names[: last + 1]

        layers: list[nn.Module] = []
        in_ch = 3
        widths = iter(v for v in _CFGS[vgg_type.removesuffix("_bn")] if v != "M")
        for name in self.names:
            if name.startswith("conv"):
                out_ch = int(next(widths))
                layers.append(nn.Conv2d(in_ch, out_ch, kernel_size=3, padding=1))
                in_ch = out_ch
            elif name.startswith("bn"):
                layers.append(nn.BatchNorm2d(in_ch))
            elif name.startswith("relu"):
                layers.append(nn.ReLU(inplace=True))
            elif remove_pooling:
                layers.append(nn.Identity())
            else:
                layers.append(nn.MaxPool2d(kernel_size=pooling_stride, stride=pooling_stride))
        self.features = nn.Sequential(*layers)

        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        if not requires_grad:
            self.eval()
            for p in self.parameters():
                p.requires_grad = False

    def load_torchvision_state(self, state_dict: Mapping[str, torch.Tensor]) -> None:
        """Load torchvision's VGG state dict (``features.N.*`` and ``classifier.*`` keys).

        Strict for the kept part of ``features``: every parameter/buffer must be present with the same
        shape and no other ``features`` key may fall inside the kept layers. ``classifier.*`` and
        ``features`` keys past the truncation point are ignored.
        """
        own = self.features.state_dict()
        kept = len(self.features)
        picked: dict[str, torch.Tensor] = {}
        for key, value in state_dict.items():
            if key.startswith("classifier."):
                continue
            parts = key.split(".")
            if parts[0] != "features" or len(parts) < 3 or not parts[1].isdigit():
                raise ValueError(
                    f"unexpected key {key!r} in a torchvision {self.vgg_type} state dict "
                    "(expected features.N.* and classifier.*)"
                )
            if int(parts[1]) >= kept:
                continue
            sub = key.removeprefix("features.")
            if sub not in own:
                raise ValueError(
                    f"key {key!r} does not exist in {self.vgg_type} (layer {self.names[int(parts[1])]}); "
                    f"is the state dict of another VGG type?"
                )
            if tuple(value.shape) != tuple(own[sub].shape):
                raise ValueError(
                    f"{key}: shape {tuple(value.shape)} does not match {self.vgg_type}'s "
                    f"{tuple(own[sub].shape)}; is the state dict of another VGG type?"
                )
            picked[sub] = value
        missing = sorted(set(own) - set(picked), key=lambda k: (int(k.split(".")[0]), k))
        if missing:
            raise ValueError(
                f"the {self.vgg_type} state dict lacks {', '.join('features.' + k for k in missing)}"
            )
        self.features.load_state_dict(picked, strict=True)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        if self.range_norm:
            x = (x + 1) / 2
        if self.use_input_norm:
            x = (x - self.mean) / self.std
        wanted = set(self.layer_name_list)
        out: dict[str, torch.Tensor] = {}
        for name, layer in zip(self.names, self.features, strict=True):
            x = layer(x)
            if name in wanted:
                # ReLU is in place: a conv output returned before its activation must not be overwritten
                out[name] = x.clone() if name.startswith(("conv", "bn")) else x
        return out
