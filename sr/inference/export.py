"""Export a generator for other runtimes.

- ``onnx``: an ONNX graph (``torch.onnx.export`` with the dynamo exporter; needs the ``onnx`` and
  ``onnxscript`` packages: ``pip install "sr-toolkit[export]"``). Batch, height and width are dynamic;
  input ``input`` and output ``output`` are float32 NCHW in [0, 1] (not clamped); the scale, the
  architecture and the source are in the model's metadata. A multi-scale model exports one head
  (``scale``) per file.
- ``torchscript``: ``torch.jit.trace`` of the same module, for ``torch.jit.load`` without ``sr``
  (PyTorch deprecates TorchScript: prefer ``pt2``).
- ``pt2``: a ``torch.export`` program with the same dynamic sizes, for ``torch.export.load(f).module()``
  without ``sr`` (and for AOTInductor).
- ``esrgan``: weights that ESRGAN's scripts, chaiNNer and spandrel load: an ``RRDBNet`` x4 in the
  original ESRGAN layout (``model.0`` ... ``model.10``), an x2/x1 ``RRDBNet`` (pixel-unshuffle) in
  BasicSR's layout as Real-ESRGAN ships it (``params_ema``). Other architectures have no such layout.

Every graph is checked before it is written: its output on an input of another size (odd height
and width) must equal the PyTorch model's within ``TOLERANCE`` (for ONNX when ``onnxruntime`` is
installed; otherwise that check is skipped and said so).
"""

from __future__ import annotations

import importlib.util
import io
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from sr.archs import SRCNN, RRDBNet, scale_of
from sr.archs.multiscale_arch import ScaleView
from sr.atomic import atomic_write_bytes
from sr.checkpoints.legacy import to_esrgan_old
from sr.inference.baselines import Interpolation

FORMATS = ("onnx", "pt2", "torchscript", "esrgan")
SUFFIXES = {".onnx": "onnx", ".pt2": "pt2", ".ts": "torchscript", ".pt": "torchscript", ".pth": "esrgan"}
TOLERANCE = 1e-3  # max |exported - PyTorch| on [0, 1] outputs (1/255 = 3.9e-3 is one 8-bit level)
OPSET = 18
TRACE_SIZE, CHECK_SIZE = (64, 64), (37, 53)  # export on one size, check on another (odd) one
MIN_SIDE = 4  # an RRDBNet x1 folds 4x4 pixels; its reflect padding needs at least that


class ExportError(ValueError):
    """A model or format that cannot be exported, or an export that failed its check."""


@dataclass(frozen=True)
class Exported:
    path: Path
    format: str
    scale: int
    max_diff: float | None  # exported vs PyTorch on the check input; None: not checked


def format_for(path: Path, fmt: str | None) -> str:
    """``fmt``, or the format ``path``'s suffix implies (``.onnx``, ``.ts``/``.pt``, ``.pth``)."""
    if fmt is not None:
        if fmt not in FORMATS:
            raise ExportError(f"--format {fmt!r}: choose one of {', '.join(FORMATS)}")
        return fmt
    found = SUFFIXES.get(path.suffix.lower())
    if found is None:
        known = ", ".join(f"{s} ({f})" for s, f in SUFFIXES.items())
        raise ExportError(f"{path}: cannot tell the format from the suffix; use {known} or --format")
    return found


