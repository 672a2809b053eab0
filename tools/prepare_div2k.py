"""Cut DIV2K into overlapping sub-images for fast training I/O (BasicSR's ``extract_subimages``).

    python tools/prepare_div2k.py --src downloads/ --dst datasets/DIV2K --scales 2 3 4 --splits train valid

``--src`` holds the official archives (``DIV2K_train_HR.zip``, ``DIV2K_train_LR_bicubic_X4.zip``, ...)
or their extracted folders (``DIV2K_train_HR/0001.png``, ``DIV2K_train_LR_bicubic/X4/0001x4.png``);
a folder is used when both exist. Written under ``--dst``::

    DIV2K_train_HR_sub/0001_s001.png ...               HR crops, crop_size x crop_size
    DIV2K_train_LR_bicubic/X4_sub/0001_s001.png ...    the matching LR crops (crop_size / 4)

Crop positions as BasicSR: along each axis ``0, step, 2 step, ...`` while the crop fits, plus one last
crop flush with the border when more than ``--thresh-size`` pixels would be left over; numbered
``_s001, _s002, ...`` row by row. LR crops are ``crop_size / s`` at step ``step / s`` (so they cover
exactly the HR crops; the ``x4`` suffix is dropped from LR names, so training uses ``filename_tmpl: '{}'``).

Resumable: sub-images already present are skipped (they are written atomically, so a present file is
complete), and an image whose sub-images all exist is not decoded. At the end every expected file
(counts from the image sizes) is checked; anything missing, or an LR image that is not exactly HR / s,
is listed and the exit status is 1. Bad arguments or missing inputs: status 2.
"""

from __future__ import annotations

import argparse
import io
import sys
import zipfile
from dataclasses import dataclass
from multiprocessing import Pool
from pathlib import Path

import torch
from PIL import Image as PILImage
from tqdm import tqdm

from sr.data.imageio import ImageReadError, is_image_file, read_image, write_image
from sr.data.lmdb_io import decode_image_bytes, uint_to_float


@dataclass(frozen=True)
class Job:
    """One source image: a file path, or ``archive`` + ``member``; cut into ``out_dir``."""

    stem: str  # DIV2K name without the LR suffix, e.g. 0001
    path: str | None
    archive: str | None
    member: str | None
    out_dir: str
    crop: int
    step: int
    thresh: int

    @property
    def label(self) -> str:
        return self.path or f"{self.archive}:{self.member}"


@dataclass(frozen=True)
class Result:
    job: Job
    size: tuple[int, int] | None  # (H, W)
    names: tuple[str, ...]
    written: int
    error: str | None


def starts(length: int, crop: int, step: int, thresh: int) -> list[int]:
    """Crop origins along one axis (BasicSR: a grid at ``step``, plus a border-flush last crop when
    more than ``thresh`` pixels are left). Empty when the image is smaller than the crop."""
    if length < crop:
        return []
    out = list(range(0, length - crop + 1, step))
    if length - (out[-1] + crop) > thresh:
        out.append(length - crop)
    return out


def sub_names(stem: str, h: int, w: int, crop: int, step: int, thresh: int) -> list[tuple[str, int, int]]:
    ys, xs = starts(h, crop, step, thresh), starts(w, crop, step, thresh)
    names, index = [], 0
    for y in ys:
        for x in xs:
            index += 1
            names.append((f"{stem}_s{index:03d}.png", y, x))
    return names


# Largest archive member read into memory. A DIV2K image file is under 10 MB (the biggest HR PNGs are
# about 6 MB); 256 MB leaves room for any real image while refusing members padded to gigabytes.
MAX_MEMBER_BYTES = 256 * 2**20


