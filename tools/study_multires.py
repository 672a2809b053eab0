"""The study of issue 5: mixed-resolution training vs "zero-shot" super-resolution, equal compute.

    python tools/study_multires.py                      # the full study (~55 min on this 2-core CPU)
    python tools/study_multires.py --estimate           # calibrate, print the time estimate, stop
    python tools/study_multires.py --quick              # a few iterations per arm, 2 test images

Trains every arm of :mod:`tools.study.arms` (low, high, mix85, mix70, bandlimited, x2_mix85,
multiscale_mix85) through the real toolkit (``sr.options.options_from_dict`` +
``sr.engine.trainer.Trainer``) on the 16 training photographs of ``$SR_SHARED/data/photos``
(``options/lists/photos_train.txt``; never the benchmarks), then evaluates every arm and bicubic at
x4 on BSD100 and the 3 held-out photos (``options/lists/photos_val.txt``) at test resolutions 1,
1/2 and 1/4 (:mod:`tools.study.testsets`), and writes ``REPORT.md``, ``results.json`` and PNG plots
to ``--out`` (default ``experiments/study_multires/``; ``--quick``: ``experiments/study_multires_quick/``,
so that a quick run never overwrites the study's report). The runs (checkpoints, logs) go to
``--out/runs/``, which the report does not need. An arm whose run folder holds a finished run with
identical options is reused, not retrained (``--fresh`` retrains); any other existing run folder is
an error naming it.

Training and evaluation use ``--threads`` torch threads (default 1): on this shared 2-core machine,
with other work running, a 2-thread training step measured 1.78 s against 0.12 s for 1 thread (the
second thread waits on a busy core); on a quiet machine ``--threads 2`` is faster.

``--train-dir DIR`` (every image of DIR) and ``--test-dir DIR`` (repeatable; each a test set named
after the folder) replace the shared data, e.g. for tests on synthetic images.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import platform
import shlex
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `python tools/study_multires.py` puts tools/, not the root, on the path
    sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from sr.atomic import atomic_write_bytes  # noqa: E402
from sr.cli.common import fail, write_json_atomic  # noqa: E402
from sr.engine.dist import DistContext  # noqa: E402
from sr.engine.trainer import Trainer  # noqa: E402
from sr.inference.loading import resolve_model  # noqa: E402
from tools.bench.common import cpu_model  # noqa: E402
from tools.study import arms as A  # noqa: E402
from tools.study import document, report  # noqa: E402
from tools.study import testsets as T  # noqa: E402

PROG = "study_multires"
DEFAULT_ITERS = 2000  # measured 0.165 s/iter (x4 arms, 1 thread, data included): ~41 min for the 7 arms
QUICK = {"iters": 3, "num_feat": 16, "num_block": 1, "gt_size": 32, "batch": 4, "images": 2}
log = logging.getLogger("study")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=PROG, description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--quick", action="store_true", help="a few iterations per arm, tiny model, 2 test images")
    p.add_argument("--iters", type=int, help=f"iterations per arm (default {DEFAULT_ITERS}; --quick: 3)")
    p.add_argument("--seed", type=int, default=0, help="manual_seed of every arm (default 0)")
    p.add_argument(
        "--out",
        type=Path,
        help="report folder (default experiments/study_multires/; --quick: .../study_multires_quick/)",
    )
    p.add_argument("--arms", default=",".join(A.ARMS), help=f"comma-separated subset of {','.join(A.ARMS)}")
    p.add_argument("--shared", type=Path, help="shared data folder (default $SR_SHARED, else ../shared)")
    p.add_argument("--train-dir", type=Path, help="train on every image of this folder instead of the photos")
    p.add_argument("--test-dir", type=Path, action="append", help="test set folder (repeatable)")
    p.add_argument("--max-test-images", type=int, help="at most this many images per test set")
    p.add_argument("--bandlimit", type=float, default=0.5, help="gt_bandlimit of the bandlimited arm")
    p.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads (default 1: on a shared 2-core machine a second thread waits on busy cores)",
    )
    p.add_argument("--fresh", action="store_true", help="retrain arms whose run folder already exists")
    p.add_argument("--estimate", action="store_true", help="print compute and time estimate, then stop")
    return p


def _shared(args: argparse.Namespace) -> Path:
    if args.shared is not None:
        return args.shared
    env = os.environ.get("SR_SHARED")
    return Path(env) if env else ROOT.parent / "shared"


def data_paths(
    args: argparse.Namespace,
) -> tuple[Path, Path | None, list[tuple[str, Path, Path | None]], list[str]]:
    """``(train_dir, train_list, [(test name, folder, list)], skipped messages)``."""
    shared = _shared(args)
    photos = shared / "data" / "photos"
    skipped: list[str] = []
    if args.train_dir is not None:
        if not args.train_dir.is_dir():
            raise FileNotFoundError(f"--train-dir {args.train_dir}: folder not found")
        train: tuple[Path, Path | None] = (args.train_dir, None)
    else:
        if not photos.is_dir():
            raise FileNotFoundError(f"training photos not found at {photos}; give --shared or --train-dir")
        train = (photos, ROOT / "options" / "lists" / "photos_train.txt")
    tests: list[tuple[str, Path, Path | None]] = []
    if args.test_dir:
        for d in args.test_dir:
            if not d.is_dir():
                raise FileNotFoundError(f"--test-dir {d}: folder not found")
            tests.append((d.name, d, None))
        return train[0], train[1], tests, skipped
    bsd = shared / "data" / "benchmarks" / "BSD100"
    if bsd.is_dir():
        tests.append(("BSD100", bsd, None))
    else:
        skipped.append(f"BSD100 not found at {bsd}: evaluated on the held-out photos only")
        print(f"{PROG}: {skipped[-1]}")
    if not photos.is_dir():
        raise FileNotFoundError(f"held-out photos not found at {photos}; give --shared or --test-dir")
    tests.append(("photos_val", photos, ROOT / "options" / "lists" / "photos_val.txt"))
    return train[0], train[1], tests, skipped


def machine() -> dict[str, Any]:
    cpu = cpu_model(platform.processor() or "unknown CPU")
    return {
        "cpu": cpu,
        "nproc": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "load_avg_1min": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
    }


def dir_size(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) if folder.is_dir() else 0


def train_arm(arm: str, setup: A.Setup, fresh: bool) -> tuple[Path, float, bool]:
    """Train ``arm`` (or reuse its finished run with identical options); ``(weights, seconds, reused)``."""
    raw = A.arm_options(arm, setup)
    run = setup.runs_dir / arm
    weights = run / "models" / "net_g_latest.pth"
    meta = run / "study_arm.json"
    if run.exists() and not fresh:
        done = json.loads(meta.read_text()) if meta.is_file() else None
        if done is not None and done.get("options") == raw and weights.is_file():
            print(f"{PROG}: {arm}: reusing the finished run in {run} ({done['seconds']:.0f} s)")
            return weights, float(done["seconds"]), True
        raise FileExistsError(
            f"{run} holds a run that is unfinished or has other options; pass --fresh to retrain it "
            "(its folder is removed) or choose another --out"
        )
    if run.exists():
        shutil.rmtree(run)
    t0 = time.perf_counter()
    Trainer(A.arm_opt(arm, setup), DistContext(0, 0, 1, torch.device("cpu"))).fit()
    seconds = time.perf_counter() - t0
    write_json_atomic(meta, {"options": raw, "seconds": seconds})
    return weights, seconds, False


def load_arm(arm: str, weights: Path) -> torch.nn.Module:
    """The arm's x4 upscaler: its network, the x4 head of the multi-scale one, the x2 one chained."""
    if arm == "x2_mix85":
        return T.Chained(resolve_model(str(weights), 2), 2)
    return resolve_model(str(weights), 4)


