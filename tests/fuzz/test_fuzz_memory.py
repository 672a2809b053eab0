"""Fuzz suite, memory: small hostile inputs are refused before anything large is allocated, with a
message naming the culprit: YAML alias bombs and deep nesting, checkpoints whose recorded
architecture is huge, zip bombs, outputs too large for the machine, huge training networks and
epochs (issue 19)."""

from __future__ import annotations

import math
import re
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
from fuzz_helpers import TINY_ARCH, hostile_checkpoint, image, run

from sr.checkpoints import CheckpointError
from sr.checkpoints._pickle_scan import MAX_PICKLE_BYTES
from sr.checkpoints.io import read_state_dict
from sr.cli.infer import main as infer_main
from sr.cli.train import main as train_main
from sr.data.sampler import MAX_EPOCH, TrainSampler
from sr.device import available_memory
from sr.engine.state import load_state
from sr.inference.upscaler import check_output_memory
from sr.options import OptionsError, load_options, parse_value
from tests.engine.engine_helpers import tiny_options, write_options

RECIPE = Path(__file__).resolve().parents[2] / "options" / "quickstart_x4.yml"

# "billion laughs" inside a key that passes validation (Adam's betas): 9 ** 9 strings once expanded
BOMB = (
    "["
    + ", ".join(
        ['&a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
        + [f"&a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 9)]
    )
    + "]"
)


def test_yaml_alias_bomb_is_refused_with_a_short_message(tmp_path):
    path = tmp_path / "bomb.yml"
    text = RECIPE.read_text().replace("betas: [0.9, 0.99]", f"betas: {BOMB}", 1)
    assert text != RECIPE.read_text()
    path.write_text(text)
    with pytest.raises(OptionsError, match="alias") as err:
        load_options(path)
    assert len(str(err.value)) < 300


def test_yaml_merge_key_bomb_is_refused_quickly(tmp_path):
    """Found by review: 500 bytes of chained merge keys (``<<: [*a, *a, ...]``) took 36 s and 721 MB
    under PyYAML 6.0.3, which copies every merged mapping; 6.0.4, the floor in pyproject.toml, expands
    each once. Each extra line multiplied the work by 9."""
    lines = ["a0: &a0 {x: 1}"] + [
        f"a{i}: &a{i} {{<<: [{', '.join([f'*a{i - 1}'] * 9)}]}}" for i in range(1, 12)
    ]
    path = tmp_path / "merge.yml"
    path.write_text("\n".join(lines) + "\n")
    start = time.perf_counter()
    with pytest.raises(OptionsError, match=r"merge\.yml"):
        load_options(path)
    assert time.perf_counter() - start < 5


@pytest.mark.parametrize("depth", [70, 100_000])
def test_deep_nesting_is_refused(tmp_path, depth):
    path = tmp_path / "deep.yml"
    path.write_text("name: x\nnetwork_g: " + "[" * depth + "]" * depth + "\n")
    with pytest.raises(OptionsError, match="nested"):
        load_options(path)


def test_set_values_are_bounded_too():
    with pytest.raises(OptionsError, match="nested"):
        parse_value("[" * 100 + "]" * 100)


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"num_block": 10**9}, "num_block"),
        ({"num_feat": 100_000}, "num_feat"),
        ({"num_feat": 4000}, "shape mismatch"),  # in range, but the tensors say 8: checked on meta first
        ({"num_feat": -5}, "num_feat"),
        ({"num_feat": "8"}, "num_feat"),
    ],
)
def test_checkpoint_arch_is_checked_before_building(tmp_path, change, named, capsys):
    ckpt = hostile_checkpoint(tmp_path / "evil.pth", {**TINY_ARCH, **change})
    src = image(tmp_path / "a.png")
    assert run(infer_main, [str(src), "--model", str(ckpt)]) == 2
    err = capsys.readouterr().err
    assert "evil.pth" in err and named in err
    assert not (tmp_path / "a_x2.png").exists()


def test_net_opt_is_bounded_like_the_file(tmp_path, capsys):
    ckpt = hostile_checkpoint(tmp_path / "m.pth", TINY_ARCH)
    src = image(tmp_path / "a.png")
    assert run(infer_main, [str(src), "--model", str(ckpt), "--net-opt", "num_block=1000000000"]) == 2
    assert "num_block" in capsys.readouterr().err


