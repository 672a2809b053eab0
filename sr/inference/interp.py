"""ESRGAN network interpolation (Wang et al., ECCV 2018 workshops, Sec. 3.4).

Parameters are blended tensor by tensor, ``theta = (1 - alpha) * theta_PSNR + alpha * theta_GAN``
(the paper's convention: ``alpha = 0.8`` is 80 % GAN). Floating tensors are blended in float64 and
stored in their own dtype (the promoted dtype when the two differ), so ``alpha = 0`` and ``alpha = 1``
reproduce the inputs bit for bit; other tensors (integer buffers such as BatchNorm's
``num_batches_tracked``) are copied from the PSNR model.

``sweep`` writes one checkpoint per alpha; ``evaluate_sweep`` scores them (and optionally the
image-space blend ``(1 - alpha) * SR_PSNR + alpha * SR_GAN``, the paper's baseline) with
``sr.inference.evaluate.evaluate_folder``; ``write_report`` writes the table, JSON and the
perception-distortion plot.
"""

from __future__ import annotations

import inspect
import io
import json
import logging
import math
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from sr.archs import ARCHS, SCALE_ARG, ScaleView, arch_class, build, check_arch_args, scales_of
from sr.atomic import atomic_write_bytes
from sr.checkpoints import (
    CheckpointError,
    detect_arch,
    load_model,
    load_weights,
    read_state_dict,
    save_checkpoint,
)
from sr.checkpoints.load import check_loadable, model_from_state
from sr.inference.evaluate import DatasetResult, evaluate_folder

log = logging.getLogger(__name__)

StateDict = Mapping[str, torch.Tensor]
MAX_ALPHAS = 1001
METHODS = {"network": "network interpolation", "image": "image blend"}


class InterpError(ValueError):
    """Incompatible models, an alpha out of range, or an unreadable ``--alphas`` value."""


@dataclass(frozen=True)
class Weights:
    """A generator's weights in BasicSR's key layout with its architecture, every constructor
    argument spelled out (``{"type": Name, **kwargs}``)."""

    path: Path
    state: dict[str, torch.Tensor]
    arch: dict[str, Any]

    def build(self) -> nn.Module:
        """The network with these weights, in eval mode on the CPU."""
        model = build(self.arch)
        load_weights(model, self.state, str(self.path))
        return model.eval()


def read_weights(
    path: str | os.PathLike[str], *, scale: int | None = None, net_opt: Mapping[str, Any] | None = None
) -> Weights:
    """Read any supported checkpoint (format, wrapper and key layout) with its architecture: the one
    stored in the file, else ``detect_arch``'s; ``net_opt`` overrides arguments; ``scale`` supplies
    a scale the weights cannot tell (SRCNN). Non-generators and unknown scales raise
    ``CheckpointError`` naming the file."""
    path = Path(path)
    state, meta = read_state_dict(path)
    undetermined: tuple[str, ...] = ()
    if "arch" in meta:
        arch = dict(meta["arch"])
    else:
        spec = detect_arch(state, source=str(path))
        arch, undetermined = spec.as_opt(), spec.undetermined
    kind = arch["type"]
    if kind not in SCALE_ARG:
        raise CheckpointError(
            f"{path}: holds a {kind}, not a super-resolution generator; "
            f"sr-interp blends {', '.join(sorted(SCALE_ARG))}"
        )
    overrides = {k: v for k, v in (net_opt or {}).items() if k != "type"}
    try:
        check_arch_args(kind, overrides)
    except ValueError as exc:
        raise CheckpointError(f"{path}: net_opt: {exc}") from None
    arch.update(overrides)
    scale_arg = SCALE_ARG[kind]
    if scale_arg in undetermined and scale_arg not in overrides:
        if scale is None:
            raise CheckpointError(
                f"{path}: the scale of this {kind} cannot be told from its weights; pass --scale N"
            )
        arch[scale_arg] = scale
    arch = full_arch(arch, str(path))
    check_loadable(state, arch, str(path))  # a recorded arch that lies about the tensors: refused here
    return Weights(path, state, arch)