def _finite(obj: Any) -> Any:
    """JSON-safe copy: NaN/inf -> None."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_finite(v) for v in obj]
    return obj


def run(args: argparse.Namespace, argv: list[str]) -> dict[str, Any]:
    t_start = time.perf_counter()
    load_start = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    if args.threads < 1:
        raise ValueError(f"--threads {args.threads}: must be >= 1")
    torch.set_num_threads(args.threads)
    arms = [a.strip() for a in args.arms.split(",") if a.strip()]
    bad = [a for a in arms if a not in A.ARMS]
    if bad or not arms:
        raise ValueError(f"--arms: unknown arm(s) {bad or arms}; choose from {', '.join(A.ARMS)}")
    iters = args.iters if args.iters is not None else QUICK["iters"] if args.quick else DEFAULT_ITERS
    if iters < 1:
        raise ValueError(f"--iters {iters}: must be >= 1")
    train_dir, train_list, tests, skipped = data_paths(args)
    out: Path = args.out or ROOT / "experiments" / (
        "study_multires_quick" if args.quick else "study_multires"
    )
    size = {k: QUICK[k] for k in ("num_feat", "num_block", "gt_size", "batch")} if args.quick else {}
    setup = A.Setup(train_dir, train_list, out / "runs", iters, args.seed, bandlimit=args.bandlimit, **size)
    limit = args.max_test_images or (QUICK["images"] if args.quick else None)

    compute: dict[str, dict[str, Any]] = {}
    estimate = 0.0
    for arm in arms:
        flops = A.flops_per_iter(arm, setup)
        step = A.time_per_iter(arm, setup, steps=2 if args.quick else 6, warmup=1 if args.quick else 2)
        estimate += step * iters
        scale = A.arm_scale(arm)
        lr_patch = f"{setup.gt_size // 2}/{setup.gt_size // 4}" if arm == "multiscale_mix85" else None
        compute[arm] = {
            "description": setup.describe(arm),
            "scale": "2+4" if arm == "multiscale_mix85" else scale,
            "iters": iters,
            "batch": setup.batch,
            "gt_size": setup.gt_size,
            "lr_patch": lr_patch or setup.gt_size // scale,
            "gflop_per_iter": flops / 1e9,
            "total_tflop": flops * iters / 1e12,
            "calibrated_s_per_iter": step,
        }
        print(f"{PROG}: {arm}: {flops / 1e9:.2f} GFLOP/iter (fwd+bwd), {step:.3f} s/iter calibrated")
    print(
        f"{PROG}: estimated training time for {len(arms)} arm(s) x {iters} iterations: "
        f"{estimate / 60:.1f} min "
        "(synthetic-batch calibration; data set building and evaluation come on top)"
    )
    if args.estimate:
        return {"estimate_s": estimate, "compute": compute}

    walls: dict[str, float] = {}
    weights: dict[str, Path] = {}
    t_train = time.perf_counter()
    for arm in arms:
        print(f"{PROG}: training {arm} ({setup.describe(arm)}), {iters} iterations")
        weights[arm], walls[arm], compute[arm]["reused"] = train_arm(arm, setup, args.fresh)
        print(f"{PROG}: {arm} trained in {walls[arm]:.0f} s")
    train_s = time.perf_counter() - t_train

    t_eval = time.perf_counter()
    labels = [T.res_label(r) for r in T.RESOLUTIONS]
    results: report.Results = {}
    test_info: dict[str, str] = {}
    models = {"bicubic": resolve_model("bicubic", 4), **{a: load_arm(a, weights[a]) for a in arms}}
    with tempfile.TemporaryDirectory(prefix="study_multires_") as tmp:
        for name, folder, list_file in tests:
            files = T.list_test_images(folder, list_file, limit)
            test_info[name] = f"{len(files)} images from {folder}" + (
                f" ({list_file.name})" if list_file else ""
            )
            print(f"{PROG}: test set {name}: {len(files)} images at resolutions {', '.join(labels)}")
            folders = T.prepare(name, files, T.RESOLUTIONS, Path(tmp))
            results[name] = {}
            for row, model in models.items():
                results[name][row] = {}
                for tf in folders:
                    results[name][row][T.res_label(tf.resolution)] = T.evaluate(model, tf)
                psnrs = ", ".join(f"{r} {results[name][row][r]['psnr']:.2f}" for r in labels)
                print(f"{PROG}:   {name} {row}: PSNR {psnrs}")
    eval_s = time.perf_counter() - t_eval

    out.mkdir(parents=True, exist_ok=True)
    plots = {
        "psnr": report.plot_metric_vs_resolution(
            results, list(T.RESOLUTIONS), labels, out / "psnr_vs_resolution.png"
        ),
        "spectral": report.plot_spectral_vs_resolution(
            results, list(T.RESOLUTIONS), labels, out / "spectral_vs_resolution.png"
        ),
        "residual": report.plot_residual_spectra(results, labels, out / "residual_spectra.png"),
    }
    runs_size = dir_size(setup.runs_dir)
    info: dict[str, Any] = {
        "command": "python tools/study_multires.py " + shlex.join(argv),
        "quick": args.quick,
        "setup": {
            "seed": args.seed,
            "iters": iters,
            "num_feat": setup.num_feat,
            "num_block": setup.num_block,
            "gt_size": setup.gt_size,
            "batch": setup.batch,
            "lr": setup.lr,
            "bandlimit": setup.bandlimit,
            "train": f"{train_dir}" + (f" ({train_list.name})" if train_list else " (every image)"),
        },
        "arms": arms,
        "test_sets": test_info,
        "skipped": skipped,
        "resolutions": list(T.RESOLUTIONS),
        "resolution_labels": labels,
        "machine": {**machine(), "load_avg_1min_at_start": load_start},
        "compute": compute,
        "estimate_s": estimate,
        "wall_time_s": {"arms": walls, "train": train_s, "eval": eval_s, "total": 0.0},
        "results": results,
        "statements": report.statements(results, labels),
        "tie_db": report.TIE_DB,
        "tie_hf": report.TIE_HF,
        "plots": {k: p.name for k, p in plots.items()},
        "runs_dir": str(setup.runs_dir),
        "runs_size_bytes": runs_size,
    }
    info["wall_time_s"]["total"] = time.perf_counter() - t_start
    write_json_atomic(out / "results.json", _finite(info))
    atomic_write_bytes(out / "REPORT.md", document.render(info).encode())
    print(f"{PROG}: report {out / 'REPORT.md'}, numbers {out / 'results.json'}")
    print(f"{PROG}: runs (not needed by the report) in {setup.runs_dir}: {runs_size / 1e6:.1f} MB")
    print(f"{PROG}: total wall time {info['wall_time_s']['total'] / 60:.1f} min")
    return info


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    logging.getLogger("sr").setLevel(logging.INFO)
    try:
        run(args, argv)
    except (FileNotFoundError, FileExistsError, ValueError) as err:
        fail(PROG, str(err))
    return 0


if __name__ == "__main__":
    sys.exit(main())