def _zip_bomb(path: Path) -> Path:
    """Under 1 MB on disk; its pickle inflates past ``MAX_PICKLE_BYTES``."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
        with z.open("archive/data.pkl", "w", force_zip64=True) as f:
            zeros = bytes(1 << 20)
            for _ in range(MAX_PICKLE_BYTES // len(zeros) + 1):
                f.write(zeros)
    assert path.stat().st_size < 1 << 20
    return path


def test_zip_bomb_checkpoint_is_refused_from_its_directory(tmp_path):
    with pytest.raises(CheckpointError, match="inflate"):
        read_state_dict(_zip_bomb(tmp_path / "bomb.pth"))


def test_zip_bomb_training_state_is_refused_before_loading(tmp_path, capsys):
    """Found by review: ``load_state`` had no such check (4.6 GB resident for a 2 MB file)."""
    bomb = _zip_bomb(tmp_path / "bomb.state")
    with pytest.raises(ValueError, match=r"bomb\.state: refused: .*inflate"):
        load_state(bomb)
    yml = write_options(tmp_path / "tiny.yml", tiny_options(tmp_path))
    assert run(train_main, ["-opt", str(yml), "--resume", str(bomb), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "bomb.state: refused" in err and "Traceback" not in err


def test_broadcast_tensors_cannot_stand_for_huge_weights(tmp_path, capsys):
    """A SPAN whose widths are read off the shapes: ``expand``ed tensors make a 60 KB file describe a
    1G-parameter model (found by review: sr-infer grew past 6 GB). Refused when read, naming the key."""
    import torch

    from sr.archs import build

    small = build({"type": "SPAN", "feature_channels": 4}).state_dict()
    huge = {k: torch.zeros(1).expand(*[s * 256 if s == 4 else s for s in v.shape]) for k, v in small.items()}
    path = tmp_path / "span.pth"
    torch.save(huge, path)
    assert path.stat().st_size < 1 << 20
    with pytest.raises(CheckpointError, match=r"tensor 'conv_1.sk.weight' .* fewer stored values"):
        read_state_dict(path)
    assert run(infer_main, [str(image(tmp_path / "a.png")), "--model", str(path), "--scale", "4"]) == 2
    assert "fewer stored values" in capsys.readouterr().err


@pytest.mark.parametrize("outscale", ["1e6", "1e300"])
def test_huge_outscale_fails_each_file_with_its_size(tmp_path, outscale, capsys):
    a, b = image(tmp_path / "a.png"), image(tmp_path / "b.png", (8, 8))
    argv = [
        str(a),
        str(b),
        "--model",
        "bicubic",
        "--scale",
        "2",
        "--outscale",
        outscale,
        "-o",
        str(tmp_path / "o"),
    ]
    assert run(infer_main, argv) == 1
    err = capsys.readouterr().err
    assert "GiB" in err and "a.png" in err and "b.png" in err  # each file is tried and named
    assert not list(tmp_path.glob("o/*"))  # no partial output


def test_output_memory_is_checked_from_the_header_before_decoding(tmp_path, capsys, monkeypatch):
    """Found by review: the whole input was decoded (and its transparency filled) before the output
    was checked against free memory. The header alone now decides; ``read_image`` is never reached."""
    import sr.inference.upscaler as upscaler

    src = image(tmp_path / "a.png", (64, 48))

    def decoded(path):
        raise AssertionError(f"{path} was decoded")

    monkeypatch.setattr(upscaler, "read_image", decoded)
    argv = [str(src), "--model", "bicubic", "--scale", "2", "--outscale", "1e6", "-o", str(tmp_path / "o")]
    assert run(infer_main, argv) == 1
    err = capsys.readouterr().err
    assert re.search(r"a (64x48|48x64) input makes", err) and "GiB" in err and "decoded" not in err


@pytest.mark.parametrize("outscale", ["inf", "nan", "-2"])
def test_non_finite_outscale_is_a_usage_error(tmp_path, outscale, capsys):
    src = image(tmp_path / "a.png")
    assert run(infer_main, [str(src), "--model", "bicubic", "--scale", "2", f"--outscale={outscale}"]) == 2
    assert "outscale" in capsys.readouterr().err


def test_output_size_is_bounded_by_free_memory():
    """A 13000x13000 PNG is 0.5 MB on disk; its x4 output would need ~32 GB. The bound scales with the
    machine, so the side is chosen from its free memory: the x4 output is 16x that many pixels."""
    side = math.isqrt(available_memory(__import__("torch").device("cpu")))
    with pytest.raises(ValueError, match="GiB free"):
        check_output_memory((side, side), 3, 4, None, np.dtype(np.uint8))
    check_output_memory((100, 100), 3, 4, None, np.dtype(np.uint8))  # an ordinary image passes


def test_huge_training_network_is_refused_up_front(tmp_path, capsys):
    sets = [
        "network_g.num_feat=4096",
        "network_g.num_block=1000",
        f"path.experiments_root={tmp_path / 'exp'}",
    ]
    assert run(train_main, ["-opt", str(RECIPE), *[a for s in sets for a in ("--set", s)]]) == 2
    err = capsys.readouterr().err
    assert "M parameters" in err and "GiB" in err
    assert not (tmp_path / "exp").exists()  # nothing written


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("datasets.train.batch_size_per_gpu=1000000", "a batch of 1000000 patches needs about"),
        ("datasets.train.num_worker_per_gpu=100000", "num_worker_per_gpu: 100000 must be 0 to 64"),
    ],
)
def test_huge_training_batches_and_worker_counts_are_refused_up_front(tmp_path, capsys, setting, message):
    """Found by review: a million-patch batch grew for a minute, then blamed a valid image as corrupt;
    100000 workers were accepted."""
    sets = [setting, f"path.experiments_root={tmp_path / 'exp'}"]
    assert run(train_main, ["-opt", str(RECIPE), *[a for s in sets for a in ("--set", s)]]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "exp").exists()  # nothing written


def test_huge_epoch_is_refused():
    with pytest.raises(ValueError, match="dataset_enlarge_ratio"):
        TrainSampler(1000, enlarge_ratio=MAX_EPOCH, seed=0)
