"""Every shipped recipe in ``options/*.yml``, and the default model's history recipes in
``docs/default_model/stages/``, loads through the strict loader and round-trips.

The file name carries the run name and the scale (``esrgan_x4.yml`` -> ``name: esrgan_x4``,
``scale: 4``), so a recipe copied without editing those keys fails here.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sr.options import dump_options, load_options

ROOT = Path(__file__).resolve().parents[2]
RECIPES = sorted(ROOT.glob("options/*.yml")) + sorted(ROOT.glob("docs/default_model/stages/*.yml"))


@pytest.fixture(autouse=True)
def _registries() -> None:
    pytest.importorskip("sr.models.optim", exc_type=ImportError)
    losses = pytest.importorskip("sr.losses", exc_type=ImportError)
    if not hasattr(losses, "LOSSES"):
        pytest.skip("sr.losses has no LOSSES registry yet")


@pytest.mark.skipif(not RECIPES, reason="no options/*.yml recipes in this checkout")
@pytest.mark.parametrize("path", RECIPES, ids=[p.name for p in RECIPES])
def test_recipe_loads_and_round_trips(tmp_path, path):
    opt = load_options(path)
    assert opt.name == path.stem
    match = re.search(r"_x(\d+)$", path.stem)
    assert match is not None, f"{path.name}: name the scale(s) in the file name (..._x4.yml, ..._x234.yml)"
    named = [int(c) for c in match.group(1)]
    assert (list(opt.scales) if opt.scales else [opt.scale]) == named
    assert "train" in opt.datasets
    saved = tmp_path / "resolved.yml"
    saved.write_text(dump_options(opt))
    assert load_options(saved) == opt