def full_arch(arch: Mapping[str, Any], source: str = "arch") -> dict[str, Any]:
    """``arch`` with every constructor default filled in and JSON-normalised (tuples -> lists), so
    that two descriptions of the same network compare equal."""
    kind = arch.get("type")
    if kind not in ARCHS:
        raise CheckpointError(f"{source}: unknown architecture {kind!r}; sr knows {sorted(ARCHS)}")
    params = inspect.signature(arch_class(kind).__init__).parameters
    out: dict[str, Any] = {"type": kind}
    for name, p in params.items():
        if name != "self" and p.default is not inspect.Parameter.empty:
            out[name] = p.default
    out.update({k: v for k, v in arch.items() if k != "type"})
    if kind == "SRCNN" and out.get("num_out_ch") is None:  # SRCNN's None means "as num_in_ch"
        out["num_out_ch"] = out["num_in_ch"]
    return json.loads(json.dumps(out))


def check_compatible(
    psnr_sd: StateDict,
    gan_sd: StateDict,
    *,
    psnr_arch: Mapping[str, Any] | None = None,
    gan_arch: Mapping[str, Any] | None = None,
    names: tuple[str, str] = ("PSNR model", "GAN model"),
) -> None:
    """Raise ``InterpError`` naming the first difference: architecture type or argument (when both
    archs are given), then the first key (in the PSNR model's order, then the GAN model's) missing
    on one side or with a different shape."""
    a, b = names
    if psnr_arch is not None and gan_arch is not None:
        fa, fb = full_arch(psnr_arch, a), full_arch(gan_arch, b)
        if fa["type"] != fb["type"]:
            raise InterpError(f"architectures differ: {a} is {fa['type']}, {b} is {fb['type']}")
        for k in fa:
            if fa[k] != fb.get(k):
                raise InterpError(
                    f"architectures differ: {fa['type']} argument {k!r} is {fa[k]!r} in {a}, "
                    f"{fb.get(k)!r} in {b}"
                )
    for key, value in psnr_sd.items():
        if key not in gan_sd:
            raise InterpError(f"key {key!r} is in {a} but missing from {b}")
        if tuple(value.shape) != tuple(gan_sd[key].shape):
            raise InterpError(
                f"shape of {key!r} differs: {tuple(value.shape)} in {a} vs {tuple(gan_sd[key].shape)} in {b}"
            )
    for key in gan_sd:
        if key not in psnr_sd:
            raise InterpError(f"key {key!r} is in {b} but missing from {a}")


def check_alpha(alpha: float, *, allow_extrapolation: bool = False) -> float:
    """Return ``alpha`` as a float; non-finite values, and values outside [0, 1] unless
    ``allow_extrapolation``, raise ``InterpError``."""
    alpha = float(alpha)
    if not math.isfinite(alpha):
        raise InterpError(f"alpha {alpha!r} is not a finite number")
    if not allow_extrapolation and not 0.0 <= alpha <= 1.0:
        raise InterpError(
            f"alpha {alpha:g} is outside [0, 1] (0 = PSNR model, 1 = GAN model); "
            "pass --allow-extrapolation to extrapolate"
        )
    return alpha + 0.0  # -0.0 -> 0.0


def interpolate(
    psnr_sd: StateDict, gan_sd: StateDict, alpha: float, *, allow_extrapolation: bool = False
) -> dict[str, torch.Tensor]:
    """``(1 - alpha) * psnr_sd + alpha * gan_sd`` per floating tensor (computed in float64, stored in
    the tensors' dtype); other tensors copied from ``psnr_sd``. Keys in ``psnr_sd``'s order.
    Raises ``InterpError`` for incompatible state dicts or a bad ``alpha``."""
    alpha = check_alpha(alpha, allow_extrapolation=allow_extrapolation)
    check_compatible(psnr_sd, gan_sd)
    out: dict[str, torch.Tensor] = {}
    for key, a in psnr_sd.items():
        b = gan_sd[key]
        if a.is_floating_point() and b.is_floating_point():
            blended = (1.0 - alpha) * a.double() + alpha * b.double()
            out[key] = blended.to(torch.promote_types(a.dtype, b.dtype))
        else:
            if not torch.equal(a, b):
                log.debug("%s: non-floating tensor differs between the models; keeping the PSNR model's", key)
            out[key] = a.clone()
    return out


