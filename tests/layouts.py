"""Test helper: rewrite a BasicSR-layout RRDBNet state dict into the two legacy ESRGAN layouts, so
tests can check that every layout loads (and converts) to the same weights. Importable from any
test as ``from layouts import ...`` (pytest puts this folder on sys.path for its conftest)."""

from __future__ import annotations

import re

import torch

from sr.checkpoints.legacy import to_esrgan_old as to_old_layout  # noqa: F401  (the tests' name for it)

_RDB = re.compile(r"body\.(\d+)\.rdb(\d)\.conv(\d)\.(\w+)")


def to_esrgan_repo(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """BasicSR -> the ESRGAN repository's RRDBNet_arch.py layout."""
    names = {"conv_body": "trunk_conv", "conv_up1": "upconv1", "conv_up2": "upconv2", "conv_hr": "HRconv"}
    out = {}
    for k, v in sd.items():
        if m := _RDB.fullmatch(k):
            out["RRDB_trunk.{}.RDB{}.conv{}.{}".format(*m.groups())] = v
        else:
            head, param = k.rsplit(".", 1)
            out[f"{names.get(head, head)}.{param}"] = v
    return out
