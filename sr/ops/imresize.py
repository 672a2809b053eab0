"""MATLAB-compatible ``imresize`` for batched torch tensors, plus honest non-MATLAB baselines.

``imresize`` reproduces MATLAB's ``imresize(I, scale, method)`` (Image Processing Toolbox):

* kernels ``bicubic`` (Keys' cubic, a = -0.5), ``bilinear`` (triangle), ``box``, ``lanczos2``,
  ``lanczos3`` and ``nearest``;
* antialiasing when shrinking (the kernel is stretched by 1/scale), on by default except for
  ``nearest``, as in MATLAB;
* output size ``ceil(scale * size)`` when a scale is given; the given scale (not out/in) is used to
  place the samples, as MATLAB does;
* symmetric boundary handling (the edge pixel is repeated: ``[1..n, n..1]``);
* the dimension with the smaller scale factor is resized first (height first on ties).

Sampling weights are computed in float64 (MATLAB computes them in double) and cast to the input's
dtype. The height pass is a product with a sparse ``(out, in)`` matrix holding those weights, so
every output row is a vectorised weighted sum of a few input rows; the width pass multiplies by
dense bands of the same weights. Neither loops over rows or pixels in Python. It works on any
device and batch shape ``(..., H, W)``; half-precision input is computed in float32 and cast back.
"""

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F

Kernel = Callable[[torch.Tensor], torch.Tensor]


def _cubic(x: torch.Tensor) -> torch.Tensor:
    # Keys (1981) with a = -0.5, exactly MATLAB's imresize.m ``cubic``.
    ax = x.abs()
    ax2, ax3 = ax * ax, ax * ax * ax
    inner = (1.5 * ax3 - 2.5 * ax2 + 1) * (ax <= 1)
    outer = (-0.5 * ax3 + 2.5 * ax2 - 4 * ax + 2) * ((ax > 1) & (ax <= 2))
    return inner + outer


def _triangle(x: torch.Tensor) -> torch.Tensor:
    return (1 - x.abs()).clamp(min=0)


def _box(x: torch.Tensor) -> torch.Tensor:
    # MATLAB: (-0.5 <= x) & (x < 0.5)
    return ((x >= -0.5) & (x < 0.5)).to(x.dtype)


def _lanczos(a: int) -> Kernel:
    def kernel(x: torch.Tensor) -> torch.Tensor:
        # sinc(x) * sinc(x / a) on |x| < a, with sinc(0) = 1 (MATLAB's lanczos2/lanczos3)
        return torch.sinc(x) * torch.sinc(x / a) * (x.abs() < a)

    return kernel


# name -> (kernel, support width, antialias by default)
KERNELS: dict[str, tuple[Kernel, float, bool]] = {
    "bicubic": (_cubic, 4.0, True),
    "bilinear": (_triangle, 2.0, True),
    "box": (_box, 1.0, True),
    "lanczos2": (_lanczos(2), 4.0, True),
    "lanczos3": (_lanczos(3), 6.0, True),
    "nearest": (_box, 1.0, False),
}


