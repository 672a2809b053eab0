"""The training loop: cadence (log, validate, save), resume, signals. What one iteration does is
the model's business (``sr.models``).

Run folder ``<experiments_root>/<name>/``: ``options.yml`` (the resolved options the run started with;
a resume with other options adds ``options_<time>.yml``), ``train_*.log``,
``models/net_g_<iter>.pth`` (``params``/``params_ema``/``arch``), ``models/net_g_latest.pth``,
``models/net_g_best.pth``, ``training_states/<iter>.state``, ``visualization/``, ``tb_logger/``.
Iterations are 1-based; the state saved after iteration ``k`` resumes at ``k + 1`` with the same
weights, optimizer moments, schedule, RNG and data stream, so an interrupted CPU run in
deterministic mode ends bit-identical to an uninterrupted one.
"""

from __future__ import annotations

import logging
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from types import FrameType
from typing import Any

import torch
import yaml

from sr.archs import ScaleView, build_meta, parameter_count, scales_of
from sr.atomic import atomic_write_bytes
from sr.checkpoints import CheckpointError, check_checkpoint_file
from sr.checkpoints.bundled import resolve_checkpoint
from sr.data import build_dataset, build_train_loader, build_val_loader, error_text, iterate_forever
from sr.device import available_memory
from sr.engine.dist import DistContext, RankFailedError
from sr.engine.logger import Progress, TensorBoard, add_file_handler
from sr.engine.state import (
    latest_state,
    list_states,
    load_state,
    prune_states,
    restore_rng,
    save_state,
    set_aside_newer,
    state_damage,
)
from sr.engine.validate import Validator
from sr.models import NonFiniteLossError, SRModel, build_model
from sr.options import OptionsError, dump_options, read_yaml
from sr.options.schema import Options

log = logging.getLogger("sr.train")


class RunFolderExistsError(FileExistsError):
    pass


class SourceShares:
    """Counts the training batches drawn from each source of a mixed-resolution set."""

    def __init__(self, names: list[str]) -> None:
        self.names = names
        self.counts = [0] * len(names)

    def count(self, batch: dict[str, Any]) -> None:
        if self.names:
            self.counts[int(batch["source"][0])] += 1

    def realised(self) -> dict[str, float]:
        total = max(sum(self.counts), 1)
        return {f"share_{n}": c / total for n, c in zip(self.names, self.counts, strict=True)}

    def text(self) -> str:
        return ", ".join(f"{k[6:]} {v:.3f}" for k, v in self.realised().items())


