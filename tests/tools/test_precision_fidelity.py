"""``tools/precision_fidelity.py``: every precision of a model scored on real image files, fp32 as the
reference (0 levels, +0 dB), fp16 run on the CPU where ``sr-infer`` refuses it."""

from __future__ import annotations

import re

import pytest
import torch

from sr.data.imageio import write_image


def test_prints_each_precision_against_fp32(tmp_path, load_tool, capsys):
    tool = load_tool("precision_fidelity")
    g = torch.Generator().manual_seed(0)
    for i in range(2):
        blocks = torch.rand(3, 12, 10, generator=g)  # 48x40 with 4-pixel blocks: detail at x4
        write_image(tmp_path / f"{i}.png", blocks.repeat_interleave(4, 1).repeat_interleave(4, 2))
    assert tool.main(["--data", str(tmp_path), "--model", "default"]) == 0
    lines = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("default ")]
    found = {m.group(1): (float(m.group(2)), int(m.group(3))) for ln in lines
             if (m := re.search(r"(fp32|bf16|fp16): PSNR [\d.]+ dB \(([+-][\d.]+) against fp32\), "
                                r"largest change (\d+) levels", ln))}  # fmt: skip
    assert set(found) == {"fp32", "bf16", "fp16"}
    assert found["fp32"] == (0.0, 0)
    assert abs(found["fp16"][0]) < 0.01 and found["fp16"][1] <= 2


def test_a_corrupt_image_is_named_in_one_line(tmp_path, load_tool):
    tool = load_tool("precision_fidelity")
    (tmp_path / "x.png").write_bytes(b"not an image")
    with pytest.raises(SystemExit, match=r"precision_fidelity: error: .*x.png: not a recognised image"):
        tool.main(["--data", str(tmp_path), "--model", "default"])
