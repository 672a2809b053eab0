"""Where the bundled default model lives, once there is one.

``sr-infer`` without ``--model`` (or with ``--model default``) and ``Upscaler(model="default")`` load
the checkpoint :func:`default_model_path` returns. No default model ships yet (a later release adds
one): it returns None, and the callers then raise an error telling the user what to pass. Shipping a
default is a one-line change here, e.g.
``return Path(__file__).with_name("weights") / "RRDBNet_x4.safetensors"``.
"""

from __future__ import annotations

from pathlib import Path


def default_model_path() -> Path | None:
    """The packaged default checkpoint, or None while none is bundled."""
    return None


NO_DEFAULT_MESSAGE = (
    "no default model is bundled with this version of sr; pass --model PATH (a checkpoint in any "
    "common format: BasicSR, ESRGAN, safetensors, ...) or --model bicubic (with --scale)"
)
