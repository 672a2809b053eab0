"""``sr-infer``: upscale image files, folders or globs with a checkpoint (any common format) or a baseline.

sr-infer INPUT [INPUT ...] [-o OUTPUT] [--model PATH|bicubic|default|default-gan] [--scale S] [--outscale F]
         [--alpha A [--gan-model PATH]]
         [--tile N|auto] [--tile-pad P] [--precision auto|fp32|bf16|fp16] [--device auto|cpu|cuda]
         [--suffix TEXT] [--ext png|jpg|webp|same] [--quality Q] [--recursive] [--overwrite]
         [--net-opt key=value ...] [--quiet]

Outputs are named ``<stem><suffix>.<ext>`` (suffix default ``_x<final scale>``), in ``-o`` (a folder;
or the output file itself when there is exactly one input file and ``-o`` has an image extension),
else next to each input. Folder inputs keep their sub-folders under ``-o``. An input is never
overwritten; an existing output is skipped unless ``--overwrite``. Exit status: 0 when every image was
written or skipped by design (its output exists: rerunning a command is not a failure; the summary line
says how many were skipped), 1 when any failed or nothing matched, 2 for a usage error.
"""

from __future__ import annotations

import argparse
import glob
import logging
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from sr.checkpoints import CheckpointError
from sr.cli.common import examples, fail, parse_net_opt, reuse_freed_memory
from sr.data.imageio import IMAGE_EXTENSIONS, ImageReadError, ImageWriteError, is_image_file
from sr.device import pick_device
from sr.inference.baselines import BASELINES
from sr.inference.loading import PRECISIONS, auto_precision
from sr.inference.upscaler import Upscaler
from sr.outputs import OutputError, ProtectedInputs, has_separator

PROG = "sr-infer"
EXTS = ("png", "jpg", "webp", "same")


@dataclass
class Job:
    src: Path
    dst: Path | None  # None: the input itself is the problem (``error`` says why)
    error: str | None = None


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=PROG,
        description="Upscale images with a super-resolution model.",
        **examples(
            "sr-infer photo.jpg                          # bundled model, x4 -> photo_x4.jpg",
            "sr-infer photos/ -o out/ --scale 2 --ext png",
            "sr-infer photo.jpg --alpha 0.8             # 80 % of the bundled GAN model",
        ),
    )
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="image files, folders or glob patterns")
    p.add_argument("-o", "--output", type=Path, help="output folder (or file, for one input file)")
    p.add_argument(
        "--model",
        default="default",
        help="checkpoint path (any common format), a bundled model ('default': PSNR-oriented; "
        f"'default-gan': its GAN fine-tune), or a baseline: {', '.join(sorted(BASELINES))}",
    )
    p.add_argument(
        "--alpha",
        type=float,
        help="ESRGAN network interpolation: upscale with the weights (1 - A) * MODEL + A * GAN_MODEL, "
        "A in [0, 1] (0.8 = 80%% GAN); with the default model, GAN_MODEL is default-gan",
    )
    p.add_argument("--gan-model", help="the GAN checkpoint that --alpha blends MODEL with")
    p.add_argument(
        "--scale", type=int, help="the model's scale (default: read from the model; 4 for the default model)"
    )
    p.add_argument("--outscale", type=float, help="final scale, resized from the model's with MATLAB bicubic")
    p.add_argument("--tile", default="auto", help="tile size in input pixels, 0 for none, or auto (default)")
    p.add_argument("--tile-pad", type=int, default=16, help="context around each tile, input pixels (16)")
    p.add_argument(
        "--precision",
        choices=["auto", *PRECISIONS],
        default="auto",
        help="network arithmetic: auto (default: for the bundled models fp16 on a CUDA GPU, bf16 on a "
        "CPU that runs it natively, e.g. AMX/AVX512-BF16, else fp32; fp32 for other models), fp32, "
        "bf16 (emulated and slow on CPUs without native bf16) or fp16 (CUDA only)",
    )
    p.add_argument("--device", default="auto", help="auto, cpu or cuda[:N]")
    p.add_argument("--suffix", help="appended to each output's stem (default: _x<final scale>)")
    p.add_argument("--ext", choices=EXTS, default="same", help="output format (default: the input's)")
    p.add_argument("--quality", type=int, default=95, help="JPEG/WebP quality 1-100 (WebP 100: lossless)")
    p.add_argument("--recursive", action="store_true", help="descend into sub-folders of folder inputs")
    p.add_argument("--overwrite", action="store_true", help="replace existing outputs (never an input)")
    p.add_argument("--net-opt", action="append", metavar="KEY=VALUE", help="architecture argument")
    p.add_argument(
        "--quiet", action="store_true", help="no progress bars, print only problems and the summary"
    )
    return p


def _notice(message: str) -> None:
    tqdm.write(f"{PROG}: {message}", file=sys.stderr)


