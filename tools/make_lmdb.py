"""Pack a folder of images into an LMDB in BasicSR's layout, for ``io_backend: {type: lmdb}``.

    python tools/make_lmdb.py datasets/DIV2K/DIV2K_train_HR_sub datasets/DIV2K/DIV2K_train_HR_sub.lmdb
    python tools/make_lmdb.py datasets/DIV2K/DIV2K_train_LR_bicubic/X4_sub \\
        datasets/DIV2K/DIV2K_train_LR_bicubic_X4_sub.lmdb

Keys are the file stems; values are PNG files (8 or 16 bit as read; alpha dropped; gray stays gray);
``meta_info.txt`` lists ``STEM.png (H,W,C) COMPRESSION`` per image, sorted by name. The LMDB is built
in a temporary folder next to the output and renamed into place when complete, so an interrupted run
leaves no half-written database. Decoding and encoding run in ``--workers`` processes.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import sys
from collections.abc import Iterator
from multiprocessing import Pool
from pathlib import Path

from tqdm import tqdm

from sr.data.imageio import ImageReadError, is_image_file, read_image
from sr.data.lmdb_io import encode_png

log = logging.getLogger("make_lmdb")


def _encode(args: tuple[str, int]) -> tuple[str, bytes, tuple[int, int, int]]:
    path, level = args
    image = read_image(path)
    if image.alpha is not None:
        log.warning("%s: alpha channel dropped", path)
    c, h, w = image.data.shape
    return path, encode_png(image.data, image.bit_depth, level), (h, w, c)


def make_lmdb(
    src: Path, dst: Path, *, compress_level: int = 1, workers: int = 1, progress: bool = True
) -> int:
    """Write every image file of ``src`` (not recursive) into the LMDB folder ``dst`` (which must not
    exist). Returns the number of images. Raises ValueError for duplicate stems or an empty folder,
    ImageReadError naming an unreadable file, FileExistsError if ``dst`` exists."""
    import lmdb

    if not src.is_dir():
        raise FileNotFoundError(f"input folder not found: {src}")
    if dst.exists():
        raise FileExistsError(f"{dst} exists; remove it or pass --overwrite")
    files = sorted(p for p in src.iterdir() if p.is_file() and is_image_file(p))
    if not files:
        raise ValueError(f"no image files in {src}")
    stems: dict[str, Path] = {}
    for p in files:
        if p.stem in stems:
            raise ValueError(f"two images with the key {p.stem!r}: {stems[p.stem]} and {p}")
        stems[p.stem] = p
    tmp = dst.with_name(f".{dst.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    map_size = max(sum(p.stat().st_size for p in files) * 4, 1 << 24)
    env = lmdb.open(str(tmp), map_size=map_size)
    meta = []
    try:
        jobs = [(str(p), compress_level) for p in files]
        results: Iterator[tuple[str, bytes, tuple[int, int, int]]]
        pool = Pool(workers) if workers > 1 else None
        results = pool.imap(_encode, jobs, chunksize=4) if pool is not None else map(_encode, jobs)
        try:
            for path, value, (h, w, c) in tqdm(results, total=len(jobs), unit="img", disable=not progress):
                key = Path(path).stem
                while True:
                    try:
                        with env.begin(write=True) as txn:
                            txn.put(key.encode("utf-8"), value)
                        break
                    except lmdb.MapFullError:
                        map_size *= 2
                        env.set_mapsize(map_size)
                meta.append(f"{key}.png ({h},{w},{c}) {compress_level}\n")
        finally:
            if pool is not None:
                pool.terminate()
        env.sync()
    finally:
        env.close()
    (tmp / "meta_info.txt").write_text("".join(meta), encoding="utf-8")
    tmp.rename(dst)
    return len(meta)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Pack a folder of images into a BasicSR-layout LMDB.")
    parser.add_argument("src", type=Path, help="folder of images (not recursive)")
    parser.add_argument("dst", type=Path, help="output LMDB folder, e.g. DIV2K_train_HR_sub.lmdb")
    parser.add_argument("--compress-level", type=int, default=1, choices=range(10), metavar="0-9")
    parser.add_argument("--workers", type=int, default=4, help="processes decoding/encoding (default 4)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output folder")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    if args.overwrite and args.dst.exists():
        shutil.rmtree(args.dst)
    try:
        n = make_lmdb(
            args.src,
            args.dst,
            compress_level=args.compress_level,
            workers=args.workers,
            progress=not args.quiet,
        )
    except (OSError, ValueError, ImageReadError) as e:
        print(f"make_lmdb: error: {e}", file=sys.stderr)
        return 2
    print(f"wrote {n} images to {args.dst}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
