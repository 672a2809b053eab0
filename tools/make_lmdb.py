"""Pack a folder of images into an LMDB in BasicSR's layout, for ``io_backend: {type: lmdb}``.

    python tools/make_lmdb.py datasets/DIV2K/DIV2K_train_HR_sub datasets/DIV2K/DIV2K_train_HR_sub.lmdb
    python tools/make_lmdb.py datasets/DIV2K/DIV2K_train_LR_bicubic/X4_sub \\
        datasets/DIV2K/DIV2K_train_LR_bicubic_X4_sub.lmdb

Keys are the file stems; values are PNG files (8 or 16 bit as read; alpha dropped; gray stays gray);
``meta_info.txt`` lists ``STEM.png (H,W,C) COMPRESSION`` per image, sorted by name. The LMDB is built
in a temporary folder next to the output and renamed into place when complete, so an interrupted or
failed run leaves no half-written database; ``--overwrite`` replaces an existing output only then. An
output that is, is inside or contains the input folder is refused. Decoding and encoding run in
``--workers`` processes.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import sys
from collections.abc import Iterator
from multiprocessing import Pool
from pathlib import Path

import torch
from tqdm import tqdm

from sr.data.imageio import ImageReadError, is_image_file, read_image
from sr.data.lmdb_io import encode_png

log = logging.getLogger("make_lmdb")


def _init_worker() -> None:
    # Workers are forked: a parent that has run a parallel torch op (OpenMP) leaves a thread pool the
    # child cannot use, and its first parallel op hangs. One thread per worker process avoids that pool
    # (as torch's DataLoader workers do); the parallelism is across the processes.
    torch.set_num_threads(1)


def _encode(args: tuple[str, int]) -> tuple[str, bytes, tuple[int, int, int]]:
    path, level = args
    image = read_image(path)
    if image.alpha is not None:
        log.warning("%s: alpha channel dropped", path)
    c, h, w = image.data.shape
    return path, encode_png(image.data, image.bit_depth, level), (h, w, c)


def _check_apart(src: Path, outputs: tuple[Path, ...]) -> None:
    """Raise ValueError when an output (or a temporary folder next to it) is the source folder, inside it
    or a parent of it, symlinks resolved: replacing or cleaning it would delete the input images."""
    s = src.resolve()
    for out in outputs:
        o = out.resolve()
        if o == s or o.is_relative_to(s) or s.is_relative_to(o):
            where = "is" if o == s else "is inside" if o.is_relative_to(s) else "contains"
            raise ValueError(
                f"output {out} ({o}) {where} the input folder {src} ({s}); choose an output folder apart "
                "from the input"
            )


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def make_lmdb(
    src: Path,
    dst: Path,
    *,
    compress_level: int = 1,
    workers: int = 1,
    progress: bool = True,
    overwrite: bool = False,
) -> int:
    """Write every image file of ``src`` (not recursive) into the LMDB folder ``dst``. Returns the number
    of images. The LMDB is built in ``.<dst name>.tmp`` next to ``dst`` (removed again on any failure) and
    moved to ``dst`` only when complete; with ``overwrite`` an existing ``dst`` is replaced only then, so a
    failed run leaves it as it was. Raises ValueError for duplicate stems, an empty folder or an output
    that is, is inside or contains ``src``; ImageReadError naming an unreadable file; FileExistsError if
    ``dst`` exists and ``overwrite`` is False; FileNotFoundError if ``src`` is not a folder."""
    tmp, old = dst.with_name(f".{dst.name}.tmp"), dst.with_name(f".{dst.name}.old")
    _check_apart(src, (dst, tmp, old))
    if not src.is_dir():
        raise FileNotFoundError(f"input folder not found: {src}")
    if not overwrite and (dst.exists() or dst.is_symlink()):
        raise FileExistsError(f"{dst} exists; remove it or pass --overwrite")
    files = sorted(p for p in src.iterdir() if p.is_file() and is_image_file(p))
    if not files:
        raise ValueError(f"no image files in {src}")
    stems: dict[str, Path] = {}
    for p in files:
        if p.stem in stems:
            raise ValueError(f"two images with the key {p.stem!r}: {stems[p.stem]} and {p}")
        stems[p.stem] = p
    _remove(tmp)  # left over from a killed run
    tmp.mkdir(parents=True)
    try:
        n = _build(tmp, files, compress_level, workers, progress)
        _replace(tmp, dst, old)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return n


def _build(tmp: Path, files: list[Path], compress_level: int, workers: int, progress: bool) -> int:
    import lmdb

    map_size = max(sum(p.stat().st_size for p in files) * 4, 1 << 24)
    env = lmdb.open(str(tmp), map_size=map_size)
    meta = []
    try:
        jobs = [(str(p), compress_level) for p in files]
        results: Iterator[tuple[str, bytes, tuple[int, int, int]]]
        pool = Pool(workers, initializer=_init_worker) if workers > 1 else None
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
    return len(meta)


def _replace(tmp: Path, dst: Path, old: Path) -> None:
    """Move the finished ``tmp`` to ``dst``; an existing ``dst`` is first moved aside to ``old`` (and put
    back if the move fails), then deleted."""
    if not (dst.exists() or dst.is_symlink()):
        tmp.rename(dst)
        return
    _remove(old)  # left over from a killed run
    dst.rename(old)
    try:
        tmp.rename(dst)
    except BaseException:
        old.rename(dst)
        raise
    try:
        _remove(old)
    except OSError as e:  # the new output is complete and in place; only the old copy lingers
        log.warning("could not remove the replaced output %s: %s", old, e)


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
    try:
        n = make_lmdb(
            args.src,
            args.dst,
            compress_level=args.compress_level,
            workers=args.workers,
            progress=not args.quiet,
            overwrite=args.overwrite,
        )
    except (OSError, ValueError, ImageReadError) as e:
        print(f"make_lmdb: error: {e}", file=sys.stderr)
        return 2
    print(f"wrote {n} images to {args.dst}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
