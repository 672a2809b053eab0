"""sr-infer end to end: spandrel cross-check in three key layouts, batches with bad files, overwrite and
input protection, atomic writes under real failures, precision/model errors, --outscale."""

from __future__ import annotations

import math
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import spandrel
import torch
from layouts import to_esrgan_repo, to_old_layout

from sr.archs import RRDBNet
from sr.cli.infer import main
from sr.data.imageio import read_image, to_uint, write_image


def run(argv: list[str]) -> int:
    try:
        main(argv)
    except SystemExit as e:
        return int(e.code or 0)
    return 0


def randomised_rrdb() -> RRDBNet:
    # spandrel's ESRGAN hard-codes 32 growth channels (see test_checkpoint_crosscheck.py)
    net = RRDBNet(num_feat=16, num_block=2, num_grow_ch=32)
    g = torch.Generator().manual_seed(7)
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * (1 / math.sqrt(p[0].numel()) if p.ndim > 1 else 0.05))
    return net.eval()


def image(path, h=12, w=10, seed=0, **kw):
    data = torch.rand(3, h, w, generator=torch.Generator().manual_seed(seed))
    return write_image(path, data, **kw)


@pytest.mark.parametrize("layout", ["basicsr", "esrgan-repo", "esrgan-old"])
def test_matches_spandrel_in_every_key_layout(tmp_path, layout):
    sd = randomised_rrdb().state_dict()
    converted = {"basicsr": sd, "esrgan-repo": to_esrgan_repo(sd), "esrgan-old": to_old_layout(sd, 2)}[layout]
    ckpt = tmp_path / "rrdb.pth"
    torch.save(converted, ckpt)
    src = image(tmp_path / "in.png", 20, 24)
    assert (
        run([str(src), "-o", str(tmp_path / "out.png"), "--model", str(ckpt), "--tile", "8", "--quiet"]) == 0
    )
    ours = to_uint(read_image(tmp_path / "out.png").data).astype(int)
    theirs_model = spandrel.ModelLoader().load_from_file(ckpt)
    assert theirs_model.architecture.id == "ESRGAN" and theirs_model.scale == 4
    with torch.no_grad():
        theirs = theirs_model.model.eval()(read_image(src).data[None])[0]
    theirs8 = to_uint(theirs).astype(int)
    assert ours.shape == theirs8.shape == (80, 96, 3)
    assert theirs8.std() > 5  # not a flat image
    diff = np.abs(ours - theirs8)
    assert diff.max() <= 1 and (diff > 0).mean() < 0.01


def test_batch_with_bad_files_names_odd_paths_and_summary(tmp_path, capsys):
    d = tmp_path / "in dir ü"
    image(d / "a photo.png")
    image(d / "日本.jpg", seed=1)
    (d / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    (d / "notes.txt").write_text("not an image")
    out = tmp_path / "out"
    code = run([str(d), "-o", str(out), "--model", "bicubic", "--scale", "2", "--quiet"])
    err = capsys.readouterr().err
    assert code == 1
    assert "1 failed" in err and re.search(r"2 ok, 1 failed, 0 skipped", err)
    assert "broken.png" in err and "notes.txt: not an image file" in err
    assert read_image(out / "a photo_x2.png").data.shape == (3, 24, 20)
    assert read_image(out / "日本_x2.jpg").data.shape == (3, 24, 20)
    assert sorted(p.name for p in out.iterdir()) == ["a photo_x2.png", "日本_x2.jpg"]  # no temporaries


def test_existing_output_needs_overwrite_and_inputs_are_never_overwritten(tmp_path, capsys):
    src = image(tmp_path / "a.png")
    dst = tmp_path / "a_x2.png"
    dst.write_bytes(b"old")
    assert run([str(src), "--model", "bicubic", "--scale", "2", "--quiet"]) == 0  # a skip is no failure
    assert "skipped" in capsys.readouterr().err and dst.read_bytes() == b"old"
    assert run([str(src), "--model", "bicubic", "--scale", "2", "--quiet", "--overwrite"]) == 0
    assert read_image(dst).data.shape == (3, 24, 20)
    before = src.read_bytes()
    code = run(
        [
            str(tmp_path),
            "-o",
            str(tmp_path),
            "--suffix",
            "",
            "--model",
            "bicubic",
            "--scale",
            "2",
            "--overwrite",
        ]
    )
    assert code == 1 and "never overwritten" in capsys.readouterr().err
    assert src.read_bytes() == before


def test_failed_write_leaves_no_file_and_the_batch_goes_on(tmp_path, capsys):
    image(tmp_path / "in" / "a.png")
    image(tmp_path / "in" / "b.png", seed=1)
    # a 240-byte output name is legal, but its temporary file's name (.NAME.<12 hex>.tmp) exceeds the
    # file system's 255-byte limit, so the real atomic write fails (no mock)
    suffix = "_" + "x" * (240 - len("a.png"))
    out = tmp_path / "out"
    code = run(
        [
            str(tmp_path / "in" / "a.png"),
            str(tmp_path / "in" / "b.png"),
            "-o",
            str(out),
            "--suffix",
            suffix,
            "--model",
            "bicubic",
            "--scale",
            "2",
        ]
    )
    err = capsys.readouterr().err
    assert code == 1 and "0 ok, 2 failed" in err
    assert not out.exists() or list(out.iterdir()) == []


@pytest.mark.slow
def test_killed_run_leaves_no_broken_output(tmp_path):
    src = image(tmp_path / "big.png", 600, 800)
    dst = tmp_path / "out.png"
    for delay in (3.0, 4.0, 5.0):
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "sr.cli.infer",
                str(src),
                "-o",
                str(dst),
                "--model",
                "bicubic",
                "--scale",
                "4",
                "--tile",
                "0",
                "--quiet",
                "--overwrite",
            ],
        )
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        if dst.exists():  # if the name exists it holds a complete image
            assert read_image(dst).data.shape == (3, 2400, 3200)
            dst.unlink()


