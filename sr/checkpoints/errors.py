"""The one exception type of ``sr.checkpoints``."""

from __future__ import annotations


class CheckpointError(ValueError):
    """A checkpoint could not be read, recognised, loaded or written.

    The message names the file (or the ``source`` the caller gave) and the problem, and where there
    is one, what would have been accepted.
    """
