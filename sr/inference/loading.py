"""Turn a ``--model`` value into an upscaling module: an interpolation baseline name or a checkpoint."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
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


PRECISIONS = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


def precision_dtype(precision: str, device: torch.device) -> torch.dtype:
    """The dtype of ``precision``; fp16 needs CUDA (on a CPU it is an error, never a silent fp32)."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision {precision!r}; choose one of {', '.join(PRECISIONS)}")
    if precision == "fp16" and device.type != "cuda":
        raise ValueError("fp16 needs CUDA; use bf16 on CPU (or fp32)")
    return PRECISIONS[precision]


class InPrecision(nn.Module):
    """Runs ``model`` with weights and input in ``dtype`` and returns float32: how ``sr-eval
    --precision`` scores a model in bf16/fp16. Keeps the attributes the evaluation reads."""

    def __init__(self, model: nn.Module, dtype: torch.dtype) -> None:
        super().__init__()
        self.model = model.to(dtype).to(memory_format=torch.channels_last)  # see Upscaler: bf16 speed
        self.dtype = dtype
        self.scale = scale_of(model)
        self.num_in_ch = getattr(model, "num_in_ch", None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x.to(self.dtype).contiguous(memory_format=torch.channels_last)).float()
