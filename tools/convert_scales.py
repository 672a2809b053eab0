"""Convert between single-scale and multi-scale generators (MSRResNet, RRDBNet), or deepen one.

    python tools/convert_scales.py to-multi msrresnet_x4.pth ms.pth --scales 2 3 4 [--seed 0]
    python tools/convert_scales.py extract ms.pth msrresnet_x3.pth --scale 3
    python tools/convert_scales.py deepen default deeper.safetensors --num-block 24 [--seed 0]

``to-multi`` initialises a ``MultiScaleMSRResNet``/``MultiScaleRRDBNet`` from a single-scale
checkpoint: the shared body (and the head of its own scale, when asked for) is copied, the other
heads get a fresh init seeded by ``--seed``; what was copied is printed. ``extract`` writes one head
with the shared body as a single-scale model (``MSRResNet`` at any scale, ``RRDBNet`` at x4; an RRDB
x2/x3 head stays a one-scale ``MultiScaleRRDBNet``, see ``sr.checkpoints.convert``). Inputs are read
in any format sr reads (the architecture from sr's metadata or detected from the weights); outputs
are written with ``sr.checkpoints.save_checkpoint`` (atomic, architecture recorded; ``.pth`` or
``.safetensors``). For an input holding both ``params`` and ``params_ema``, ``--key`` picks one
(default: ``params_ema``, the weights used for inference).

``deepen`` appends residual blocks to an MSRResNet or MultiScaleMSRResNet (the bundled ``default``
model, by name, included) whose last convolution is zero: the deeper model gives the same output, and
fine-tuning it (``path.pretrain_network_g: deeper.safetensors`` with ``network_g.num_block`` set to
match) starts from the trained model instead of from scratch. The output is checked against the
input's on a random image before it is written.

An output never replaces an input; an existing output needs ``--overwrite``.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import torch

from sr.archs import ScaleView, build, scales_of
from sr.checkpoints import CheckpointError, detect_arch, read_state_dict, save_checkpoint
from sr.checkpoints.bundled import bundled_model_path, is_bundled_name
from sr.checkpoints.convert import deepen, extract_scale, single_to_multiscale
from sr.cli.common import fail
from sr.outputs import OutputError, ProtectedInputs

PROG = "convert_scales"


def read_with_arch(path: Path, key: str | None) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """The state dict in ``path`` and its architecture ``{"type": ..., **kwargs}``."""
    state, meta = read_state_dict(path, key=key)
    if "arch" in meta:
        return state, dict(meta["arch"])
    spec = detect_arch(state, source=str(path))
    if spec.undetermined:
        raise CheckpointError(f"{path}: {spec.type} cannot be converted (only MSRResNet and RRDBNet can)")
    return state, spec.as_opt()


def to_multi(src: Path, dst: Path, scales: list[int], seed: int, key: str | None) -> str:
    state, arch = read_with_arch(src, key)
    out, arch_multi, report = single_to_multiscale(state, arch, scales, seed=seed, source=str(src))
    save_checkpoint(dst, out, arch=arch_multi)
    return (
        f"wrote {dst}: {arch_multi['type']} x{', x'.join(map(str, arch_multi['scales']))}\n{report.summary()}"
    )


def extract(src: Path, dst: Path, scale: int, key: str | None) -> str:
    state, arch = read_with_arch(src, key)
    out, arch_single = extract_scale(state, arch, scale, source=str(src))
    save_checkpoint(dst, out, arch=arch_single)
    args = ", ".join(f"{k}={v}" for k, v in arch_single.items() if k != "type")
    return f"wrote {dst}: {arch_single['type']}({args})"


def deeper(src: Path, dst: Path, num_block: int, seed: int, key: str | None) -> str:
    state, arch = read_with_arch(src, key)
    out, arch_deep = deepen(state, arch, num_block, seed=seed, source=str(src))
    before, after = build(arch).eval(), build(arch_deep).eval()
    before.load_state_dict(state)
    after.load_state_dict(out)
    x = torch.rand(1, int(arch_deep.get("num_in_ch", 3)), 24, 20, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        for s in scales_of(before):  # ScaleView: one head of a multi-scale model, or the model itself
            if not torch.equal(ScaleView(before, s)(x), ScaleView(after, s)(x)):
                raise CheckpointError(f"{src}: the deepened model's x{s} output differs")  # an invariant
    save_checkpoint(dst, out, arch=arch_deep)
    return f"wrote {dst}: {arch_deep['type']} with {num_block} blocks (was {arch['num_block']}), same output"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    multi = sub.add_parser("to-multi", help="single-scale checkpoint -> multi-scale model")
    multi.add_argument("input", type=Path)
    multi.add_argument("output", type=Path)
    multi.add_argument("--scales", type=int, nargs="+", required=True, help="e.g. 2 3 4")
    multi.add_argument("--seed", type=int, default=0, help="seed of the fresh heads' init (default 0)")
    one = sub.add_parser("extract", help="one scale of a multi-scale checkpoint -> single-scale model")
    one.add_argument("input", type=Path)
    one.add_argument("output", type=Path)
    one.add_argument("--scale", type=int, required=True)
    deep = sub.add_parser("deepen", help="more residual blocks, starting as the identity (MSRResNet family)")
    deep.add_argument("input", help="a checkpoint, or default (the bundled model)")
    deep.add_argument("output", type=Path)
    deep.add_argument("--num-block", type=int, required=True, help="blocks of the deeper model")
    deep.add_argument("--seed", type=int, default=0, help="seed of the new blocks' first convs (default 0)")
    for cmd in (multi, one, deep):
        cmd.add_argument("--key", help="state dict to read from the input (params, params_ema, ...)")
        cmd.add_argument("--overwrite", action="store_true", help="replace an existing output")
    return p


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    if args.command == "deepen" and is_bundled_name(args.input):
        args.input = bundled_model_path(args.input)
    args.input = Path(args.input)
    try:
        ProtectedInputs([args.input]).check(args.output, args.overwrite, "output")
    except OutputError as err:
        fail(PROG, str(err))
    try:
        if args.command == "deepen":
            message = deeper(args.input, args.output, args.num_block, args.seed, args.key)
        elif args.command == "to-multi":
            message = to_multi(args.input, args.output, args.scales, args.seed, args.key)
        else:
            message = extract(args.input, args.output, args.scale, args.key)
    except CheckpointError as err:
        fail(PROG, str(err))
    print(f"{PROG}: {message}")


if __name__ == "__main__":
    main()
