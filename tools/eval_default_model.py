"""The default model's results table (MODEL_CARD.md), in one run next to bicubic and the official SRCNN.

    python tools/eval_default_model.py [--model default] [--nine] [--srcnn PATH] [--benchmarks DIR]
        [--json OUT]

Runs ``sr-eval`` (``--protocol y``: luma, crop = scale, MATLAB-bicubic LR; in this process, its
usual printout included) for each cell of the table -- Set5 at x2, x3, x4; Set14 and BSD100 at x4 --
with bicubic, the official SRCNN 9-5-5 x4 (``--net-opt padding_mode=replicate``, as its README
says; x4 only: no official x2/x3 weights are available here) and ``--model``; then prints the table
with the published bicubic and SRCNN values (``reference_numbers.json``) and the issue's targets.

``--nine``: all nine cells (Set5, Set14 and BSD100 at x2, x3, x4) against the published PSNR of the
lightweight networks a new default model is measured by, VDSR (Kim et al., CVPR 2016, Table 3; 665K
parameters) and IMDN (Hui et al., ACM MM 2019, Table 3; 715K), and says in which cells ``--model``
beats VDSR.
Data and weights default to ``$SR_SHARED`` (``../shared`` beside the checkout).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path

from sr.atomic import atomic_write_bytes
from sr.cli.eval import main as sr_eval
from sr.outputs import OutputError, ProtectedInputs, check_writable_file

CELLS = (("Set5", 2), ("Set5", 3), ("Set5", 4), ("Set14", 4), ("BSD100", 4))
TARGETS = {("Set5", 2): 37.0, ("Set5", 3): 33.3, ("Set5", 4): 31.0, ("Set14", 4): 27.9, ("BSD100", 4): 27.1}
NINE = tuple((d, s) for d in ("Set5", "Set14", "BSD100") for s in (2, 3, 4))
# PSNR (Y, crop = scale, MATLAB bicubic), as the papers print them
LIGHTWEIGHT = {
    "VDSR (published)": dict(
        zip(NINE, (37.53, 33.66, 31.35, 33.03, 29.77, 28.01, 31.90, 28.82, 27.29), strict=True)
    ),
    "IMDN (published)": dict(
        zip(NINE, (38.00, 34.36, 32.21, 33.63, 30.32, 28.58, 32.19, 29.09, 27.56), strict=True)
    ),
}
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
    p.add_argument("--nine", action="store_true", help="all nine cells, against VDSR and IMDN")
    args = p.parse_args(argv)
    cells = NINE if args.nine else CELLS
    if args.json:  # checked before the evaluation: an output never lands on an input
        inputs = ProtectedInputs(files=[args.model, args.srcnn], folders=[args.benchmarks])
        try:
            check_writable_file(inputs.check(args.json, overwrite=True, what="--json"), "--json")
        except OutputError as err:
            raise SystemExit(f"eval_default_model: error: {err}") from None
    table_file = args.benchmarks / "reference_numbers.json"
    missing = [p for p in (table_file, *(args.benchmarks / d for d, _ in cells)) if not p.exists()]
    if missing:
        raise SystemExit(f"eval_default_model: error: --benchmarks {args.benchmarks}: missing {missing[0]}")
    published = json.loads(table_file.read_text())
    rows: dict[str, dict[tuple[str, int], str]] = {}
    for label, keys in PUBLISHED.items():
        rows[label] = {}
        for dataset, scale in cells:
            entry = published[f"x{scale}"][keys[scale]].get(dataset)
            if entry is None:
                continue
            psnr, ssim = entry.split("/")
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
            sets = [d for d, s in cells if s == scale]
            for dataset, (psnr, ssim) in evaluate(model, scale, sets, args.benchmarks, extra).items():
                rows[label][dataset, scale] = f"{psnr:.2f} / {ssim:.4f}"
                if model == args.model:
                    ours[dataset, scale] = psnr
    targets = LIGHTWEIGHT["VDSR (published)"] if args.nine else TARGETS
    if args.nine:
        rows.update({k: {c: f"{v:.2f}" for c, v in vals.items()} for k, vals in LIGHTWEIGHT.items()})
    else:
        rows["target (PSNR)"] = {cell: f"≥ {t}" for cell, t in TARGETS.items()}
    print("\n| | " + " | ".join(f"{d} x{s}" for d, s in cells) + " |")
    print("|---" * (len(cells) + 1) + "|")
    for label, row in rows.items():
        print(f"| {label} | " + " | ".join(row.get(c, "") for c in cells) + " |")
    # the nine cells: beating VDSR means more than its two-decimal figure
    met = {f"{d} x{s}": ours[d, s] > t if args.nine else ours[d, s] >= t for (d, s), t in targets.items()}
    if args.nine:
        print("\nbeats VDSR: " + ", ".join(f"{k} {'yes' if v else 'NO'}" for k, v in met.items()))
        met_key = "beats_vdsr"
    else:
        met_key = "targets_met"
        print("\ntargets met: " + ", ".join(f"{k} {'yes' if v else 'NO'}" for k, v in met.items()))
    if args.json:
        table = {label: {f"{d} x{s}": v for (d, s), v in row.items()} for label, row in rows.items()}
        data = (json.dumps({"table": table, met_key: met}, indent=2) + "\n").encode()
        atomic_write_bytes(args.json, data)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
