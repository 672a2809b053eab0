"""The training options: frozen, typed dataclasses with BasicSR's key names.

A YAML recipe maps one-to-one onto :class:`Options` (``sr.options.load_options`` reads and checks
it). Component sections keep BasicSR's ``{type: Name, **kwargs}`` shape; the field metadata
``registry`` names the ``module:attribute`` registry whose constructor signatures the kwargs are
checked against at load time. :data:`RENAMED` lists BasicSR keys that ``sr`` dropped or renamed,
with the replacement to name in the error.
"""

# component() returns dataclasses.field(default=None, ...), which ruff cannot see through
# ruff: noqa: RUF009

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Component = dict[str, Any]  # {"type": Name, **kwargs}


def registry_meta(registry: str, supplied: tuple[str, ...] = ()) -> dict[str, Any]:
    """Field metadata of a ``{type: Name, **kwargs}`` section checked against ``registry``
    (``"module:ATTR"``). ``supplied``: constructor arguments the builder passes itself (an
    optimizer's ``params``), rejected in the options."""
    return {"registry": registry, "supplied": supplied}


def component(registry: str, supplied: tuple[str, ...] = ()) -> Any:
    """An optional component section; None (the default) turns the feature off. Required ones are
    ``field(metadata=registry_meta(...))`` so that type checkers see they have no default."""
    return field(default=None, metadata=registry_meta(registry, supplied))


GAN_MODELS = ("SRGANModel", "ESRGANModel")
ARCHS = "sr.archs:ARCHS"
LOSSES = "sr.losses:LOSSES"
OPTIMIZERS = "sr.models.optim:OPTIMIZERS"
SCHEDULERS = "sr.models.optim:SCHEDULERS"


@dataclass(frozen=True)
class IOBackend:
    type: Literal["disk", "lmdb"] = "disk"


@dataclass(frozen=True)
class SourceOptions:
    """One source of a mixed-resolution training set (HR images only). ``resolution``: the GT is
    first downsampled by this factor with MATLAB bicubic (1 = native; cached once, not per epoch),
    then pairs are made as usual. ``share``: relative share of the training batches drawn from it.
    ``gt_size`` / ``lq_size``: this source's patch size (default: the dataset's; at most one of them)."""

    name: str
    dataroot_gt: str
    meta_info_file: str | None = None
    resolution: float = 1.0
    share: float = 1.0
    gt_size: int | None = None
    lq_size: int | None = None


@dataclass(frozen=True)
class DatasetOptions:
    """One dataset. ``PairedImageDataset``: GT and LQ folders (or LMDBs), LQ file name from
    ``filename_tmpl`` applied to the GT stem (DIV2K: ``'{}x4'``). ``HRImageDataset``: GT only, the
    LQ made on the fly by MATLAB bicubic at 1/scale (cached when ``cache``). Training patches: ``gt_size``
    (the GT side; the LQ side is ``gt_size / scale``) or ``lq_size`` (the LQ side at every scale; the GT
    side is ``lq_size * scale``), one of them; both null: whole images (validation)."""

    name: str
    type: Literal["PairedImageDataset", "HRImageDataset"] = "PairedImageDataset"
    dataroot_gt: str | None = None
    dataroot_lq: str | None = None
    meta_info_file: str | None = None
    filename_tmpl: str = "{}"
    io_backend: IOBackend = field(default_factory=IOBackend)
    gt_size: int | None = None
    lq_size: int | None = None
    use_hflip: bool = True
    use_rot: bool = True
    use_shuffle: bool = True
    num_worker_per_gpu: int = 2
    batch_size_per_gpu: int = 16
    dataset_enlarge_ratio: int = 1
    cache: bool = False
    on_corrupt: Literal["error", "skip"] = "error"
    # mixed-resolution training (HRImageDataset): several sources with resolutions and shares
    sources: list[SourceOptions] | None = None
    # band-limited targets: the GT patch is MATLAB-bicubic downsampled by this factor and upsampled
    # back, so it holds no frequency above that fraction of its Nyquist (a baseline for studies)
    gt_bandlimit: float | None = None


@dataclass(frozen=True)
class PathOptions:
    experiments_root: str = "experiments"
    pretrain_network_g: str | None = None
    param_key_g: str | None = "params"
    strict_load_g: bool = True
    pretrain_network_d: str | None = None
    param_key_d: str | None = "params"
    strict_load_d: bool = True
    resume_state: str | None = None


@dataclass(frozen=True)
class TrainOptions:
    total_iter: int
    optim_g: Component = field(metadata=registry_meta(OPTIMIZERS, ("params",)))
    optim_d: Component | None = component(OPTIMIZERS, supplied=("params",))
    scheduler: Component | None = component(SCHEDULERS, supplied=("optimizer", "warmup_iter"))
    warmup_iter: int = -1
    ema_decay: float = 0.0
    pixel_opt: Component | None = component(LOSSES)
    ssim_opt: Component | None = component(LOSSES)
    perceptual_opt: Component | None = component(LOSSES)
    # amplitude (and phase) of the Fourier transform: a perceptual term with no downloaded weights
    fourier_opt: Component | None = component(LOSSES)
    gan_opt: Component | None = component(LOSSES)
    # discriminator feature matching (GAN recipes only): a perceptual loss with no downloaded weights
    feature_matching_opt: Component | None = component(LOSSES)
    net_d_iters: int = 1
    net_d_init_iters: int = 0
    grad_clip: float | None = None
    mixed_precision: Literal["fp32", "bf16", "fp16"] = "fp32"
    channels_last: bool = False
    compile: bool = False
    # multi-scale training: relative weights of ``scales`` when drawing each batch's scale
    scale_weights: list[float] | None = None


