"""The README's commands, as written there, in order, in a fresh folder laid out as a checkout
(``options/`` linked in): real processes on the installed console scripts. The install and test
steps are left out (this suite runs inside an installed environment). In the default run
``sr-train`` gets ``--set`` overrides that shorten it to a few iterations; the ``slow`` test runs
every command exactly as written."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from sr.data.imageio import read_image

ROOT = Path(__file__).resolve().parents[2]
SETUP = ("python3", ".", "pip")  # the venv and install steps
SHORT_TRAIN = [
    "--set",
    "train.total_iter=4",
    "--set",
    "val.val_freq=4",
    "--set",
    "logger.save_checkpoint_freq=4",
]


def readme_commands() -> list[list[str]]:
    """Every command of the README's bash blocks (``&&``-joined steps split, comments dropped), in
    order, minus the set-up steps and the test command."""
    steps = []
    for block in re.findall(r"```bash\n(.*?)\n```", (ROOT / "README.md").read_text(), re.S):
        for line in block.splitlines():
            for step in line.split(" && "):
                words = shlex.split(step, comments=True)
                if words and words[0] not in SETUP and words[:3] != ["python", "-m", "pytest"]:
                    steps.append(words)
    return steps


def script_env() -> dict[str, str]:
    """The environment with this interpreter's console scripts first on PATH."""
    bindir = Path(sys.executable).parent
    return {**os.environ, "PATH": f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}"}


def run_all(tmp_path: Path, short: bool) -> dict[str, subprocess.CompletedProcess]:
    (tmp_path / "options").symlink_to(ROOT / "options")
    env = script_env()
    runs = {}
    for step in readme_commands():
        cmd = [sys.executable, *step[1:]] if step[0] == "python" else list(step)
        if short and step[0] == "sr-train":
            cmd += SHORT_TRAIN
        run = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=1800)
        assert run.returncode == 0, f"{shlex.join(step)}: {run.stderr[-2000:]}"
        runs[shlex.join(step)] = run
    return runs


def check_outputs(tmp_path: Path, runs: dict[str, subprocess.CompletedProcess]) -> None:
    src = read_image(tmp_path / "datasets" / "samples" / "astronaut.png").data
    assert read_image(tmp_path / "out" / "astronaut_x4.png").data.shape == (
        3,
        4 * src.shape[1],
        4 * src.shape[2],
    )
    for name in ("chelsea_x4.png", "chelsea_alpha0.8.png"):
        assert (tmp_path / "out" / name).is_file()
    assert (tmp_path / "blend.pth").is_file() and (tmp_path / "default_x4.onnx").is_file()
    bicubic = next(r for c, r in runs.items() if c.startswith("sr-eval --model bicubic"))
    assert "28.37" in bicubic.stdout and "0.8031" in bicubic.stdout  # the figure the README quotes


def test_readme_commands_run_as_written(tmp_path: Path):
    steps = readme_commands()
    assert [s[0] for s in steps[:2]] == ["python", "sr-infer"]  # the first command's two steps
    assert {s[0] for s in steps} >= {"sr-infer", "sr-eval", "sr-train", "sr-interp", "sr-export"}
    runs = run_all(tmp_path, short=True)
    check_outputs(tmp_path, runs)
    first = steps[1]  # rerunning the first command skips the existing output and is not a failure
    again = subprocess.run(first, cwd=tmp_path, env=script_env(), capture_output=True, text=True, timeout=300)
    assert again.returncode == 0 and "skipped" in again.stdout + again.stderr


@pytest.mark.slow
@pytest.mark.timeout(3600)  # sr-train -opt options/quickstart_x4.yml in full: 5000 iterations
def test_readme_commands_run_as_written_in_full(tmp_path: Path):
    check_outputs(tmp_path, run_all(tmp_path, short=False))
