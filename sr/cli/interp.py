"""``sr-interp``: ESRGAN network interpolation between a PSNR-oriented and a GAN model.

sr-interp PSNR_MODEL GAN_MODEL --alpha 0.8 -o OUT.pth
sr-interp PSNR_MODEL GAN_MODEL --alphas 0:1:0.1 -o OUT_DIR [--format pth|safetensors]
          [--eval DIR [--scale S] [--image-blend]] [--allow-extrapolation] [--overwrite]
          [--net-opt key=value ...] [--device auto|cpu|cuda] [--quiet]

Weights = (1 - alpha) * PSNR_MODEL + alpha * GAN_MODEL (alpha = 0.8 is 80 % GAN). Either model may be
a bundled one by name: ``sr-interp default default-gan --alpha 0.8 -o blend.pth``.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from tqdm import tqdm

from sr.archs import SCALE_ARG
from sr.checkpoints import CheckpointError, save_checkpoint
from sr.checkpoints.bundled import BUNDLED, resolve_checkpoint
from sr.cli.common import examples, fail, parse_net_opt, pick_device
from sr.data.imageio import ImageReadError
from sr.inference.evaluate import check_memory, list_images, load_lpips, niqe_blocker
from sr.inference.interp import (
    alpha_filename,
    alpha_label,
    blend_for_saving,
    check_alpha,
    check_compatible,
    evaluate_sweep,
    format_table,
    parse_alphas,
    read_weights,
    sweep,
    write_report,
)
from sr.outputs import ProtectedInputs

PROG = "sr-interp"
CHECKPOINT_SUFFIXES = (".pth", ".pt", ".safetensors")
REPORT_STEM = "sweep"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=PROG,
        description="ESRGAN network interpolation: weights = (1 - alpha) * PSNR_MODEL + alpha * GAN_MODEL "
        "(alpha 0.8 = 80% GAN). Reads any supported checkpoint format and key layout; writes sr's format.",
        **examples(
            "sr-interp default default-gan --alpha 0.8 -o blend.pth",
            "sr-interp psnr.pth gan.pth --alphas 0:1:0.1 -o sweep/ --eval datasets/Set14",
        ),
    )
    names = " or ".join(BUNDLED)
    p.add_argument("psnr_model", metavar="PSNR_MODEL", help=f"PSNR-oriented model (alpha = 0), or {names}")
    p.add_argument("gan_model", metavar="GAN_MODEL", help=f"GAN model (alpha = 1), or {names}")
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--alpha", type=float, help="one alpha; -o is a .pth/.pt/.safetensors file")
    which.add_argument(
        "--alphas",
        metavar="START:STOP:STEP|A,B,...",
        help="several alphas (0:1:0.1 includes 1; or 0,0.5,0.8,0.85,1); -o is a folder. "
        "A negative first value needs '=': --alphas=-0.2:1.2:0.1",
    )
    p.add_argument(
        "-o", "--output", type=Path, required=True, help="output file (--alpha) or folder (--alphas)"
    )
    p.add_argument(
        "--format", choices=("pth", "safetensors"), default="pth", help="checkpoint format with --alphas"
    )
    p.add_argument("--eval", type=Path, metavar="DIR", help="score every alpha on this folder of HR images")
    p.add_argument("--scale", type=int, help="scale for --eval (default: the models'); SRCNN needs it")
    p.add_argument(
        "--image-blend",
        action="store_true",
        help="with --eval, also score (1 - alpha) * SR_psnr + alpha * SR_gan (the paper's baseline)",
    )
    p.add_argument("--allow-extrapolation", action="store_true", help="accept alpha outside [0, 1]")
    p.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    p.add_argument("--net-opt", action="append", metavar="KEY=VALUE", help="architecture argument override")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda[:N] (for --eval)")
    p.add_argument("--quiet", action="store_true", help="no progress bars or per-file lines")
    return p


def _check_targets(targets: list[Path], inputs: list[Path], overwrite: bool, eval_dir: Path | None) -> None:
    """The rules of :mod:`sr.outputs`, as ``sr-eval`` applies them: the two models and the ``--eval``
    folder (its files, and anything inside it: a plot written there would be scored as a ground-truth
    image next time) are inputs, never written; an existing output needs ``overwrite``."""
    files, folders = list(inputs), []
    if eval_dir is not None:
        folders.append(eval_dir)
        files += [p for p in eval_dir.iterdir() if p.is_file()]  # hard links to them count too
    guard = ProtectedInputs(files, folders)  # by file identity: a symlink or hard link to an input counts
    for t in targets:
        guard.check(t, overwrite)


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format=f"{PROG}: %(message)s")
    say = (lambda *a: None) if args.quiet else print
    try:
        if args.alpha is not None and (args.eval or args.image_blend):
            raise ValueError("--eval and --image-blend need --alphas (e.g. --alphas 0.8 for one value)")
        if args.image_blend and not args.eval:
            raise ValueError("--image-blend needs --eval DIR")
        if args.eval is not None and not args.eval.is_dir():
            raise FileNotFoundError(f"--eval {args.eval}: folder not found")
        args.psnr_model, args.gan_model = map(resolve_checkpoint, (args.psnr_model, args.gan_model))
        alphas = [args.alpha] if args.alpha is not None else parse_alphas(args.alphas)
        alphas = [check_alpha(a, allow_extrapolation=args.allow_extrapolation) for a in alphas]
        inputs = [args.psnr_model, args.gan_model]
        out = args.output
        if args.alpha is not None:
            if out.suffix.lower() not in CHECKPOINT_SUFFIXES:
                raise ValueError(f"-o {out}: give a file name ending in {', '.join(CHECKPOINT_SUFFIXES)}")
            targets = [out]
        else:
            if out.exists() and not out.is_dir():
                raise ValueError(f"-o {out}: exists and is not a folder (--alphas writes one file per alpha)")
            targets = [out / alpha_filename(a, "." + args.format) for a in alphas]
            if args.eval:
                targets += [out / f"{REPORT_STEM}{ext}" for ext in (".md", ".json", ".png")]
        _check_targets(targets, inputs, args.overwrite, args.eval)

        net_opt = parse_net_opt(args.net_opt)
        psnr = read_weights(args.psnr_model, scale=args.scale, net_opt=net_opt)
        gan = read_weights(args.gan_model, scale=args.scale, net_opt=net_opt)
        names = (f"PSNR model {args.psnr_model}", f"GAN model {args.gan_model}")
        check_compatible(psnr.state, gan.state, psnr_arch=psnr.arch, gan_arch=gan.arch, names=names)
        arch_text = ", ".join(f"{k}={v}" for k, v in psnr.arch.items() if k != "type")
        say(f"{PROG}: {psnr.arch['type']}({arch_text})")

        if args.alpha is not None:
            save_checkpoint(out, blend_for_saving(psnr, gan, alphas[0]), arch=psnr.arch)
            print(f"{PROG}: wrote {out} (alpha {alpha_label(alphas[0])}: {alphas[0] * 100:g}% GAN model)")
            return

        own = psnr.arch[SCALE_ARG[psnr.arch["type"]]]
        model_scales = [int(s) for s in own] if isinstance(own, list | tuple) else [int(own)]
        if args.eval and args.scale is not None and args.scale not in model_scales:
            have = ", ".join(f"x{s}" for s in model_scales)
            raise ValueError(f"--scale {args.scale}, but the models upscale {have}")
        if args.eval and args.scale is None and len(model_scales) > 1:
            raise ValueError(f"multi-scale models ({model_scales}): pass --scale to pick the one to evaluate")
        model_scale = args.scale if args.scale is not None else model_scales[0]
        if args.eval:  # everything the evaluation needs is checked before the checkpoints are written
            device = pick_device(args.device)
            lpips, note = load_lpips(device)
            niqe_note = niqe_blocker(args.eval, model_scale)
            net = psnr.build()
            for image in list_images(args.eval):
                check_memory(net, image, model_scale, device, lpips is not None)
            del net
        paths = sweep(
            psnr,
            gan,
            alphas,
            out,
            ext="." + args.format,
            allow_extrapolation=True,
            on_written=lambda a, p: say(f"{PROG}: wrote {p}"),
        )
        if not args.eval:
            print(f"{PROG}: wrote {len(paths)} checkpoints to {out}")
            return

        for n in (note, niqe_note):
            if n:
                print(f"{PROG}: {n}", file=sys.stderr)
        show_bar = sys.stderr.isatty() and not args.quiet

        def bar(items):
            return tqdm(items, unit="img") if show_bar else iter(items)

        rows = evaluate_sweep(
            paths,
            args.eval,
            model_scale,
            blend=(psnr, gan) if args.image_blend else None,
            lpips=lpips,
            niqe=niqe_note is None,
            device=device,
            progress=bar,
        )
        info = {
            "title": f"sr-interp sweep on {args.eval.name} x{model_scale}",
            "psnr_model": str(args.psnr_model),
            "gan_model": str(args.gan_model),
            "arch": psnr.arch,
            "data": str(args.eval),
            "scale": model_scale,
            "protocol": "y",
            "crop_border": model_scale,
            "niqe": niqe_note is None,
            "niqe_note": niqe_note,
            "lpips": "alex" if lpips is not None else None,
            "lpips_note": note,
        }
        written = write_report(rows, out, info, REPORT_STEM)
        print(format_table(rows))
        print(f"{PROG}: wrote {len(paths)} checkpoints and {', '.join(p.name for p in written)} to {out}")
    except (CheckpointError, ImageReadError, FileNotFoundError, ValueError) as err:
        fail(PROG, str(err))


if __name__ == "__main__":
    main()
