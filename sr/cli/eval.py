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
"""

from __future__ import annotations

import argparse
import logging
import sys
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
        help="folder of HR images (repeatable); its name names the dataset",
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
    p.add_argument("--overwrite", action="store_true", help="replace existing outputs (never an input)")
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
        help="folder for the spectrum plots (implies --spectrum; default: OUT_STEM_spectrum/ next to "
        "--json OUT, else ./spectrum/)",
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


def plot_spectrum(path: Path, name: str, spectrum: dict) -> Path:
    """Write the dataset's spectra plot (PNG) atomically; matplotlib's Agg canvas, no pyplot state."""
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
    return atomic_write(path, lambda fh: fig.savefig(fh, format="png"))


def spectrum_dir(args: argparse.Namespace) -> Path:
    """Where the plots go (module docstring); checked and created before any image is scored."""
    label = "--spectrum-dir"
    if args.spectrum_dir is not None:
        out = args.spectrum_dir
    elif args.json is not None:
        out, label = args.json.with_name(f"{args.json.stem}_spectrum"), "spectrum folder"
    else:
        out, label = Path("spectrum"), "spectrum folder"
    if args.scale < 2:
        raise ValueError("--spectrum needs --scale >= 2 (no frequency lies above the LR Nyquist at x1)")
    if out.exists() and not out.is_dir():
        raise ValueError(f"{label} {out}: exists and is not a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ValueError(f"{label} {out}: cannot create the folder ({err})") from err
    return out


def check_outputs(args: argparse.Namespace, plot_dir: Path | None) -> dict[Path, Path]:
    """Check every output path before any image is scored (the module's rules in :mod:`sr.outputs`):
    the data folders, their images and the model file are inputs, never written; existing outputs
    need ``--overwrite``. Returns ``{image: its saved output}`` for ``--save-images``."""
    images = {folder: list_images(folder) for folder in args.data}
    guard = ProtectedInputs([p for files in images.values() for p in files], args.data)
    if Path(args.model).is_file():
        guard.add_file(args.model)
    if plot_dir is not None:  # plots are replaced on a rerun, but never land among the inputs
        for folder in args.data:
            guard.check(plot_dir / f"{folder.name}_x{args.scale}.png", overwrite=True, what="spectrum plot")
    if args.json is not None:
        guard.check(args.json, args.overwrite, "--json")
        check_writable_file(args.json, "--json")
    saved: dict[Path, Path] = {}
    if args.save_images is not None:
        taken: dict[Path, Path] = {}
        for folder, files in images.items():
            for src in files:
                dst = guard.check(args.save_images / folder.name / f"{src.stem}.png", args.overwrite)
                if dst in taken:
                    raise ValueError(f"--save-images: {src} and {taken[dst]} would both be saved as {dst}")
                taken[dst] = saved[src] = dst
        if saved:
            check_writable_file(next(iter(saved.values())), "--save-images")
    return saved


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
        saved = check_outputs(args, plot_dir)
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
                if path in saved:
                    write_image(saved[path], out, overwrite=args.overwrite)

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
            if spectra is not None and plot_dir is not None:
                for k in SPECTRAL_KEYS:
                    entry[k] = sum(v[k] for v in result.images.values()) / len(result.images)
                entry["spectrum"] = spectra.summary()
                plot = plot_spectrum(
                    plot_dir / f"{folder.name}_x{args.scale}.png", folder.name, entry["spectrum"]
                )
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
