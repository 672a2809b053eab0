"""Wall time of ``sr-infer`` with the bundled default model (or ``--model``) on a 1-megapixel photo
(x4 by default).

    python tools/time_default_model.py [--model default] [--scale 4] [--reps 3] [--size 1280x800]
        [--image PATH] [--precision fp32|bf16] [--threads N] [--tile auto|N] [--ref-src DIR]
        [--ref-model MODEL]

Runs the real command (``sr-infer IMAGE -o OUT --scale S``, a fresh process each time: start-up,
model load, tiling, PNG encoding included) ``--reps`` times and prints each wall time and the
median. The input is a ``--size`` crop of ``--image`` (default: the first of ``$SR_SHARED/data/photos``;
a synthetic image when there is none), written as PNG first. ``--threads`` sets OMP_NUM_THREADS for
the command (default: unset, i.e. every core).

``--ref-src DIR`` also times a reference version of the toolkit, the ``sr`` package in the source tree
``DIR`` (e.g. ``git worktree add /tmp/sr-ref HEAD~1``; same venv), alternating with the installed one
run by run (in the order AB BA AB ...), and prints both medians and their ratio: on a noisy machine a
ratio measured in one run says more than two medians measured apart. Before each run the script also
times a fixed 3x3 convolution (:func:`conv_gflops`) and prints its GFLOP/s: the machine's speed at the
time, to read the wall times against.

``--ref-model MODEL`` likewise alternates with ``sr-infer --model MODEL`` (e.g. a candidate architecture
against the bundled model) and prints the ratio of the medians.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def make_input(size: tuple[int, int], image: Path | None, out: Path) -> Path:
    """A ``(width, height)`` RGB PNG at ``out``: the centre crop of ``image``, else synthetic."""
    from sr.data.imageio import read_image, write_image

    w, h = size
    if image is not None:
        if not image.is_file():
            raise SystemExit(f"time_default_model: error: --image {image}: no such file")
        x = read_image(image).rgb()
        if x.shape[1] < h or x.shape[2] < w:
            raise SystemExit(f"{image}: {x.shape[2]}x{x.shape[1]} is smaller than {w}x{h}")
        top, left = (x.shape[1] - h) // 2, (x.shape[2] - w) // 2
        x = x[:, top : top + h, left : left + w]
    else:
        import torch

        g = np.random.default_rng(0)
        yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
        base = np.stack([np.sin(9 * xx + 3 * c) * np.cos(7 * yy) for c in range(3)])
        x = torch.from_numpy((0.5 + 0.4 * base + 0.05 * g.standard_normal((3, h, w))).clip(0, 1)).float()
    write_image(out, x)
    return out


def default_image() -> Path | None:
    shared = Path(os.environ.get("SR_SHARED", Path(__file__).resolve().parents[2] / "shared"))
    root = shared / "data" / "photos"
    photos = sorted(root.rglob("*.jpg")) if root.is_dir() else []
    return photos[0] if photos else None


def conv_gflops() -> float:
    """How fast this machine is right now: GFLOP/s of a 3x3 convolution, 64 to 64 channels on 128x128,
    fp32 channels_last, median of 5 calls (``python -m tools.bench``'s peak probe; 149 on the 2-core
    development machine when quiet). Shown beside each run, so that a slow run can be told from a slow
    machine."""
    import torch

    x = torch.rand(1, 64, 128, 128).contiguous(memory_format=torch.channels_last)
    conv = torch.nn.Conv2d(64, 64, 3, padding=1).to(memory_format=torch.channels_last)
    ts = []
    with torch.inference_mode():
        conv(x)
        for _ in range(5):
            t0 = time.perf_counter()
            conv(x)
            ts.append(time.perf_counter() - t0)
    return 2 * 9 * 64 * 64 * 128 * 128 / statistics.median(ts) / 1e9


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="default", help="sr-infer's --model (default: the bundled model)")
    p.add_argument("--ref-model", help="a second --model to alternate with, run by run")
    p.add_argument("--scale", type=int, default=4)
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--size", default="1280x800", help="WIDTHxHEIGHT of the input (default 1280x800: 1.02 MP)")
    p.add_argument("--image", type=Path, help="photo to crop the input from")
    p.add_argument("--precision", default="fp32", choices=("fp32", "bf16"))
    p.add_argument("--threads", type=int)
    p.add_argument("--tile", default="auto", help="sr-infer's --tile (default auto)")
    p.add_argument("--ref-src", type=Path, help="source tree of a reference version to alternate with")
    args = p.parse_args(argv)
    for attr in ("model", "ref_model"):  # sr-infer runs in a temporary folder: a relative file path
        value = getattr(args, attr)  # must become absolute (names such as default stay names)
        if value is not None and Path(value).is_file():
            setattr(args, attr, str(Path(value).resolve()))
    w, h = (int(v) for v in args.size.lower().split("x"))
    exe = shutil.which("sr-infer") or sys.exit("sr-infer is not on PATH: install sr first (pip install -e .)")
    env = dict(os.environ)
    if args.threads:
        env["OMP_NUM_THREADS"] = str(args.threads)
    with tempfile.TemporaryDirectory(prefix="sr-time-") as tmp:
        src = make_input((w, h), args.image or default_image(), Path(tmp) / "input.png")
        cmd = [exe, str(src), "-o", str(Path(tmp) / "out"), "--scale", str(args.scale)]
        cmd += ["--precision", args.precision, "--tile", args.tile, "--overwrite"]
        print(f"{' '.join(cmd)} --model {args.model}  ({w}x{h} = {w * h / 1e6:.2f} MP in, x{args.scale})")
        runs = {"this": ([*cmd, "--model", args.model], env)}
        if args.ref_model is not None:
            runs["ref-model"] = ([*cmd, "--model", args.ref_model], env)
        if args.ref_src is not None:
            if not (args.ref_src / "sr" / "__init__.py").is_file():
                raise SystemExit(f"time_default_model: error: --ref-src {args.ref_src}: no sr package in it")
            ref_cmd = [sys.executable, "-c", "from sr.cli.infer import main; main()", *runs["this"][0][1:]]
            runs["ref"] = (ref_cmd, {**env, "PYTHONPATH": str(args.ref_src.resolve())})
        times: dict[str, list[float]] = {name: [] for name in runs}
        probes: list[float] = []
        for i in range(args.reps):
            probes.append(conv_gflops())
            print(f"machine before run {i + 1}: conv probe {probes[-1]:.0f} GFLOP/s", flush=True)
            for name in list(runs) if i % 2 == 0 else list(runs)[::-1]:  # ABBA: neither always first
                c, e = runs[name]
                t0 = time.perf_counter()
                # cwd: the temporary folder, so that `python -c` imports no `sr` from the current one
                if subprocess.run(c, env=e, cwd=tmp, stdout=subprocess.DEVNULL).returncode != 0:
                    raise SystemExit(f"time_default_model: error: sr-infer failed (message above): {c}")
                times[name].append(time.perf_counter() - t0)
                label = "" if len(runs) == 1 else f" ({name})"
                print(f"run {i + 1}{label}: {times[name][-1]:.1f} s", flush=True)
    med = {name: statistics.median(t) for name, t in times.items()}
    for name in runs:
        print(f"median{'' if len(runs) == 1 else f' ({name})'} {med[name]:.1f} s over {args.reps} runs")
    for ref in ("ref", "ref-model"):
        if ref in med:
            print(f"ratio this / {ref}: {med['this'] / med[ref]:.3f}")
    print(f"conv probe: median {statistics.median(probes):.0f} GFLOP/s ({min(probes):.0f}-{max(probes):.0f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
