"""Whether two checkpoints (any format sr reads) hold the same weights: same keys, shapes and dtypes, and
the largest absolute difference over all tensors. Exit 0 when they are identical, 1 otherwise.

    python tools/compare_weights.py experiments/esrgan_quick_x234/models/net_g_latest.pth default-gan

Values are compared element by element: NaN equals NaN at the same place (the summary says how many
there are), NaN against a number is a difference, as is +inf against -inf. Every tensor that differs is
named with what differs (dtype, NaN placement, largest difference).
"""

from __future__ import annotations

import argparse

import torch

from sr.checkpoints import CheckpointError, read_state_dict
from sr.checkpoints.bundled import resolve_checkpoint


def compare_tensors(a: torch.Tensor, b: torch.Tensor) -> tuple[int, int, float, int]:
    """``(elements that differ, NaN in one only, largest |a - b| over the other differing elements,
    NaN in both at the same place)`` of two tensors of the same shape (any dtypes, empty included)."""
    common = torch.complex128 if a.is_complex() or b.is_complex() else torch.float64
    # == is exact within one dtype (int64 beyond 2**53 included) and promotes across dtypes
    nan_a, nan_b = torch.isnan(a), torch.isnan(b)
    same = (a == b) | (nan_a & nan_b)
    nan_one = nan_a ^ nan_b
    rest = ~same & ~nan_one
    largest = (a.to(common) - b.to(common)).abs()[rest].max().item() if bool(rest.any()) else 0.0
    return int((~same).sum()), int(nan_one.sum()), float(largest), int((nan_a & nan_b).sum())


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("a", help="checkpoint path or a bundled name (default, default-gan)")
    p.add_argument("b", help="checkpoint path or a bundled name")
    args = p.parse_args(argv)
    try:
        (sa, _), (sb, _) = (read_state_dict(resolve_checkpoint(x)) for x in (args.a, args.b))
    except CheckpointError as err:
        raise SystemExit(f"compare_weights: error: {err}") from None
    if sa.keys() != sb.keys():
        only_a, only_b = sorted(sa.keys() - sb.keys()), sorted(sb.keys() - sa.keys())
        print(f"different keys: only in {args.a}: {only_a}; only in {args.b}: {only_b}")
        raise SystemExit(1)
    shapes = [k for k in sa if sa[k].shape != sb[k].shape]
    if shapes:
        for k in shapes:
            print(f"{k}: shape {tuple(sa[k].shape)} vs {tuple(sb[k].shape)}")
        print(f"different shapes in {len(shapes)} of {len(sa)} tensors")
        raise SystemExit(1)
    differ, largest, largest_key, nan_one, nan_both = 0, 0.0, "", 0, 0
    for k in sa:
        a, b = sa[k], sb[k]
        n_diff, n_nan_one, diff, n_nan_both = compare_tensors(a, b)
        nan_one, nan_both = nan_one + n_nan_one, nan_both + n_nan_both
        notes = []
        if a.dtype != b.dtype:
            notes.append(f"dtype {a.dtype} vs {b.dtype}")
        if n_nan_one:
            notes.append(f"NaN in one checkpoint only at {n_nan_one} of {a.numel()} elements")
        if n_diff > n_nan_one:
            notes.append(f"{n_diff - n_nan_one} of {a.numel()} elements differ, by up to {diff:g}")
        if notes:
            differ += 1
            print(f"{k}: {'; '.join(notes)}")
        if diff > largest:
            largest, largest_key = diff, k
    where = f" (in {largest_key})" if largest_key else ""
    summary = f"{len(sa)} tensors, max abs difference {largest:g}{where}"
    if differ:
        summary = f"{differ} of {len(sa)} tensors differ, max abs difference {largest:g}{where}"
    if nan_one:
        summary += f"; {nan_one} elements are NaN in one checkpoint only"
    if nan_both:
        summary += f"; {nan_both} NaN values in both at the same places (counted as equal)"
    print(summary)
    raise SystemExit(1 if differ else 0)


if __name__ == "__main__":
    main()
