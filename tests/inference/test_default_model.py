"""The bundled default model: found through the installed package (a built wheel carries it and
loads it from wherever it is installed), runs at x2/x3/x4, x4 when no scale is given, and beats
bicubic on Set5 at every scale."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from sr.checkpoints import CheckpointError
from sr.inference.default_model import DEFAULT_SCALES, DEFAULT_WEIGHTS, GAN_WEIGHTS, default_model_path
from sr.inference.evaluate import evaluate_folder
from sr.inference.loading import resolve_model
from sr.inference.upscaler import Upscaler

ROOT = Path(__file__).resolve().parents[2]


def test_default_model_runs_at_every_scale_and_x4_by_default():
    img = np.random.default_rng(0).integers(0, 256, (20, 17, 3), dtype=np.uint8)
    for s in DEFAULT_SCALES:
        out = Upscaler(scale=s, tile=0).upscale(img)
        assert out.shape == (20 * s, 17 * s, 3) and out.dtype == np.uint8
    assert Upscaler().scale == 4 and Upscaler("default").scale == 4
    with pytest.raises(CheckpointError, match=r"scales x2, x3, x4; asked for x8"):
        Upscaler(scale=8)


def test_default_model_fits_the_package_budget():
    path = default_model_path()
    assert path.name == DEFAULT_WEIGHTS and path.stat().st_size <= 10_000_000


def test_a_missing_default_names_the_path(monkeypatch, tmp_path):
    import importlib

    module = importlib.import_module("sr.checkpoints.bundled")
    monkeypatch.setattr(module.resources, "files", lambda _pkg: tmp_path)
    with pytest.raises(CheckpointError, match=r"model 'default' is missing: expected .*weights/default_x234"):
        resolve_model("default", 4)
    with pytest.raises(
        CheckpointError, match=r"model 'default-gan' is missing: expected .*weights/default_gan"
    ):
        resolve_model("default-gan", 4)


def test_a_built_wheel_carries_the_model_and_loads_it_from_its_install(tmp_path):
    """Build the wheel (``pip wheel``, no dependencies), unpack it as an install would, and load the
    default model in a fresh interpreter that imports ``sr`` from there, not from this source tree."""
    pytest.importorskip("setuptools", minversion="77")  # the [dev] extra's; pyproject.toml's build backend
    pip = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q"]
    build = subprocess.run(
        [*pip, "-w", tmp_path, ROOT],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert build.returncode == 0, build.stderr
    (wheel,) = tmp_path.glob("*.whl")
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as z:
        for data in (DEFAULT_WEIGHTS, GAN_WEIGHTS):
            assert f"sr/inference/weights/{data}" in z.namelist()
        assert "sr/metrics/data/niqe_pris_params.npz" in z.namelist()
        z.extractall(site)
    code = (
        "import sr, torch; from sr.inference.default_model import default_model_path; "
        "from sr.inference.upscaler import Upscaler; "
        "print(sr.__file__); print(default_model_path()); "
        "print([tuple(Upscaler(scale=s, tile=0).upscale(torch.rand(3, 9, 8)).shape) for s in (2, 3, 4)]); "
        "from sr.metrics.niqe import pristine_model; print(pristine_model()[0].shape, "
        "tuple(Upscaler(alpha=0.8, tile=0).upscale(torch.rand(3, 9, 8)).shape))"
    )
    env = {**os.environ, "PYTHONPATH": str(site)}
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, env=env)
    assert run.returncode == 0, run.stderr
    sr_file, weights, shapes, gan = run.stdout.strip().splitlines()
    assert sr_file.startswith(str(site)) and weights.startswith(str(site))
    assert shapes == "[(3, 18, 16), (3, 27, 24), (3, 36, 32)]"
    assert gan == "(36,) (3, 36, 32)"


@pytest.mark.parametrize("scale", DEFAULT_SCALES)
def test_default_model_beats_bicubic_on_set5(shared_dir, scale):
    set5 = shared_dir / "data" / "benchmarks" / "Set5"
    ours = evaluate_folder(resolve_model("default", scale), set5, scale).psnr
    bicubic = evaluate_folder(resolve_model("bicubic", scale), set5, scale).psnr
    assert ours > bicubic + 0.5, (ours, bicubic)
