"""Package a trained checkpoint as one of sr's bundled models (``default`` or ``default-gan``).

    python tools/package_default_model.py experiments/default_x234/models/net_g_30000.pth
    python tools/package_default_model.py --name default-gan \
        experiments/esrgan_quick_x234/models/net_g_latest.pth

Reads a checkpoint of the default model's recipe (``sr-train -opt options/default_x234.yml``; the
shipped weights came from its staged history, ``docs/default_model/stages/``) or of the GAN recipe
(``options/esrgan_quick_x234.yml``) (``params_ema`` when present, else ``params``), checks that it is
a multi-scale generator with the default's scales, and writes it as
``sr/inference/weights/default_x234.safetensors`` (``--name default-gan``: ``default_gan_x234.safetensors``,
which must also have the default model's architecture and keys, so that the two interpolate; ``--out``
any other path): safetensors (no pickle), the architecture
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
from sr.checkpoints.bundled import BUNDLED, bundled_model_path
from sr.cli.common import fail
from sr.inference.default_model import DEFAULT_SCALES
from sr.inference.interp import check_compatible
from sr.outputs import OutputError, ProtectedInputs

PROG = "package_default_model"
WEIGHTS = Path(__file__).resolve().parents[1] / "sr" / "inference" / "weights"
MAX_BYTES = 10 * 1000 * 1000  # the budget for package data: 10 MB


def package(src: Path, out: Path, partner: Path | None = None) -> tuple[int, str]:
    """Write ``src`` as a bundled model at ``out``; return its size in bytes and its sha256.
    ``partner``: a checkpoint it must be able to interpolate with (same architecture and keys)."""
    state, meta = read_state_dict(src)
    arch = meta.get("arch")
    if arch is None or tuple(arch.get("scales", ())) != DEFAULT_SCALES:
        raise CheckpointError(
            f"{src}: expected a multi-scale generator with scales {list(DEFAULT_SCALES)} and its "
            f"architecture recorded (a checkpoint sr-train wrote), got {arch}"
        )
    if partner is not None:
        other, other_meta = read_state_dict(partner)
        names = (str(src), str(partner))
        check_compatible(state, other, psnr_arch=arch, gan_arch=other_meta.get("arch"), names=names)
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
    p.add_argument("--name", choices=list(BUNDLED), default="default", help="which bundled model")
    p.add_argument("--out", type=Path, help=f"where to write it (default: {WEIGHTS}/<the name's file>)")
    args = p.parse_args(argv)
    out = args.out or WEIGHTS / BUNDLED[args.name]
    partner = bundled_model_path("default") if args.name == "default-gan" else None
    try:  # replacing the bundled file is this tool's purpose; replacing a file it reads is not
        ProtectedInputs([args.checkpoint, *([partner] if partner else [])]).check(
            out, overwrite=True, what="--out"
        )
    except OutputError as err:
        fail(PROG, str(err))
    try:
        size, digest = package(args.checkpoint, out, partner)
    except (CheckpointError, ValueError) as exc:
        fail(PROG, str(exc))
    print(f"{out}: {size / 1e6:.2f} MB, sha256 {digest}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
