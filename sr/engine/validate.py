"""Validation during training: score the generator (its EMA copy when there is one) on each
validation set, track the best value of every metric, optionally save the outputs.

The protocol (``val.protocol``) is ``sr-eval``'s (``sr.inference.evaluate``), so a checkpoint scores
the same in both on the same folder. On a set whose LQ is made from the GT (``HRImageDataset``, also
with ``sources``): ``y`` (the default, as in ``sr-eval``) downscales the GT with MATLAB bicubic without
rounding and scores the 8-bit luma of the 8-bit output against the 8-bit luma of the GT (the papers'
tables); ``rgb`` (BasicSR's) feeds the 8-bit LQ and scores the unrounded luma. A set with LQ files
(``PairedImageDataset``) feeds those files and scores the 8-bit luma of the 8-bit output. The log
line of each validation names the protocol, as ``sr-eval``'s first line does.

Metrics (``val.metrics``): ``psnr`` and ``ssim``, on the luma when ``test_y_channel`` (MATLAB BT.601;
otherwise on the 8-bit RGB), ``crop_border`` pixels dropped (default: the scale); ``lpips`` when its
AlexNet weights are found (otherwise skipped with one warning); ``niqe`` (no reference, lower is
better) on the output's 8-bit luma, after the same crop.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from sr.checkpoints.pretrained import MissingWeightsError
from sr.data.imageio import Image, write_image
from sr.inference.evaluate import upscale_for_protocol
from sr.metrics import niqe_rgb, psnr, ssim
from sr.metrics.psnr_ssim import psnr_ssim
from sr.options.schema import MetricOptions

log = logging.getLogger(__name__)

KINDS = {
    "calculate_psnr": "psnr",
    "calculate_ssim": "ssim",
    "calculate_lpips": "lpips",
    "calculate_niqe": "niqe",
}
LOWER_IS_BETTER = ("lpips", "niqe")


def metric_kind(m: MetricOptions) -> str:
    return KINDS.get(m.type, m.type)


def higher_is_better(m: MetricOptions) -> bool:
    if m.better is not None:
        return m.better == "higher"
    return metric_kind(m) not in LOWER_IS_BETTER


def makes_lq(loader: object) -> bool:
    """Whether ``loader``'s dataset makes its LQ from the GT (the protocol applies), not from files."""
    return bool(getattr(getattr(loader, "dataset", None), "lq_from_gt", False))


