"""``sr-eval``: score a model (or an interpolation baseline) on benchmark folders, as the papers do.

sr-eval [--model {PATH|default|bicubic|bilinear|nearest|...}] [--scale S] --data DIR [--data DIR ...]
        [--metrics psnr,ssim[,niqe][,lpips]] [--protocol y|rgb] [--crop-border N]
        [--net-opt key=value ...] [--json OUT]
        [--save-images DIR] [--spectrum] [--spectrum-dir DIR] [--precision fp32|bf16|fp16]
        [--device auto|cpu|cuda] [--quiet]

``--metrics`` adds NIQE (no reference, lower is better: the MATLAB release's, with its pristine model
shipped) and LPIPS (AlexNet; needs its ImageNet weights, an error naming the file otherwise) to PSNR
and SSIM, per image and as means, computed on the same output after the same crop.

``--spectrum`` adds the spectral diagnostics of :mod:`sr.metrics.spectral` (``hf_error``,
``spurious_energy``, ``lf_error``, ``hf_power_ratio``; per image and their means) to the table and
the JSON, computed on the very luma images PSNR is computed on (after ``crop_border``), and writes
one plot per dataset, ``DIR/DATASET_xS.png``: the radially averaged power spectra of the outputs and of the GT
(means over the dataset's images, ``SPECTRUM_BANDS`` bands of (0, 0.5] cycles/pixel, so that images
of any size average), with the LR Nyquist frequency marked, and the residual ratio per band.
``DIR`` is ``--spectrum-dir`` (which implies ``--spectrum``), else ``OUT_STEM_spectrum/`` next to
``--json OUT``, else ``./spectrum/``.

Outputs (the rules of :mod:`sr.outputs`), all checked before the first image is scored: an existing
JSON, plot or saved image needs ``--overwrite``; none may be an input or lie in a ``--data`` folder;
no two may be one file (``--json`` naming a plot or a saved image is refused, not overwritten). A
dataset is named by its folder's name (the table, the JSON's key, ``DATASET_xS.png``,
``--save-images DIR/DATASET/``), so two ``--data`` folders with the same name are refused: rename one,
e.g. through a symlink. Each image runs through the model whole (tiling would change the
scores), so one too large for the free memory is refused up front, naming it
(:mod:`sr.inference.evaluate`).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import torch
from tqdm import tqdm

from sr.archs import scale_of
from sr.atomic import atomic_write
from sr.checkpoints import CheckpointError
from sr.cli.common import examples, fail, parse_net_opt, pick_device, write_json_atomic
from sr.data.imageio import ImageReadError, ImageWriteError, write_image
from sr.inference.baselines import BASELINES
from sr.inference.evaluate import (
    METRICS,
    PROTOCOLS,
    DatasetResult,
    check_memory,
    evaluate_folder,
    list_images,
    load_lpips,
    parse_metrics,
)
from sr.inference.loading import PRECISIONS, InPrecision, precision_dtype, resolve_model
from sr.metrics.spectral import radial_spectra, residual_ratio, spectral_report
from sr.outputs import ProtectedInputs, check_writable_file

PROG = "sr-eval"
SPECTRUM_BANDS = 64  # fixed, so that per-image spectra of any size average; images need >= 128 px
SPECTRAL_KEYS = ("hf_error", "spurious_energy", "lf_error", "hf_power_ratio")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=PROG,
        description="Evaluate PSNR/SSIM (luma, crop = scale) of an SR model on HR image folders; LR inputs "
        "are made with the MATLAB-compatible bicubic.",
        **examples(
            "sr-eval --data datasets/Set5                       # the bundled model, x4",
            "sr-eval --model net.pth --data datasets/Set5 --data datasets/Set14 --json r.json",
            "sr-eval --model default-gan --data datasets/BSD100 --metrics niqe --spectrum",
        ),
    )
    p.add_argument(
        "--model",
        default="default",
        help="checkpoint path (any common format), 'default' (the bundled x2/x3/x4 model; the default) "
        f"or a baseline: {', '.join(sorted(BASELINES))}",
    )
    p.add_argument(
        "--scale",
        type=int,
        choices=(1, 2, 3, 4, 8),
        help="the scale to evaluate (default: the model's own; 4 for the bundled models; baselines need it)",
    )
    p.add_argument(
        "--data",
        type=Path,
        action="append",
        required=True,
        help="folder of HR images (repeatable); its name names the dataset (table, JSON key, spectrum plot, "
        "--save-images subfolder), so the folders' names must differ",
    )
    p.add_argument(
        "--metrics",
        default="psnr,ssim",
        help=f"comma list of {', '.join(METRICS)} (psnr and ssim are always computed); "
        "niqe needs no reference, lpips its AlexNet weights",
    )
    p.add_argument(
        "--protocol",
        choices=PROTOCOLS,
        default="y",
        help="y: degrade the luma (SRCNN/VDSR/ESRGAN tables, default); rgb: degrade RGB (BasicSR)",
    )
    p.add_argument(
        "--crop-border", type=int, default=None, help="pixels dropped at each border (default: scale)"
    )
    p.add_argument(
        "--net-opt",
        action="append",
        metavar="KEY=VALUE",
        help="architecture argument the weights cannot reveal, e.g. padding_mode=replicate",
    )
    p.add_argument("--json", type=Path, help="write the results as JSON")
    p.add_argument("--save-images", type=Path, metavar="DIR", help="write outputs as DIR/DATASET/NAME.png")
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace existing outputs: the JSON, spectrum plots, saved images (never an input)",
    )
    p.add_argument(
        "--spectrum",
        action="store_true",
        help="add spectral diagnostics (hf_error, spurious_energy, lf_error, hf_power_ratio) and write "
        "spectrum plots",
    )
    p.add_argument(
        "--spectrum-dir",
        type=Path,
        metavar="DIR",
        help="folder for the spectrum plots, DATASET_xS.png (implies --spectrum; default: "
        "OUT_STEM_spectrum/ next to --json OUT, else ./spectrum/); an existing plot needs --overwrite",
    )
    p.add_argument(
        "--precision",
        choices=tuple(PRECISIONS),
        default="fp32",
        help="run the network in fp32 (default), bf16 (CPU or CUDA) or fp16 (CUDA only)",
    )
    p.add_argument("--device", default="auto", help="auto, cpu or cuda[:N]")
    p.add_argument("--quiet", action="store_true", help="print only the means")
    return p


def _column(key: str) -> str:
    if key in SPECTRAL_KEYS:
        names = {"spurious_energy": "spurious", "hf_power_ratio": "hf-power"}
        return names.get(key, key.split("_")[0] + "-err")
    return key.upper()


def format_table(result: DatasetResult, quiet: bool, spectrum: bool = False) -> str:
    keys = (*result.extra_keys(), *(SPECTRAL_KEYS if spectrum else ()))
    head = "".join(f" {_column(k):>9}" for k in keys)

    def row(label: str, v: dict[str, float]) -> str:
        return f"  {label:<14} {v['psnr']:8.4f} {v['ssim']:7.4f}" + "".join(f" {v[k]:9.4f}" for k in keys)

    lines = [f"{result.name:<16} {'PSNR':>8} {'SSIM':>7}{head}"]
    if not quiet:
        lines += [row(stem, v) for stem, v in result.images.items()]
    means = {
        k: sum(v[k] for v in result.images.values()) / len(result.images) for k in ("psnr", "ssim", *keys)
    }
    lines.append(row("mean", means))
    return "\n".join(lines)


class SpectrumAccumulator:
    """``on_scored`` hook of :func:`evaluate_folder`: the spectral summaries of each image, and the
    running sums of its radial spectra (``SPECTRUM_BANDS`` bands) for the dataset's means."""

    def __init__(self, scale: int) -> None:
        self.scale = scale
        self.count = 0
        self.sums: dict[str, torch.Tensor] = {}
        self.freqs = torch.zeros(0)

    def __call__(self, path: Path, sr_y: torch.Tensor, gt_y: torch.Tensor) -> dict[str, float]:
        try:
            report = spectral_report(sr_y, gt_y, self.scale)
            curves = radial_spectra(sr_y, gt_y, nbins=SPECTRUM_BANDS)
        except ValueError as err:
            raise ValueError(f"{path}: spectrum: {err}") from err
        for key in ("sr", "gt", "residual"):
            self.sums[key] = self.sums.get(key, 0) + getattr(curves, key)
        self.freqs = curves.freqs
        self.count += 1
        return report.to_dict()

    def summary(self) -> dict:
        """Radial spectra averaged over the images, and the residual ratio of the averages."""
        sr, gt, res = (self.sums[k] / self.count for k in ("sr", "gt", "residual"))
        return {
            "bands": SPECTRUM_BANDS,
            "lr_nyquist": 0.5 / self.scale,
            "freqs": self.freqs.tolist(),
            "sr_power": sr.tolist(),
            "gt_power": gt.tolist(),
            "residual_power": res.tolist(),
            "residual_ratio": residual_ratio(res, gt).tolist(),
        }


