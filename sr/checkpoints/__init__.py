"""Checkpoints: read every common weights format, detect the architecture, load safely, write sr's.

``load_model(path)`` is the one-call path for inference; ``read_state_dict``, ``detect_arch`` and
``load_weights`` are its steps; ``save_checkpoint`` writes ``{"params", "params_ema", "arch"}``
(``.pth``) or one state dict with the architecture in its metadata (``.safetensors``), atomically.
Loading never unpickles arbitrary Python objects (``torch.load(weights_only=True)``).
"""

from __future__ import annotations

from sr.checkpoints.detect import ArchSpec, detect_arch
from sr.checkpoints.errors import CheckpointError
from sr.checkpoints.io import WRAPPER_KEYS, check_checkpoint_file, read_state_dict, save_checkpoint
from sr.checkpoints.legacy import convert_legacy, legacy_layout, strip_module_prefix
from sr.checkpoints.load import load_model, load_weights

__all__ = [
    "WRAPPER_KEYS",
    "ArchSpec",
    "CheckpointError",
    "check_checkpoint_file",
    "convert_legacy",
    "detect_arch",
    "legacy_layout",
    "load_model",
    "load_weights",
    "read_state_dict",
    "save_checkpoint",
    "strip_module_prefix",
]
