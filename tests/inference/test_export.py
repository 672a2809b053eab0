"""``sr-export``: ONNX run by onnxruntime, TorchScript run by ``torch.jit.load``, a ``torch.export``
program run by ``torch.export.load`` and ESRGAN-layout weights loaded by spandrel give PyTorch's
output, at sizes other than the one exported with."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime
import pytest
import spandrel
import torch

from sr.archs import SPAN, SRCNN, MSRResNet, RRDBNet
from sr.checkpoints import save_checkpoint
from sr.checkpoints.bundled import bundled_model_path
from sr.cli.export import main
from sr.inference.loading import resolve_model


def export(*args: str) -> int:
    try:
        main([*args, "--quiet"])
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


def image8(n: int, h: int, w: int, seed: int = 0) -> torch.Tensor:
    """A batch of 8-bit-valued images: smooth shapes plus noise."""
    g = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.linspace(0, 6, h), torch.linspace(0, 9, w), indexing="ij")
    base = 0.5 + 0.3 * torch.sin(xx + torch.rand(n, 3, 1, 1, generator=g) * 6) * torch.cos(yy)
    return (base + 0.1 * torch.rand(n, 3, h, w, generator=g)).clamp(0, 1).mul(255).round().div(255)


def onnx_run(path: Path, x: torch.Tensor) -> torch.Tensor:
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return torch.from_numpy(session.run(None, {"input": x.numpy()})[0])


def levels(t: torch.Tensor) -> torch.Tensor:
    return t.clamp(0, 1).mul(255).round()


def tiny_checkpoint(tmp_path: Path, net: torch.nn.Module, name: str) -> Path:
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(torch.randn(p.shape, generator=g) * 0.02)
    path = tmp_path / name
    save_checkpoint(path, net.state_dict())
    return path


def test_default_model_onnx_has_dynamic_size_and_batch(tmp_path: Path):
    out = tmp_path / "default_x4.onnx"
    assert export("-o", str(out)) == 0
    x = image8(2, 45, 61)  # neither the export size (64x64) nor a multiple of anything
    with torch.no_grad():
        ref = resolve_model("default", 4)(x)
    got = onnx_run(out, x)
    assert got.shape == (2, 3, 180, 244)
    assert (levels(got) - levels(ref)).abs().max() <= 1  # within one 8-bit level
    meta = {p.key: p.value for p in onnx.load(str(out)).metadata_props}
    assert meta["scale"] == "4" and meta["architecture"] == "MultiScaleMSRResNet"


@pytest.mark.parametrize("suffix", [".ts", ".pt2"])
def test_multiscale_model_exports_the_head_asked_for_as_a_pytorch_program(tmp_path: Path, suffix: str):
    out = tmp_path / f"default_x2{suffix}"
    assert export("default", "--scale", "2", "-o", str(out)) == 0
    x = image8(1, 33, 20)
    traced = torch.jit.load(str(out)) if suffix == ".ts" else torch.export.load(str(out)).module()
    with torch.no_grad():
        got, ref = traced(x), resolve_model("default", 2)(x)
    assert got.shape == (1, 3, 66, 40)
    assert torch.allclose(got, ref, atol=1e-5)


def test_rrdbnet_x2_onnx_pads_any_size_as_pytorch_does(tmp_path: Path):
    ckpt = tiny_checkpoint(tmp_path, RRDBNet(scale=2, num_feat=8, num_block=1, num_grow_ch=8), "rrdb_x2.pth")
    out = tmp_path / "rrdb_x2.onnx"
    assert export(str(ckpt), "-o", str(out)) == 0
    x = image8(1, 31, 17)  # odd: the pixel-unshuffle needs padding
    with torch.no_grad():
        ref = resolve_model(str(ckpt), None)(x)
    got = onnx_run(out, x)
    assert got.shape == (1, 3, 62, 34)
    assert float((got - ref).abs().max()) < 1e-4


@pytest.mark.parametrize("suffix", [".onnx", ".pt2"])
def test_span_exports_with_its_convolutions_fused(tmp_path: Path, suffix: str):
    ckpt = tiny_checkpoint(tmp_path, SPAN(feature_channels=8, upscale=3), "span_x3.pth")
    out = tmp_path / f"span_x3{suffix}"
    assert export(str(ckpt), "-o", str(out)) == 0
    x = image8(2, 19, 26)
    with torch.no_grad():
        ref = resolve_model(str(ckpt), None)(x)
        got = onnx_run(out, x) if suffix == ".onnx" else torch.export.load(str(out)).module()(x)
    assert got.shape == (2, 3, 57, 78)
    # random weights on an input scaled by 255 give outputs far from [0, 1]: compare relatively
    assert float((got - ref).abs().max() / ref.abs().max()) < 1e-5
    if suffix == ".onnx":  # fused before export: one convolution per Conv3XC, not the training branches
        graph = onnx.load(str(out)).graph
        assert not {n.op_type for n in graph.node} & {"Einsum", "MatMul", "ReduceSum"}
        stored = sum(int(np.prod(t.dims)) for t in graph.initializer)
        deployed = sum(
            p.numel()
            for n, p in SPAN(feature_channels=8, upscale=3).named_parameters()
            if ".conv." not in n and ".sk." not in n
        )
        assert stored <= deployed + 16  # + the mean colour and such constants


@pytest.mark.parametrize("scale", [4, 2])
def test_rrdbnet_weights_in_esrgan_layout_load_in_spandrel(tmp_path: Path, scale: int):
    ckpt = tiny_checkpoint(tmp_path, RRDBNet(scale=scale, num_feat=8, num_block=2), f"rrdb_x{scale}.pth")
    out = tmp_path / f"esrgan_x{scale}.pth"
    assert export(str(ckpt), "-o", str(out)) == 0
    state = torch.load(out, weights_only=True)
    if scale == 4:
        assert "model.0.weight" in state and "model.1.sub.2.weight" in state  # ESRGAN's original layout
    else:
        assert set(state) == {"params_ema"}  # as Real-ESRGAN ships its x2 model
    desc = spandrel.ModelLoader().load_from_file(out)
    assert desc.architecture.id == "ESRGAN" and desc.scale == scale
    x = image8(1, 24, 20)
    with torch.no_grad():
        assert torch.allclose(desc.model.eval()(x), resolve_model(str(ckpt), None)(x), atol=1e-5)


def test_refusals_name_the_reason_and_write_nothing(tmp_path: Path, capsys):
    msr = tiny_checkpoint(tmp_path, MSRResNet(num_feat=8, num_block=1, upscale=4), "msr.pth")
    rrdb = tiny_checkpoint(tmp_path, RRDBNet(scale=2, num_feat=8, num_block=1, num_grow_ch=8), "rrdb.pth")
    bundled = bundled_model_path("default")
    cases = {
        (str(rrdb), "-o", str(tmp_path / "rrdb.pt2")): "torch.export cannot keep dynamic",
        ("default", "-o", str(bundled), "--format", "onnx", "--overwrite"): "never overwritten",
        (str(msr), "-o", str(tmp_path / "msr_esrgan.pth")): "no ESRGAN/spandrel layout",
        ("bicubic", "--scale", "4", "-o", str(tmp_path / "b.onnx")): "interpolation baseline",
        ("default", "-o", str(tmp_path / "d.bin")): "cannot tell the format",
        (str(msr), "-o", str(msr), "--format", "torchscript", "--overwrite"): "never overwritten",
    }
    before = msr.read_bytes(), bundled.read_bytes()
    for args, reason in cases.items():
        assert export(*args) == 2, args
        assert reason in capsys.readouterr().err, args
    assert (msr.read_bytes(), bundled.read_bytes()) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["msr.pth", "rrdb.pth"]


def test_metadata_says_what_the_graph_does(tmp_path: Path):
    """SRCNN without its built-in bicubic is an x1, one-channel graph, and the file says so."""
    srcnn = tiny_checkpoint(tmp_path, SRCNN(num_in_ch=1, upscale=3, num_feat=8, num_feat2=4), "srcnn_x3.pth")
    out = tmp_path / "srcnn.onnx"
    assert export(str(srcnn), "--scale", "3", "--net-opt", "upsample=none", "-o", str(out)) == 0
    meta = {p.key: p.value for p in onnx.load(str(out)).metadata_props}
    assert meta["scale"] == "1" and "1 channel(s) in, 1 out" in meta["layout"]
    assert onnx_run(out, torch.rand(1, 1, 10, 12)).shape == (1, 1, 10, 12)


def test_an_existing_output_needs_overwrite(tmp_path: Path, capsys):
    msr = tiny_checkpoint(tmp_path, MSRResNet(num_feat=8, num_block=1, upscale=2), "msr.pth")
    out = tmp_path / "msr.ts"
    out.write_bytes(b"keep")
    assert export(str(msr), "-o", str(out)) == 2
    assert "--overwrite" in capsys.readouterr().err and out.read_bytes() == b"keep"
    assert export(str(msr), "-o", str(out), "--overwrite") == 0
    x = image8(1, 9, 13)
    with torch.no_grad():
        assert np.allclose(torch.jit.load(str(out))(x), resolve_model(str(msr), None)(x), atol=1e-5)
