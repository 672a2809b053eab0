"""The console-script entry points. Ctrl-C while the command's module (and with it torch, numpy,
scipy) is still importing ends the process at once with one line and exit status 130: a
``KeyboardInterrupt`` raised inside a third-party import can be swallowed by it or leave it half
initialised (numpy then fails with a ``RecursionError``), so a signal handler exits instead; nothing
has been written yet. The commands handle later interrupts themselves (outputs and training states
are written atomically, so nothing half-written is left)."""

from __future__ import annotations

import importlib
import os
import signal
import sys
from typing import NoReturn


def _run(command: str) -> NoReturn:
    prog = f"sr-{command}"

    def interrupted_while_importing(signum: int, frame: object) -> None:
        print(f"{prog}: interrupted", file=sys.stderr, flush=True)
        os._exit(130)

    previous = signal.getsignal(signal.SIGINT) or signal.SIG_DFL
    if previous is not signal.SIG_IGN:  # a job started with Ctrl-C ignored (`cmd &` in a script) keeps it so
        signal.signal(signal.SIGINT, interrupted_while_importing)
    try:
        main = importlib.import_module(f"sr.cli.{command}").main
    finally:
        signal.signal(signal.SIGINT, previous)
    try:
        code = main()
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        raise SystemExit(130) from None
    raise SystemExit(code if isinstance(code, int) else 0)


def eval_main() -> NoReturn:
    _run("eval")


def export_main() -> NoReturn:
    _run("export")


def infer_main() -> NoReturn:
    _run("infer")


def interp_main() -> NoReturn:
    _run("interp")


def train_main() -> NoReturn:
    _run("train")
