"""The benchmark suite: ``sr`` against BasicSR 1.4.2 and Real-ESRGAN on identical inputs and weights.

    python -m tools.bench [--only NAME ...] [--reps N] [--json OUT] [--quick] [--no-ref] [--device cuda]

Workloads (``--only`` takes these names): ``inference`` (batch-1 fp32/bf16 RRDBNet, MSRResNet, SRCNN and
the 3x3-convolution peak), ``tiled`` (512x512 x4 RRDBNet, tile 128, pad 10, vs RealESRGANer),
``training`` (MSRResNet L1 step, ESRGAN step; ours also bf16 and channels_last), ``data`` (paired
GT-128 crops, 0 and 2 workers), ``imresize`` (MATLAB bicubic of a 2K photo; PSNR/SSIM of 19 photos).

Each workload runs in a fresh subprocess (so its memory high-water mark is its own) and prints medians
over ``--reps`` repetitions after one warm-up. ``ratio`` = reference time / ours (above 1: ``sr`` is
faster). A reference that is not installed shows ``n/a`` with the reason; ``sr``'s figures still print.
``--quick`` shrinks every size (for the test suite; the figures mean nothing). ``--device cuda`` runs
every workload on the GPU, both sides (times then wait for the GPU; peak memory is the CUDA allocator's)
and adds the GPU-only cases: fp16, RRDBNet x4 on a 1920x1080 input against the tensor-core peak, and
the fp16 training step. Install the references
with ``pip install --no-deps --no-build-isolation basicsr==1.4.2 realesrgan==0.3.0 addict yapf requests``.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

WORKLOADS = {
    "inference": "tools.bench.inference",
    "tiled": "tools.bench.tiled",
    "training": "tools.bench.training",
    "data": "tools.bench.data",
    "imresize": "tools.bench.imresize_metrics",
}
ROOT = Path(__file__).resolve().parents[2]


def child(name: str, args: argparse.Namespace, out: Path) -> None:
    """Run workload ``name`` here; write ``{"rows": [...]}`` or ``{"error": ...}`` to ``out``."""
    from tools.bench.common import Context, environment, use_device

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    import cv2
    import torch

    cv2.setNumThreads(torch.get_num_threads())  # OpenCV (both sides use it) gets torch's thread count
    use_device(args.device)
    with tempfile.TemporaryDirectory(prefix=f"srbench-{name}-") as tmp:
        ctx = Context(reps=args.reps, quick=args.quick, no_ref=args.no_ref, tmp=Path(tmp))
        t0 = time.perf_counter()
        try:
            rows = importlib.import_module(WORKLOADS[name]).run(ctx)
            result: dict[str, Any] = {"rows": [r.to_json() for r in rows]}
        except Exception as e:
            import traceback

            traceback.print_exc()
            result = {"rows": [], "error": f"{type(e).__name__}: {e}"}
        result["seconds"] = round(time.perf_counter() - t0, 1)
        result["environment"] = environment()
    out.write_text(json.dumps(result))


def fmt_s(v: float | None) -> str:
    if v is None:
        return "-"
    return f"{v * 1000:.1f} ms" if v < 1 else f"{v:.3f} s"


def fmt_extra(extra: dict[str, Any]) -> str:
    skip = {"variants"}
    return ", ".join(f"{k}={v}" for k, v in extra.items() if k not in skip)


def table(rows: list[dict[str, Any]]) -> str:
    head = ["workload", "case", "sr", "reference", "ratio", "sr peak MiB", "ref peak MiB", "notes"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        ref = fmt_s(r["ref_s"]) if r["ref_s"] is not None else ("n/a" if r["ours_s"] is not None else "-")
        ratio = f"{r['ratio']:.2f}x" if r["ratio"] is not None else ("n/a" if r["ref_s"] is None else "-")
        peak = [f"{r[k]:.0f}" if r[k] is not None else "-" for k in ("ours_peak_mb", "ref_peak_mb")]
        notes = "; ".join(x for x in (r["ref_note"], fmt_extra(r["extra"])) if x)
        cells = [r["workload"], r["case"], fmt_s(r["ours_s"]), ref, ratio, *peak, notes]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--only", nargs="+", choices=list(WORKLOADS), help="workloads to run (default: all)")
    parser.add_argument("--reps", type=int, default=5, help="timed repetitions after one warm-up (default 5)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for tests")
    parser.add_argument("--no-ref", action="store_true", help="do not import the references (n/a columns)")
    parser.add_argument("--device", default="cpu", help="cpu (default) or cuda[:N]: where both sides run")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--child-out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.reps < 1:
        parser.error(f"--reps must be >= 1, got {args.reps}")
    if args.child:
        child(args.child, args, args.child_out)
        return 0

    from tools.bench.common import environment, use_device

    try:
        use_device(args.device)
    except RuntimeError as e:
        parser.error(str(e))
    env = environment()
    where = f", {env['gpu']} (CUDA {env['cuda']})" if "gpu" in env else ""
    print(
        f"sr benchmark: {env['cpu']}, {env['cores']} cores, torch {env['torch']}, "
        f"{env['threads']} threads, {env['cpu_isa']}, "
        f"native bf16: {'yes' if env['cpu_native_bf16'] else 'no'}{where}"
    )
    results: dict[str, Any] = {"environment": env, "reps": args.reps, "quick": args.quick, "workloads": {}}
    all_rows: list[dict[str, Any]] = []
    failed = False
    for name in args.only or list(WORKLOADS):
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "result.json"
            cmd = [sys.executable, "-m", "tools.bench.run", "--child", name, "--child-out", str(out)]
            cmd += ["--reps", str(args.reps), "--device", args.device] + (["--quick"] if args.quick else [])
            cmd += ["--no-ref"] if args.no_ref else []
            print(f"running {name} ...", flush=True)
            proc = subprocess.run(cmd, cwd=ROOT)
            if out.exists():
                res = json.loads(out.read_text())
            else:
                res = {"rows": [], "error": f"the subprocess exited with {proc.returncode} and wrote nothing"}
        if res.get("error"):
            failed = True
            print(f"  {name} FAILED: {res['error']}", file=sys.stderr)
        else:
            print(f"  {name}: {res['seconds']} s")
        results["workloads"][name] = res
        all_rows += res["rows"]
    results["rows"] = all_rows
    print()
    print(table(all_rows))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=1))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
