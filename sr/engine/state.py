"""Training states: one self-contained file per save, written atomically.

``<run>/training_states/<iter>.state`` holds the model's state (G, D, EMA, optimizers, schedulers,
grad scaler), the iteration, the data position and the RNG states. It is written to a temporary
file and renamed, so an interrupted save leaves the previous state intact, and it is read with
``weights_only=True`` (only tensors and plain containers).
"""

from __future__ import annotations

import logging
import re
import time
import zipfile
from pathlib import Path
from typing import Any

import torch

from sr.atomic import atomic_write
from sr.checkpoints._pickle_scan import oversized_pickle

log = logging.getLogger(__name__)

STATE_SUFFIX = ".state"
FORMAT_VERSION = 1


def rng_states() -> dict[str, Any]:
    states: dict[str, Any] = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def restore_rng(states: dict[str, Any]) -> None:
    torch.set_rng_state(states["torch"])
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])


def save_state(folder: Path, it: int, model_state: dict[str, Any], extra: dict[str, Any]) -> Path:
    path = folder / f"{it}{STATE_SUFFIX}"
    obj = {"version": FORMAT_VERSION, "iter": it, "model": model_state, "rng": rng_states(), **extra}
    atomic_write(path, lambda f: torch.save(obj, f))
    return path


def load_state(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"training state not found: {path}")
    too_big = oversized_pickle(path)
    if too_big is not None:
        raise ValueError(f"{path}: refused: {too_big}; a training state's pickle is small")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ValueError(f"{path}: not a readable training state ({exc.__class__.__name__}: {exc})") from None
    if not isinstance(state, dict) or state.get("version") != FORMAT_VERSION or "model" not in state:
        raise ValueError(f"{path}: not an sr training state (version {FORMAT_VERSION})")
    return state


def state_damage(path: Path) -> str | None:
    """Why ``path`` cannot be a whole training state, from its zip directory alone (``torch.save``
    writes a zip whose directory comes last, so a truncated file or a copy cut short has none);
    ``None`` when it looks whole. Reads a few KB, unlike :func:`load_state`."""
    try:
        with zipfile.ZipFile(path) as z:
            z.infolist()
    except (OSError, zipfile.BadZipFile) as err:
        return f"not a complete training state ({err})"
    return None


def list_states(folder: Path) -> list[Path]:
    """The files of ``folder`` named as states (``<iter>.state``), oldest iteration first (temporary
    files and folders ignored)."""
    if not folder.is_dir():
        return []
    found = [
        p for p in folder.iterdir() if re.fullmatch(rf"\d+{re.escape(STATE_SUFFIX)}", p.name) and p.is_file()
    ]
    return sorted(found, key=lambda p: int(p.stem))


def latest_state(folder: Path) -> Path | None:
    states = list_states(folder)
    return states[-1] if states else None


def prune_states(folder: Path, keep_last: int) -> None:
    """Remove all but the newest ``keep_last + 1`` states (0 keeps every one). Only what is a state
    (a regular file, not a link, that is a whole zip as ``torch.save`` writes) is ever removed: a file
    of the user's that happens to be named ``12.state`` stays."""
    if keep_last <= 0:
        return
    for old in list_states(folder)[: -(keep_last + 1)]:
        if old.is_symlink() or state_damage(old) is not None:
            log.warning("kept %s: named like a training state, but not one this run wrote", old)
            continue
        old.unlink(missing_ok=True)
        log.info("removed old training state %s", old)


def set_aside_newer(folder: Path, it: int) -> Path | None:
    """Move the states of ``folder`` newer than iteration ``it`` (another timeline, when a run resumes
    from an older state) into ``folder/abandoned_<time>/``, so that neither ``keep_last`` nor
    ``--auto-resume`` mixes them with this run's; returns that folder, or None when there are none."""
    newer = [p for p in list_states(folder) if int(p.stem) > it]
    if not newer:
        return None
    dest = folder / f"abandoned_{time.strftime('%Y%m%d_%H%M%S')}"
    dest.mkdir(exist_ok=True)
    for p in newer:
        p.rename(dest / p.name)
    return dest