class StopRequested:
    """SIGINT/SIGTERM set a flag; the loop saves and stops after the current iteration."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self._old: dict[int, Any] = {}

    def __enter__(self) -> StopRequested:
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._old[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.signum is not None:  # a second signal: stop now
            raise KeyboardInterrupt
        self.signum = signum
        log.warning("signal %d received: saving after this iteration, then stopping", signum)

    def __exit__(self, *exc: object) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)

    def agreed(self, ctx: DistContext) -> bool:
        """Whether any rank was signalled (all ranks must stop at the same iteration)."""
        return bool(ctx.ranks_with(self.signum is not None))


def _producer_hint(path: str) -> str:
    """For a missing ``experiments/RUN/models/FILE``: which recipe writes it, when ``options/RUN.yml``
    exists (relative to the working folder, where recipes name their data too)."""
    parts = Path(path).parts
    if len(parts) >= 3 and parts[-2] == "models" and not Path(path).exists():
        recipe = Path("options") / f"{parts[-3]}.yml"
        if recipe.is_file():
            return (
                f"; it is the result of another run: train it first with sr-train -opt {recipe}, "
                "or point the key at an existing checkpoint"
            )
    return ""


def batch_bytes(opt: Options) -> float:
    """The float32 GT and LQ patches of one training batch, times three (the batch in use and the two
    the loader prefetches): a lower bound on what the data alone takes."""
    ds = opt.datasets["train"]
    scales = opt.scales or (opt.scale,)
    sizes = [(ds.gt_size, ds.lq_size)] + [(s.gt_size, s.lq_size) for s in ds.sources or ()]
    gt = max((g or (q or 0) * max(scales)) for g, q in sizes)
    lq = gt / min(scales)
    return 3.0 * ds.batch_size_per_gpu * 3 * 4 * (gt * gt + lq * lq)


def check_model_memory(opt: Options, device: torch.device) -> None:
    """Refuse, before anything is built or written, a training batch whose patches alone
    (:func:`batch_bytes`), or networks whose weights, gradients and Adam moments
    alone (16 bytes per parameter, plus the EMA copy) exceed the memory free on ``device``: the
    parameter counts come from the models built on the meta device, which allocates nothing."""
    sections = [("network_g", opt.network_g), ("network_d", opt.network_d)]
    counts = {}
    for key, section in sections:
        if section is not None:
            try:
                counts[key] = parameter_count(build_meta(section))
            except (ValueError, TypeError) as err:
                raise ValueError(f"{key}: {err}") from None
    need = 16 * sum(counts.values()) + (4 * counts["network_g"] if opt.train.ema_decay > 0 else 0)
    free = available_memory(device)
    batch = batch_bytes(opt)
    if batch > free:
        ds = opt.datasets["train"]
        raise ValueError(
            f"datasets.train: a batch of {ds.batch_size_per_gpu} patches needs about {batch / 2**30:.1f} "
            f"GiB for the images alone (before any activation); {device} has {free / 2**30:.1f} GiB free"
        )
    if need > free:
        sizes = ", ".join(f"{k} {n / 1e6:,.1f} M parameters" for k, n in counts.items())
        raise ValueError(
            f"{sizes}: training needs about {need / 2**30:.1f} GiB for the weights, gradients and Adam's "
            f"moments alone (before any activation); {device} has {free / 2**30:.1f} GiB free"
        )


class Trainer:
    def __init__(self, opt: Options, ctx: DistContext, *, resume: str | Path | None = None) -> None:
        self.opt, self.ctx = opt, ctx
        self.run_dir = Path(opt.path.experiments_root) / opt.name
        self.models_dir = self.run_dir / "models"
        self.states_dir = self.run_dir / "training_states"
        self.resume_path = Path(resume) if resume else None
        self.model: SRModel | None = None  # built by fit()
        self._saved_iter = -1  # the iteration rank 0 last wrote a checkpoint of
        if opt.deterministic:
            torch.use_deterministic_algorithms(True)
            torch.backends.cudnn.benchmark = False
        elif ctx.device.type == "cuda":
            torch.backends.cudnn.benchmark = True

    # --------------------------------------------------------------- set-up
    @classmethod
    def auto_resume_path(cls, opt: Options) -> Path | None:
        """The newest training state of the run that can be read. A newer one that cannot (truncated
        or damaged: a full disk, a copy cut short) is passed over with a warning naming it, and kept: the
        resumed run moves it, with any other newer state, to ``training_states/abandoned_<time>/``."""
        states = list_states(Path(opt.path.experiments_root) / opt.name / "training_states")
        for path in reversed(states):
            damage = state_damage(path)  # the directory only: fit() loads the chosen state once
            if damage is not None:
                log.warning("--auto-resume: skipping %s: %s", path.name, damage)
                continue
            if path != states[-1]:
                log.warning("--auto-resume: resuming from %s, the newest state that can be read", path)
            return path
        return None

    def _require_pretrained(self) -> None:
        """Fail before anything is built or written when a ``path.pretrain_network_*`` file is missing,
        a directory or empty (the checkpoint loader's own checks, run early). A bundled model's name
        (``default``, ``default-gan``) stands for its file. A missing ``experiments/RUN/models/...``
        file names the recipe that writes it (ESRGAN starts from the RRDB-PSNR run's result)."""
        for key in ("pretrain_network_g", "pretrain_network_d"):
            value = getattr(self.opt.path, key)
            if value:
                try:
                    check_checkpoint_file(resolve_checkpoint(value))
                except CheckpointError as e:
                    raise CheckpointError(f"path.{key}: {e}{_producer_hint(value)}") from e

    def _prepare_run_dir(self) -> None:
        if self.resume_path is None and latest_state(self.states_dir) is not None:
            raise RunFolderExistsError(
                f"{self.run_dir} already holds training states; continue it with --auto-resume, "
                f"or choose another name (name: ... or --set name=...)"
            )
        if self.ctx.is_main:
            for d in (self.models_dir, self.states_dir):
                d.mkdir(parents=True, exist_ok=True)
            self._record_options()
        self.ctx.barrier()

    def _record_options(self) -> None:
        """``options.yml``: the options the run started with, written once. A resume never rewrites
        it (it may be the very file given to ``-opt``); where the resumed options differ, they are
        kept beside it as ``options_<time>.yml``."""
        text = dump_options(self.opt)
        first = self.run_dir / "options.yml"
        if not first.exists():
            atomic_write_bytes(first, text.encode())
            return
        try:
            same = read_yaml(first) == yaml.safe_load(text)
        except OptionsError:
            same = False
        if not same:
            stamp = time.strftime("%Y%m%d_%H%M%S")
            atomic_write_bytes(self.run_dir / f"options_{stamp}.yml", text.encode())

    def _datasets(self) -> tuple[Any, dict[str, tuple[int, Any]]]:
        """The training set, and ``{label: (scale, loader)}`` of the validation sets; a multi-scale
        run validates every set at every scale (labels ``Set5_x2``, ``Set5_x3``, ...)."""
        opt = self.opt
        train_set = build_dataset(opt.datasets["train"], opt.scale, key="datasets.train", scales=opt.scales)
        vals: dict[str, tuple[int, Any]] = {}
        if opt.val is not None:
            scales = list(opt.scales) if opt.scales else [opt.scale]
            for key, dopt in opt.datasets.items():
                if key == "train":
                    continue
                for s in scales:
                    label = dopt.name if len(scales) == 1 else f"{dopt.name}_x{s}"
                    vals[label] = (s, build_val_loader(build_dataset(dopt, s, key=f"datasets.{key}")))
        return train_set, vals

    # --------------------------------------------------------------- the loop
    def fit(self) -> Path:
        """Train to ``train.total_iter`` (or until a signal); return the run folder."""
        opt, ctx = self.opt, self.ctx
        self._require_pretrained()
        check_model_memory(opt, ctx.device)
        self._prepare_run_dir()
        handler = add_file_handler(self.run_dir) if ctx.is_main else None
        tb = TensorBoard(self.run_dir / "tb_logger" if ctx.is_main and opt.logger.use_tb_logger else None)
        try:
            return self._fit(tb)
        finally:
            tb.close()
            if handler is not None:
                logging.getLogger("sr").removeHandler(handler)
                handler.close()

    def _fit(self, tb: TensorBoard) -> Path:
        opt, ctx = self.opt, self.ctx
        train_set, val_loaders = self._datasets()
        model = self.model = build_model(opt, ctx.device, ctx.world_size)
        validator = Validator(
            opt.val.metrics if opt.val else {}, opt.scale, ctx.device, opt.val.protocol if opt.val else "y"
        )
        start = 0
        if self.resume_path is not None:
            state = load_state(self.resume_path)
            try:
                model.load_state_dict(state["model"])
            except (RuntimeError, KeyError, ValueError) as err:
                first = str(err).strip().splitlines()[0][:300] if str(err).strip() else type(err).__name__
                raise ValueError(
                    f"{self.resume_path}: this training state does not fit the run's options (was network_g, "
                    f"network_d or an optimizer changed since it was saved?): {first}"
                ) from None
            if state.get("best_protocol") == validator.protocol:
                validator.tracker.load_state_dict(state.get("best", {}))
            elif state.get("best"):  # bests scored another way cannot be compared with new scores
                was = state.get("best_protocol") or "the protocol before it was recorded"
                log.warning(
                    "%s: its best validation scores were measured under %s, this run validates under "
                    "protocol %s: the bests (and net_g_best) start afresh",
                    self.resume_path,
                    was if was.startswith("the") else f"protocol {was}",
                    validator.protocol,
                )
            restore_rng(state["rng"])
            start = int(state["iter"])
            log.info("resumed from %s at iteration %d", self.resume_path, start)
            aside = set_aside_newer(self.states_dir, start) if ctx.is_main else None
            if aside is not None:
                log.warning(
                    "states newer than iteration %d belong to an abandoned run; moved to %s", start, aside
                )
        train_opt = opt.datasets["train"]
        loader, sampler = build_train_loader(
            train_set,
            train_opt,
            seed=opt.manual_seed,
            rank=ctx.rank,
            world_size=ctx.world_size,
            start_iter=start,
            scales=opt.scales,
            scale_weights=opt.train.scale_weights,
        )
        shares = SourceShares([s.name for s in train_opt.sources] if train_opt.sources else [])
        batches = iterate_forever(loader, sampler, start)
        total = opt.train.total_iter
        log.info(
            "training %s (%s, %s) on %s: %d images, batch %d x %d process(es), iterations %d..%d",
            opt.name,
            opt.model_type,
            opt.network_g["type"],
            ctx.device,
            len(train_set),
            train_opt.batch_size_per_gpu,
            ctx.world_size,
            start + 1,
            total,
        )
        progress = Progress(start, total)
        it = start
        with StopRequested() as stop:
            for it in range(start + 1, total + 1):
                with self._kept_on_error(
                    model, validator, "reading the data", it, keep=it - 1, start=start, every_rank=True
                ):
                    batch = self._next_batch(batches, it)  # a corrupt image read lazily fails here
                shares.count(batch)
                lrs = model.learning_rates()  # the rates this iteration uses
                try:
                    logs = model.train_step(batch, it)
                except NonFiniteLossError as exc:
                    raise NonFiniteLossError(
                        f"iteration {it}: {exc}; the last good state in {self.states_dir} is intact"
                    ) from None
                if it % opt.logger.print_freq == 0 or it == total:
                    logs = ctx.mean(logs)
                    if ctx.is_main:
                        log.info(progress.line(it, lrs, logs))
                        tb.scalars("train", {**logs, **lrs}, it)
                        if shares.names:
                            log.info("realised source shares: %s", shares.text())
                            tb.scalars("data", shares.realised(), it)
                if opt.val is not None and val_loaders and it % opt.val.val_freq == 0:
                    with self._kept_on_error(model, validator, "validation", it, keep=it, start=start):
                        self._validate(model, validator, val_loaders, it, tb)
                stopping = stop.agreed(ctx)
                if it % opt.logger.save_checkpoint_freq == 0 or it == total or stopping:
                    self._save(model, validator, it)
                if stopping:
                    log.warning("stopped at iteration %d; resume with --auto-resume", it)
                    raise KeyboardInterrupt
        if ctx.is_main:
            model.save_weights(self.models_dir, "latest")
        log.info("done: %d iterations; weights in %s", it, self.models_dir)
        return self.run_dir

    def _next_batch(self, batches: Iterator[Any], it: int) -> Any:
        """The next batch. Under DDP the ranks then agree that each read its batch: when one fails (a
        corrupt image), the others stop too, rather than wait in the step's collectives until torchrun
        kills them, and rank 0 keeps the last iteration."""
        try:
            batch = next(batches)
        except Exception:
            with suppress(Exception):  # tell the others; this rank's own error is the one to report
                self.ctx.ranks_with(True)
            raise
        failed = self.ctx.ranks_with(False)
        if failed:
            ranks = f"rank{'s' if len(failed) > 1 else ''} {', '.join(map(str, failed))}"
            raise RankFailedError(f"iteration {it}: {ranks} could not read a batch; the error there says why")
        return batch

    def _save(self, model: SRModel, validator: Validator, it: int) -> None:
        if self.ctx.is_main:
            self._write_checkpoint(model, validator, it)
        self.ctx.barrier()

    @contextmanager
    def _kept_on_error(
        self,
        model: SRModel,
        validator: Validator,
        what: str,
        it: int,
        *,
        keep: int,
        start: int,
        every_rank: bool = False,
    ) -> Iterator[None]:
        """On an error inside (a corrupt image, say) rank 0 saves the state of iteration ``keep``, whose
        weights are sound, before the error ends the run; nothing new to save when ``keep`` is ``start``.
        ``every_rank``: all ranks meet the error (they agreed on it), and wait for that save before ending,
        so that torchrun, which stops the others once one process ends, cannot cut it short."""
        try:
            yield
        except Exception as exc:
            if self.ctx.is_main and keep > start:
                if keep != self._saved_iter:  # not when it was just due as a checkpoint
                    self._write_checkpoint(model, validator, keep)
                log.error(
                    "%s at iteration %d failed: %s; iteration %d is saved: fix it, then --auto-resume",
                    what,
                    it,
                    error_text(exc),
                    keep,
                )
            if every_rank:
                with suppress(Exception):  # the error above is the one to report
                    self.ctx.barrier()
            raise

    def _write_checkpoint(self, model: SRModel, validator: Validator, it: int) -> None:
        """Weights and training state of iteration ``it`` (rank 0's work; no barrier)."""
        model.save_weights(self.models_dir, str(it))
        extra = {"best": validator.tracker.state_dict(), "best_protocol": validator.protocol}
        path = save_state(self.states_dir, it, model.state_dict(), extra)
        prune_states(self.states_dir, self.opt.logger.keep_last)
        self._saved_iter = it
        log.info("saved %s", path)

    def _validate(
        self, model: SRModel, validator: Validator, loaders: dict[str, Any], it: int, tb: TensorBoard
    ) -> None:
        if self.ctx.is_main:
            assert self.opt.val is not None
            save_dir = self.run_dir / "visualization" if self.opt.val.save_img else None
            net = model.eval_net()
            for i, (name, (scale, loader)) in enumerate(loaders.items()):
                view = ScaleView(net, scale) if len(scales_of(net)) > 1 else net
                results, first, improved = validator.run(view, name, loader, it, save_dir, scale)
                text = ", ".join(f"{k} {v:.4f}" for k, v in results.items())
                how = validator.describe(loader)
                log.info("validation %s at iter %d (%s): %s", name, it, how, text)
                tb.scalars(f"val/{name}", results, it)
                if first is not None:
                    tb.image(f"val/{name}", first, it)
                if improved and i == 0:
                    model.save_weights(self.models_dir, "best")
        self.ctx.barrier()


def train(
    opt: Options,
    ctx: DistContext,
    *,
    resume: str | Path | None = None,
    auto_resume: bool = False,
) -> Path:
    """Run ``opt``; ``auto_resume`` continues the newest state of the run folder when there is one."""
    if resume is None and opt.path.resume_state:
        resume = opt.path.resume_state
    if resume is None and auto_resume:
        resume = Trainer.auto_resume_path(opt)
    return Trainer(opt, ctx, resume=resume).fit()
