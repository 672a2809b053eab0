"""Training recipes: what one iteration does. ``build_model(opt, device, world_size)`` picks the
recipe named by ``opt.model_type``."""

from __future__ import annotations

import torch

from sr.models.gan_model import GANModel
from sr.models.sr_model import NonFiniteLossError, SRModel
from sr.options.schema import Options

MODELS: dict[str, type[SRModel]] = {"SRModel": SRModel, "SRGANModel": GANModel, "ESRGANModel": GANModel}


def build_model(opt: Options, device: torch.device, world_size: int = 1) -> SRModel:
    return MODELS[opt.model_type](opt, device, world_size)


__all__ = ["MODELS", "GANModel", "NonFiniteLossError", "SRModel", "build_model"]