def plot_spectrum(path: Path, name: str, spectrum: dict, overwrite: bool = False) -> Path:
    """Write the dataset's spectra plot (PNG) atomically; matplotlib's Agg canvas, no pyplot state.
    Without ``overwrite`` the file is created exclusively (``FileExistsError`` if it exists)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 4), dpi=80)
    fig.subplots_adjust(left=0.08, right=0.98, bottom=0.13, top=0.92, wspace=0.25)
    FigureCanvasAgg(fig)
    left, right = fig.subplots(1, 2)
    f, nyq = spectrum["freqs"], spectrum["lr_nyquist"]
    left.semilogy(f, spectrum["gt_power"], label="ground truth", color="black")
    left.semilogy(f, spectrum["sr_power"], label="SR output", color="tab:red")
    left.set(title=f"{name}: radially averaged power spectrum", ylabel="power (density)")
    right.semilogy(f, spectrum["residual_ratio"], color="tab:blue")
    right.axhline(1.0, color="gray", linewidth=0.8, linestyle=":")
    right.set(title="residual |F(SR-GT)|² / |F(GT)|² per band", ylabel="ratio")
    for ax in (left, right):
        ax.axvline(nyq, color="gray", linestyle="--", label=f"LR Nyquist ({nyq:.3g})")
        ax.set(xlabel="radial frequency (cycles/pixel)", xlim=(0, 0.5))
        ax.grid(True, alpha=0.3)
    left.legend()
    return atomic_write(path, lambda fh: fig.savefig(fh, format="png"), exclusive=not overwrite)


def spectrum_dir(args: argparse.Namespace) -> tuple[Path, str]:
    """Where the plots go (module docstring) and what to call that folder in an error. Nothing is
    created here: :func:`check_outputs` creates it once every output has been checked."""
    if args.scale < 2:
        raise ValueError("--spectrum needs --scale >= 2 (no frequency lies above the LR Nyquist at x1)")
    if args.spectrum_dir is not None:
        out, label = args.spectrum_dir, "--spectrum-dir"
    elif args.json is not None:
        out, label = args.json.with_name(f"{args.json.stem}_spectrum"), "spectrum folder"
    else:
        out, label = Path("spectrum"), "spectrum folder"
    if out.exists() and not out.is_dir():
        raise ValueError(f"{label} {out}: exists and is not a folder")
    return out, label


@dataclass
class Outputs:
    """Every file one ``sr-eval`` run writes, decided before any image is scored."""

    json: Path | None = None
    plots: dict[Path, Path] = field(default_factory=dict)  # --data folder -> its spectrum plot
    saved: dict[Path, Path] = field(default_factory=dict)  # HR image -> its --save-images output


def check_outputs(
    args: argparse.Namespace, plot_dir: tuple[Path, str] | None, images: dict[Path, list[Path]]
) -> Outputs:
    """Check every output path before any image is scored (the rules of :mod:`sr.outputs`): the data
    folders, their images and the model file are inputs, never written; existing outputs (the JSON,
    the spectrum plots, the saved images) need ``--overwrite``; no two outputs may be one file, nor one
    lie inside another; and two ``--data`` folders may not share a name, which keys the table, the
    JSON, the plot and the ``--save-images`` folder. ``images``: each folder's images (``list_images``).
    Folders are created last, once all is checked."""
    by_name: dict[str, Path] = {}
    for folder in args.data:
        if folder.name in by_name:
            raise ValueError(
                f"--data {by_name[folder.name]} and --data {folder} share the name {folder.name!r}, which "
                "names the dataset in the table, the JSON, the spectrum plot and --save-images; "
                "give each folder a distinct name (e.g. a symlink)"
            )
        by_name[folder.name] = folder
    guard = ProtectedInputs([p for files in images.values() for p in files], args.data)
    if Path(args.model).is_file():
        guard.add_file(args.model)

    plan = Outputs(json=args.json)
    claims: dict[str, tuple[Path, str]] = {}  # real path -> (path, what writes it)

    def claim(path: Path, what: str) -> None:
        key = os.path.realpath(path)
        if key in claims:
            raise ValueError(
                f"two outputs would be one file, {path}: {claims[key][1]} and {what}; "
                "give them different paths"
            )
        claims[key] = (path, what)

    if args.json is not None:
        claim(args.json, "the --json file")
    if plot_dir is not None:
        for folder in args.data:
            plan.plots[folder] = plot_dir[0] / f"{folder.name}_x{args.scale}.png"
            claim(plan.plots[folder], f"the spectrum plot of --data {folder}")
    if args.save_images is not None:
        for folder, files in images.items():
            for src in files:
                plan.saved[src] = args.save_images / folder.name / f"{src.stem}.png"
                claim(plan.saved[src], f"the --save-images output of {src}")
    for key, (path, what) in claims.items():
        for parent in Path(key).parents:
            if str(parent) in claims:
                other, other_what = claims[str(parent)]
                raise ValueError(
                    f"{what} ({path}) would lie inside {other}, which is {other_what}; "
                    "give them different paths"
                )

    if args.json is not None:
        guard.check(args.json, args.overwrite, "--json")
    for plot in plan.plots.values():
        guard.check(plot, args.overwrite, "spectrum plot")
    for dst in plan.saved.values():
        guard.check(dst, args.overwrite, "--save-images output")

    if plot_dir is not None:
        out, label = plot_dir
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise ValueError(f"{label} {out}: cannot create the folder ({err})") from err
        check_writable_file(next(iter(plan.plots.values())), label)
    if args.json is not None:
        check_writable_file(args.json, "--json")
    folders: set[Path] = set()
    for dst in plan.saved.values():  # one probe per dataset folder
        if dst.parent not in folders:
            folders.add(dst.parent)
            check_writable_file(dst, "--save-images")
    return plan


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format=f"{PROG}: %(message)s")
    try:
        net_opt = parse_net_opt(args.net_opt)
        device = pick_device(args.device)
        model = resolve_model(args.model, args.scale, net_opt)
        if args.scale is None:
            args.scale = scale_of(model)
        if args.precision != "fp32" and any(True for _ in model.parameters()):
            model = InPrecision(model, precision_dtype(args.precision, device))
        model = model.to(device)
        metrics = parse_metrics(args.metrics)
        lpips = None
        if "lpips" in metrics:
            lpips, note = load_lpips(device)
            if lpips is None:
                raise ValueError(f"--metrics lpips: {note}")
        for folder in args.data:
            if not folder.is_dir():
                raise FileNotFoundError(f"--data {folder}: folder not found")
        if args.crop_border is not None and args.crop_border < 0:
            raise ValueError(f"--crop-border {args.crop_border}: must be >= 0")
        crop = args.scale if args.crop_border is None else args.crop_border
        spectrum = args.spectrum or args.spectrum_dir is not None
        plot_dir = spectrum_dir(args) if spectrum else None
        images = {folder: list_images(folder) for folder in args.data}
        for path in (p for files in images.values() for p in files):  # now, not hours into the run
            check_memory(model, path, args.scale, device, lpips is not None)
        plan = check_outputs(args, plot_dir, images)
        print(f"{PROG}: model {args.model}, x{args.scale}, protocol {args.protocol}, luma, crop {crop}")
        report = {
            "scale": args.scale,
            "protocol": args.protocol,
            "model": args.model,
            "precision": args.precision,
            "crop_border": crop,
            "metrics": list(dict.fromkeys(("psnr", "ssim", *metrics))),
            "datasets": {},
        }
        show_bar = sys.stderr.isatty() and not args.quiet
        for folder in args.data:

            def save(path: Path, out: torch.Tensor) -> None:
                if path in plan.saved:
                    write_image(plan.saved[path], out, overwrite=args.overwrite)

            def bar(items, name=folder.name):
                return tqdm(items, desc=name, unit="img") if show_bar else iter(items)

            spectra = SpectrumAccumulator(args.scale) if spectrum else None
            result = evaluate_folder(
                model,
                folder,
                args.scale,
                args.protocol,
                args.crop_border,
                device,
                on_image=save,
                progress=bar,
                on_scored=spectra,
                niqe="niqe" in metrics,
                lpips=lpips,
            )
            entry = result.to_dict()
            if spectra is not None:
                for k in SPECTRAL_KEYS:
                    entry[k] = sum(v[k] for v in result.images.values()) / len(result.images)
                entry["spectrum"] = spectra.summary()
                plot = plot_spectrum(plan.plots[folder], folder.name, entry["spectrum"], args.overwrite)
                entry["spectrum"]["plot"] = str(plot)
            report["datasets"][folder.name] = entry
            print(format_table(result, args.quiet, spectrum))
            if "spectrum" in entry:
                print(f"  spectrum plot: {entry['spectrum']['plot']}")
        if args.json:
            write_json_atomic(args.json, report, exclusive=not args.overwrite)
    except (
        CheckpointError,
        ImageReadError,
        ImageWriteError,
        FileNotFoundError,
        FileExistsError,
        ValueError,
    ) as err:
        fail(PROG, str(err))


if __name__ == "__main__":
    main()