class Exportable(nn.Module):
    """The generator as an exported graph runs it: an ``RRDBNet`` with pixel-unshuffle (x2, x1) gets
    its reflect padding to a multiple of ``fold`` unconditionally (a no-op on multiples) and its crop,
    so the graph holds no size-dependent branch; everything else runs as it is."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        inner = model.module if isinstance(model, ScaleView) else model
        self.rrdb = inner if isinstance(inner, RRDBNet) and inner.fold > 1 else None
        self.scale = scale_of(model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.rrdb is None:
            return self.model(x)
        h, w = x.shape[-2:]
        fold = self.rrdb.fold
        x = F.pad(x, (0, (fold - w % fold) % fold, 0, (fold - h % fold) % fold), mode="reflect")
        return self.rrdb.forward_padded(x)[..., : h * self.scale, : w * self.scale]


def check_exportable(model: nn.Module) -> None:
    inner = model.module if isinstance(model, ScaleView) else model
    if isinstance(inner, Interpolation):
        raise ExportError(f"{inner.name!r} is an interpolation baseline, not a network; nothing to export")
    if isinstance(inner, SRCNN) and inner.upsample == "bicubic" and inner.upscale != 1:
        raise ExportError(
            "SRCNN upscales its input with MATLAB bicubic inside the model, which does not export with "
            "a dynamic size; export the network alone with --net-opt upsample=none and upscale the input "
            "(bicubic) before it"
        )


def _input(model: Any, size: tuple[int, int], seed: int, batch: int = 1) -> torch.Tensor:
    channels = getattr(model, "num_in_ch", None) or 3
    g = torch.Generator().manual_seed(seed)
    return torch.rand(batch, channels, *size, generator=g)


def _example(model: nn.Module) -> tuple[torch.Tensor]:
    """The input an exporter traces with: batch 2 (a batch of 1 would be fixed at 1 by the export)."""
    return (_input(getattr(model, "model", model), TRACE_SIZE, 0, batch=2),)


def _max_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    if a.shape != b.shape:
        raise ExportError(
            f"the exported graph gave shape {tuple(a.shape)} where PyTorch gives {tuple(b.shape)}"
        )
    return float((a - b).abs().max())


def _require(module: str, what: str) -> None:
    if importlib.util.find_spec(module) is None:
        raise ExportError(f'{what} needs the {module!r} package: pip install "sr-toolkit[export]"')


def dynamic_shapes() -> dict[str, dict[int, Any]]:
    """Batch, height and width free (height and width at least ``MIN_SIDE``)."""
    batch = torch.export.Dim("batch", min=1, max=1024)
    height = torch.export.Dim("height", min=MIN_SIDE, max=1 << 15)
    width = torch.export.Dim("width", min=MIN_SIDE, max=1 << 15)
    return {"x": {0: batch, 2: height, 3: width}}


def pt2_bytes(model: nn.Module) -> tuple[bytes, nn.Module]:
    """The ``torch.export`` program of ``model`` (an :class:`Exportable`) and its runnable module."""
    with torch.no_grad():
        program = torch.export.export(model, _example(model), dynamic_shapes=dynamic_shapes())
    buf = io.BytesIO()
    torch.export.save(program, buf)
    return buf.getvalue(), program.module()


def onnx_bytes(model: nn.Module, meta: dict[str, str], opset: int = OPSET) -> bytes:
    """The ONNX file of ``model`` (an :class:`Exportable`), dynamic batch, height and width."""
    _require("onnx", "ONNX export")
    _require("onnxscript", "ONNX export")
    with torch.inference_mode(False), torch.no_grad():
        program: Any = torch.onnx.export(
            model,
            _example(model),
            dynamo=True,
            input_names=["input"],
            output_names=["output"],
            dynamic_shapes=dynamic_shapes(),
            opset_version=opset,
            verbose=False,
        )
    program.model.metadata_props.update(meta)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.onnx"
        program.save(str(path))
        return path.read_bytes()


def run_onnx(data: bytes, x: torch.Tensor) -> torch.Tensor | None:
    """The ONNX model's output on ``x`` with onnxruntime (CPU), or None where it is not installed."""
    if importlib.util.find_spec("onnxruntime") is None:
        return None
    import onnxruntime

    session = onnxruntime.InferenceSession(data, providers=["CPUExecutionProvider"])
    return torch.from_numpy(session.run(None, {"input": x.numpy()})[0])


def torchscript_bytes(model: nn.Module) -> tuple[bytes, torch.jit.ScriptModule]:
    with torch.no_grad():
        traced = torch.jit.trace(model, _example(model), check_trace=False)
    buf = io.BytesIO()
    torch.jit.save(traced, buf)
    return buf.getvalue(), traced


