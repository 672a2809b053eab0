"""tools/niqe_of_folder.py: NIQE of a folder's own images, plain and after an unsharp mask."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from skimage import data


def test_scores_plain_and_sharpened(tmp_path, load_tool, capsys):
    Image.fromarray(data.camera()[:256, :256]).save(tmp_path / "camera.png")
    Image.fromarray(data.astronaut()[:256, :256]).save(tmp_path / "astronaut.png")
    tool = load_tool("niqe_of_folder")
    plain = tool.folder_niqe(tmp_path, 4, 4)
    assert set(plain) == {"camera", "astronaut"}
    assert tool.folder_niqe(tmp_path, 4, 4, (0.0, 1.0)) == plain  # amount 0: the same luma
    sharper = tool.folder_niqe(tmp_path, 4, 4, (4.0, 0.7))
    assert all(sharper[k] != plain[k] for k in plain)
    tool.main([str(tmp_path), "--unsharp", "4,0.7"])
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"{tmp_path.name}: NIQE {np.mean(list(plain.values())):.4f} over 2 images"
    assert out[1].startswith(f"{tmp_path.name} (unsharp amount 4, sigma 0.7): NIQE ")


@pytest.mark.parametrize("bad", ["2", "x,1", "2,0", "-1,1", "2,nan"])
def test_bad_unsharp_is_named(tmp_path, load_tool, capsys, bad):
    with pytest.raises(SystemExit):
        load_tool("niqe_of_folder").main([str(tmp_path), "--unsharp", bad])
    assert "AMOUNT" in capsys.readouterr().err
