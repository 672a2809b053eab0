"""How far a model's output moves in bf16 and fp16 from fp32: mean PSNR of each precision on a benchmark
set (``sr-eval``'s protocol: luma, crop = scale) and the largest change of an 8-bit output level.

    python tools/precision_fidelity.py [--data DIR] [--scale 4] [--model default] [--alpha A] ...

``--model`` and ``--alpha`` may be repeated; each ``--alpha`` adds the blend of the bundled default and
default-gan models (``sr-infer --alpha``). Everything runs on the CPU: fp16 too, where ``sr-infer`` and
``sr-eval`` refuse it (it is a GPU precision; oneDNN runs it on the CPU, natively on AVX512-FP16),
so that fp16's rounding can be measured on a machine without a GPU. fp16 has the same range and
rounding on a GPU; the order of the additions inside a convolution differs, which moves a result by
far less than the rounding of its inputs and weights does. Prints one line per model and precision.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import torch


def shared_set5() -> Path:
    shared = Path(os.environ.get("SR_SHARED", Path(__file__).resolve().parents[2] / "shared"))
    return shared / "data" / "benchmarks" / "Set5"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, default=None, help="benchmark folder (default: the shared Set5)")
    p.add_argument("--scale", type=int, default=4)
    p.add_argument("--model", action="append", help="a model sr-infer takes (default: default, default-gan)")
    p.add_argument("--alpha", type=float, action="append", default=[], help="a default/default-gan blend")
    args = p.parse_args(argv)

    from sr.checkpoints import CheckpointError
    from sr.data.imageio import ImageReadError

    try:
        return _run(args)
    except (CheckpointError, ImageReadError, ValueError) as err:  # a bad model, image or argument
        raise SystemExit(f"precision_fidelity: error: {err}") from None


def _run(args: argparse.Namespace) -> int:
    from sr.inference.evaluate import evaluate_folder
    from sr.inference.loading import InPrecision, resolve_model

    data = args.data or shared_set5()
    if not data.is_dir():
        raise SystemExit(f"precision_fidelity: error: {data} is not a folder (give --data)")
    cases = [(m, None) for m in (args.model or ["default", "default-gan"])]
    cases += [("default", a) for a in args.alpha]
    print(f"{data} x{args.scale}, luma, crop {args.scale}; torch {torch.__version__}, CPU")
    for name, alpha in cases:
        label = name if alpha is None else f"default + default-gan, alpha {alpha}"
        outputs: dict[str, list[torch.Tensor]] = {}
        psnr: dict[str, float] = {}
        for precision, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16), ("fp16", torch.float16)):
            model = resolve_model(name, args.scale, alpha=alpha)
            run = model if dtype == torch.float32 else InPrecision(model, dtype)
            images: list[torch.Tensor] = outputs.setdefault(precision, [])
            keep = images.append
            with torch.inference_mode():
                result = evaluate_folder(run, data, args.scale, on_image=lambda _p, sr, k=keep: k(sr))
            psnr[precision] = result.mean("psnr")
        for precision in ("fp32", "bf16", "fp16"):
            levels = max(
                float((a.float() * 255).round().sub((b.float() * 255).round()).abs().max())
                for a, b in zip(outputs[precision], outputs["fp32"], strict=True)
            )
            delta = psnr[precision] - psnr["fp32"]
            print(
                f"{label:40s} {precision}: PSNR {psnr[precision]:.4f} dB ({delta:+.4f} against fp32), "
                f"largest change {levels:.0f} levels of 255",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
