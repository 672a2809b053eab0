"""The models that ship inside the package, by name: ``default`` (PSNR-oriented, x2/x3/x4) and
``default-gan`` (its GAN fine-tune: same architecture and keys, so the two interpolate).

They are package data of ``sr.inference`` (``sr/inference/weights/``), found through
``importlib.resources`` wherever sr is installed. Every command that takes a model path also takes
these names (``sr-infer --model default-gan``, ``sr-interp default default-gan``,
``path.pretrain_network_g: default`` in a recipe).
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

from sr.checkpoints.errors import CheckpointError

BUNDLED = {"default": "default_x234.safetensors", "default-gan": "default_gan_x234.safetensors"}


def is_bundled_name(model: object) -> bool:
    return isinstance(model, str) and model in BUNDLED


def bundled_model_path(name: str) -> Path:
    """The packaged checkpoint of ``name``; ``CheckpointError`` naming the expected path when the
    install lacks it (a build that dropped the package data), or listing the names."""
    if name not in BUNDLED:
        raise CheckpointError(f"no bundled model {name!r}; bundled: {', '.join(BUNDLED)}")
    path = Path(str(resources.files("sr.inference") / "weights" / BUNDLED[name]))
    if not path.is_file():
        raise CheckpointError(
            f"the bundled model {name!r} is missing: expected {path} (this installation of sr lacks its "
            "package data; reinstall sr, or pass a checkpoint path)"
        )
    return path


def resolve_checkpoint(model: str | os.PathLike[str]) -> Path:
    """A bundled model's path for its name, else ``model`` as a path."""
    return bundled_model_path(str(model)) if is_bundled_name(model) else Path(model)