def _read_bytes(job: Job) -> bytes:
    """The bytes of ``job.member``; ValueError naming the archive and member when it is (or turns out to
    be, whatever its header says) larger than :data:`MAX_MEMBER_BYTES`."""
    assert job.archive is not None and job.member is not None
    limit = MAX_MEMBER_BYTES
    with zipfile.ZipFile(job.archive) as z:
        try:
            info = z.getinfo(job.member)
        except KeyError:
            raise ValueError(f"{job.label}: no such member in the archive") from None
        if info.file_size > limit:
            raise ValueError(
                f"{job.label}: archive member is {info.file_size:,} bytes uncompressed; refused "
                f"(a DIV2K image file is under 10 MB; the limit is {limit:,} bytes)"
            )
        with z.open(info) as f:
            raw = f.read(limit + 1)  # bounded even if the recorded size lies
    if len(raw) > limit:
        raise ValueError(f"{job.label}: archive member inflates beyond {limit:,} bytes; refused")
    return raw


def _init_worker() -> None:
    # Workers are forked: a parent that has run a parallel torch op (OpenMP) leaves a thread pool the
    # child cannot use, and its first parallel op hangs. One thread per worker process avoids that pool
    # (as torch's DataLoader workers do); the parallelism is across the processes.
    torch.set_num_threads(1)


def run_job(job: Job) -> Result:
    """Write the missing sub-images of one source image (runs in a worker process)."""
    try:
        raw = None if job.path is not None else _read_bytes(job)
        with PILImage.open(io.BytesIO(raw) if raw is not None else str(job.path)) as im:
            w, h = im.size  # header only
        names = sub_names(job.stem, h, w, job.crop, job.step, job.thresh)
        out = Path(job.out_dir)
        missing = [(n, y, x) for n, y, x in names if not (out / n).is_file()]
        if missing:
            data = (
                read_image(str(job.path)).data
                if raw is None
                else uint_to_float(*decode_image_bytes(raw, job.label))
            )
            for n, y, x in missing:
                write_image(out / n, data[:, y : y + job.crop, x : x + job.crop])
        return Result(job, (h, w), tuple(n for n, _, _ in names), len(missing), None)
    except (OSError, ValueError, ImageReadError, zipfile.BadZipFile, PILImage.DecompressionBombError) as e:
        msg = str(e)  # most messages name the file already; others get its name in front
        return Result(job, None, (), 0, msg if msg.startswith(job.label) else f"{job.label}: {msg}")


def _lr_stem(stem: str, scale: int) -> str:
    suffix = f"x{scale}"
    return stem[: -len(suffix)] if stem.lower().endswith(suffix) else stem


def find_images(src: Path, folder: str, archive: str) -> list[tuple[str, str | None, str | None, str | None]]:
    """``[(stem, path, archive, member)]`` from ``src/folder`` (preferred) or ``src/archive`` (members
    under ``folder/``). Raises FileNotFoundError naming both candidates."""
    d, z = src / folder, src / archive
    if d.is_dir():
        files = sorted(p for p in d.iterdir() if p.is_file() and is_image_file(p))
        return [(p.stem, str(p), None, None) for p in files]
    if z.is_file():
        with zipfile.ZipFile(z) as zf:
            members = sorted(
                m for m in zf.namelist() if m.startswith(folder.rstrip("/") + "/") and is_image_file(m)
            )
        return [(Path(m).stem, None, str(z), m) for m in members]
    raise FileNotFoundError(f"neither folder {d} nor archive {z} found")


def plan(args: argparse.Namespace) -> list[Job]:
    jobs = []
    for split in args.splits:
        hr_dir = f"DIV2K_{split}_HR"
        for stem, path, arc, member in find_images(args.src, hr_dir, f"{hr_dir}.zip"):
            out = args.dst / f"{hr_dir}_sub"
            jobs.append(Job(stem, path, arc, member, str(out), args.crop_size, args.step, args.thresh_size))
        for s in args.scales:
            lr_dir = f"DIV2K_{split}_LR_bicubic/X{s}"
            images = find_images(args.src, lr_dir, f"DIV2K_{split}_LR_bicubic_X{s}.zip")
            out = args.dst / f"DIV2K_{split}_LR_bicubic" / f"X{s}_sub"
            for stem, path, arc, member in images:
                jobs.append(
                    Job(
                        _lr_stem(stem, s),
                        path,
                        arc,
                        member,
                        str(out),
                        args.crop_size // s,
                        args.step // s,
                        args.thresh_size // s,
                    )
                )
    return jobs


