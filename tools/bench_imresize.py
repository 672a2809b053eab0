"""Benchmark of sr's MATLAB-compatible imresize (and PSNR/SSIM) against BasicSR's: a thin wrapper of
the suite's ``imresize`` workload (``tools/bench/imresize_metrics.py``).

    python tools/bench_imresize.py [--reps 5] [--json OUT]

is ``python -m tools.bench --only imresize [--reps 5] [--json OUT]``. BasicSR 1.4.2 must be installed
(``pip install --no-deps --no-build-isolation basicsr==1.4.2 addict yapf requests``); without it the
reference column shows ``n/a``.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tools.bench.run import main

    sys.exit(main(["--only", "imresize", *sys.argv[1:]]))