def test_ctrl_c_is_a_clean_exit_naming_what_was_written(tmp_path, capsys, monkeypatch):
    """Ctrl-C during the second of two images: exit 130 and a one-line message, the first output kept,
    the second never written, the inputs untouched (KeyboardInterrupt raised where the upscaling runs)."""
    from sr.inference.upscaler import Upscaler

    a, b = image(tmp_path / "a.png"), image(tmp_path / "b.png")
    real = Upscaler.upscale_planes
    calls = []

    def interrupt_second(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Upscaler, "upscale_planes", interrupt_second)
    assert run([str(a), str(b), "--model", "bicubic", "--scale", "2", "--quiet"]) == 130
    err = capsys.readouterr().err
    assert f"interrupted during {b}: 1 written, {tmp_path / 'b_x2.png'} not written" in err
    assert "Traceback" not in err
    assert (tmp_path / "a_x2.png").is_file() and not (tmp_path / "b_x2.png").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png", "a_x2.png", "b.png"]


def test_errors_for_fp16_on_cpu_and_missing_model(tmp_path, capsys):
    src = image(tmp_path / "a.png")
    assert (
        run([str(src), "--model", "bicubic", "--scale", "2", "--precision", "fp16", "--device", "cpu"]) == 2
    )
    assert "fp16 needs CUDA; use bf16 on CPU" in capsys.readouterr().err
    assert run([str(src), "--model", str(tmp_path / "missing.pth")]) == 2
    assert "missing.pth' is neither a checkpoint file nor a baseline" in capsys.readouterr().err
    assert not (tmp_path / "a_x4.png").exists()


def test_no_model_means_the_bundled_default_at_x4(tmp_path):
    src = image(tmp_path / "a.png", 10, 7)
    assert run([str(src), "--quiet"]) == 0
    assert read_image(tmp_path / "a_x4.png").data.shape == (3, 40, 28)
    assert run([str(src), "--scale", "3", "--quiet"]) == 0
    assert read_image(tmp_path / "a_x3.png").data.shape == (3, 30, 21)


def test_outscale_size_and_default_name(tmp_path):
    src = image(tmp_path / "a.png", 10, 7)
    assert run([str(src), "--model", "bicubic", "--scale", "4", "--outscale", "3.5", "--quiet"]) == 0
    assert read_image(tmp_path / "a_x3.5.png").data.shape == (3, 35, 25)  # ceil(3.5 * 7) = 25


def test_alpha_gray_and_16_bit_files_keep_their_kind(tmp_path):
    image(tmp_path / "in" / "rgba.png", alpha=torch.rand(1, 12, 10))
    write_image(tmp_path / "in" / "gray16.png", torch.rand(1, 12, 10), bit_depth=16)
    out = tmp_path / "out"
    assert (
        run(
            [
                str(tmp_path / "in"),
                "-o",
                str(out),
                "--model",
                "bicubic",
                "--scale",
                "2",
                "--ext",
                "png",
                "--quiet",
            ]
        )
        == 0
    )
    rgba = read_image(out / "rgba_x2.png")
    assert rgba.alpha is not None and rgba.alpha.shape == (1, 24, 20)
    gray = read_image(out / "gray16_x2.png")
    assert gray.is_gray and gray.bit_depth == 16
