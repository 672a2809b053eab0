"""The adversarial recipe: SRGAN (standard GAN, VGG after activation) and ESRGAN (relativistic
average GAN, VGG before activation), as one iteration; optionally with discriminator feature matching
(``train.feature_matching_opt``), the perceptual term that needs no downloaded weights.

Order per iteration, as in the papers and BasicSR: one generator update with the discriminator
frozen (skipped while ``it <= net_d_init_iters`` and on iterations not divisible by
``net_d_iters``), then one discriminator update on the ground truth and the detached output.
``D(gt)`` is computed once per iteration, before the generator update, and serves both updates.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch
from torch import nn

from sr.archs import build as build_arch
from sr.checkpoints import save_checkpoint
from sr.models.optim import build_optimizer, build_scheduler
from sr.models.sr_model import SRModel, load_pretrained, unwrap
from sr.options.schema import Options


class GANModel(SRModel):
    def __init__(self, opt: Options, device: torch.device, world_size: int = 1) -> None:
        super().__init__(opt, device, world_size)
        train = opt.train
        assert opt.network_d is not None and train.gan_opt is not None and train.optim_d is not None
        torch.manual_seed(opt.manual_seed + 1)
        self.net_d = build_arch(opt.network_d).to(device).to(memory_format=self.memory_format)
        if opt.path.pretrain_network_d:
            load_pretrained(
                self.net_d, opt.path.pretrain_network_d, opt.path.param_key_d, opt.path.strict_load_d, "D"
            )
        self.net_d_train = self._wrap(self.net_d)
        self.cri_gan: Any = self._loss(train.gan_opt, "train.gan_opt")
        self.relativistic = train.gan_opt.get("gan_type") == "ragan"
        self.cri_fm: Any = self._loss(train.feature_matching_opt, "train.feature_matching_opt")
        self.optimizer_d = build_optimizer(self.net_d.parameters(), train.optim_d, "train.optim_d")
        self.scheduler_d = build_scheduler(
            self.optimizer_d, train.scheduler, train.warmup_iter, "train.scheduler"
        )

    def train_step(self, batch: dict[str, Any], it: int) -> dict[str, float]:
        lq, gt = self.feed(batch)
        train = self.opt.train
        self.net_g.train()
        self.net_d.train()
        log: dict[str, float] = {}

        # D(gt) once, with its graph: the discriminator's weights do not change during the generator
        # update, so the same prediction serves the generator's relativistic term (detached) and the
        # discriminator update (BasicSR runs D on gt twice; with BatchNorm, D's running statistics
        # therefore see gt once per iteration here, twice there: the outputs are the same).
        d_plain = unwrap(self.net_d)
        d_plain.requires_grad_(True)
        fm = self.cri_fm is not None
        with self.autocast():
            real_out = self.net_d_train(gt, return_features=True) if fm else self.net_d_train(gt)
        real_pred, real_feats = real_out if fm else (real_out, None)

        # generator update, discriminator frozen (called unwrapped: no DDP reduction needed)
        d_plain.requires_grad_(False)
        update_g = it % train.net_d_iters == 0 and it > train.net_d_init_iters
        with self.autocast():
            sr = self.generate(lq, batch) if update_g else None
        if update_g:
            assert sr is not None
            with self.autocast():
                losses = self.content_losses(sr, gt)
                if fm:
                    fake_pred, fake_feats = d_plain(sr, return_features=True)
                    losses["l_g_fm"] = self.cri_fm(fake_feats, real_feats)
                else:
                    fake_pred = d_plain(sr)
                assert self.cri_gan is not None
                relative_to = real_pred.detach() if self.relativistic else None
                losses["l_g_gan"] = self.cri_gan.generator_loss(fake_pred, relative_to)
            total = sum(losses.values())
            assert isinstance(total, torch.Tensor)
            self.backward_step(total, self.net_g, self.optimizer_g, "generator")
            log.update({k: v.item() for k, v in losses.items()})
        else:
            with torch.no_grad(), self.autocast():
                sr = self.generate(lq, batch)

        # discriminator update
        d_plain.requires_grad_(True)
        with self.autocast():
            fake_pred = self.net_d_train(sr.detach())
            assert self.cri_gan is not None
            l_d = self.cri_gan.discriminator_loss(real_pred, fake_pred)
        self.backward_step(l_d, self.net_d, self.optimizer_d, "discriminator")
        log.update(
            l_d=l_d.item(),
            out_d_real=real_pred.detach().float().mean().item(),
            out_d_fake=fake_pred.detach().float().mean().item(),
        )
        self.end_of_step()
        return log

    # ----------------------------------------------------------------- state
    def schedulers(self) -> list[torch.optim.lr_scheduler.LRScheduler]:
        return [self.scheduler_g, self.scheduler_d]

    def learning_rates(self) -> dict[str, float]:
        return {**super().learning_rates(), "lr_d": self.optimizer_d.param_groups[0]["lr"]}

    def named_nets(self) -> Iterator[tuple[str, nn.Module]]:
        yield from super().named_nets()
        yield "net_d", self.net_d

    def state_dict(self) -> dict[str, Any]:
        return {
            **super().state_dict(),
            "net_d": self.net_d.state_dict(),
            "optimizer_d": self.optimizer_d.state_dict(),
            "scheduler_d": self.scheduler_d.state_dict(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.net_d.load_state_dict(state["net_d"])
        self.optimizer_d.load_state_dict(state["optimizer_d"])
        self.scheduler_d.load_state_dict(state["scheduler_d"])

    def save_weights(self, folder: Any, label: str) -> None:
        super().save_weights(folder, label)
        assert self.opt.network_d is not None
        save_checkpoint(folder / f"net_d_{label}.pth", self.net_d, arch=dict(self.opt.network_d))
