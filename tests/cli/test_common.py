"""Command-line helpers shared by the front ends."""

from __future__ import annotations

import importlib
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
    """In a fresh process, 40 rounds of allocating and freeing two 28 MB tensors (a trunk tile's feature
    map for the default model): with the setting the pages are reused, so there are far fewer minor
    faults than pages touched (one fault per 4 KiB page a round without reuse).

    Not compared with a run without the setting: glibc's own dynamic mmap threshold sometimes reuses
    these pages too (one run in six here: 54,932 faults instead of 547,924), so that run varies."""
    pages_touched = 40 * 2 * (48 * 416 * 352 * 4 // 4096)  # 549,120
    run = subprocess.run([sys.executable, "-c", ALLOCATE, "1"], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    with_ = int(run.stdout)
    assert with_ * 5 < pages_touched, with_  # observed 20,609-48,066 (547,924 without the setting)


@pytest.mark.parametrize("command", ["eval", "infer", "interp", "train"])
def test_help_ends_with_examples_of_the_command(command, capsys):
    """Every command's --help ends with runnable examples (issue 21); sr-infer explains --precision."""
    main = importlib.import_module(f"sr.cli.{command}").main
    with pytest.raises(SystemExit) as e:
        main(["--help"])
    out = capsys.readouterr().out
    assert e.value.code == 0
    tail = out[out.index("examples:") :].splitlines()[1:]
    assert len(tail) >= 2 and all(line.strip().startswith(f"sr-{command} ") for line in tail)
    if command == "infer":
        assert "AMX" in out