def verify(results: list[Result], args: argparse.Namespace) -> list[str]:
    """Problems: failed jobs, missing files, LR images without HR (or not HR / s), count mismatches."""
    problems = [r.error for r in results if r.error is not None]
    by_dir: dict[str, dict[str, Result]] = {}
    for r in results:
        if r.error is None:
            by_dir.setdefault(r.job.out_dir, {})[r.job.stem] = r
            missing = [n for n in r.names if not (Path(r.job.out_dir) / n).is_file()]
            if missing:
                problems.append(
                    f"{r.job.label}: {len(missing)} sub-image(s) missing in {r.job.out_dir}: "
                    f"{', '.join(missing[:5])}"
                )
            if not r.names:
                problems.append(f"{r.job.label}: {r.size} is smaller than the crop {r.job.crop}")
    for split in args.splits:
        hr = by_dir.get(str(args.dst / f"DIV2K_{split}_HR_sub"), {})
        for s in args.scales:
            lr = by_dir.get(str(args.dst / f"DIV2K_{split}_LR_bicubic" / f"X{s}_sub"), {})
            for stem in sorted(set(hr) | set(lr)):
                a, b = hr.get(stem), lr.get(stem)
                if a is None or b is None:
                    has, lacks = ("HR", f"LR X{s}") if b is None else (f"LR X{s}", "HR")
                    problems.append(f"{split} {stem}: {has} image without {lacks} image")
                elif a.size and b.size and (b.size[0] * s, b.size[1] * s) != a.size:
                    problems.append(
                        f"{split} {stem}: LR X{s} {b.job.label} is {b.size[1]}x{b.size[0]}, "
                        f"HR {a.job.label} {a.size[1]}x{a.size[0]}: not exactly HR / {s}"
                    )
                elif len(a.names) != len(b.names):
                    problems.append(
                        f"{split} {stem}: {len(a.names)} HR sub-images but {len(b.names)} LR X{s}"
                    )
    return problems


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Cut DIV2K (archives or folders) into sub-images, HR and LR.")
    p.add_argument("--src", type=Path, required=True, help="folder with the DIV2K zips or extracted folders")
    p.add_argument("--dst", type=Path, help="output folder (default: --src)")
    p.add_argument("--scales", type=int, nargs="+", default=[2, 3, 4], help="LR scales (default 2 3 4)")
    p.add_argument("--splits", nargs="+", default=["train", "valid"], choices=["train", "valid"])
    p.add_argument("--crop-size", type=int, default=480, help="HR sub-image size (default 480)")
    p.add_argument("--step", type=int, default=240, help="HR step between crops (default 240)")
    p.add_argument("--thresh-size", type=int, default=0, help="smallest leftover that gets a border crop")
    p.add_argument("--workers", type=int, default=4, help="processes (default 4)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    args = p.parse_args(argv)
    args.dst = args.dst or args.src
    for s in args.scales:
        if s < 1 or args.crop_size % s or args.step % s:
            p.error(f"--crop-size {args.crop_size} and --step {args.step} must be multiples of scale {s}")
    try:
        jobs = plan(args)
    except (FileNotFoundError, zipfile.BadZipFile) as e:
        print(f"prepare_div2k: error: {e}", file=sys.stderr)
        return 2
    with Pool(max(1, args.workers), initializer=_init_worker) as pool:
        results = list(
            tqdm(pool.imap_unordered(run_job, jobs), total=len(jobs), unit="img", disable=args.quiet)
        )
    problems = verify(results, args)
    written = sum(r.written for r in results)
    total = sum(len(r.names) for r in results)
    print(f"{total} sub-images expected, {written} written now, {total - written} already present")
    if problems:
        print(f"prepare_div2k: {len(problems)} problem(s):", file=sys.stderr)
        for line in problems:
            print(f"  {line}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
