"""Command-line helpers shared by the front ends."""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest

from sr.cli.common import parse_net_opt


def test_net_opt_values_are_typed():
    opts = parse_net_opt(["padding_mode=replicate", "num_block=6", "lr=1e-4", "flag=true", "k=[9, 5, 5]"])
    assert opts == {"padding_mode": "replicate", "num_block": 6, "lr": 1e-4, "flag": True, "k": [9, 5, 5]}
    assert isinstance(opts["lr"], float)


@pytest.mark.parametrize("item", ["padding_mode", "=3", "k=[1, 2"])
def test_bad_net_opt_is_named(item):
    with pytest.raises(ValueError, match="--net-opt"):
        parse_net_opt([item])


ALLOCATE = """
import resource, sys, torch
from sr.cli.common import reuse_freed_memory
if sys.argv[1] == "1":
    assert reuse_freed_memory()
x = torch.ones(1)
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(40):
    a = torch.ones(48, 416, 352)
    b = a + 1
    del a, b
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's mallopt")
def test_reuse_freed_memory_cuts_page_faults_of_repeated_allocations() -> None:
    """In a fresh process, 40 rounds of allocating and freeing 28 MB tensors (a trunk tile's feature map
    for the default model): with the setting the pages are reused, so minor faults fall many times."""
    runs = [subprocess.run([sys.executable, "-c", ALLOCATE, f], capture_output=True, text=True) for f in "01"]
    assert all(r.returncode == 0 for r in runs), [r.stderr for r in runs]
    without, with_ = (int(r.stdout) for r in runs)
    assert with_ * 5 < without, (without, with_)  # when written: 547,924 without, 20,610-48,066 with
