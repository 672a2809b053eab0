"""Whether two checkpoints (any format sr reads) hold the same weights: same keys and shapes, and the
largest absolute difference over all tensors. Exit 0 when they are identical, 1 otherwise.

    python tools/compare_weights.py experiments/esrgan_quick_x234/models/net_g_latest.pth default-gan
"""

from __future__ import annotations

import argparse

from sr.checkpoints import CheckpointError, read_state_dict
from sr.checkpoints.bundled import resolve_checkpoint


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("a", help="checkpoint path or a bundled name (default, default-gan)")
    p.add_argument("b", help="checkpoint path or a bundled name")
    args = p.parse_args()
    try:
        (sa, _), (sb, _) = (read_state_dict(resolve_checkpoint(x)) for x in (args.a, args.b))
    except CheckpointError as err:
        raise SystemExit(f"compare_weights: error: {err}") from None
    if sa.keys() != sb.keys() or any(sa[k].shape != sb[k].shape for k in sa):
        print("different keys or shapes")
        raise SystemExit(1)
    diff = max((sa[k].double() - sb[k].double()).abs().max().item() for k in sa)
    print(f"{len(sa)} tensors, max abs difference {diff:g}")
    raise SystemExit(0 if diff == 0 else 1)


if __name__ == "__main__":
    main()
