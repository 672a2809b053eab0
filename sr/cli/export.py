"""``sr-export``: a model as ONNX or a ``torch.export`` program (dynamic size), TorchScript, or
ESRGAN-layout weights for chaiNNer.

sr-export [MODEL] -o OUT.onnx|OUT.pt2|OUT.ts|OUT.pth [--format onnx|pt2|torchscript|esrgan] [--scale S]
          [--alpha A [--gan-model G]] [--net-opt key=value ...] [--opset N] [--overwrite] [--quiet]

MODEL is what ``sr-infer --model`` takes (default: the bundled default model, x4 unless --scale says
2 or 3); a multi-scale model exports the head --scale names. Each export is checked against PyTorch
on an input of another size before it is written (``sr.inference.export``).
"""

from __future__ import annotations

import argparse
import logging
import warnings
from pathlib import Path

from sr.checkpoints import CheckpointError
from sr.checkpoints.bundled import BUNDLED, bundled_model_path, is_bundled_name
from sr.cli.common import examples, fail, parse_net_opt
from sr.inference.export import FORMATS, OPSET, TOLERANCE, ExportError, export_model, format_for
from sr.inference.loading import resolve_model
from sr.outputs import OutputError, ProtectedInputs, check_writable_file

PROG = "sr-export"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=PROG,
        description="Export a model for other runtimes: ONNX with dynamic batch, height and width "
        "(onnxruntime, TensorRT, chaiNNer), a torch.export program, TorchScript, or RRDBNet weights in "
        "the ESRGAN layout (ESRGAN's scripts, chaiNNer, spandrel). Each export is checked against "
        "PyTorch before it is written.",
        **examples(
            "sr-export -o default_x4.onnx",
            "sr-export default --scale 2 -o default_x2.pt2",
            "sr-export RRDB_ESRGAN_x4.pth -o esrgan.onnx --opset 17",
        ),
    )
    names = ", ".join(BUNDLED)
    p.add_argument("model", nargs="?", default="default", help=f"a checkpoint, or {names} (default: default)")
    p.add_argument("-o", "--output", required=True, help="the file to write; its suffix picks the format")
    p.add_argument(
        "--format",
        choices=FORMATS,
        help="onnx (.onnx), pt2 (.pt2: torch.export), torchscript (.ts, .pt) or esrgan (.pth: RRDBNet "
        "only); default: from -o's suffix",
    )
    p.add_argument("--scale", type=int, help="the head of a multi-scale model (the bundled ones: 2, 3 or 4)")
    p.add_argument("--alpha", type=float, help="export a blend: (1 - alpha) * MODEL + alpha * --gan-model")
    p.add_argument(
        "--gan-model", help="the GAN model of --alpha (default with the default model: default-gan)"
    )
    p.add_argument("--net-opt", action="append", metavar="KEY=VALUE", help="architecture argument override")
    p.add_argument("--opset", type=int, default=OPSET, help=f"ONNX opset (default {OPSET})")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output")
    p.add_argument("--quiet", action="store_true", help="print nothing but errors")
    return p


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format=f"{PROG}: %(message)s")
    try:
        out = Path(args.output)
        fmt = format_for(out, args.format)
        names = [m for m in (args.model, args.gan_model) if m is not None]
        inputs = [bundled_model_path(m) if is_bundled_name(m) else m for m in names]  # the package's too
        ProtectedInputs(inputs).check(out, args.overwrite, "-o")
        check_writable_file(out, "-o")
        model = resolve_model(
            args.model,
            args.scale,
            parse_net_opt(args.net_opt),
            alpha=args.alpha,
            gan_model=args.gan_model,
        )
        with warnings.catch_warnings():  # the exporters' progress chatter and deprecation notes
            warnings.simplefilter("ignore")
            done = export_model(
                model, out, fmt, source=str(args.model), overwrite=args.overwrite, opset=args.opset
            )
    except (CheckpointError, ExportError, OutputError, FileExistsError, ValueError) as err:
        fail(PROG, str(err))
    if not args.quiet:
        if done.max_diff is None:
            check = "not checked against PyTorch (install onnxruntime or spandrel to check)"
        else:
            check = f"max difference from PyTorch {done.max_diff:.2g} (tolerance {TOLERANCE:g})"
        print(f"{PROG}: wrote {out} ({fmt}, x{done.scale}; {check})")


if __name__ == "__main__":
    main()
