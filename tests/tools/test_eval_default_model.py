"""``tools/eval_default_model.py``: the five-cell table and, with ``--nine``, all nine cells against the
published VDSR and IMDN, on small benchmark folders made here (real PNG files)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from sr.data.imageio import write_image

SHARED_TABLE = (
    Path(__file__).resolve().parents[3] / "shared" / "data" / "benchmarks" / "reference_numbers.json"
)


@pytest.fixture
def benchmarks(tmp_path: Path) -> Path:
    if not SHARED_TABLE.is_file():
        pytest.skip("needs ../shared/data/benchmarks/reference_numbers.json")
    root = tmp_path / "benchmarks"
    g = torch.Generator().manual_seed(0)
    for i, name in enumerate(("Set5", "Set14", "BSD100")):
        blocks = torch.rand(3, 12, 9, generator=g)  # 48x36: divisible by 2, 3 and 4
        write_image(root / name / f"img{i}.png", blocks.repeat_interleave(4, 1).repeat_interleave(4, 2))
    shutil.copy(SHARED_TABLE, root / "reference_numbers.json")
    return root


@pytest.mark.parametrize("nine", [False, True])
def test_table_and_verdicts(benchmarks: Path, tmp_path: Path, load_tool, capsys, nine: bool):
    tool = load_tool("eval_default_model")
    out = tmp_path / "table.json"
    argv = ["--benchmarks", str(benchmarks), "--srcnn", str(tmp_path / "none.pth"), "--json", str(out)]
    assert tool.main(argv + (["--nine"] if nine else [])) == 0
    printed = capsys.readouterr().out
    report = json.loads(out.read_text())
    if nine:
        assert (
            "| VDSR (published) | 37.53 | 33.66 | 31.35 | 33.03 | 29.77 | 28.01 | 31.90 | 28.82 | 27.29 |"
            in printed
        )
        assert "beats VDSR: Set5 x2 " in printed and len(report["beats_vdsr"]) == 9
        assert set(report["table"]["default (sr-eval)"]) == {
            f"{d} x{s}" for d in ("Set5", "Set14", "BSD100") for s in (2, 3, 4)
        }
    else:
        assert "targets met: Set5 x2 " in printed and len(report["targets_met"]) == 5


def test_json_never_lands_on_an_input(benchmarks: Path, tmp_path: Path, load_tool):
    tool = load_tool("eval_default_model")
    table = benchmarks / "reference_numbers.json"
    before = table.read_bytes()
    with pytest.raises(SystemExit, match=r"--json .* lies inside the input folder"):
        tool.main(["--benchmarks", str(benchmarks), "--json", str(table)])
    assert table.read_bytes() == before
