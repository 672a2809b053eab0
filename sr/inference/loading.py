"""Turn a ``--model`` value into an upscaling module: the bundled default, a baseline name or a checkpoint."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from sr.archs import scale_of
from sr.checkpoints import CheckpointError, load_model
from sr.checkpoints.bundled import BUNDLED, bundled_model_path, is_bundled_name
from sr.device import cpu_has_native_bf16, warn_if_emulated_bf16
from sr.inference.baselines import BASELINES, Interpolation
from sr.inference.interp import blended_model

DEFAULT_SCALE = 4  # what the default (multi-scale) model runs when no scale is asked for


def resolve_model(
    model: str | os.PathLike[str] | nn.Module | None,
    scale: int | None,
    net_opt: Mapping[str, Any] | None = None,
    *,
    alpha: float | None = None,
    gan_model: str | os.PathLike[str] | None = None,
) -> nn.Module:
    """A module, a baseline name (``bicubic``, ...; needs ``scale``), a checkpoint path, or
    ``None``/``"default"``/``"default-gan"`` (the bundled models, x4 unless ``scale`` says 2 or 3).
    Errors (``ValueError``/``CheckpointError``) say what would be accepted.

    ``alpha``: ESRGAN network interpolation, weights ``(1 - alpha) * model + alpha * gan_model``;
    ``gan_model`` defaults to ``default-gan`` when ``model`` is the bundled default."""
    if alpha is not None:
        return _blend(model, scale, net_opt, alpha, gan_model)
    if gan_model is not None:
        raise ValueError("a GAN model (--gan-model) is only used with --alpha (network interpolation)")
    if isinstance(model, nn.Module):
        if scale is not None and scale_of(model) != scale:
            raise ValueError(f"the model upscales x{scale_of(model)}, but scale {scale} was asked for")
        return model
    if model is None or is_bundled_name(model):
        model = bundled_model_path("default" if model is None else str(model))
        scale = DEFAULT_SCALE if scale is None else scale
    if str(model) in BASELINES:
        if net_opt:
            raise ValueError(f"--net-opt does not apply to the interpolation baseline {model!r}")
        if scale is None:
            raise ValueError(f"the baseline {model!r} has no scale of its own: give a scale (--scale)")
        return Interpolation(str(model), scale)
    path = Path(model)
    if not path.is_file():
        raise CheckpointError(
            f"model {str(model)!r} is neither a checkpoint file nor a baseline; "
            f"baselines: {', '.join(sorted(BASELINES))}; bundled models: {', '.join(BUNDLED)}"
        )
    return load_model(path, net_opt=net_opt, scale=scale)


def _blend(
    model: str | os.PathLike[str] | nn.Module | None,
    scale: int | None,
    net_opt: Mapping[str, Any] | None,
    alpha: float,
    gan_model: str | os.PathLike[str] | None,
) -> nn.Module:
    model = "default" if model is None else model
    if isinstance(model, nn.Module) or str(model) in BASELINES:
        raise ValueError(f"--alpha blends two checkpoints' weights; {str(model)!r} is not a checkpoint")
    if gan_model is None:
        if str(model) != "default":
            raise ValueError(f"--alpha with --model {model}: name the GAN model to blend with (--gan-model)")
        gan_model = "default-gan"
    if is_bundled_name(model) and is_bundled_name(gan_model) and scale is None:
        scale = DEFAULT_SCALE
    paths = [bundled_model_path(str(m)) if is_bundled_name(m) else Path(m) for m in (model, gan_model)]
    return blended_model(paths[0], paths[1], alpha, scale=scale, net_opt=net_opt)


PRECISIONS = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


def precision_dtype(precision: str, device: torch.device) -> torch.dtype:
    """The dtype of ``precision``; fp16 needs CUDA (on a CPU it is an error, never a silent fp32)."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision {precision!r}; choose one of {', '.join(PRECISIONS)}")
    if precision == "fp16" and device.type != "cuda":
        raise ValueError("fp16 needs CUDA; use bf16 on CPU (or fp32)")
    if precision == "bf16":
        warn_if_emulated_bf16(device, "precision bf16")
    return PRECISIONS[precision]


def native_bf16(device: torch.device) -> bool:
    """Whether ``device`` runs bf16 natively: a CPU with AVX512-BF16/AMX, a CUDA GPU that supports it."""
    if device.type == "cuda":
        return bool(torch.cuda.is_bf16_supported())
    return device.type == "cpu" and cpu_has_native_bf16()


def auto_precision(model: object, gan_model: object, device: torch.device) -> str:
    """``--precision auto`` for the bundled models and their ``--alpha`` blends: ``fp16`` on a CUDA GPU
    (tensor cores on every GPU since Volta, where bf16 needs Ampere; and closer to fp32), ``bf16`` on a
    CPU with native bf16 (AMX/AVX512-BF16), ``fp32`` elsewhere. Any other checkpoint runs in ``fp32``:
    its fidelity in a lower precision is unknown.

    Set5 x4 (luma, crop 4; ``python tools/precision_fidelity.py --alpha 0.5 --alpha 0.8``, Intel Xeon
    with AMX; fp16 run on the CPU, same rounding as on a GPU), PSNR fp32 / bf16 / fp16, and the
    largest change of an output level in bf16 / fp16: default 31.2099 / 31.2041 / 31.2094 (5 / 1),
    default-gan 30.2742 / 30.2744 / 30.2747 (5 / 1), alpha 0.5 30.9070 / 30.9093 / 30.9068 (5 / 1),
    alpha 0.8 30.5275 / 30.5313 / 30.5281 (4 / 1)."""
    bundled = (model is None or is_bundled_name(model)) and (gan_model is None or is_bundled_name(gan_model))
    if not bundled:
        return "fp32"
    if device.type == "cuda":
        return "fp16"
    return "bf16" if native_bf16(device) else "fp32"


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
