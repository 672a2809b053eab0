"""Training states: atomic writes (an interrupted save leaves the previous one), safe reads."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from sr.engine.state import latest_state, list_states, load_state, prune_states, save_state, set_aside_newer


class Unpicklable:
    def __reduce__(self):
        raise RuntimeError("disk full")  # the write fails half-way through torch.save


def test_failed_save_leaves_previous_state_intact(tmp_path: Path):
    save_state(tmp_path, 3, {"w": torch.ones(2)}, {})
    before = (tmp_path / "3.state").read_bytes()
    with pytest.raises(RuntimeError, match="disk full"):
        save_state(tmp_path, 3, {"w": torch.zeros(2), "bad": Unpicklable()}, {})
    assert (tmp_path / "3.state").read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["3.state"]
    assert torch.equal(load_state(tmp_path / "3.state")["model"]["w"], torch.ones(2))


def test_latest_ignores_temporaries_and_prune_keeps_newest(tmp_path: Path):
    for it in (5, 10, 15):
        save_state(tmp_path, it, {}, {})
    (tmp_path / ".20.state.abc.tmp").write_bytes(b"partial")
    assert latest_state(tmp_path) == tmp_path / "15.state"
    prune_states(tmp_path, keep_last=1)
    assert [p.name for p in list_states(tmp_path)] == ["10.state", "15.state"]


def test_foreign_or_code_running_files_are_refused(tmp_path: Path):
    bad = tmp_path / "x.state"
    torch.save({"iter": 1}, bad)
    with pytest.raises(ValueError, match="not an sr training state"):
        load_state(bad)
    import pickle

    evil = tmp_path / "evil.state"
    evil.write_bytes(pickle.dumps(Path("/")))  # a global that weights_only refuses
    with pytest.raises(ValueError, match="not a readable training state"):
        load_state(evil)
    with pytest.raises(FileNotFoundError, match=r"nowhere\.state"):
        load_state(tmp_path / "nowhere.state")


def test_prune_removes_only_states(tmp_path: Path):
    """Found by review: any name like ``1.state`` was deleted, and a folder so named crashed the run."""
    for it in (5, 10, 15):
        save_state(tmp_path, it, {}, {})
    (tmp_path / "1.state").write_text("my notes")
    (tmp_path / "3.state").mkdir()
    (tmp_path / "3.state" / "important.txt").write_text("keep")
    (tmp_path / "2.state").symlink_to(tmp_path / "5.state")
    prune_states(tmp_path, keep_last=1)
    assert (tmp_path / "1.state").read_text() == "my notes"
    assert (tmp_path / "3.state" / "important.txt").read_text() == "keep"
    assert (tmp_path / "2.state").is_symlink() and not (tmp_path / "5.state").exists()
    assert [p.name for p in list_states(tmp_path)] == ["1.state", "10.state", "15.state"]


def test_newer_states_are_set_aside_not_deleted(tmp_path: Path):
    for it in (5, 10, 15):
        save_state(tmp_path, it, {}, {})
    assert set_aside_newer(tmp_path, 15) is None
    aside = set_aside_newer(tmp_path, 5)
    assert aside is not None and aside.parent == tmp_path and aside.name.startswith("abandoned_")
    assert sorted(p.name for p in aside.iterdir()) == ["10.state", "15.state"]
    assert [p.name for p in list_states(tmp_path)] == ["5.state"]
