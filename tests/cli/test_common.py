"""Command-line helpers shared by the front ends."""

from __future__ import annotations

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
