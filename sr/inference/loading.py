"""Turn a ``--model`` value into an upscaling module: an interpolation baseline name or a checkpoint."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from torch import nn

from sr.archs import scale_of
from sr.checkpoints import CheckpointError, load_model
from sr.inference.baselines import BASELINES, Interpolation


def load_upscaler(spec: str, scale: int, net_opt: Mapping[str, Any] | None = None) -> nn.Module:
    """``spec`` is a baseline name (``bicubic``, ``torch-bilinear``, ...) or a checkpoint path.

    The model's scale must equal ``scale``; a mismatch is an error naming both."""
    if spec in BASELINES:
        if net_opt:
            raise ValueError(f"--net-opt does not apply to the interpolation baseline {spec!r}")
        return Interpolation(spec, scale)
    path = Path(spec)
    if not path.exists():
        raise CheckpointError(
            f"model {spec!r} is neither a checkpoint file nor a baseline; "
            f"baselines: {', '.join(sorted(BASELINES))}"
        )
    model = load_model(path, net_opt=net_opt, scale=scale)
    if scale_of(model) != scale:
        raise CheckpointError(f"{path}: the model upscales x{scale_of(model)}, but --scale is {scale}")
    return model