@functools.lru_cache(maxsize=64)
def contributions(
    in_length: int, out_length: int, scale: float, method: str = "bicubic", antialiasing: bool | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Sampling weights ``(out_length, P)`` (float64) and source indices ``(out_length, P)`` (int64).

    A line-by-line port of the semantics of MATLAB's ``contributions`` sub-function: the output
    sample ``x`` (1-based) sits at input coordinate ``u = x / scale + 0.5 * (1 - 1 / scale)``.
    Indices are 0-based and already folded back into ``[0, in_length)`` by symmetric padding.
    Results are cached (images of one size are usually resized many times): do not modify them.
    """
    kernel, width, default_aa = _kernel(method)
    antialiasing = default_aa if antialiasing is None else antialiasing
    h: Kernel = kernel
    if scale < 1 and antialiasing:  # stretch the kernel by 1/scale: low-pass before decimation

        def h(x: torch.Tensor) -> torch.Tensor:
            return scale * kernel(scale * x)

        width = width / scale
    x = torch.arange(1, out_length + 1, dtype=torch.float64)
    u = x / scale + 0.5 * (1 - 1 / scale)
    left = torch.floor(u - width / 2)
    taps = math.ceil(width) + 2
    indices = left[:, None] + torch.arange(taps, dtype=torch.float64)[None, :]
    weights = h(u[:, None] - indices)
    weights = weights / weights.sum(dim=1, keepdim=True)
    # symmetric padding: aux = [1..n, n..1] (1-based), indexed modulo 2n
    aux = torch.cat([torch.arange(in_length), torch.arange(in_length - 1, -1, -1)])
    idx = aux[torch.remainder(indices.long() - 1, 2 * in_length)]
    keep = weights.ne(0).any(dim=0)
    return weights[:, keep], idx[:, keep]


def _kernel(method: str) -> tuple[Kernel, float, bool]:
    try:
        return KERNELS[method]
    except KeyError:
        raise ValueError(f"unknown imresize method {method!r}; choose one of {sorted(KERNELS)}") from None


@functools.lru_cache(maxsize=64)
def _sparse_matrix(
    in_length: int, out_length: int, scale: float, method: str, antialiasing: bool | None, planes: int = 1
) -> torch.Tensor:
    """Block-diagonal sparse ``(planes * out, planes * in)`` matrix: the 1-D resize of each of
    ``planes`` stacked images (mirrored taps summed), float64 on the CPU."""
    weights, indices = contributions(in_length, out_length, scale, method, antialiasing)
    rows = torch.arange(out_length)[:, None].expand_as(indices).reshape(-1)
    cols, values = indices.reshape(-1), weights.reshape(-1)
    offsets = torch.arange(planes)[:, None]
    coords = torch.stack(
        [(rows + offsets * out_length).reshape(-1), (cols + offsets * in_length).reshape(-1)]
    )
    shape = (planes * out_length, planes * in_length)
    with warnings.catch_warnings():
        # some torch releases (2.11 seen, in every sr-train process) warn that the checks are "implicitly
        # disabled" even when check_invariants=False says so; this matrix is well-formed by construction
        warnings.filterwarnings("ignore", message="Sparse invariant checks are implicitly disabled")
        m = torch.sparse_coo_tensor(coords, values.repeat(planes), shape, check_invariants=False)
    return m.coalesce()


def _resize_rows(
    x: torch.Tensor, out_length: int, scale: float, method: str, aa: bool | None
) -> torch.Tensor:
    """Resize dimension -2 of ``(..., H, W)``: the stacked planes ``(P * H, W)`` times a
    block-diagonal sparse matrix, one product in which every output row is a vectorised weighted
    sum of a few whole input rows, written straight into the ``(..., H_out, W)`` layout."""
    planes = x.numel() // (x.shape[-2] * x.shape[-1])
    m = _sparse_matrix(x.shape[-2], out_length, scale, method, aa, planes).to(dtype=x.dtype, device=x.device)
    out = torch.sparse.mm(m, x.reshape(-1, x.shape[-1]))
    return out.reshape(*x.shape[:-2], out_length, x.shape[-1])


COLUMN_BLOCK = 32  # output columns per dense block of the width pass


def _resize_cols(
    x: torch.Tensor, out_length: int, scale: float, method: str, aa: bool | None
) -> torch.Tensor:
    """Resize dimension -1 of ``(..., H, W)`` without transposing: the weights are cut into dense
    bands of ``COLUMN_BLOCK`` output columns, each a small matrix product over the few input
    columns it touches."""
    weights, indices = contributions(x.shape[-1], out_length, scale, method, aa)
    weights = weights.to(device=x.device, dtype=x.dtype)
    indices = indices.to(x.device)
    pieces = []
    for start in range(0, out_length, COLUMN_BLOCK):
        w, idx = weights[start : start + COLUMN_BLOCK], indices[start : start + COLUMN_BLOCK]
        lo, hi = int(idx.min()), int(idx.max()) + 1
        band = torch.zeros(w.shape[0], hi - lo, dtype=x.dtype, device=x.device).scatter_add_(1, idx - lo, w)
        pieces.append(torch.matmul(x[..., lo:hi], band.T))
    return torch.cat(pieces, dim=-1)


def output_size(size: Sequence[int], scale: float | Sequence[float]) -> tuple[int, int]:
    """MATLAB's output size for a scale factor: ``ceil(scale * size)`` per dimension."""
    sh, sw = (scale, scale) if isinstance(scale, int | float) else scale
    # the small epsilon guards against float noise such as 0.1 * 30 = 3.0000000000000004
    return math.ceil(sh * size[0] - 1e-9), math.ceil(sw * size[1] - 1e-9)


def imresize(
    x: torch.Tensor,
    scale: float | Sequence[float] | None = None,
    *,
    size: Sequence[int] | None = None,
    method: str = "bicubic",
    antialiasing: bool | None = None,
) -> torch.Tensor:
    """Resize the last two dimensions of a floating tensor ``(..., H, W)`` as MATLAB's ``imresize``.

    Give either ``scale`` (a number or ``(scale_h, scale_w)``; output ``ceil(scale * size)``) or
    ``size=(H_out, W_out)`` (then ``scale = out / in`` per dimension). Values are not clamped or
    rounded: MATLAB does neither for double input.
    """
    if not torch.is_floating_point(x):
        raise TypeError(f"imresize expects a floating tensor in [0, 1], got dtype {x.dtype}")
    if x.dim() < 2:
        raise ValueError(f"imresize expects a tensor of shape (..., H, W), got {tuple(x.shape)}")
    _kernel(method)
    in_h, in_w = x.shape[-2], x.shape[-1]
    if (scale is None) == (size is None):
        raise ValueError("imresize: give exactly one of scale or size")
    if size is not None:
        out_h, out_w = int(size[0]), int(size[1])
        sh, sw = out_h / in_h, out_w / in_w
    else:
        assert scale is not None
        sh, sw = (float(scale), float(scale)) if isinstance(scale, int | float) else map(float, scale)
        out_h, out_w = output_size((in_h, in_w), (sh, sw))
    if min(sh, sw) <= 0 or min(out_h, out_w) <= 0:
        raise ValueError(f"imresize: scale and size must be positive, got scale={scale}, size={size}")
    compute = x if x.dtype in (torch.float32, torch.float64) else x.float()

    def rows(t: torch.Tensor) -> torch.Tensor:
        return _resize_rows(t, out_h, sh, method, antialiasing) if (out_h, sh) != (in_h, 1) else t

    def cols(t: torch.Tensor) -> torch.Tensor:
        return _resize_cols(t, out_w, sw, method, antialiasing) if (out_w, sw) != (in_w, 1) else t

    # MATLAB resizes the dimension with the smaller scale first (height on ties)
    out = rows(cols(compute)) if sw < sh else cols(rows(compute))
    return out.contiguous().to(x.dtype)


TORCH_MODES = ("nearest", "bilinear", "bicubic")


def resize_torch(x: torch.Tensor, size: Sequence[int], mode: str = "bicubic") -> torch.Tensor:
    """Non-MATLAB baseline: ``torch.nn.functional.interpolate`` (``align_corners=False``, a = -0.75
    for bicubic, antialiased when shrinking with bilinear/bicubic). Works on ``(..., H, W)``."""
    if mode not in TORCH_MODES:
        raise ValueError(f"unknown torch resize mode {mode!r}; choose one of {list(TORCH_MODES)}")
    lead = x.shape[:-2]
    flat = x.reshape(-1, 1, *x.shape[-2:])
    shrinking = size[0] < x.shape[-2] or size[1] < x.shape[-1]
    kwargs: dict = {} if mode == "nearest" else {"align_corners": False, "antialias": shrinking}
    out = F.interpolate(flat, size=(int(size[0]), int(size[1])), mode=mode, **kwargs)
    return out.reshape(*lead, *out.shape[-2:])