@dataclass(frozen=True)
class MetricOptions:
    type: Literal[
        "psnr",
        "ssim",
        "lpips",
        "niqe",
        "calculate_psnr",
        "calculate_ssim",
        "calculate_lpips",
        "calculate_niqe",
    ]
    crop_border: int | None = None  # default: the scale
    test_y_channel: bool = True
    better: Literal["higher", "lower"] | None = None  # default: lower for lpips and niqe, else higher


@dataclass(frozen=True)
class ValOptions:
    val_freq: int = 5000
    # how an HR-only validation set is degraded and scored: sr-eval's --protocol (y: the papers'
    # MATLAB protocol, sr-eval's default; rgb: BasicSR's); sr.engine.validate
    protocol: Literal["y", "rgb"] = "y"
    save_img: bool = False
    metrics: dict[str, MetricOptions] = field(default_factory=dict)


@dataclass(frozen=True)
class LoggerOptions:
    print_freq: int = 100
    save_checkpoint_freq: int = 5000
    use_tb_logger: bool = True
    keep_last: int = 0  # training states to keep besides the latest; 0 keeps every one


@dataclass(frozen=True)
class DistOptions:
    backend: Literal["auto", "gloo", "nccl"] = "auto"


@dataclass(frozen=True)
class Options:
    """A training run. ``datasets`` holds ``train`` and any number of validation sets (any other
    name, e.g. ``val``, ``val_2``); ``model_type`` picks the recipe: ``SRModel`` (pixel/SSIM/
    perceptual) or ``SRGANModel``/``ESRGANModel`` (adds ``network_d`` and ``gan_opt``)."""

    name: str
    network_g: Component = field(metadata=registry_meta(ARCHS))
    train: TrainOptions
    model_type: Literal["SRModel", "SRGANModel", "ESRGANModel"] = "SRModel"
    scale: int = 4
    # multi-scale models: the scales trained (each batch has one); ``scale`` is then the one used
    # where a single scale is needed (e.g. the default of sr-eval)
    scales: list[int] | None = None
    manual_seed: int = 0
    deterministic: bool = False
    datasets: dict[str, DatasetOptions] = field(default_factory=dict)
    network_d: Component | None = component(ARCHS)
    path: PathOptions = field(default_factory=PathOptions)
    val: ValOptions | None = None
    logger: LoggerOptions = field(default_factory=LoggerOptions)
    dist_params: DistOptions = field(default_factory=DistOptions)


# BasicSR keys sr does not take, by dotted path ('*' matches one level), with what to use instead
RENAMED: dict[str, str] = {
    "num_gpu": "removed: the number of processes comes from torchrun (--nproc_per_node); one process "
    "uses one device",
    "is_train": "removed: sr-train always trains",
    "dist": "removed: distributed mode is on when launched by torchrun",
    "datasets.*.phase": "removed: 'train' is the training set, every other entry a validation set",
    "datasets.*.prefetch_mode": "removed: DataLoader workers already prefetch; use num_worker_per_gpu",
    "datasets.*.pin_memory": "removed: memory is pinned automatically on CUDA",
    "datasets.*.dataroot_lr": "renamed to dataroot_lq",
    "datasets.*.dataroot_hr": "renamed to dataroot_gt",
    "datasets.*.batch_size": "renamed to batch_size_per_gpu",
    "datasets.*.n_workers": "renamed to num_worker_per_gpu",
    "datasets.*.HR_size": "renamed to gt_size",
    "datasets.*.use_flip": "renamed to use_hflip",
    "network_G": "renamed to network_g",
    "network_D": "renamed to network_d",
    "path.pretrain_model_G": "renamed to path.pretrain_network_g",
    "path.strict_load": "renamed to path.strict_load_g",
    "path.models": "removed: checkpoints go to <experiments_root>/<name>/models",
    "path.training_states": "removed: training states go to <experiments_root>/<name>/training_states",
    "path.log": "removed: logs go to <experiments_root>/<name>",
    "path.visualization": "removed: validation images go to <experiments_root>/<name>/visualization",
    "train.niter": "renamed to train.total_iter",
    "train.scheduler.warmup_iter": "moved to train.warmup_iter",
    "train.lr_G": "renamed to train.optim_g.lr",
    "train.lr_D": "renamed to train.optim_d.lr",
    "train.pixel_weight": "renamed to train.pixel_opt.loss_weight",
    "train.feature_weight": "renamed to train.perceptual_opt.perceptual_weight",
    "train.gan_weight": "renamed to train.gan_opt.loss_weight",
    "train.gan_type": "renamed to train.gan_opt.gan_type",
    "train.D_update_ratio": "renamed to train.net_d_iters",
    "train.D_init_iters": "renamed to train.net_d_init_iters",
    "train.use_grad_scaler": "removed: fp16 always uses a grad scaler; set train.mixed_precision",
    "val.suffix": "removed: validation images are saved as <name>_<iter>.png",
    "val.pbar": "removed: the console shows progress unless not a terminal",
    "logger.wandb": "removed: sr logs to TensorBoard (logger.use_tb_logger)",
    "dist_params.port": "removed: torchrun sets MASTER_PORT (--master_port)",
}
