"""Where a command may write: the rules every ``sr-*`` command applies before it writes anything.

- An input is never written, whatever ``--overwrite`` says. Inputs are recognised by their file
  identity (device and inode), so a symlink or a hard link to an input is refused too, and an output
  may not lie inside an input *folder* (``sr-eval --save-images`` into a benchmark folder would add
  images to the ground truth).
- An existing output needs ``overwrite``; without it the file is created exclusively
  (:func:`sr.atomic.atomic_write` with ``exclusive=True``), so two processes racing for one name
  cannot both succeed.
- A name taken from the command line or an options file (``sr-infer --suffix``, the run ``name``)
  stays one path component: no separator, no ``..``.
- The output's folder is checked (or created) before the work starts, so hours of evaluation are
  not lost to an unwritable path at the end.

Errors are :class:`OutputError` (a ``ValueError``) naming the path and the rule.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterable
from pathlib import Path

__all__ = ["OutputError", "ProtectedInputs", "check_component", "check_writable_file", "has_separator"]


class OutputError(ValueError):
    """An output path that breaks one of the rules above."""


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_dev, st.st_ino


class ProtectedInputs:
    """The files and folders a command reads; :meth:`check` refuses outputs that would touch them."""

    def __init__(
        self, files: Iterable[str | os.PathLike[str]] = (), folders: Iterable[str | os.PathLike[str]] = ()
    ) -> None:
        self.files: dict[tuple[int, int], Path] = {}
        for f in map(Path, files):
            ident = _identity(f)
            if ident is not None:
                self.files[ident] = f
        self.folders = [(Path(d), Path(os.path.realpath(d))) for d in folders]

    def add_file(self, path: str | os.PathLike[str]) -> None:
        ident = _identity(Path(path))
        if ident is not None:
            self.files[ident] = Path(path)

    def check(self, path: str | os.PathLike[str], overwrite: bool = False, what: str = "output") -> Path:
        """``path`` if it may be written; :class:`OutputError` naming the rule otherwise."""
        p = Path(path)
        ident = _identity(p)
        if ident is not None and ident in self.files:
            raise OutputError(f"{what} {p} is the input {self.files[ident]}; an input is never overwritten")
        real = Path(os.path.realpath(p))
        for shown, folder in self.folders:
            if real == folder or folder in real.parents:
                raise OutputError(
                    f"{what} {p} lies inside the input folder {shown}; write outputs somewhere else"
                )
        if p.is_dir():
            raise OutputError(f"{what} {p} is a folder; give a file name")
        if not overwrite and (p.exists() or p.is_symlink()):
            raise OutputError(f"{what} {p} exists; pass --overwrite to replace it")
        return p


def has_separator(value: str) -> bool:
    """Whether ``value`` holds a path separator (or a NUL): it would name a path, not one name."""
    return any(s in value for s in (os.sep, os.altsep, "/", "\0") if s)


def check_component(value: str, what: str) -> str:
    """``value`` if it is usable inside one file or folder name; ``OutputError`` naming ``what``."""
    if has_separator(value):
        raise OutputError(f"{what} {value!r}: must not hold a path separator (it names a file, not a path)")
    if value in ("", ".", ".."):
        raise OutputError(f"{what} {value!r}: must be a non-empty name other than '.' and '..'")
    return value


def check_writable_file(path: str | os.PathLike[str], what: str) -> Path:
    """Create ``path``'s folder if needed and check a file can be created there, before the work.
    ``OutputError`` naming ``what`` and the reason otherwise (``path`` itself is not created)."""
    p = Path(path)
    if p.is_dir():
        raise OutputError(f"{what} {p}: is a folder; give a file name")
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise OutputError(f"{what} {p}: cannot create its folder ({err.strerror or err})") from None
    probe = p.parent / f".{p.name}.{secrets.token_hex(6)}.probe"
    try:  # a real file, not os.access: that says yes to root on a read-only mount
        os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        probe.unlink()
    except OSError as err:
        raise OutputError(f"{what} {p}: cannot write in {p.parent} ({err.strerror or err})") from None
    return p
