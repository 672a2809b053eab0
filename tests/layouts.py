"""Test helper: rewrite a BasicSR-layout RRDBNet state dict into the two legacy ESRGAN layouts, so
tests can check that every layout loads (and converts) to the same weights. Importable from any
test as ``from layouts import ...`` (pytest puts this folder on sys.path for its conftest)."""

from __future__ import annotations

import re

import torch

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


def to_old_layout(sd: dict[str, torch.Tensor], num_block: int) -> dict[str, torch.Tensor]:
    """BasicSR -> the original ESRGAN release (x4): one nn.Sequential named ``model``."""
    names = {"conv_first": "model.0", "conv_body": f"model.1.sub.{num_block}", "conv_up1": "model.3"}
    names |= {"conv_up2": "model.6", "conv_hr": "model.8", "conv_last": "model.10"}
    out = {}
    for k, v in sd.items():
        if m := _RDB.fullmatch(k):
            out["model.1.sub.{}.RDB{}.conv{}.0.{}".format(*m.groups())] = v
        else:
            head, param = k.rsplit(".", 1)
            out[f"{names[head]}.{param}"] = v
    return out
