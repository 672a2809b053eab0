"""Atomic file writes, shared by image, checkpoint and report writers.

``atomic_write(path, write)`` calls ``write(f)`` on a fresh temporary file ``.<name>.<random>.tmp``
in the target folder, fsyncs it, renames it over ``path`` and fsyncs the folder. On any failure
the temporary file is removed and an existing ``path`` is untouched: a reader sees either the old
file or the complete new one, never half of it.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any


def atomic_write(path: str | Path, write: Callable[[IO[bytes]], Any], exclusive: bool = False) -> Path:
    """``exclusive``: the final step is a hard link that fails with ``OutputExistsError`` (a
    ``FileExistsError``) when ``path`` appeared meanwhile (another process), instead of a rename that
    would replace it; on a file system without hard links, a rename after a last existence check."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    try:
        # os.open, not mkstemp: the file gets the usual umask-based permissions rather than 0600
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        if exclusive:
            _link_exclusive(tmp, path)
        else:
            os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    try:  # make the rename itself durable; not possible on every platform
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError:
        pass
    return path


class OutputExistsError(FileExistsError):
    """``exclusive=True`` and the target exists (it appeared while the new file was being written)."""


def _link_exclusive(tmp: Path, path: Path) -> None:
    try:
        os.link(tmp, path)  # atomic: fails if path exists, whoever made it
    except FileExistsError:
        raise OutputExistsError(
            f"{path}: file exists (it appeared while this one was being written)"
        ) from None
    except OSError:  # no hard links here (some network and FAT file systems)
        if os.path.lexists(path):
            raise OutputExistsError(f"{path}: file exists") from None
        os.replace(tmp, path)
        return
    tmp.unlink()


def atomic_write_bytes(path: str | Path, data: bytes, exclusive: bool = False) -> Path:
    return atomic_write(path, lambda f: f.write(data), exclusive=exclusive)