def esrgan_state(model: nn.Module) -> dict[str, Any]:
    """``model``'s weights in the layout ESRGAN's scripts, chaiNNer and spandrel read (module docstring)."""
    inner = model.module if isinstance(model, ScaleView) else model
    if not isinstance(inner, RRDBNet):
        raise ExportError(
            f"{type(inner).__name__} has no ESRGAN/spandrel layout (only RRDBNet has); export ONNX or "
            "TorchScript instead (-o model.onnx)"
        )
    grow = {m.out_channels for name, m in inner.named_modules() if name.endswith("rdb1.conv1")}
    if grow - {32}:
        raise ExportError("ESRGAN's layout (and spandrel) fix RRDBNet's num_grow_ch at 32")
    state = {k: v.detach().to("cpu", torch.float32).contiguous() for k, v in inner.state_dict().items()}
    if inner.scale == 4:
        return to_esrgan_old(state, len(inner.body))
    return {"params_ema": state}


def run_spandrel(data: bytes, x: torch.Tensor) -> torch.Tensor | None:
    """What spandrel computes from the written weights, or None where spandrel is not installed."""
    if importlib.util.find_spec("spandrel") is None:
        return None
    import spandrel

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.pth"
        path.write_bytes(data)
        net = spandrel.ModelLoader().load_from_file(path).model.eval()
    with torch.no_grad():
        return net(x)


def export_model(
    model: nn.Module, path: Path, fmt: str, *, source: str, overwrite: bool = False, opset: int = OPSET
) -> Exported:
    """Export ``model`` (one scale: a multi-scale model as a ``ScaleView``) to ``path`` in ``fmt``,
    check it against PyTorch (module docstring) and write it atomically (an existing ``path`` only
    with ``overwrite``). ``source`` (the model's name or file) goes into the ONNX metadata."""
    check_exportable(model)
    model = model.eval().float()
    wrapped = Exportable(model).eval()
    if fmt == "pt2" and wrapped.rrdb is not None:
        raise ExportError(
            f"an RRDBNet x{wrapped.scale} pads its input to a multiple of {wrapped.rrdb.fold} before its "
            "pixel-unshuffle, which torch.export cannot keep dynamic; export ONNX (-o model.onnx) or "
            "TorchScript (-o model.ts) instead"
        )
    x = _input(model, CHECK_SIZE, 1)
    with torch.no_grad():
        ref = model(x)
    scale = ref.shape[-1] // x.shape[-1]  # what the graph does (SRCNN with upsample=none: x1)
    for module in model.modules():  # re-parameterisable layers (SPAN's Conv3XC) fused once, after the
        if callable(deploy := getattr(module, "deploy", None)):  # reference: the check covers the fusion
            deploy()
    inner = model.module if isinstance(model, ScaleView) else model
    meta = {"scale": str(scale), "architecture": type(inner).__name__, "source": source}
    channels = f"{x.shape[1]} channel(s) in, {ref.shape[1]} out"
    meta["layout"] = f"NCHW float32 in [0, 1], {channels}; output not clamped"
    try:
        data, out = _export(wrapped, fmt, x, meta, opset)
    except ExportError:
        raise
    except Exception as err:  # the exporters' own failures: one line, not their traceback
        first = (str(err).strip().splitlines() or [type(err).__name__])[0][:300]
        raise ExportError(f"{fmt} export of {type(inner).__name__} failed: {first}") from err
    diff = None if out is None else _max_diff(out, ref)
    if diff is not None and not diff <= TOLERANCE:
        raise ExportError(
            f"the exported {fmt} model differs from PyTorch by {diff:.3g} on a "
            f"{CHECK_SIZE[1]}x{CHECK_SIZE[0]} input (tolerance {TOLERANCE}); nothing written"
        )
    atomic_write_bytes(path, data, exclusive=not overwrite)
    return Exported(path, fmt, scale, diff)


def _export(
    wrapped: Exportable, fmt: str, x: torch.Tensor, meta: dict[str, str], opset: int
) -> tuple[bytes, torch.Tensor | None]:
    """The file's bytes, and the exported model's output on ``x`` (None: no runtime to check it)."""
    if fmt == "onnx":
        data = onnx_bytes(wrapped, meta, opset)
        return data, run_onnx(data, x)
    if fmt in ("torchscript", "pt2"):
        data, runnable = torchscript_bytes(wrapped) if fmt == "torchscript" else pt2_bytes(wrapped)
        with torch.no_grad():
            return data, runnable(x)
    if fmt == "esrgan":
        buf = io.BytesIO()
        torch.save(esrgan_state(wrapped.model), buf)
        return buf.getvalue(), run_spandrel(buf.getvalue(), x)
    raise ExportError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