def _format_scale(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def expand_inputs(items: list[str], recursive: bool) -> tuple[list[tuple[Path, Path | None]], list[Job]]:
    """``[(file, folder it was found in or None)]`` for the images, and failed jobs for inputs that do not
    exist or are not images. Non-image files found in folders or by globs are skipped with a notice."""
    found: list[tuple[Path, Path | None]] = []
    bad: list[Job] = []

    def folder(d: Path) -> None:
        files = sorted(d.rglob("*") if recursive else d.iterdir())
        for f in files:
            rel = f.relative_to(d)
            if f.is_file() and not any(part.startswith(".") for part in rel.parts):
                if is_image_file(f):
                    found.append((f, d))
                else:
                    _notice(f"skipping {f}: not an image file")

    for item in items:
        p = Path(item)
        if p.is_dir():
            folder(p)
        elif p.is_file():
            if is_image_file(p):
                found.append((p, None))
            else:
                exts = ", ".join(sorted(IMAGE_EXTENSIONS))
                bad.append(Job(p, None, f"not an image file (extensions: {exts})"))
        elif glob.has_magic(item):
            matches = sorted(glob.glob(item, recursive=True))
            if not matches:
                bad.append(Job(p, None, "no file matches this pattern"))
            for m in map(Path, matches):
                if m.is_dir():
                    folder(m)
                elif is_image_file(m):
                    found.append((m, None))
                else:
                    _notice(f"skipping {m}: not an image file")
        else:
            bad.append(Job(p, None, "no such file or folder"))
    return found, bad


def _input_problem(guard: ProtectedInputs, dst: Path) -> str | None:
    """Why ``dst`` may not be written whatever ``--overwrite`` says (it is an input, or a folder);
    an existing output is not a problem here (skipped later, or replaced with ``--overwrite``)."""
    try:
        guard.check(dst, overwrite=True)
    except OutputError as err:
        return str(err)
    return None


def plan(args: argparse.Namespace, final_scale: float) -> list[Job]:
    """One job per input image with its output path; collisions and inputs as outputs become errors."""
    found, jobs = expand_inputs(args.inputs, args.recursive)
    suffix = f"_x{_format_scale(final_scale)}" if args.suffix is None else args.suffix
    out: Path | None = args.output
    single_file = len(args.inputs) == 1 and len(found) == 1 and found[0][1] is None and not jobs
    as_file = single_file and out is not None and not out.is_dir() and is_image_file(out)
    guard = ProtectedInputs(f for f, _ in found)
    taken: dict[str, Path] = {}
    for src, base in found:
        ext = src.suffix if args.ext == "same" else f".{args.ext}"
        if as_file:
            assert out is not None
            dst = out
        else:
            folder = src.parent if out is None else out / (src.parent.relative_to(base) if base else "")
            dst = folder / f"{src.stem}{suffix}{ext}"
        real = os.path.realpath(dst)
        problem = _input_problem(guard, dst)
        if problem is not None:
            jobs.append(Job(src, None, problem))
        elif real in taken:
            jobs.append(Job(src, None, f"output {dst} would also be written for {taken[real]}"))
        else:
            taken[real] = src
            jobs.append(Job(src, dst))
    return jobs


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format=f"{PROG}: %(message)s")
    show = not args.quiet and sys.stderr.isatty()
    tile: int | str = args.tile
    if args.tile != "auto":
        try:
            tile = int(args.tile)
        except ValueError:
            fail(PROG, f"--tile {args.tile!r}: give a size in pixels, 0 (no tiling) or auto")
    if not 1 <= args.quality <= 100:
        fail(PROG, f"--quality {args.quality}: must be in 1..100")
    if args.suffix and has_separator(args.suffix):
        fail(PROG, f"--suffix {args.suffix!r}: must not hold a path separator (outputs stay in their folder)")
    reuse_freed_memory()
    try:
        precision = args.precision
        if precision == "auto":
            precision = auto_precision(args.model, args.gan_model, pick_device(args.device))
        upscaler = Upscaler(
            model=args.model,
            scale=args.scale,
            outscale=args.outscale,
            tile=tile,
            tile_pad=args.tile_pad,
            precision=precision,
            device=args.device,
            net_opt=parse_net_opt(args.net_opt),
            progress=show,
            alpha=args.alpha,
            gan_model=args.gan_model,
        )
    except (CheckpointError, ValueError, OSError) as exc:
        fail(PROG, str(exc))
    if not args.quiet:
        auto = " (auto)" if args.precision == "auto" else ""
        _notice(f"model {args.model}, x{upscaler.scale}, {precision}{auto} on {upscaler.device}")
    jobs = plan(args, args.outscale or upscaler.scale)
    upscaler.keep_bar = len(jobs) == 1  # no images bar then: the tiles bar stays as the record
    ok = failed = skipped = 0
    for job in tqdm(jobs, desc=PROG, unit="image", disable=not show or len(jobs) < 2):
        if job.dst is None:
            failed += 1
            _notice(f"failed {job.src}: {job.error}")
            continue
        if not args.overwrite and (job.dst.exists() or job.dst.is_symlink()):
            skipped += 1
            _notice(f"skipped {job.src}: {job.dst} exists (use --overwrite)")
            continue
        try:
            upscaler.upscale_file(job.src, job.dst, overwrite=args.overwrite, quality=args.quality)
        except KeyboardInterrupt:  # outputs are written atomically: the one in progress never appears
            fail(PROG, f"interrupted during {job.src}: {ok} written, {job.dst} not written", code=130)
        except (ImageReadError, ImageWriteError, ValueError, RuntimeError, OSError) as exc:
            failed += 1
            _notice(f"failed {job.src}: {exc}")
            continue
        except MemoryError:  # the size check leaves a margin, but the machine's free memory can shrink
            failed += 1
            _notice(f"failed {job.src}: out of memory (try a smaller --tile, or free memory)")
            continue
        ok += 1
        if not args.quiet:
            tqdm.write(f"{job.src} -> {job.dst}")
    print(f"{PROG}: {ok} ok, {failed} failed, {skipped} skipped", file=sys.stderr if failed else sys.stdout)
    if failed or not jobs:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
