"""Rules between option keys, checked after typing; each error names the dotted key."""

from __future__ import annotations

from sr.options.schema import GAN_MODELS, DatasetOptions, Options
from sr.outputs import check_component

MAX_WORKERS = 64  # data-loader processes per GPU; more only costs memory


def check_rules(opt: Options, require_train: bool) -> None:
    """Semantic checks after typing; each error names the key."""
    check_component(opt.name, "name")  # the run folder experiments/<name>: one folder, inside
    if not 1 <= opt.scale <= 8:
        raise ValueError(f"scale: {opt.scale} is out of range; expected 1..8")
    train = opt.train
    if train.total_iter <= 0:
        raise ValueError(f"train.total_iter: {train.total_iter} must be > 0")
    if not 0.0 <= train.ema_decay < 1.0:
        raise ValueError(f"train.ema_decay: {train.ema_decay} is out of range; expected 0 <= ema_decay < 1")
    if train.net_d_iters < 1:
        raise ValueError(f"train.net_d_iters: {train.net_d_iters} must be >= 1")
    if train.net_d_init_iters < 0:
        raise ValueError(f"train.net_d_init_iters: {train.net_d_init_iters} must be >= 0")
    if train.grad_clip is not None and train.grad_clip <= 0:
        raise ValueError(f"train.grad_clip: {train.grad_clip} must be > 0 (or null for no clipping)")
    if opt.model_type in GAN_MODELS:
        for key, value in (("network_d", opt.network_d), ("train.gan_opt", train.gan_opt)):
            if value is None:
                raise ValueError(f"{key}: required for model_type {opt.model_type}")
        if train.optim_d is None:
            raise ValueError(f"train.optim_d: required for model_type {opt.model_type}")
    elif train.feature_matching_opt is not None:
        raise ValueError(
            f"train.feature_matching_opt: matches discriminator features, so it needs a GAN model_type "
            f"({', '.join(sorted(GAN_MODELS))}), not {opt.model_type}"
        )
    _check_scale_arg(opt)
    scales = _check_scales(opt)
    if require_train and "train" not in opt.datasets:
        raise ValueError("datasets.train: required for training (the training set)")
    for key, ds in opt.datasets.items():
        where = f"datasets.{key}"
        if key == "train" and ds.gt_size is None and ds.lq_size is None:
            raise ValueError(f"{where}.gt_size: required for the training set (the GT crop size; or lq_size)")
        _check_patch(where, ds.gt_size, ds.lq_size, scales)
        if ds.gt_bandlimit is not None and not 0 < ds.gt_bandlimit <= 1:
            raise ValueError(f"{where}.gt_bandlimit: {ds.gt_bandlimit} must be in (0, 1]")
        if ds.sources is not None:
            _check_sources(ds, where, scales)
        elif ds.dataroot_gt is None:
            raise ValueError(f"{where}.dataroot_gt: required for {ds.type}")
        if ds.type == "PairedImageDataset" and ds.dataroot_lq is None:
            raise ValueError(f"{where}.dataroot_lq: required for PairedImageDataset (or use HRImageDataset)")
        if ds.type == "HRImageDataset" and ds.dataroot_lq is not None:
            raise ValueError(
                f"{where}.dataroot_lq: HRImageDataset makes the LQ images itself; remove the key "
                "or use PairedImageDataset"
            )
        for name in ("batch_size_per_gpu", "dataset_enlarge_ratio"):
            if getattr(ds, name) < 1:
                raise ValueError(f"{where}.{name}: {getattr(ds, name)} must be >= 1")
        if not 0 <= ds.num_worker_per_gpu <= MAX_WORKERS:
            raise ValueError(
                f"{where}.num_worker_per_gpu: {ds.num_worker_per_gpu} must be 0 to {MAX_WORKERS} "
                "(each worker is a process)"
            )
    if opt.val is not None:
        if not any(k != "train" for k in opt.datasets):
            raise ValueError("val: needs at least one validation dataset (datasets.<name> other than train)")
        if opt.val.val_freq < 1:
            raise ValueError(f"val.val_freq: {opt.val.val_freq} must be >= 1")
        for key, metric in opt.val.metrics.items():
            if metric.crop_border is not None and metric.crop_border < 0:
                raise ValueError(f"val.metrics.{key}.crop_border: {metric.crop_border} must be >= 0")
    for name in ("print_freq", "save_checkpoint_freq"):
        if getattr(opt.logger, name) < 1:
            raise ValueError(f"logger.{name}: {getattr(opt.logger, name)} must be >= 1")
    if opt.logger.keep_last < 0:
        raise ValueError(f"logger.keep_last: {opt.logger.keep_last} must be >= 0 (0 keeps every state)")


