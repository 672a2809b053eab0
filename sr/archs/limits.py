"""Sanity bounds on architecture arguments, checked before anything is allocated.

A 23 KB checkpoint (or an options file) can ask for ``num_block: 1000000000`` or ``num_feat: 100000``;
building that model would take hundreds of GB before any weight is compared. :func:`check_arch_values`
refuses non-integers and absurd sizes with a message naming the argument, and
:func:`meta_model` builds the module on PyTorch's ``meta`` device (shapes only, no memory), so its
parameter count and shapes can be checked against the file or the machine first.
"""

from __future__ import annotations

import inspect
import reprlib
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

MAX_BLOCKS = 1000  # residual blocks / RRDBs; published SR networks use at most ~80
MAX_WIDTH = 4096  # features, growth channels, image channels, kernel sizes


_REPR = reprlib.Repr()
_REPR.maxlevel, _REPR.maxlist, _REPR.maxdict, _REPR.maxstring, _REPR.maxother = 2, 4, 4, 40, 40


def short_repr(value: Any) -> str:
    """``repr`` bounded in length and depth: safe on a value a hostile file made huge."""
    return _REPR.repr(value)


def check_arch_values(cls: type[nn.Module], kwargs: Mapping[str, Any]) -> None:
    """``ValueError`` naming the first argument whose constructor default is an integer but whose
    value is not an integer in range (``num_*`` >= 1, others >= 0; ``num_block`` at most
    ``MAX_BLOCKS``, every other at most ``MAX_WIDTH``), or a list of such integers (SRCNN's kernels)."""
    params = inspect.signature(cls.__init__).parameters
    for key, value in kwargs.items():
        default = params[key].default if key in params else None
        if isinstance(default, bool) or not isinstance(default, int | tuple | list):
            continue
        if isinstance(default, tuple | list) and not all(isinstance(d, int) for d in default):
            continue
        values = value if isinstance(value, tuple | list) and isinstance(default, tuple | list) else [value]
        low = 1 if key.startswith("num_") or key in ("scale", "upscale") else 0
        high = MAX_BLOCKS if key == "num_block" else MAX_WIDTH
        for v in values:
            if isinstance(v, bool) or not isinstance(v, int):
                raise ValueError(f"{key}: expected an integer, got {short_repr(v)} ({type(v).__name__})")
            if not low <= v <= high:
                raise ValueError(f"{key}: {v} is out of range; expected {low}..{high}")


def meta_model(cls: type[nn.Module], kwargs: Mapping[str, Any]) -> nn.Module:
    """The module built on the ``meta`` device: every shape, no storage (call after
    :func:`check_arch_values`, which bounds the number of modules)."""
    with torch.device("meta"):
        return cls(**kwargs)


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
