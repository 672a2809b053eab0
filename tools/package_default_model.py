"""Package a trained checkpoint as sr's bundled default model.

    python tools/package_default_model.py experiments/default_stage11_x234/models/net_g_10000.pth

Reads the checkpoint the default model's recipes wrote (``sr-train -opt options/default_x234.yml``, then
``options/default_stage2_x234.yml`` ... ``default_stage8_x234.yml``, each from the previous stage's
result, then ``default_stage11_x234.yml`` from stage 8's) (``params_ema`` when present, else
``params``), checks that it is a multi-scale generator with the default's scales, and writes it as
``sr/inference/weights/default_x234.safetensors`` (``--out``): safetensors (no pickle), the architecture
in the metadata, written atomically. Before reporting success it reloads the written file and checks
that it upscales a test image at every scale exactly as the source checkpoint does, and that it fits the
package budget (``MAX_BYTES``). Prints the size and the sha256 for MODEL_CARD.md.
"""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path

import torch

from sr.checkpoints import CheckpointError, load_model, read_state_dict, save_checkpoint
from sr.cli.common import fail
from sr.inference.default_model import DEFAULT_SCALES, DEFAULT_WEIGHTS

PROG = "package_default_model"
OUT = Path(__file__).resolve().parents[1] / "sr" / "inference" / "weights" / DEFAULT_WEIGHTS
MAX_BYTES = 10 * 1000 * 1000  # the budget for package data: 10 MB


def package(src: Path, out: Path) -> tuple[int, str]:
    """Write ``src`` as the default model at ``out``; return its size in bytes and its sha256."""
    state, meta = read_state_dict(src)
    arch = meta.get("arch")
    if arch is None or tuple(arch.get("scales", ())) != DEFAULT_SCALES:
        raise CheckpointError(
            f"{src}: expected a multi-scale generator with scales {list(DEFAULT_SCALES)} and its "
            f"architecture recorded (a checkpoint sr-train wrote), got {arch}"
        )
    tmp = out.with_name(out.name + ".candidate.safetensors")
    save_checkpoint(tmp, state, arch=arch)
    try:
        size = tmp.stat().st_size
        if size > MAX_BYTES:
            raise CheckpointError(f"{src}: {size} bytes as safetensors, over the {MAX_BYTES}-byte budget")
        x = torch.rand(1, 3, 24, 20, generator=torch.Generator().manual_seed(0))
        for s in DEFAULT_SCALES:
            with torch.inference_mode():
                want, got = load_model(src, scale=s)(x), load_model(tmp, scale=s)(x)
            if not torch.equal(want, got):
                raise CheckpointError(f"{tmp}: x{s} output differs from {src}'s")
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)
    return size, hashlib.sha256(out.read_bytes()).hexdigest()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog=PROG, description="Package a checkpoint as sr's default model.")
    p.add_argument("checkpoint", type=Path, help="the trained checkpoint (e.g. net_g_latest.pth)")
    p.add_argument("--out", type=Path, default=OUT, help=f"where to write it (default: {OUT})")
    args = p.parse_args(argv)
    try:
        size, digest = package(args.checkpoint, args.out)
    except CheckpointError as exc:
        fail(PROG, str(exc))
    print(f"{args.out}: {size / 1e6:.2f} MB, sha256 {digest}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
