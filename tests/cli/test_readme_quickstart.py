"""The README's first command, as written there: after the install steps, write the samples and
upscale one with the bundled default model (real processes, in a temporary folder)."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

from sr.data.imageio import read_image

ROOT = Path(__file__).resolve().parents[2]


def first_command() -> list[list[str]]:
    """The ``&&``-joined steps of the first bash block under "## Install and run", minus the venv and
    pip steps (the test already runs inside an installed environment)."""
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## Install and run") :]
    block = re.search(r"```bash\n(.*?)\n```", section, re.S)
    assert block is not None
    steps = [shlex.split(s) for s in block.group(1).split(" && ")]
    return [s for s in steps if s[0] not in ("python3", ".", "pip")]


def test_readme_first_command_upscales_a_sample_with_the_default_model(tmp_path):
    steps = first_command()
    assert [s[0] for s in steps] == ["python", "sr-infer"]
    bindir = Path(sys.executable).parent
    env = {**os.environ, "PATH": f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}"}
    for step in steps:
        cmd = [sys.executable, *step[1:]] if step[0] == "python" else step
        run = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
        assert run.returncode == 0, f"{shlex.join(step)}: {run.stderr[-2000:]}"
    again = subprocess.run(steps[-1], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0 and "skipped" in again.stdout + again.stderr  # a rerun is not a failure
    src = read_image(tmp_path / "datasets" / "samples" / "astronaut.png").data
    out = read_image(tmp_path / "out" / "astronaut_x4.png").data
    assert out.shape == (3, 4 * src.shape[1], 4 * src.shape[2])
