"""``sr-train``: train a model from a YAML recipe (one process, or one per GPU under torchrun).

sr-train -opt options/esrgan_x4.yml [--set train.optim_g.lr=2e-4 ...] [--auto-resume | --resume STATE]
         [--device auto|cpu|cuda] [--quiet]
torchrun --nproc_per_node=4 $(which sr-train) -opt options/esrgan_x4.yml
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from sr.checkpoints import CheckpointError
from sr.checkpoints.pretrained import MissingWeightsError
from sr.cli.common import examples, fail, report
from sr.data import ImageReadError, error_text
from sr.engine.dist import DistContext, RankFailedError
from sr.engine.logger import FORMAT
from sr.engine.trainer import RunFolderExistsError, train
from sr.models import NonFiniteLossError
from sr.options import OptionsError, load_options

PROG = "sr-train"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=PROG,
        description="Train an SR model from a YAML options file.",
        **examples(
            "sr-train -opt options/quickstart_x4.yml",
            "sr-train -opt options/esrgan_x4.yml --set train.optim_g.lr=2e-4",
            "sr-train -opt options/esrgan_x4.yml --auto-resume",
        ),
    )
    p.add_argument("-opt", "--opt", dest="opt", type=Path, required=True, help="YAML options file")
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override an option by its dotted path, e.g. train.optim_g.lr=2e-4 (repeatable)",
    )
    group = p.add_mutually_exclusive_group()
    group.add_argument(
        "--auto-resume", action="store_true", help="continue from the newest training state of this run"
    )
    group.add_argument("--resume", type=Path, default=None, help="continue from this training state")
    p.add_argument("--device", default="auto", help="auto (CUDA when available), cpu or cuda")
    p.add_argument("--quiet", action="store_true", help="only warnings and errors on the console")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        opt = load_options(args.opt, args.overrides)
    except (OptionsError, OSError) as exc:
        fail(PROG, str(exc))
    try:
        ctx = DistContext.from_env(opt.dist_params.backend, args.device)
    except (ValueError, RuntimeError) as exc:
        fail(PROG, str(exc))
    console = logging.StreamHandler(sys.stderr)
    console.setLevel(logging.WARNING if args.quiet or not ctx.is_main else logging.INFO)
    console.setFormatter(logging.Formatter(FORMAT))
    logging.getLogger().addHandler(console)
    logging.getLogger("sr").setLevel(logging.INFO)  # the run's log file gets everything
    code = 0
    try:
        run_dir = train(opt, ctx, resume=args.resume, auto_resume=args.auto_resume)
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted; the training states already written are intact", file=sys.stderr)
        code = 130
    except (
        NonFiniteLossError,
        RunFolderExistsError,
        CheckpointError,
        MissingWeightsError,
        ImageReadError,
        RankFailedError,
        FileNotFoundError,
        ValueError,
    ) as exc:
        report(PROG, error_text(exc))  # before close(): torchrun may stop this process once another ends
        code = 2
    finally:
        # the exception is gone by now, and with it the frames holding the DDP model: close() frees the
        # process group and stops its threads (sr.engine.dist._import_dynamo_first)
        ctx.close()
        logging.getLogger().removeHandler(console)
    if code:
        return code
    if ctx.is_main and not args.quiet:
        print(f"{PROG}: finished; run folder {run_dir}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
