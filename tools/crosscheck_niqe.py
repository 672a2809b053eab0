"""Cross-check ``sr.metrics.niqe`` against BasicSR's ``calculate_niqe`` (an independent implementation
that matches the MATLAB release: 5.7296 on Set14's baboon, its docstring says).

    pip download --no-deps --no-build-isolation basicsr==1.4.2 -d /tmp
    tar xzf /tmp/basicsr-1.4.2.tar.gz -C /tmp
    python tools/crosscheck_niqe.py --basicsr /tmp/basicsr-1.4.2 ../shared/data/benchmarks/Set14/*.png

BasicSR's package ``__init__`` no longer imports with current torchvision, so its metric modules are
loaded on their own (an empty ``basicsr`` package over the source folder). Prints one line per image
with both values and their difference; exit 1 when any differs by more than ``--tol``.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import types
from pathlib import Path

import numpy as np

from sr.data.imageio import read_image
from sr.metrics.niqe import niqe_rgb


def load_basicsr_niqe(src: Path):
    """BasicSR's ``calculate_niqe`` from a source tree or an installed package folder's parent."""
    root = src / "basicsr"
    if not (root / "metrics" / "niqe.py").is_file():
        raise SystemExit(f"{src}: no basicsr/metrics/niqe.py below it")
    pkg = types.ModuleType("basicsr")
    pkg.__path__ = [str(root)]
    sys.modules["basicsr"] = pkg
    if "scipy.ndimage.filters" not in sys.modules:  # removed from recent SciPy; BasicSR imports it
        import scipy.ndimage

        sys.modules["scipy.ndimage.filters"] = scipy.ndimage
    return importlib.import_module("basicsr.metrics.niqe").calculate_niqe


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--basicsr", type=Path, required=True, help="folder holding basicsr/ (source or site)")
    p.add_argument("--crop-border", type=int, default=0)
    p.add_argument("--tol", type=float, default=1e-3)
    p.add_argument("images", type=Path, nargs="+")
    args = p.parse_args(argv)
    calculate_niqe = load_basicsr_niqe(args.basicsr)
    worst = 0.0
    for path in args.images:
        img = read_image(path)
        data = img.data.double()
        if img.is_gray:  # the gray levels are the luma: BasicSR's 'HW' input skips its conversion
            hw = (data[0].numpy() * 255).round()
            theirs = float(calculate_niqe(hw, args.crop_border, input_order="HW"))
        else:
            bgr = (data.permute(1, 2, 0).numpy()[..., ::-1] * 255).round()
            theirs = float(calculate_niqe(bgr, args.crop_border, input_order="HWC", convert_to="y"))
        ours = niqe_rgb(data, args.crop_border)
        worst = max(worst, abs(ours - theirs))
        print(f"{path.name:<24} sr {ours:.6f}  basicsr {theirs:.6f}  diff {ours - theirs:+.2e}")
    print(f"largest difference {worst:.2e} (tolerance {args.tol:g})")
    return 0 if worst <= args.tol and np.isfinite(worst) else 1


if __name__ == "__main__":
    raise SystemExit(main())