def blend_for_saving(psnr: Weights, gan: Weights, alpha: float) -> dict[str, torch.Tensor]:
    """:func:`interpolate` (extrapolation allowed), with the values a model derives from its weights
    recomputed from the blend instead of blended (SPAN's fused ``eval_conv`` kernels: a blend of
    fused kernels is not the fused kernel of the blend): the state dict as the blended model saves it."""
    state = interpolate(psnr.state, gan.state, alpha, allow_extrapolation=True)
    model = build(psnr.arch)
    model.load_state_dict(state)
    saved = model.state_dict()
    return {k: saved[k].to(v.dtype) for k, v in state.items()}  # the blend's key order and dtypes


def blended_model(
    psnr_model: str | os.PathLike[str],
    gan_model: str | os.PathLike[str],
    alpha: float,
    *,
    scale: int | None = None,
    net_opt: Mapping[str, Any] | None = None,
) -> nn.Module:
    """The generator with weights ``(1 - alpha) * PSNR + alpha * GAN``, blended in memory (no file),
    as ``load_model`` returns it (a multi-scale model as the ``ScaleView`` of ``scale``). Both
    checkpoints must have the same architecture; ``alpha`` must lie in [0, 1]."""
    alpha = check_alpha(alpha)
    psnr = read_weights(psnr_model, scale=scale, net_opt=net_opt)
    gan = read_weights(gan_model, scale=scale, net_opt=net_opt)
    names = (f"PSNR model {psnr.path}", f"GAN model {gan.path}")
    check_compatible(psnr.state, gan.state, psnr_arch=psnr.arch, gan_arch=gan.arch, names=names)
    state = interpolate(psnr.state, gan.state, alpha)
    source = f"{psnr.path} x {gan.path} at alpha {alpha_label(alpha)}"
    return model_from_state(state, {"arch": psnr.arch}, source=source, scale=scale)


def parse_alphas(text: str) -> list[float]:
    """``"START:STOP:STEP"`` (STOP included when on the grid, up to float error; values rounded to
    10 decimals, so ``0:1:0.1`` gives 0.3, not 0.30000000000000004) or a comma list
    ``"0,0.5,0.8"``. Duplicates, a zero or wrong-signed step, non-numbers and more than
    ``MAX_ALPHAS`` values raise ``InterpError``. Range is checked separately (``check_alpha``)."""
    text = text.strip()
    try:
        if ":" in text:
            parts = [float(p) for p in text.split(":")]
            if len(parts) != 3:
                raise InterpError(f"--alphas {text!r}: expected START:STOP:STEP, e.g. 0:1:0.1")
            start, stop, step = parts
            if not all(math.isfinite(p) for p in parts) or step == 0 or (stop - start) * step < 0:
                raise InterpError(f"--alphas {text!r}: STEP must be non-zero and lead from START to STOP")
            count = math.floor((stop - start) / step + 1e-9) + 1
            if count > MAX_ALPHAS:
                raise InterpError(f"--alphas {text!r}: {count} values; at most {MAX_ALPHAS}")
            values = [round(start + i * step, 10) for i in range(count)]
        else:
            values = [float(p) for p in text.split(",") if p.strip()]
    except ValueError as exc:
        if isinstance(exc, InterpError):
            raise
        raise InterpError(
            f"--alphas {text!r}: not a number list; use START:STOP:STEP (0:1:0.1) or a comma list (0,0.5,0.8)"
        ) from None
    if not values:
        raise InterpError(f"--alphas {text!r}: no values")
    if len(values) > MAX_ALPHAS:
        raise InterpError(f"--alphas {text!r}: {len(values)} values; at most {MAX_ALPHAS}")
    seen: set[float] = set()
    for v in values:
        if not math.isfinite(v):
            raise InterpError(f"--alphas {text!r}: {v} is not a finite number")
        if v + 0.0 in seen:
            raise InterpError(f"--alphas {text!r}: alpha {v:g} is given twice")
        seen.add(v + 0.0)
    return [v + 0.0 for v in values]


