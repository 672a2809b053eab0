"""The console-script entry points. They import the command's module (and with it torch) inside a
``KeyboardInterrupt`` guard, so Ctrl-C in the first second, while torch is still loading, ends with
one line and exit status 130 instead of a traceback; the commands handle later interrupts themselves
(outputs and training states are written atomically, so nothing half-written is left)."""

from __future__ import annotations

import importlib
import sys
from typing import NoReturn


def _run(command: str) -> NoReturn:
    prog = f"sr-{command}"
    try:
        main = importlib.import_module(f"sr.cli.{command}").main
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
