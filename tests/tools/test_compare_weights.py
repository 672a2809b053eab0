"""tools/compare_weights.py on checkpoints written to tmp_path: exit status and the report, for NaN,
empty tensors and dtypes (a difference a Python max() over per-tensor results used to drop)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

NAN, INF = float("nan"), float("inf")


def run(load_tool, tmp_path: Path, a: dict, b: dict, capsys) -> tuple[int, str]:
    torch.save(a, tmp_path / "a.pth")
    torch.save(b, tmp_path / "b.pth")
    with pytest.raises(SystemExit) as exc:
        load_tool("compare_weights").main([str(tmp_path / "a.pth"), str(tmp_path / "b.pth")])
    return exc.value.code, capsys.readouterr().out


def pair(
    last_a: torch.Tensor, last_b: torch.Tensor, first_b: torch.Tensor | None = None
) -> tuple[dict, dict]:
    first = torch.zeros(2, 3)
    return (
        {"conv_first.weight": first, "conv_last.weight": last_a},
        {"conv_first.weight": first.clone() if first_b is None else first_b, "conv_last.weight": last_b},
    )


@pytest.mark.parametrize("order", ["nan_in_a", "nan_in_b"])
def test_nan_on_one_side_is_a_difference(load_tool, tmp_path, capsys, order) -> None:
    a, b = pair(torch.tensor([NAN, 2.0]), torch.tensor([1.0, 2.0]))
    code, out = run(load_tool, tmp_path, *((a, b) if order == "nan_in_a" else (b, a)), capsys)
    assert code == 1
    assert "conv_last.weight: NaN in one checkpoint only at 1 of 2 elements" in out
    assert "1 of 2 tensors differ" in out


def test_nan_in_both_at_the_same_place_is_equal_and_said(load_tool, tmp_path, capsys) -> None:
    code, out = run(load_tool, tmp_path, *pair(torch.tensor([NAN, 2.0]), torch.tensor([NAN, 2.0])), capsys)
    assert code == 0
    assert out.startswith("2 tensors, max abs difference 0;")
    assert "1 NaN values in both at the same places" in out
    # the same count of NaN at other places is a difference
    code, out = run(load_tool, tmp_path, *pair(torch.tensor([NAN, 2.0]), torch.tensor([2.0, NAN])), capsys)
    assert code == 1 and "NaN in one checkpoint only at 2 of 2 elements" in out


def test_empty_tensors_compare(load_tool, tmp_path, capsys) -> None:
    a, b = pair(torch.zeros(0, 3), torch.zeros(0, 3))
    assert run(load_tool, tmp_path, a, b, capsys) == (0, "2 tensors, max abs difference 0\n")


def test_dtype_mismatch_is_a_difference(load_tool, tmp_path, capsys) -> None:
    a = {"conv_first.weight": torch.zeros(2, 3, dtype=torch.bool)}
    b = {"conv_first.weight": torch.zeros(2, 3)}
    code, out = run(load_tool, tmp_path, a, b, capsys)
    assert code == 1
    assert "conv_first.weight: dtype torch.bool vs torch.float32" in out


def test_value_differences_name_the_largest(load_tool, tmp_path, capsys) -> None:
    # hand-derived: |0 - 0.25| = 0.25 in conv_first; |1 - 1.5| = 0.5 and |inf - (-inf)| = inf in conv_last
    a, b = pair(torch.tensor([1.0, INF, INF]), torch.tensor([1.5, -INF, INF]), torch.full((2, 3), 0.25))
    code, out = run(load_tool, tmp_path, a, b, capsys)
    assert code == 1
    assert "conv_first.weight: 6 of 6 elements differ, by up to 0.25" in out
    assert "conv_last.weight: 2 of 3 elements differ, by up to inf" in out
    assert out.endswith("2 of 2 tensors differ, max abs difference inf (in conv_last.weight)\n")


def test_identical_and_key_and_shape_mismatch(load_tool, tmp_path, capsys) -> None:
    a, b = pair(torch.tensor([1.0, INF]), torch.tensor([1.0, INF]))
    assert run(load_tool, tmp_path, a, b, capsys) == (0, "2 tensors, max abs difference 0\n")
    code, out = run(load_tool, tmp_path, a, {"conv_first.weight": b["conv_first.weight"]}, capsys)
    assert code == 1 and "only in" in out and "conv_last.weight" in out
    code, out = run(load_tool, tmp_path, a, {**b, "conv_last.weight": torch.ones(3)}, capsys)
    assert code == 1 and "conv_last.weight: shape (2,) vs (3,)" in out
