"""Run logging: a log file in the run folder, console lines with speed and ETA, TensorBoard.

The console handler belongs to the CLI; this module adds the run's file handler and formats the
periodic training line. TensorBoard (``<run>/tb_logger``) is written by rank 0 only.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import torch

log = logging.getLogger("sr.train")

FORMAT = "%(asctime)s %(levelname)s: %(message)s"


def add_file_handler(run_dir: Path) -> logging.Handler:
    handler = logging.FileHandler(run_dir / f"train_{time.strftime('%Y%m%d_%H%M%S')}.log", encoding="utf-8")
    handler.setFormatter(logging.Formatter(FORMAT))
    logging.getLogger("sr").addHandler(handler)
    return handler


class Progress:
    """Formats ``[iter 1200/400000] lr_g 1.0e-04 | l_pix 0.0123 | 0.41 s/it | ETA 1d 21:30:00``."""

    def __init__(self, start_iter: int, total_iter: int) -> None:
        self.total = total_iter
        self.last_iter, self.last_time = start_iter, time.perf_counter()

    def line(self, it: int, lrs: dict[str, float], losses: dict[str, float]) -> str:
        now = time.perf_counter()
        per_iter = (now - self.last_time) / max(it - self.last_iter, 1)
        self.last_iter, self.last_time = it, now
        eta = int(per_iter * (self.total - it))
        days, rest = divmod(eta, 86400)
        eta_text = (f"{days}d " if days else "") + time.strftime("%H:%M:%S", time.gmtime(rest))
        parts = [f"[iter {it}/{self.total}]"]
        parts += [f"{k} {v:.2e}" for k, v in lrs.items()]
        parts += [f"{k} {v:.4g}" for k, v in losses.items()]
        parts += [f"{per_iter:.3f} s/it", f"ETA {eta_text}"]
        return " | ".join(parts)


class TensorBoard:
    """A SummaryWriter when enabled, else a sink that drops everything."""

    def __init__(self, folder: Path | None) -> None:
        self.writer: Any = None
        if folder is not None:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(log_dir=str(folder))

    def scalars(self, prefix: str, values: dict[str, float], step: int) -> None:
        if self.writer is not None:
            for k, v in values.items():
                self.writer.add_scalar(f"{prefix}/{k}", v, step)

    def image(self, tag: str, image: torch.Tensor, step: int) -> None:
        if self.writer is not None:
            self.writer.add_image(tag, image.clamp(0, 1), step)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.flush()
            self.writer.close()
