"""A .pth from the internet must not be able to run code: real malicious pickles are refused.

Each payload is live: the last step of each test unpickles it the unsafe way and checks that it does
create the marker file, so a refusal that merely failed to parse the file cannot pass.
"""

from __future__ import annotations

import os
import pathlib
import pickle
import shlex

import pytest
import torch

from sr.checkpoints import CheckpointError, read_state_dict


class _RunsCode:
    """Pickles as a call of ``fn(*args)``: what a malicious checkpoint does on load."""

    def __init__(self, fn, *args):
        self.fn, self.args = fn, args

    def __reduce__(self):
        return self.fn, self.args


def _payload(kind: str, marker: pathlib.Path) -> _RunsCode:
    if kind == "os.system":
        return _RunsCode(os.system, f"touch {shlex.quote(str(marker))}")
    return _RunsCode(pathlib.Path.touch, marker)


@pytest.mark.parametrize("kind", ["os.system", "Path.touch"])
@pytest.mark.parametrize("writer", ["torch.save", "pickle.dump"])
def test_code_running_pickle_is_refused_and_never_runs(tmp_path, kind, writer):
    marker = tmp_path / "pwned"
    path = tmp_path / "model.pth"
    weights = {"conv.weight": torch.zeros(2, 2)}
    if writer == "torch.save":
        torch.save({"params": weights, "extra": _payload(kind, marker)}, path)
    else:
        with path.open("wb") as f:
            pickle.dump({"params": weights, "extra": _payload(kind, marker)}, f, protocol=2)

    with pytest.raises(CheckpointError) as err:
        read_state_dict(path)
    message = str(err.value)
    assert message.startswith(f"{path}: refused: the file contains Python objects that could run code")
    assert "sr loads weights only" in message
    assert ("system" if kind == "os.system" else "pathlib") in message
    assert not marker.exists()

    # the payload is real: loading it unsafely runs it
    if writer == "torch.save":
        torch.load(path, weights_only=False)
    else:
        with path.open("rb") as f:
            pickle.load(f)
    assert marker.exists()


def test_pickled_module_is_refused_as_python_objects(tmp_path):
    path = tmp_path / "whole_model.pth"
    torch.save(torch.nn.Conv2d(1, 1, 3), path)
    with pytest.raises(
        CheckpointError, match=r"could run code when loaded \(torch\.nn\.modules\.conv\.Conv2d"
    ):
        read_state_dict(path)
