"""The PSNR-oriented recipe: what ONE training iteration of an SR generator does.

``SRModel(opt, device)`` builds the generator, its losses (pixel, SSIM, perceptual; at least one),
optimizer, schedule and optional EMA; ``train_step(batch)`` runs one iteration and returns the
numbers to log. The loop (``sr.engine``) decides when to validate, save and stop; the training
state this class exposes (``state_dict``) is everything the loop needs to resume exactly.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import Any

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from sr.archs import build as build_arch
from sr.checkpoints import read_state_dict, save_checkpoint
from sr.checkpoints.bundled import resolve_checkpoint
from sr.checkpoints.load import load_weights
from sr.device import warn_if_emulated_bf16
from sr.losses import build_loss
from sr.models.ema import ModelEMA
from sr.models.optim import build_optimizer, build_scheduler
from sr.options.schema import Options

log = logging.getLogger(__name__)


class NonFiniteLossError(RuntimeError):
    """A loss became NaN or infinite; raised before any weight is updated with it."""


def unwrap(net: nn.Module) -> nn.Module:
    """The module inside a DDP (or torch.compile) wrapper."""
    net = getattr(net, "_orig_mod", net)
    return net.module if isinstance(net, DistributedDataParallel) else net


def load_pretrained(net: nn.Module, path: str, key: str | None, strict: bool, what: str) -> None:
    """Warm start ``net`` from any supported checkpoint format (``path.pretrain_network_*``), or a
    bundled model by name (``default``, ``default-gan``)."""
    state, meta = read_state_dict(resolve_checkpoint(path), key=key)
    if strict:
        load_weights(net, state, path)
    else:
        result = net.load_state_dict(state, strict=False)
        if result.missing_keys or result.unexpected_keys:
            log.warning(
                "%s: loaded %s non-strictly; missing %s, unexpected %s",
                path,
                what,
                result.missing_keys[:5],
                result.unexpected_keys[:5],
            )
    log.info("%s initialised from %s (%s)", what, path, meta.get("key") or "raw state dict")


class SRModel:
    """Generator-only recipe (SRCNN, SRResNet, RRDB-PSNR)."""

    def __init__(self, opt: Options, device: torch.device, world_size: int = 1) -> None:
        self.opt, self.device, self.world_size = opt, device, world_size
        train = opt.train
        torch.manual_seed(opt.manual_seed)  # weight init is the one use of the global generator
        self.net_g = build_arch(opt.network_g).to(device)
        if opt.path.pretrain_network_g:
            load_pretrained(
                self.net_g, opt.path.pretrain_network_g, opt.path.param_key_g, opt.path.strict_load_g, "G"
            )
        self.multiscale = len(getattr(self.net_g, "scales", ())) > 1
        self.memory_format = torch.channels_last if train.channels_last else torch.contiguous_format
        self.net_g.to(memory_format=self.memory_format)
        self.ema = ModelEMA(self.net_g, train.ema_decay) if train.ema_decay > 0 else None
        self.net_g_train = self._wrap(self.net_g)

        self.cri_pix = self._loss(train.pixel_opt, "train.pixel_opt")
        self.cri_ssim = self._loss(train.ssim_opt, "train.ssim_opt")
        self.cri_perceptual = self._loss(train.perceptual_opt, "train.perceptual_opt")
        self.cri_fourier = self._loss(train.fourier_opt, "train.fourier_opt")
        if all(c is None for c in (self.cri_pix, self.cri_ssim, self.cri_perceptual, self.cri_fourier)):
            raise ValueError("train: give at least one of pixel_opt, ssim_opt, perceptual_opt, fourier_opt")

        self.optimizer_g = build_optimizer(self.net_g.parameters(), train.optim_g, "train.optim_g")
        self.scheduler_g = build_scheduler(
            self.optimizer_g, train.scheduler, train.warmup_iter, "train.scheduler"
        )
        amp = train.mixed_precision
        if amp == "fp16" and device.type != "cuda":
            raise ValueError("train.mixed_precision: fp16 needs CUDA; use bf16 on the CPU")
        if amp == "bf16":
            warn_if_emulated_bf16(device, "train.mixed_precision: bf16")
        self.amp_dtype = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[amp]
        self.scaler = torch.amp.GradScaler(device.type, enabled=amp == "fp16")

    # ----------------------------------------------------------------- building blocks
    def _wrap(self, net: nn.Module) -> nn.Module:
        wrapped: nn.Module = net
        if self.world_size > 1:
            ids = [self.device.index] if self.device.type == "cuda" else None
            # a multi-scale generator leaves the other scales' heads unused in each iteration
            unused = len(getattr(net, "scales", ())) > 1
            wrapped = DistributedDataParallel(net, device_ids=ids, find_unused_parameters=unused)
        if self.opt.train.compile:
            wrapped = torch.compile(wrapped)  # type: ignore[assignment]
        return wrapped

    def _loss(self, section: dict[str, Any] | None, where: str) -> nn.Module | None:
        return None if section is None else build_loss(section, where).to(self.device)

    def autocast(self) -> contextlib.AbstractContextManager:
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.amp_dtype)

    def feed(self, batch: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor]:
        lq = batch["lq"].to(self.device, non_blocking=True).contiguous(memory_format=self.memory_format)
        gt = batch["gt"].to(self.device, non_blocking=True).contiguous(memory_format=self.memory_format)
        return lq, gt

    def generate(self, lq: torch.Tensor, batch: dict[str, Any]) -> torch.Tensor:
        """The generator on ``lq``; a multi-scale generator gets the batch's scale (one per batch)."""
        if not self.multiscale:
            return self.net_g_train(lq)
        scale = batch["scale"]
        return self.net_g_train(lq, scale=int(scale[0] if isinstance(scale, torch.Tensor) else scale))

    def content_losses(self, sr: torch.Tensor, gt: torch.Tensor) -> dict[str, torch.Tensor]:
        """Pixel, SSIM, perceptual and Fourier terms, each already weighted (their ``loss_weight``)."""
        losses: dict[str, torch.Tensor] = {}
        if self.cri_pix is not None:
            losses["l_pix"] = self.cri_pix(sr, gt)
        if self.cri_ssim is not None:
            losses["l_ssim"] = self.cri_ssim(sr.float(), gt.float())
        if self.cri_perceptual is not None:
            percep, style = self.cri_perceptual(sr, gt)
            if percep is not None:
                losses["l_percep"] = percep
            if style is not None:
                losses["l_style"] = style
        if self.cri_fourier is not None:
            losses["l_fourier"] = self.cri_fourier(sr, gt)
        return losses

    def backward_step(
        self, total: torch.Tensor, net: nn.Module, optimizer: torch.optim.Optimizer, what: str
    ) -> None:
        """Check ``total`` is finite, then backward and one optimizer step (fp16: scaled)."""
        if not torch.isfinite(total.detach()).item():
            raise NonFiniteLossError(f"the {what} loss is {total.item()}; stopping before the update")
        optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(total).backward()
        if self.opt.train.grad_clip:
            self.scaler.unscale_(optimizer)
            torch.nn.utils.clip_grad_norm_(net.parameters(), self.opt.train.grad_clip)
        self.scaler.step(optimizer)
        self.scaler.update()

    # ----------------------------------------------------------------- one iteration
    def train_step(self, batch: dict[str, Any], it: int) -> dict[str, float]:
        """Iteration ``it`` (1-based): forward, losses, one G update, EMA, schedule step."""
        lq, gt = self.feed(batch)
        self.net_g.train()
        with self.autocast():
            sr = self.generate(lq, batch)
            losses = self.content_losses(sr, gt)
        total = sum(losses.values())
        assert isinstance(total, torch.Tensor)
        self.backward_step(total, self.net_g, self.optimizer_g, "generator")
        self.end_of_step()
        return {k: v.item() for k, v in losses.items()}

    def end_of_step(self) -> None:
        if self.ema is not None:
            self.ema.update(self.net_g)
        for scheduler in self.schedulers():
            scheduler.step()

    # ----------------------------------------------------------------- state
    def schedulers(self) -> list[torch.optim.lr_scheduler.LRScheduler]:
        return [self.scheduler_g]

    def learning_rates(self) -> dict[str, float]:
        return {"lr_g": self.optimizer_g.param_groups[0]["lr"]}

    def eval_net(self) -> nn.Module:
        """The network to validate and ship: the EMA copy when there is one."""
        return self.ema.module if self.ema is not None else self.net_g

    def named_nets(self) -> Iterator[tuple[str, nn.Module]]:
        yield "net_g", self.net_g

    def state_dict(self) -> dict[str, Any]:
        state: dict[str, Any] = {
            "net_g": self.net_g.state_dict(),
            "optimizer_g": self.optimizer_g.state_dict(),
            "scheduler_g": self.scheduler_g.state_dict(),
            "scaler": self.scaler.state_dict(),
        }
        if self.ema is not None:
            state["ema"] = self.ema.module.state_dict()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.net_g.load_state_dict(state["net_g"])
        self.optimizer_g.load_state_dict(state["optimizer_g"])
        self.scheduler_g.load_state_dict(state["scheduler_g"])
        if state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])
        if self.ema is not None:
            if "ema" not in state:
                raise ValueError("the training state has no EMA weights but train.ema_decay > 0")
            self.ema.module.load_state_dict(state["ema"])

    def save_weights(self, folder: Any, label: str) -> None:
        """``net_g_<label>.pth`` in sr's format (``params``, ``params_ema``, ``arch``)."""
        ema = self.ema.module if self.ema is not None else None
        save_checkpoint(
            folder / f"net_g_{label}.pth", self.net_g, params_ema=ema, arch=dict(self.opt.network_g)
        )
