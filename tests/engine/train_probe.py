"""Run by torchrun in test_ddp.py: ``sr-train`` itself (``sr.cli.train.main`` with ``argv[2:]``), and
right after it closes the process group, the names of the gloo threads still running written to
``argv[1]/threads<R>.txt``: none should be, or they can abort the process at exit."""

from __future__ import annotations

import sys
from pathlib import Path

from engine_helpers import record_gloo_threads

from sr.cli.train import main
from sr.engine.dist import DistContext

close = DistContext.close


def close_and_record(ctx: DistContext) -> None:
    close(ctx)
    record_gloo_threads(Path(sys.argv[1]), ctx.rank)


if __name__ == "__main__":
    DistContext.close = close_and_record  # type: ignore[method-assign]
    sys.exit(main(sys.argv[2:]))