def alpha_label(alpha: float) -> str:
    """The shortest decimal text (at least 2 decimals) that reads back as exactly ``alpha``, so that
    distinct alphas get distinct labels: ``0.8 -> "0.80"``, ``0.85 -> "0.85"``, ``0.125 -> "0.125"``."""
    alpha += 0.0
    for decimals in range(2, 18):
        text = f"{alpha:.{decimals}f}"
        if float(text) == alpha:
            return text
    return repr(alpha)


def alpha_filename(alpha: float, ext: str = ".pth", prefix: str = "interp") -> str:
    """``interp_alpha0.80.pth``: one name per distinct alpha (see ``alpha_label``)."""
    return f"{prefix}_alpha{alpha_label(alpha)}{ext if ext.startswith('.') else '.' + ext}"


def sweep(
    psnr: Weights,
    gan: Weights,
    alphas: Sequence[float],
    out_dir: Path,
    *,
    ext: str = ".pth",
    allow_extrapolation: bool = False,
    on_written: Callable[[float, Path], None] | None = None,
) -> dict[float, Path]:
    """Write ``out_dir/alpha_filename(a, ext)`` for each alpha (sr's format, PSNR model's arch) and
    return ``{alpha: path}``. The caller checks overwrites; here everything is validated first."""
    check_compatible(psnr.state, gan.state, psnr_arch=psnr.arch, gan_arch=gan.arch)
    checked = [check_alpha(a, allow_extrapolation=allow_extrapolation) for a in alphas]
    paths: dict[float, Path] = {}
    for alpha in checked:
        path = out_dir / alpha_filename(alpha, ext)
        save_checkpoint(path, blend_for_saving(psnr, gan, alpha), arch=psnr.arch)
        paths[alpha] = path
        if on_written is not None:
            on_written(alpha, path)
    return paths


class ImageBlend(nn.Module):
    """``(1 - alpha) * psnr_net(x) + alpha * gan_net(x)``. Each network's output is cached per
    distinct input, so sweeping alpha over a folder runs each network once per image."""

    def __init__(self, psnr_net: nn.Module, gan_net: nn.Module) -> None:
        super().__init__()
        self.psnr_net, self.gan_net = psnr_net, gan_net
        self.alpha = 0.0
        if hasattr(psnr_net, "num_in_ch"):  # evaluate_folder picks the protocol's input by it
            self.num_in_ch = psnr_net.num_in_ch
        self._cache: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        hit = [
            (p, g)
            for inp, p, g in self._cache
            if inp.shape == x.shape and inp.device == x.device and torch.equal(inp, x)
        ]
        if hit:
            p, g = hit[0]
        else:
            p, g = self.psnr_net(x), self.gan_net(x)
            self._cache.append((x.clone(), p, g))
        return (1.0 - self.alpha) * p + self.alpha * g


@dataclass
class SweepRow:
    """One scored point: ``method`` is ``"network"`` or ``"image"``; ``niqe``/``lpips`` are None when
    not computed."""

    method: str
    alpha: float
    psnr: float
    ssim: float
    niqe: float | None = None
    lpips: float | None = None
    checkpoint: str | None = None
    images: dict[str, dict[str, float]] = field(default_factory=dict)


def evaluate_sweep(
    checkpoints: Mapping[float, Path],
    folder: Path,
    scale: int,
    *,
    blend: tuple[Weights, Weights] | None = None,
    lpips: nn.Module | None = None,
    niqe: bool = True,
    device: torch.device | str = "cpu",
    progress: Callable[[Iterable[Path]], Iterable[Path]] = iter,
) -> list[SweepRow]:
    """Score each checkpoint on ``folder`` with protocol ``y``, crop = ``scale`` (as sr-eval): PSNR,
    SSIM, NIQE (``niqe``) and LPIPS (when ``lpips`` is given), plus, when ``blend = (psnr, gan)`` is
    given, the image-space blend at the same alphas. Rows come network first, then image blend, each
    in the order of ``checkpoints``."""

    def score(model: nn.Module, method: str, alpha: float, ckpt: str | None) -> SweepRow:
        res: DatasetResult = evaluate_folder(
            model, folder, scale, "y", scale, device, progress=progress, niqe=niqe, lpips=lpips
        )
        means = {k: res.mean(k) for k in res.extra_keys()}
        row = SweepRow(method, alpha, res.psnr, res.ssim, checkpoint=ckpt, images=res.images, **means)
        log.info("%s alpha %s: PSNR %.4f SSIM %.4f", method, alpha_label(alpha), row.psnr, row.ssim)
        return row

    rows = []
    for alpha, path in checkpoints.items():
        rows.append(score(load_model(path, scale=scale).to(device), "network", alpha, path.name))
    if blend is not None:
        nets = [w.build() for w in blend]
        nets = [ScaleView(n, scale) if len(scales_of(n)) > 1 else n for n in nets]
        model = ImageBlend(nets[0], nets[1]).to(device)
        for alpha in checkpoints:
            model.alpha = alpha
            rows.append(score(model, "image", alpha, None))
    return rows


