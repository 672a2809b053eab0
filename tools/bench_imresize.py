"""Benchmark: sr's MATLAB-compatible imresize against BasicSR's on a 2K photo, in one process.

    python tools/bench_imresize.py [--image PHOTO] [--repeats 5] [--basicsr-file PATH]

Prints the median time of each implementation over ``--repeats`` runs (after a warm-up), their
ratio, and the largest difference between their outputs. BasicSR's ``imresize`` (1.4.2,
``basicsr/utils/matlab_functions.py``) is loaded straight from its file, without importing the
``basicsr`` package (whose import fails with current torchvision). It is found in an installed
``basicsr``, at ``--basicsr-file``, or fetched once with ``pip download basicsr==1.4.2`` into
``~/.cache/sr/``. The photo defaults to the first of ``$SR_SHARED/data/photos`` cropped to 2040x1356
(a DIV2K-sized image), else skimage's astronaut tiled to that size.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import numpy as np
import torch

from sr.ops.imresize import imresize

CACHE = Path.home() / ".cache" / "sr" / "basicsr-1.4.2"
MEMBER = "basicsr-1.4.2/basicsr/utils/matlab_functions.py"


def basicsr_file(explicit: str | None) -> Path:
    if explicit:
        return Path(explicit)
    spec = importlib.util.find_spec("basicsr")  # locates the package without running its __init__
    if spec is not None and spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations))) / "utils" / "matlab_functions.py"
    target = CACHE / "matlab_functions.py"
    if not target.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--no-deps",
                "--no-binary",
                ":all:",
                "--no-build-isolation",
                "-q",
                "-d",
                str(CACHE),
                "basicsr==1.4.2",
            ],
            check=True,
        )
        with tarfile.open(CACHE / "basicsr-1.4.2.tar.gz") as tar:
            data = tar.extractfile(MEMBER)
            assert data is not None
            target.write_bytes(data.read())
    return target


def load_photo(path: str | None) -> np.ndarray:
    shared = os.environ.get("SR_SHARED")
    if path is None and shared:
        photos = sorted((Path(shared) / "data" / "photos").rglob("*.jpg"))
        path = str(photos[0]) if photos else None
    if path is not None:
        from sr.data.imageio import read_image

        img = read_image(path).rgb().permute(1, 2, 0).double().numpy()
    else:
        from skimage.data import astronaut

        img = np.tile(astronaut(), (3, 4, 1)).astype(np.float64) / 255
    if img.shape[0] < 1356 or img.shape[1] < 2040:
        raise SystemExit(f"the benchmark photo must be at least 2040x1356, got {img.shape[1]}x{img.shape[0]}")
    return np.ascontiguousarray(img[:1356, :2040])


def median_time(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--image")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--scale", type=float, default=0.25)
    parser.add_argument("--basicsr-file")
    args = parser.parse_args()

    spec = importlib.util.spec_from_file_location("basicsr_matlab_functions", basicsr_file(args.basicsr_file))
    assert spec is not None and spec.loader is not None
    ref = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ref)

    img = load_photo(args.image)
    # both in float32, as BasicSR computes internally
    hwc32 = img.astype(np.float32)
    chw32 = torch.from_numpy(hwc32).permute(2, 0, 1).contiguous()
    ours_out = imresize(chw32, args.scale).permute(1, 2, 0).numpy()
    ref_out = ref.imresize(hwc32, args.scale)
    diff = float(np.abs(ours_out - ref_out).max())

    t_ours = median_time(lambda: imresize(chw32, args.scale), args.repeats)
    t_ref = median_time(lambda: ref.imresize(hwc32, args.scale), args.repeats)
    print(
        f"image {img.shape[1]}x{img.shape[0]} RGB float32, scale {args.scale}, torch threads "
        f"{torch.get_num_threads()}, median of {args.repeats}"
    )
    print(f"  basicsr 1.4.2 imresize : {t_ref * 1000:9.1f} ms")
    print(f"  sr.ops.imresize        : {t_ours * 1000:9.1f} ms")
    print(f"  speed-up               : {t_ref / t_ours:9.1f}x")
    print(f"  max |difference|       : {diff:.2e} (of 1.0; output {ours_out.shape[1]}x{ours_out.shape[0]})")


if __name__ == "__main__":
    main()
