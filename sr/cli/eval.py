"""``sr-eval``: score a model (or an interpolation baseline) on benchmark folders, as the papers do.

sr-eval --model {PATH|bicubic|bilinear|nearest|...} --scale S --data DIR [--data DIR ...]
        [--protocol y|rgb] [--crop-border N] [--net-opt key=value ...] [--json OUT]
        [--save-images DIR] [--device auto|cpu|cuda] [--quiet]
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import torch
from tqdm import tqdm

from sr.checkpoints import CheckpointError
from sr.cli.common import fail, parse_net_opt, pick_device, write_json_atomic
from sr.data.imageio import ImageReadError, ImageWriteError, write_image
from sr.inference.baselines import BASELINES
from sr.inference.evaluate import PROTOCOLS, DatasetResult, evaluate_folder
from sr.inference.loading import load_upscaler

PROG = "sr-eval"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=PROG,
        description="Evaluate PSNR/SSIM (luma, crop = scale) of an SR model on HR image folders; LR inputs "
        "are made with the MATLAB-compatible bicubic.",
    )
    p.add_argument(
        "--model",
        required=True,
        help=f"checkpoint path (any common format) or a baseline: {', '.join(sorted(BASELINES))}",
    )
    p.add_argument("--scale", type=int, required=True, choices=(1, 2, 3, 4, 8))
    p.add_argument(
        "--data",
        type=Path,
        action="append",
        required=True,
        help="folder of HR images (repeatable); its name names the dataset",
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
    p.add_argument("--device", default="auto", help="auto, cpu or cuda[:N]")
    p.add_argument("--quiet", action="store_true", help="print only the means")
    return p


def format_table(result: DatasetResult, quiet: bool) -> str:
    lines = [f"{result.name:<16} {'PSNR':>8} {'SSIM':>7}"]
    if not quiet:
        lines += [f"  {stem:<14} {v['psnr']:8.4f} {v['ssim']:7.4f}" for stem, v in result.images.items()]
    lines.append(f"  {'mean':<14} {result.psnr:8.4f} {result.ssim:7.4f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format=f"{PROG}: %(message)s")
    try:
        net_opt = parse_net_opt(args.net_opt)
        device = pick_device(args.device)
        model = load_upscaler(args.model, args.scale, net_opt).to(device)
        for folder in args.data:
            if not folder.is_dir():
                raise FileNotFoundError(f"--data {folder}: folder not found")
        crop = args.scale if args.crop_border is None else args.crop_border
        print(f"{PROG}: model {args.model}, x{args.scale}, protocol {args.protocol}, luma, crop {crop}")
        report = {
            "scale": args.scale,
            "protocol": args.protocol,
            "model": args.model,
            "crop_border": crop,
            "datasets": {},
        }
        show_bar = sys.stderr.isatty() and not args.quiet
        for folder in args.data:
            save_dir = args.save_images / folder.name if args.save_images else None

            def save(path: Path, out: torch.Tensor, save_dir: Path | None = save_dir) -> None:
                if save_dir is not None:
                    write_image(save_dir / f"{path.stem}.png", out)

            def bar(items, name=folder.name):
                return tqdm(items, desc=name, unit="img", leave=False) if show_bar else iter(items)

            result = evaluate_folder(
                model,
                folder,
                args.scale,
                args.protocol,
                args.crop_border,
                device,
                on_image=save,
                progress=bar,
            )
            report["datasets"][folder.name] = result.to_dict()
            print(format_table(result, args.quiet))
        if args.json:
            write_json_atomic(args.json, report)
    except (CheckpointError, ImageReadError, ImageWriteError, FileNotFoundError, ValueError) as err:
        fail(PROG, str(err))


if __name__ == "__main__":
    main()
