"""The bundled default model: what ``sr-infer``/``sr-eval`` without ``--model`` (or with ``--model
default``) and ``Upscaler(model="default")`` load.

It is a multi-scale MSRResNet-style network (x2, x3, x4) trained by ``sr-train`` in eleven stages
(``docs/default_model/stages/``; one run of ``options/default_x234.yml`` stands for them now) and
packaged by ``tools/package_default_model.py``; ``MODEL_CARD.md`` has its data, compute, results and
limits. It ships as package data (a safetensors
file with the architecture in its metadata), found through ``importlib.resources``: wherever sr is
installed, not relative to a source tree. ``default-gan`` (``sr.checkpoints.bundled``) is its GAN
fine-tune by ``options/esrgan_quick_x234.yml``, with the same architecture and keys.
"""

from __future__ import annotations

from pathlib import Path

from sr.checkpoints.bundled import BUNDLED, bundled_model_path

DEFAULT_WEIGHTS = BUNDLED["default"]
GAN_WEIGHTS = BUNDLED["default-gan"]
DEFAULT_SCALES = (2, 3, 4)


def default_model_path() -> Path:
    """The packaged default checkpoint; ``CheckpointError`` naming the expected path when the install
    lacks it (a build that dropped the package data)."""
    return bundled_model_path("default")