def _check_scales(opt: Options) -> tuple[int, ...]:
    """The trained scales: ``scales`` (multi-scale; must hold ``scale`` and match a multi-scale
    ``network_g``'s own ``scales``) or just ``scale``."""
    if opt.scales is None:
        if opt.train.scale_weights is not None:
            raise ValueError("train.scale_weights: only with scales (multi-scale training)")
        return (opt.scale,)
    scales = tuple(opt.scales)
    if not scales or len(set(scales)) != len(scales) or any(not 1 <= s <= 8 for s in scales):
        raise ValueError(f"scales: {list(scales)} must be distinct scale factors in 1..8")
    if opt.scale not in scales:
        raise ValueError(f"scale: {opt.scale} must be one of scales {list(scales)}")
    net_scales = opt.network_g.get("scales")
    if net_scales is not None and tuple(net_scales) != scales:
        raise ValueError(f"network_g.scales: {list(net_scales)} differs from scales: {list(scales)}")
    if net_scales is None and len(scales) > 1 and "scales" not in _arg_names(opt.network_g.get("type")):
        raise ValueError(
            f"network_g.type: {opt.network_g.get('type')} has one scale; training scales {list(scales)} "
            "needs a multi-scale generator (MultiScaleMSRResNet, MultiScaleRRDBNet)"
        )
    weights = opt.train.scale_weights
    if weights is not None and (
        len(weights) != len(scales) or any(w < 0 for w in weights) or not sum(weights)
    ):
        raise ValueError(
            f"train.scale_weights: {list(weights)} must be {len(scales)} non-negative weights, one per "
            f"scale of {list(scales)}, not all zero"
        )
    return scales


def _arg_names(arch: object) -> list[str]:
    from sr.archs import ARCHS
    from sr.registry import accepted_kwargs

    return accepted_kwargs(ARCHS[arch])[0] if isinstance(arch, str) and arch in ARCHS else []


def _check_sources(ds: DatasetOptions, where: str, scales: tuple[int, ...]) -> None:
    if ds.type != "HRImageDataset":
        raise ValueError(f"{where}.sources: only for HRImageDataset (the LQ is made from each source)")
    if ds.dataroot_gt is not None or ds.meta_info_file is not None:
        raise ValueError(f"{where}.dataroot_gt: give the folders in sources, not here")
    if not ds.sources:
        raise ValueError(f"{where}.sources: empty; give at least one source")
    for i, src in enumerate(ds.sources):
        here = f"{where}.sources.{i}"
        if not 0 < src.resolution <= 1:
            raise ValueError(f"{here}.resolution: {src.resolution} must be in (0, 1] (1 = native)")
        if src.share <= 0:
            raise ValueError(f"{here}.share: {src.share} must be > 0")
        _check_patch(here, src.gt_size, src.lq_size, scales)


def _check_patch(where: str, gt_size: int | None, lq_size: int | None, scales: tuple[int, ...]) -> None:
    problem = patch_size_problem(gt_size, lq_size, scales)
    if problem:
        raise ValueError(f"{where}.{problem}")


def patch_size_problem(gt_size: int | None, lq_size: int | None, scales: tuple[int, ...]) -> str | None:
    """What is wrong with a training patch size, as ``"key: message"`` (None: nothing): ``gt_size``
    must be a positive multiple of every scale, ``lq_size`` positive, and not both given."""
    if gt_size is not None and lq_size is not None:
        return f"lq_size: give gt_size or lq_size, not both (gt_size {gt_size}, lq_size {lq_size})"
    if gt_size is not None and (gt_size <= 0 or any(gt_size % s for s in scales)):
        every = f"scale {scales[0]}" if len(scales) == 1 else f"every scale of {list(scales)}"
        return f"gt_size: {gt_size} must be a positive multiple of {every}"
    if lq_size is not None and lq_size <= 0:
        return f"lq_size: {lq_size} must be positive"
    return None


def _check_scale_arg(opt: Options) -> None:
    """A generator's own scale argument, when given, must equal ``scale``."""
    from sr.archs import SCALE_ARG

    name = opt.network_g.get("type")
    arg = SCALE_ARG.get(name) if isinstance(name, str) else None
    if arg not in (None, "scales") and arg in opt.network_g and opt.network_g[arg] != opt.scale:
        raise ValueError(f"network_g.{arg}: {opt.network_g[arg]!r} differs from scale: {opt.scale}")
