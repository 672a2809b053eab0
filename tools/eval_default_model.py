"""The default model's results table (MODEL_CARD.md), in one run next to bicubic and the official SRCNN.

    python tools/eval_default_model.py [--model default] [--srcnn PATH] [--benchmarks DIR] [--json OUT]

Runs ``sr-eval`` (``--protocol y``: luma, crop = scale, MATLAB-bicubic LR; in this process, its
usual printout included) for each cell of the table -- Set5 at x2, x3, x4; Set14 and BSD100 at x4 --
with bicubic, the official SRCNN 9-5-5 x4 (``--net-opt padding_mode=replicate``, as its README
says; x4 only: no official x2/x3 weights are available here) and ``--model``; then prints the table
with the published bicubic and SRCNN values (``reference_numbers.json``) and the issue's targets.
Data and weights default to ``$SR_SHARED`` (``../shared`` beside the checkout).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path

from sr.cli.eval import main as sr_eval

CELLS = (("Set5", 2), ("Set5", 3), ("Set5", 4), ("Set14", 4), ("BSD100", 4))
TARGETS = {("Set5", 2): 37.0, ("Set5", 3): 33.3, ("Set5", 4): 31.0, ("Set14", 4): 27.9, ("BSD100", 4): 27.1}
PUBLISHED = {
    "bicubic (published)": {2: "Bicubic", 3: "Bicubic", 4: "Bicubic"},
    "SRCNN (published)": {2: "SRCNN", 3: "SRCNN", 4: "SRCNN_955_ImageNet"},
}


def shared() -> Path:
    return Path(os.environ.get("SR_SHARED", Path(__file__).resolve().parents[2] / "shared"))


def evaluate(
    model: str, scale: int, sets: list[str], root: Path, extra: list[str]
) -> dict[str, tuple[float, float]]:
    """``{set: (PSNR, SSIM)}`` from one ``sr-eval`` call."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "eval.json"
        args = ["--model", model, "--scale", str(scale), "--protocol", "y", "--json", str(out), "--quiet"]
        for s in sets:
            args += ["--data", str(root / s)]
        sr_eval(args + extra)
        report = json.loads(out.read_text())
    return {s: (d["psnr"], d["ssim"]) for s, d in report["datasets"].items()}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="default", help="the model to score (default: the bundled one)")
    p.add_argument("--srcnn", type=Path, default=shared() / "weights" / "srcnn_x4_955_imagenet_official.pth")
    p.add_argument("--benchmarks", type=Path, default=shared() / "data" / "benchmarks")
    p.add_argument("--json", type=Path, help="also write the table as JSON")
    args = p.parse_args(argv)
    table_file = args.benchmarks / "reference_numbers.json"
    missing = [p for p in (table_file, *(args.benchmarks / d for d, _ in CELLS)) if not p.exists()]
    if missing:
        raise SystemExit(f"eval_default_model: error: --benchmarks {args.benchmarks}: missing {missing[0]}")
    published = json.loads(table_file.read_text())
    rows: dict[str, dict[tuple[str, int], str]] = {}
    for label, keys in PUBLISHED.items():
        rows[label] = {}
        for dataset, scale in CELLS:
            psnr, ssim = published[f"x{scale}"][keys[scale]][dataset].split("/")
            rows[label][dataset, scale] = f"{float(psnr):.2f} / {float(ssim):.4f}"
    runs: list[tuple[str, str, list[str]]] = [
        ("bicubic (sr-eval)", "bicubic", []),
        (f"{args.model} (sr-eval)", args.model, []),
    ]
    if args.srcnn.is_file():
        srcnn = ("SRCNN 9-5-5 x4 (sr-eval, official weights)", str(args.srcnn))
        runs.insert(1, (*srcnn, ["--net-opt", "padding_mode=replicate"]))
    ours: dict[tuple[str, int], float] = {}  # unrounded PSNR: the targets are checked on these
    for label, model, extra in runs:
        rows[label] = {}
        for scale in (2, 3, 4):
            if model == str(args.srcnn) and scale != 4:
                continue
            sets = [d for d, s in CELLS if s == scale]
            for dataset, (psnr, ssim) in evaluate(model, scale, sets, args.benchmarks, extra).items():
                rows[label][dataset, scale] = f"{psnr:.2f} / {ssim:.4f}"
                if model == args.model:
                    ours[dataset, scale] = psnr
    rows["target (PSNR)"] = {cell: f"≥ {t}" for cell, t in TARGETS.items()}
    print("\n| | " + " | ".join(f"{d} x{s}" for d, s in CELLS) + " |")
    print("|---" * (len(CELLS) + 1) + "|")
    for label, cells in rows.items():
        print(f"| {label} | " + " | ".join(cells.get(c, "") for c in CELLS) + " |")
    met = {f"{d} x{s}": ours[d, s] >= t for (d, s), t in TARGETS.items()}
    print("\ntargets met: " + ", ".join(f"{k} {'yes' if v else 'NO'}" for k, v in met.items()))
    if args.json:
        table = {label: {f"{d} x{s}": v for (d, s), v in cells.items()} for label, cells in rows.items()}
        args.json.write_text(json.dumps({"table": table, "targets_met": met}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
