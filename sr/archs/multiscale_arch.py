"""Multi-scale generators: one shared body, one light upsampling head per scale factor.

In the spirit of MDSR (Lim et al., "Enhanced Deep Residual Networks for Single Image
Super-Resolution", CVPRW 2017, Sec. 3.2): the feature extractor is shared between the scales and only
the upsampling tail is scale-specific, so one network serves x2, x3 and x4 at little more than the
cost of the largest single-scale model. ``model(x, scale)`` maps ``(N, C, h, w)`` in [0, 1] to
``(N, C_out, scale * h, scale * w)``.

The shared part keeps the single-scale attribute names (``conv_first``, ``body.N...``, and
``conv_body`` for RRDB) and every head keeps the names of the single-scale tail for its scale, under
``heads.xS.``; so ``heads.x4.conv_last.weight`` is ``conv_last.weight`` of the x4 single-scale model
(see ``sr.checkpoints.convert`` for the conversions).

``ScaleView(model, scale)`` presents one head as a single-scale generator (``.scale``,
``forward(x)``), which is what inference and evaluation code expects.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
import torch.nn.functional as F
from torch import nn

from sr.archs._init import scaled_kaiming_init
from sr.archs.rrdbnet_arch import RRDB
from sr.archs.srresnet_arch import (
    MSRRESNET_TAIL_HALO,
    ResidualBlockNoBN,
    add_msrresnet_tail,
    bilinear_skip,
    msrresnet_tail,
)

SCALES = (2, 3, 4)  # the scales a head exists for (both families)


def _check_scales(name: str, scales: Iterable[int]) -> tuple[int, ...]:
    """Sorted, duplicate-free tuple of ``scales``; ``ValueError`` naming what is accepted otherwise."""
    try:
        given = list(scales)
    except TypeError:
        raise ValueError(
            f"{name} scales must be a list of ints from {list(SCALES)}, got {scales!r}"
        ) from None
    bad = [s for s in given if isinstance(s, bool) or not isinstance(s, int) or s not in SCALES]
    if not given or bad or len(set(given)) != len(given):
        raise ValueError(
            f"{name} scales {given!r} are not supported; give one or more distinct scales from {list(SCALES)}"
        )
    return tuple(sorted(given))


def _scales_text(scales: Iterable[int]) -> str:
    return ", ".join(f"x{s}" for s in scales)


class _MultiScaleBase(nn.Module):
    """Head selection shared by both families."""

    scales: tuple[int, ...]
    heads: nn.ModuleDict

    def pick_scale(self, scale: int | None) -> int:
        """``scale`` if the model has a head for it; ``None`` only when there is exactly one head."""
        if scale is None:
            if len(self.scales) == 1:
                return self.scales[0]
            raise ValueError(
                f"{type(self).__name__} has scales {_scales_text(self.scales)}; pass scale= to pick one"
            )
        if isinstance(scale, bool) or scale not in self.scales:
            raise ValueError(
                f"{type(self).__name__} has scales {_scales_text(self.scales)}; asked for x{scale}"
            )
        return int(scale)


class _MSRResNetHead(nn.Module):
    """MSRResNet's tail for one scale: ``upconv1`` (+ ``upconv2`` for x4) with pixel shuffle,
    ``conv_hr``, ``conv_last``. x4 is two pixel-shuffle x2 steps, x2/x3 one step (as BasicSR)."""

    def __init__(self, num_feat: int, num_out_ch: int, scale: int) -> None:
        super().__init__()
        self.scale = scale
        scaled_kaiming_init(add_msrresnet_tail(self, num_feat, num_out_ch, scale), 0.1)

    def forward(self, feat: torch.Tensor) -> torch.Tensor:
        return msrresnet_tail(self, feat, self.scale)


class MultiScaleMSRResNet(_MultiScaleBase):
    """MSRResNet with a shared ``conv_first`` + ``body`` and one head per scale in ``heads``.

    ``forward(x, scale)``: ``(N, C, h, w)`` in [0, 1] -> ``(N, C, scale*h, scale*w)``, the head's
    output plus the bilinearly upsampled input (MSRResNet's global skip). Parameters: the x4 model's
    (1,517,571 at the defaults) plus the x2 and x3 heads (186,371 + 371,011) = 2,074,953.
    ``forward`` is ``forward_tail(forward_trunk(x), x, scale)``, which inference may run separately.
    """

    tail_halo = MSRRESNET_TAIL_HALO

    def __init__(
        self,
        num_in_ch: int = 3,
        num_out_ch: int = 3,
        num_feat: int = 64,
        num_block: int = 16,
        scales: Iterable[int] = SCALES,
    ) -> None:
        super().__init__()
        self.scales = _check_scales("MultiScaleMSRResNet", scales)
        if num_in_ch != num_out_ch:
            raise ValueError(
                f"MultiScaleMSRResNet adds the upsampled input: num_in_ch ({num_in_ch}) must equal "
                f"num_out_ch ({num_out_ch})"
            )
        self.num_in_ch = num_in_ch
        self.conv_first = nn.Conv2d(num_in_ch, num_feat, 3, 1, 1)
        self.body = nn.Sequential(*(ResidualBlockNoBN(num_feat) for _ in range(num_block)))
        self.heads = nn.ModuleDict({f"x{s}": _MSRResNetHead(num_feat, num_out_ch, s) for s in self.scales})
        self.lrelu = nn.LeakyReLU(negative_slope=0.1, inplace=True)
        scaled_kaiming_init([self.conv_first], 0.1)

    def forward(self, x: torch.Tensor, scale: int | None = None) -> torch.Tensor:
        s = self.pick_scale(scale)
        return self.forward_tail(self.forward_trunk(x), x, s)

    def forward_trunk(self, x: torch.Tensor) -> torch.Tensor:
        """The shared LR features (every scale's): ``conv_first`` and the body."""
        return self.body(self.lrelu(self.conv_first(x)))

    def forward_tail(self, feat: torch.Tensor, x: torch.Tensor, scale: int | None = None) -> torch.Tensor:
        """Head ``x{scale}`` on the trunk's features plus the bilinear skip of ``x``; needs
        ``tail_halo`` LR pixels of context on a tile to match the whole image exactly."""
        s = self.pick_scale(scale)
        return self.heads[f"x{s}"](feat) + bilinear_skip(x, s)


class _RRDBHead(nn.Module):
    """RRDBNet's tail for one scale: nearest-neighbour upsampling, each step followed by a conv
    (``conv_up1``, and ``conv_up2`` for x4's second x2 step), then ``conv_hr`` and ``conv_last``.

    x3 is one nearest x3 step + ``conv_up1``: ESRGAN's resize-then-conv upsampling (no checkerboard
    artifacts, unlike a pixel shuffle x3) and the same head size as x2."""

    def __init__(self, num_feat: int, num_out_ch: int, scale: int) -> None:
        super().__init__()
        self.scale = scale
        self.conv_up1 = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        if scale == 4:
            self.conv_up2 = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.conv_hr = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.conv_last = nn.Conv2d(num_feat, num_out_ch, 3, 1, 1)
        self.lrelu = nn.LeakyReLU(negative_slope=0.2, inplace=True)

    def forward(self, feat: torch.Tensor) -> torch.Tensor:
        step = 2 if self.scale == 4 else self.scale
        feat = self.lrelu(self.conv_up1(F.interpolate(feat, scale_factor=step, mode="nearest")))
        if self.scale == 4:
            feat = self.lrelu(self.conv_up2(F.interpolate(feat, scale_factor=2, mode="nearest")))
        return self.conv_last(self.lrelu(self.conv_hr(feat)))


class MultiScaleRRDBNet(_MultiScaleBase):
    """RRDBNet (ESRGAN) with a shared ``conv_first`` + ``body`` + ``conv_body`` and one head per scale.

    The shared body runs at the LR resolution for every scale (no pixel-unshuffle, unlike
    single-scale RRDBNet x2/x1), so the x4 head with the shared part is exactly RRDBNet x4.
    ``forward(x, scale)``: ``(N, C_in, h, w)`` in [0, 1] -> ``(N, C_out, scale*h, scale*w)``.
    Default init is PyTorch's, as for sr's RRDBNet (whose residual blocks scale their own init).
    Parameters: RRDBNet x4's (16,697,987 at the defaults) plus the x2 and x3 heads (75,587 each)
    = 16,849,161.
    """

    def __init__(
        self,
        num_in_ch: int = 3,
        num_out_ch: int = 3,
        num_feat: int = 64,
        num_block: int = 23,
        num_grow_ch: int = 32,
        scales: Iterable[int] = SCALES,
    ) -> None:
        super().__init__()
        self.scales = _check_scales("MultiScaleRRDBNet", scales)
        self.num_in_ch = num_in_ch
        self.conv_first = nn.Conv2d(num_in_ch, num_feat, 3, 1, 1)
        self.body = nn.Sequential(*(RRDB(num_feat, num_grow_ch) for _ in range(num_block)))
        self.conv_body = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.heads = nn.ModuleDict({f"x{s}": _RRDBHead(num_feat, num_out_ch, s) for s in self.scales})

    def forward(self, x: torch.Tensor, scale: int | None = None) -> torch.Tensor:
        s = self.pick_scale(scale)
        feat = self.conv_first(x)
        feat = feat + self.conv_body(self.body(feat))
        return self.heads[f"x{s}"](feat)


class ScaleView(nn.Module):
    """One scale of a multi-scale generator, presented as a single-scale generator.

    ``forward(x) == model(x, scale)``; ``.scale`` and ``.num_in_ch`` are those of the view, and a model
    split into a trunk and a tail (``tail_halo``, ``forward_trunk``, ``forward_tail``) stays split. The
    wrapped model is the submodule ``module`` (as in DistributedDataParallel), so ``state_dict()`` keys
    are the model's with a ``module.`` prefix, which ``sr.checkpoints`` strips on save and load: saving
    a view saves the whole multi-scale model. A single-scale generator may be wrapped too when ``scale``
    is its own scale (``forward(x) == model(x)``).
    """

    def __init__(self, model: nn.Module, scale: int) -> None:
        super().__init__()
        scales = getattr(model, "scales", None)
        if scales is not None:
            if isinstance(scale, bool) or scale not in scales:
                raise ValueError(
                    f"{type(model).__name__} has scales {_scales_text(scales)}; asked for x{scale}"
                )
            self.multiscale = True
        else:
            own = getattr(model, "scale", getattr(model, "upscale", None))
            if not isinstance(own, int) or own != scale:
                raise ValueError(f"{type(model).__name__} upscales x{own}; cannot view it as x{scale}")
            self.multiscale = False
        self.module = model
        self.scale = int(scale)
        self.num_in_ch: int | None = getattr(model, "num_in_ch", None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.multiscale:
            return self.module(x, self.scale)
        return self.module(x)

    @property
    def tail_halo(self) -> int | None:
        """The wrapped model's ``tail_halo``; None when it has no trunk/tail split."""
        return getattr(self.module, "tail_halo", None)

    def forward_trunk(self, x: torch.Tensor) -> torch.Tensor:
        return self.module.forward_trunk(x)  # type: ignore[operator]

    def forward_tail(self, feat: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        if self.multiscale:
            return self.module.forward_tail(feat, x, self.scale)  # type: ignore[operator]
        return self.module.forward_tail(feat, x)  # type: ignore[operator]

    def extra_repr(self) -> str:
        return f"scale={self.scale}"