def _columns(rows: Sequence[SweepRow]) -> list[str]:
    """The optional metrics every row has, in table order."""
    return [k for k in ("niqe", "lpips") if rows and all(getattr(r, k) is not None for r in rows)]


def format_table(rows: Sequence[SweepRow]) -> str:
    """Markdown table, one line per row; the NIQE/LPIPS columns only when every row has them."""
    extra = _columns(rows)
    head = "| method | alpha | PSNR (Y) | SSIM (Y) |" + "".join(f" {k.upper()} |" for k in extra)
    lines = [head, "|---|---:|---:|---:|" + "---:|" * len(extra)]
    for r in rows:
        line = f"| {METHODS[r.method]} | {alpha_label(r.alpha)} | {r.psnr:.4f} | {r.ssim:.4f} |"
        lines.append(line + "".join(f" {getattr(r, k):.4f} |" for k in extra))
    return "\n".join(lines)


def plot_png(rows: Sequence[SweepRow], title: str = "") -> bytes:
    """Perception-distortion plot as PNG bytes: y = PSNR against x = LPIPS when every row has it,
    else NIQE (both: lower is perceptually better), else x = PSNR and y = SSIM; one line per
    method, points labelled by alpha."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    extra = _columns(rows)
    perceptual = "lpips" if "lpips" in extra else ("niqe" if "niqe" in extra else None)
    xlabel = {
        "lpips": "LPIPS (AlexNet), lower is better",
        "niqe": "NIQE (no reference), lower is better",
        None: "PSNR (Y) [dB]",
    }[perceptual]
    fig, ax = plt.subplots(figsize=(6.4, 4.8), dpi=100)
    try:
        for method, marker in (("network", "o-"), ("image", "s--")):
            sel = [r for r in rows if r.method == method]
            if not sel:
                continue
            xs = [float(getattr(r, perceptual)) if perceptual else r.psnr for r in sel]
            ys = [r.psnr if perceptual else r.ssim for r in sel]
            ax.plot(xs, ys, marker, label=METHODS[method])
            for r, x, y in zip(sel, xs, ys, strict=True):
                ax.annotate(
                    alpha_label(r.alpha), (x, y), textcoords="offset points", xytext=(4, 4), fontsize=7
                )
        ax.set_xlabel(xlabel)
        ax.set_ylabel("PSNR (Y) [dB]" if perceptual else "SSIM (Y)")
        ax.set_title(title or "perception-distortion trade-off (labels: alpha, 0 = PSNR model)", fontsize=9)
        ax.grid(True, alpha=0.3)
        ax.legend()
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
    finally:
        plt.close(fig)
    return buf.getvalue()


def write_report(
    rows: Sequence[SweepRow], out_dir: Path, info: Mapping[str, Any], stem: str = "sweep"
) -> list[Path]:
    """Write ``stem.md`` (table), ``stem.json`` (``info`` plus every row, per image) and ``stem.png``
    (the plot) into ``out_dir``, each atomically; return the paths."""
    data = {**info, "rows": [vars(r) for r in rows]}
    md = f"# {info.get('title', 'sr-interp sweep')}\n\n{format_table(rows)}\n"
    return [
        atomic_write_bytes(out_dir / f"{stem}.md", md.encode()),
        atomic_write_bytes(out_dir / f"{stem}.json", (json.dumps(data, indent=1) + "\n").encode()),
        atomic_write_bytes(out_dir / f"{stem}.png", plot_png(rows)),
    ]
