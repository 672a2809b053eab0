"""``evaluate_folder`` (what sr-eval, sr-interp --eval and the tools score with) refuses an image too
large for the free memory before reading it, and turns a model's RuntimeError or MemoryError into a
one-line ``ValueError`` naming the file."""

from __future__ import annotations

import pytest
import torch
from PIL import Image as PILImage
from torch import nn

import sr.inference.evaluate as evaluate
from sr.archs import MSRResNet
from sr.data.imageio import write_image
from sr.inference.baselines import Interpolation
from sr.inference.evaluate import (
    LPIPS_BYTES_PER_PIXEL,
    PIPELINE_BYTES_PER_PIXEL,
    check_memory,
    evaluate_folder,
    memory_needed,
)
from sr.inference.loading import InPrecision

GiB = 2**30


@pytest.fixture(scope="module")
def huge(tmp_path_factory):
    """A 6000x6000 PNG: 36 M pixels, a few hundred KB on disk (one colour)."""
    d = tmp_path_factory.mktemp("huge")
    PILImage.new("RGB", (6000, 6000), (200, 100, 50)).save(d / "big.png")
    return d


def _free(monkeypatch, gib: float) -> None:
    monkeypatch.setattr(evaluate, "available_memory", lambda device: int(gib * GiB))


def test_estimate_by_hand():
    # bicubic x4 on 6000x6000: the tiling estimate for an Interpolation, 1.5 * 4 * 3 * s^2 elements per
    # LR pixel, float32, on 1500 x 1500 LR pixels; 192 B per HR pixel for the evaluation's copies
    on_device, on_cpu = memory_needed(Interpolation("bicubic", 4), (6000, 6000), 4, "cpu")
    assert on_device == 1.5 * 4 * 3 * 16 * 4 * 1500 * 1500 == 2_592_000_000
    assert on_cpu == PIPELINE_BYTES_PER_PIXEL * 36_000_000
    # the HR image is first cropped to a multiple of the scale, as it is scored
    assert memory_needed(Interpolation("bicubic", 4), (6003, 6002), 4, "cpu") == (on_device, on_cpu)
    with_lpips = memory_needed(Interpolation("bicubic", 4), (6000, 6000), 4, "cpu", lpips=True)
    assert with_lpips == (on_device + LPIPS_BYTES_PER_PIXEL * 36_000_000, on_cpu)
    # a network in bf16 (sr-eval --precision) is estimated as itself, not as an unknown module
    net = MSRResNet(num_feat=16, num_block=1, upscale=4)
    bare = memory_needed(net, (400, 400), 4, "cpu")
    assert memory_needed(InPrecision(net, torch.bfloat16), (400, 400), 4, "cpu") == bare
    assert bare[0] == 1.5 * (6 * 16 + 4 * 16 * 16) * 4 * 100 * 100  # MSRResNet: 6 f + 4 f s^2


def test_refused_before_reading_naming_file_and_size(huge, monkeypatch):
    _free(monkeypatch, 8)  # the estimate: 2.592e9 + 192 * 36e6 = 9.504e9 B = 8.85 GiB
    monkeypatch.setattr(evaluate, "read_image", lambda *a, **k: pytest.fail("read before the check"))
    with pytest.raises(ValueError) as exc:
        evaluate_folder(Interpolation("bicubic", 4), huge, 4)
    msg = str(exc.value)
    assert msg.startswith(f"{huge / 'big.png'}: 6000x6000 pixels needs about 8.85 GiB to score at x4")
    assert "8.0 GiB are free" in msg and "\n" not in msg
    _free(monkeypatch, 10)
    check_memory(Interpolation("bicubic", 4), huge / "big.png", 4)  # fits: no error, nothing read


def test_an_unreadable_file_is_left_to_the_reader(tmp_path, monkeypatch):
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    _free(monkeypatch, 0)
    check_memory(Interpolation("bicubic", 2), tmp_path / "broken.png", 2)  # read_image will say why


class Failing(nn.Module):
    def __init__(self, err: BaseException) -> None:
        super().__init__()
        self.err = err

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        raise self.err


@pytest.mark.parametrize(
    ("err", "shown"),
    [
        (
            RuntimeError("CUDA out of memory. Tried to allocate 9.00 GiB\nOf the allocated memory ..."),
            "scoring it at x2 failed: CUDA out of memory. Tried to allocate 9.00 GiB",
        ),
        (MemoryError(), "scoring it at x2 failed: out of memory"),
        (RuntimeError("DefaultCPUAllocator: can't allocate memory"), "DefaultCPUAllocator: can't allocate"),
    ],
)
def test_model_failures_become_one_line_errors_naming_the_file(tmp_path, err, shown):
    write_image(tmp_path / "a.png", torch.rand(3, 32, 32))
    with pytest.raises(ValueError) as exc:
        evaluate_folder(Failing(err), tmp_path, 2)
    msg = str(exc.value)
    assert msg.startswith(f"{tmp_path / 'a.png'}: ") and shown in msg and "\n" not in msg
    assert exc.value.__cause__ is err
