"""Key-layout conversion: DataParallel prefixes and the two legacy ESRGAN layouts -> BasicSR's.

BasicSR's ``RRDBNet`` keys are ``conv_first``, ``body.N.rdbK.convM``, ``conv_body``, ``conv_up1``,
``conv_up2``, ``conv_hr``, ``conv_last``. Two older layouts of the same network are in circulation:

- ``"esrgan"``: the ESRGAN repository's ``RRDBNet_arch.py`` (``RRDB_trunk.N.RDBK.convM``,
  ``trunk_conv``, ``upconv1``, ``upconv2``, ``HRconv``), also used by BSRGAN/RealSR releases;
- ``"esrgan-old"``: the original release (``RRDB_ESRGAN_x4.pth``), an ``nn.Sequential`` named
  ``model``: ``model.0`` conv_first, ``model.1.sub.N.RDBK.convM.0`` (the conv inside a
  Sequential), ``model.1.sub.{num_block}`` conv_body, then for x4 ``model.3`` / ``model.6``
  (upsampling convs), ``model.8`` (HR conv) and ``model.10`` (conv_last).

Only x4 maps onto BasicSR's ``RRDBNet`` (whose x2/x1 fold the input with pixel-unshuffle and keep two
upsampling convs); other scales of the legacy layouts are refused with a ``CheckpointError``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import torch

from sr.checkpoints.errors import CheckpointError

DDP_PREFIX = "module."

_ESRGAN_BODY = re.compile(r"RRDB_trunk\.(\d+)\.RDB([123])\.conv([1-5])\.(weight|bias)")
_ESRGAN_RENAMES = {
    "conv_first": "conv_first",
    "trunk_conv": "conv_body",
    "upconv1": "conv_up1",
    "upconv2": "conv_up2",
    "HRconv": "conv_hr",
    "conv_last": "conv_last",
}
_OLD_BODY = re.compile(r"model\.1\.sub\.(\d+)\.RDB([123])\.conv([1-5])\.0\.(weight|bias)")
_OLD_TRUNK_CONV = re.compile(r"model\.1\.sub\.(\d+)\.(weight|bias)")
_OLD_LAYER = re.compile(r"model\.(\d+)\.(weight|bias)")
# sequence index -> BasicSR name, for the x4 old layout (2, 5: Upsample; 4, 7, 9: LeakyReLU)
_OLD_X4_LAYERS = {0: "conv_first", 3: "conv_up1", 6: "conv_up2", 8: "conv_hr", 10: "conv_last"}
_BASICSR_BODY = re.compile(r"body\.(\d+)\.rdb([123])\.conv([1-5])\.(weight|bias)")


def strip_module_prefix(
    state_dict: Mapping[str, torch.Tensor], source: str | None = None
) -> dict[str, torch.Tensor]:
    """Remove the ``module.`` prefixes that ``DataParallel``/``DistributedDataParallel`` add
    (repeatedly, for nested wrappers). Raises ``CheckpointError`` naming ``source`` if two keys
    collide."""
    out: dict[str, torch.Tensor] = {}
    for key, value in state_dict.items():
        name = key
        while name.startswith(DDP_PREFIX):
            name = name[len(DDP_PREFIX) :]
        if name in out:
            raise CheckpointError(f"{source or 'state dict'}: both {name!r} and a 'module.'-prefixed copy")
        out[name] = value
    return out


def legacy_layout(state_dict: Mapping[str, torch.Tensor]) -> str | None:
    """``"esrgan"`` or ``"esrgan-old"`` for the legacy ESRGAN layouts (see the module docstring),
    ``None`` for anything else (BasicSR's layout included). Expects ``module.`` already stripped."""
    if "trunk_conv.weight" in state_dict or any(k.startswith("RRDB_trunk.") for k in state_dict):
        return "esrgan"
    if "model.0.weight" in state_dict and any(k.startswith("model.1.sub.0.RDB") for k in state_dict):
        return "esrgan-old"
    return None


def convert_legacy(
    state_dict: Mapping[str, torch.Tensor], source: str | None = None
) -> dict[str, torch.Tensor]:
    """Return a new state dict in BasicSR's key layout; tensors are shared, not copied.

    Strips ``module.`` prefixes, then converts either legacy ESRGAN layout to BasicSR's ``RRDBNet``
    keys. Any other state dict comes back unchanged (apart from the prefixes). A legacy layout that
    does not map onto BasicSR's ``RRDBNet`` (old layout at x2/x8, ESRGAN+, a key the layout does not
    have) raises ``CheckpointError`` naming ``source``.
    """
    where = source or "state dict"
    state = strip_module_prefix(state_dict, where)
    layout = legacy_layout(state)
    if layout == "esrgan":
        return _from_esrgan(state, where)
    if layout == "esrgan-old":
        return _from_old(state, where)
    return state


def _from_esrgan(state: dict[str, torch.Tensor], where: str) -> dict[str, torch.Tensor]:
    if "upconv1.weight" in state and "upconv2.weight" not in state:
        raise CheckpointError(
            f"{where}: ESRGAN RRDBNet_arch.py layout with a single upsampling conv (x2, as in BSRGAN) "
            "does not map onto BasicSR's RRDBNet; only the x4 layout (upconv1 and upconv2) is supported"
        )
    body = (_ESRGAN_BODY, "body.{}.rdb{}.conv{}.{}")
    return _rename(state, body, _ESRGAN_RENAMES, "the ESRGAN RRDBNet_arch.py layout", f"{where}: ")


def _rename(
    state: Mapping[str, torch.Tensor],
    body: tuple[re.Pattern[str], str],
    names: Mapping[str, str],
    layout: str,
    where: str = "",
) -> dict[str, torch.Tensor]:
    """Keys matching ``body[0]`` become ``body[1].format(*groups)``; ``head.weight``/``head.bias``
    become ``names[head].weight``/``.bias``; any other key is a ``CheckpointError`` naming it and
    ``layout``, after the prefix ``where``."""
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        head, _, param = key.rpartition(".")
        if found := body[0].fullmatch(key):
            out[body[1].format(*found.groups())] = value
        elif head in names and param in ("weight", "bias"):
            out[f"{names[head]}.{param}"] = value
        else:
            raise CheckpointError(f"{where}key {key!r} is not part of {layout}")
    return out


def _from_old(state: dict[str, torch.Tensor], where: str) -> dict[str, torch.Tensor]:
    blocks = {int(found.group(1)) for k in state if (found := _OLD_BODY.fullmatch(k))}
    num_block = max(blocks, default=-1) + 1
    layers = {int(found.group(1)) for k in state if (found := _OLD_LAYER.fullmatch(k))}
    if layers != set(_OLD_X4_LAYERS):
        seq_len = max(layers | {1}) + 1
        scale = 2 ** max((seq_len - 5) // 3, 0)  # conv, body, log2(scale) x (up, conv, act), conv, act, conv
        raise CheckpointError(
            f"{where}: old ESRGAN layout (model.N keys) with layers {sorted(layers | {1})} (x{scale}?) does "
            "not map onto BasicSR's RRDBNet; only the x4 old layout (model.0/1/3/6/8/10) can be converted"
        )
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        if body := _OLD_BODY.fullmatch(key):
            out["body.{}.rdb{}.conv{}.{}".format(*body.groups())] = value
        elif (trunk := _OLD_TRUNK_CONV.fullmatch(key)) and int(trunk.group(1)) == num_block:
            out[f"conv_body.{trunk.group(2)}"] = value
        elif layer := _OLD_LAYER.fullmatch(key):
            out[f"{_OLD_X4_LAYERS[int(layer.group(1))]}.{layer.group(2)}"] = value
        else:
            raise CheckpointError(
                f"{where}: key {key!r} is not part of the old ESRGAN x4 layout (ESRGAN+ and other variants "
                "do not map onto BasicSR's RRDBNet)"
            )
    return out


def to_esrgan_old(state: Mapping[str, torch.Tensor], num_block: int) -> dict[str, torch.Tensor]:
    """BasicSR's x4 ``RRDBNet`` keys -> the original ESRGAN release's layout (``model.N``), which
    ESRGAN's scripts, chaiNNer and spandrel all read; the inverse of ``convert_legacy`` for it.
    Tensors are shared, not copied; a key outside the x4 layout is a ``CheckpointError``."""
    names = {name: f"model.{i}" for i, name in _OLD_X4_LAYERS.items()}
    names["conv_body"] = f"model.1.sub.{num_block}"
    body = (_BASICSR_BODY, "model.1.sub.{}.RDB{}.conv{}.0.{}")
    return _rename(state, body, names, "BasicSR's x4 RRDBNet layout")
