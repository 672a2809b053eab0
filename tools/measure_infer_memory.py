"""Peak memory (and speed) of tiled upscaling of a 4000x3000 photo x4 with RRDBNet (64 features, 23 blocks).

    python tools/measure_infer_memory.py [--tile 256] [--tile-pad 16] [--max-tiles 2] [--write]
        [--size 4000x3000] [--precision fp32|bf16]

Runs the measurement in a fresh subprocess and reads its peak resident set size
(``resource.getrusage(RUSAGE_CHILDREN).ru_maxrss``). The network has random weights (the speed and
memory do not depend on them) and the photo is synthetic (smooth gradients, edges, noise). The 8-bit
output buffer (48000 x 12000 x 3 bytes... i.e. 16000 x 12000 x 3 = 576 MB) is allocated and touched in
full up front, as a complete run fills it. A full run on a 2-core CPU takes hours, so ``--max-tiles K``
stops after K tiles: memory does not grow with the number of tiles done (one band of tile rows is held
at a time), so the peak is reached on the first row of tiles; the per-tile time and the extrapolated
total are printed. ``--write`` then also encodes the (partly filled) buffer to a PNG in a temporary
folder with ``sr.data.imageio.write_image``, to include the encoder's copies in the peak.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


class _Stop(Exception):
    pass


def child(args: argparse.Namespace) -> dict:
    import numpy as np
    import torch

    from sr.archs import RRDBNet
    from sr.data.imageio import write_image
    from sr.inference.tiling import count_tiles, upscale_tiled
    from sr.inference.upscaler import Upscaler

    torch.set_num_threads(max(1, torch.get_num_threads()))
    w, h = (int(v) for v in args.size.split("x"))
    g = np.random.default_rng(0)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    img = torch.from_numpy(
        np.stack(
            [
                0.5 + 0.3 * np.sin(xx / 37) * np.cos(yy / 23),
                (xx + yy) / (w + h),
                ((xx // 50 + yy // 70) % 2) * 0.6,
            ]
        )
        + 0.03 * g.standard_normal((3, h, w), dtype=np.float32)
    ).clamp_(0, 1)
    del yy, xx
    up = Upscaler(
        RRDBNet(num_feat=64, num_block=23, num_grow_ch=32),
        tile=args.tile,
        tile_pad=args.tile_pad,
        precision=args.precision,
        device="cpu",
    )
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    out = np.empty((4 * h, 4 * w, 3), np.uint8)
    out.fill(0)  # commit every page, as a finished run would
    done: list[float] = []
    t0 = time.perf_counter()

    def fn(x: torch.Tensor) -> torch.Tensor:
        if len(done) >= args.max_tiles:
            raise _Stop
        y = up._tile_fn(x)
        done.append(time.perf_counter())
        return y

    try:
        upscale_tiled(fn, img, 4, out, args.tile, args.tile_pad)
    except _Stop:
        pass
    times = np.diff([t0, *done])
    peak_tiles = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    result = {
        "size": [w, h],
        "tile": args.tile,
        "tile_pad": args.tile_pad,
        "precision": args.precision,
        "threads": torch.get_num_threads(),
        "tiles_total": count_tiles(h, w, args.tile),
        "tiles_done": len(done),
        "seconds_per_tile": float(np.median(times)) if len(times) else None,
        "rss_before_output_buffer": base,
        "peak_rss_tiles": peak_tiles,
        "output_buffer": out.nbytes,
    }
    if args.write:
        with tempfile.TemporaryDirectory() as d:
            t1 = time.perf_counter()
            write_image(Path(d) / "out.png", torch.from_numpy(out).permute(2, 0, 1))
            result["write_seconds"] = time.perf_counter() - t1
    return result


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--tile", type=int, default=256)
    p.add_argument("--tile-pad", type=int, default=16)
    p.add_argument("--max-tiles", type=int, default=2)
    p.add_argument("--size", default="4000x3000")
    p.add_argument("--precision", default="fp32", choices=("fp32", "bf16"))
    p.add_argument("--write", action="store_true")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        print(json.dumps(child(args)))
        return
    cmd = [sys.executable, __file__, "--child", *sys.argv[1:]]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"measurement failed:\n{proc.stderr}")
    r = json.loads(proc.stdout.strip().splitlines()[-1])
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    gb = 1e9
    print(
        f"RRDBNet 64f/23b x4, {r['size'][0]}x{r['size'][1]}, tile {r['tile']} pad {r['tile_pad']}, "
        f"{r['precision']}, {r['threads']} threads; {r['tiles_done']} of {r['tiles_total']} tiles"
    )
    print(f"output buffer (uint8):          {r['output_buffer'] / gb:6.2f} GB")
    print(
        f"RSS before the output buffer:   {r['rss_before_output_buffer'] / gb:6.2f} GB "
        "(python, torch, model, input)"
    )
    print(f"peak RSS during tiles:          {r['peak_rss_tiles'] / gb:6.2f} GB")
    print(
        f"peak RSS overall:               {peak / gb:6.2f} GB"
        + (" (with the PNG write)" if args.write else "")
    )
    print(f"excess beyond the output buffer: {(peak - r['output_buffer']) / gb:6.2f} GB")
    if r["seconds_per_tile"] is not None:
        total = r["seconds_per_tile"] * r["tiles_total"]
        print(f"time per tile: {r['seconds_per_tile']:.1f} s; extrapolated total: {total / 60:.0f} min")
    if "write_seconds" in r:
        print(f"PNG encode + atomic write: {r['write_seconds']:.1f} s")


if __name__ == "__main__":
    main()