@dataclass
class BestTracker:
    """Best value per ``dataset/metric`` and the iteration it was reached at."""

    best: dict[str, tuple[float, int]] = field(default_factory=dict)

    def update(self, key: str, value: float, it: int, higher: bool) -> bool:
        old = self.best.get(key)
        if old is None or (value > old[0] if higher else value < old[0]):
            self.best[key] = (value, it)
            return True
        return False

    def state_dict(self) -> dict[str, Any]:
        return {k: [v, i] for k, (v, i) in self.best.items()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best = {k: (float(v), int(i)) for k, (v, i) in state.items()}


class Validator:
    def __init__(
        self, metrics: dict[str, MetricOptions], scale: int, device: torch.device, protocol: str = "y"
    ) -> None:
        self.metrics, self.scale, self.device, self.protocol = metrics, scale, device, protocol
        self.tracker = BestTracker()
        self._lpips: nn.Module | None = None
        self._lpips_missing = False

    def _lpips_net(self) -> nn.Module | None:
        if self._lpips is None and not self._lpips_missing:
            try:
                from sr.metrics.lpips import LPIPS

                self._lpips = LPIPS().to(self.device)
            except MissingWeightsError as exc:
                log.warning("LPIPS skipped during validation: %s", exc)
                self._lpips_missing = True
        return self._lpips

    def _score(
        self,
        m: MetricOptions,
        sr: torch.Tensor,
        gt: torch.Tensor,
        scale: int,
        lumas: tuple[torch.Tensor, torch.Tensor] | None,
    ) -> float | None:
        kind = metric_kind(m)
        crop = scale if m.crop_border is None else m.crop_border
        if kind in ("psnr", "ssim") and m.test_y_channel and lumas is not None:  # as sr-eval scores
            pair = psnr_ssim(*lumas, crop_border=crop, quantize=self.protocol == "y")
            return pair[0 if kind == "psnr" else 1]
        if kind == "psnr":
            return psnr(sr, gt, crop_border=crop, y_channel=m.test_y_channel)
        if kind == "ssim":
            return ssim(sr, gt, crop_border=crop, y_channel=m.test_y_channel)
        if kind == "niqe":  # no reference: the output's luma alone (batch 1)
            return niqe_rgb(sr, crop_border=crop)
        net = self._lpips_net()
        if net is None:
            return None
        c = crop
        crop_sl = (..., slice(c, -c or None), slice(c, -c or None))
        with torch.inference_mode():
            return float(net(sr[crop_sl].to(self.device), gt[crop_sl].to(self.device)).mean())

    def _output(
        self, net: nn.Module, batch: dict[str, Any], scale: int, lq_from_gt: bool
    ) -> tuple[torch.Tensor, torch.Tensor, tuple[torch.Tensor, torch.Tensor] | None]:
        """``(output, gt, lumas)`` of one item: the output clamped to [0, 1] (``(1, C, H, W)``, on the
        CPU) and, where the LQ is made from the GT, the luma pair to score as ``sr-eval`` does."""
        gt = batch["gt"].float()
        if lq_from_gt:  # a gray file is scored as sr-eval scores it: its own values are the luma
            hr = Image(gt[0, :1] if bool(batch.get("gray", False)) else gt[0], None, 8, None, None)
            out, sr_y, gt_y = upscale_for_protocol(net, hr, scale, self.protocol, self.device, gt.shape[1])
            return out.float().unsqueeze(0), gt, (sr_y, gt_y)
        dtype = next((p.dtype for p in net.parameters()), torch.float32)
        lq = batch["lq"].to(self.device, dtype)
        return net(lq).float().clamp(0, 1).cpu(), gt, None

    def describe(self, loader: object) -> str:
        """How ``loader``'s set is scored, for the log: ``protocol y`` (as ``sr-eval`` says it)."""
        return f"protocol {self.protocol}" if makes_lq(loader) else "LQ files"

    @torch.inference_mode()
    def run(
        self,
        net: nn.Module,
        name: str,
        loader: Iterable[dict[str, Any]],
        it: int,
        save_dir: Path | None = None,
        scale: int | None = None,
    ) -> tuple[dict[str, float], torch.Tensor | None, bool]:
        """Mean of every metric over ``loader`` (batch 1). Returns them, the first output, and
        whether the first metric reached a new best."""
        was_training = net.training
        net.eval()
        sums: dict[str, float] = {}
        counts: dict[str, int] = {}
        first: torch.Tensor | None = None
        lq_from_gt = makes_lq(loader)
        for batch in loader:
            out, gt, lumas = self._output(net, batch, scale or self.scale, lq_from_gt)
            if first is None:
                first = out[0]
            for mname, m in self.metrics.items():
                value = self._score(m, out, gt, scale or self.scale, lumas)
                if value is not None:
                    sums[mname] = sums.get(mname, 0.0) + value
                    counts[mname] = counts.get(mname, 0) + 1
            if save_dir is not None:
                key = batch["key"][0] if isinstance(batch["key"], list | tuple) else batch["key"]
                write_image(save_dir / name / f"{key}_{it}.png", out[0])
        net.train(was_training)
        results = {k: sums[k] / counts[k] for k in sums}
        improved = []
        for mname, value in results.items():
            higher = higher_is_better(self.metrics[mname])
            improved.append(self.tracker.update(f"{name}/{mname}", value, it, higher))
            if improved[-1]:
                log.info("new best %s %s: %.4f at iter %d", name, mname, value, it)
        return results, first, bool(improved and improved[0])
