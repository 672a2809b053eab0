"""NIQE, the "completely blind" natural image quality evaluator (Mittal, Soundararajan and Bovik,
IEEE Signal Processing Letters 20(3), 2013), as the authors' MATLAB release computes it
(``niqe_release``: ``computequality.m``, ``computefeature.m``, ``estimateaggdparam.m``). Lower is
more natural. No reference image is needed, and nothing is downloaded: the pristine model (the
mean ``mu_pris`` and covariance ``cov_pris`` of 36 features over 125 pristine photographs, the
release's ``modelparameters.mat``) ships in ``data/niqe_pris_params.npz`` (see ``data/README.md``).

Per image (luma on the [0, 255] scale, rounded; MATLAB's double arithmetic):

1. crop to whole 96x96 blocks (no overlap, the release's recommended setting);
2. at two scales (the image, then MATLAB ``imresize(im, 0.5)``, bicubic with antialiasing): the
   MSCN coefficients ``(I - mu) / (sigma + 1)``, ``mu``/``sigma`` local Gaussian mean and deviation
   (``fspecial('gaussian', 7, 7/6)``, ``imfilter(..., 'replicate')``);
3. per block and scale, 18 features: the generalised-Gaussian fit (shape, mean of the two scales)
   of the MSCN coefficients, and the asymmetric generalised-Gaussian fit (shape, mean, left and
   right scales) of the products of neighbours in four directions (circular shifts within the block);
   the shape is found on the release's grid 0.2:0.001:10;
4. the blocks' features are fitted by a Gaussian (``nanmean``; covariance over blocks without NaN),
   and NIQE = sqrt((mu_p - mu_d)^T pinv((cov_p + cov_d) / 2) (mu_p - mu_d)).

Cross-checked against BasicSR's ``calculate_niqe`` (``tests/metrics/test_niqe.py``), which matches
MATLAB R2021a to 1e-6 on Set14's baboon.
"""

from __future__ import annotations

import math
from functools import lru_cache
from importlib import resources

import numpy as np
import torch
from scipy.ndimage import correlate
from scipy.special import gamma

from sr.ops.imresize import imresize

BLOCK = 96  # the release's block size (blocksizerow = blocksizecol = 96, no overlap)
_GAM = np.arange(0.2, 10.001, 0.001)  # estimateaggdparam.m's search grid (9801 values)
_R_GAM = gamma(2 / _GAM) ** 2 / (gamma(1 / _GAM) * gamma(3 / _GAM))
_SHIFTS = ((0, 1), (1, 0), (1, 1), (1, -1))  # computefeature.m: horizontal, vertical, two diagonals


@lru_cache(maxsize=1)
def pristine_model() -> tuple[np.ndarray, np.ndarray]:
    """``(mu_pris (36,), cov_pris (36, 36))`` of the MATLAB release."""
    with resources.files("sr.metrics").joinpath("data/niqe_pris_params.npz").open("rb") as fh:
        data = np.load(fh)
        return data["mu_pris_param"].astype(np.float64), data["cov_pris_param"].astype(np.float64)


@lru_cache(maxsize=1)
def gaussian_window() -> np.ndarray:
    """MATLAB ``fspecial('gaussian', 7, 7/6)``: a 7x7 Gaussian of sigma 7/6, summing to 1."""
    x = np.arange(-3, 4, dtype=np.float64)
    g = np.exp(-(x[:, None] ** 2 + x[None, :] ** 2) / (2 * (7 / 6) ** 2))
    return g / g.sum()


def aggd_fit(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Asymmetric generalised Gaussian fit of each row of ``x`` ``(n, m)`` by moment matching
    (``estimateaggdparam.m``): ``(alpha, beta_left, beta_right)``, each ``(n,)``. A row without
    negative or positive values gives NaN scales, as in MATLAB."""
    neg, pos = x < 0, x > 0
    sq = x * x
    with np.errstate(invalid="ignore", divide="ignore"):
        left = np.sqrt((sq * neg).sum(1) / neg.sum(1))
        right = np.sqrt((sq * pos).sum(1) / pos.sum(1))
        gammahat = left / right
        rhat = np.abs(x).mean(1) ** 2 / sq.mean(1)
        rhatnorm = rhat * (gammahat**3 + 1) * (gammahat + 1) / (gammahat**2 + 1) ** 2
    # MATLAB's min() over a NaN difference returns the first grid point, as argmin does here
    alpha = _GAM[np.argmin((_R_GAM[None, :] - rhatnorm[:, None]) ** 2, axis=1)]
    ratio = np.sqrt(gamma(1 / alpha) / gamma(3 / alpha))
    return alpha, left * ratio, right * ratio


def block_features(blocks: np.ndarray) -> np.ndarray:
    """The 18 features of each MSCN block ``(n, b, b)`` (``computefeature.m``): ``(n, 18)``."""
    n = blocks.shape[0]
    alpha, bl, br = aggd_fit(blocks.reshape(n, -1))
    feats = [alpha, (bl + br) / 2]
    for shift in _SHIFTS:
        pair = blocks * np.roll(blocks, shift, axis=(1, 2))
        alpha, bl, br = aggd_fit(pair.reshape(n, -1))
        mean = (br - bl) * gamma(2 / alpha) / gamma(1 / alpha)
        feats += [alpha, mean, bl, br]
    return np.stack(feats, axis=1)


def _mscn(img: np.ndarray) -> np.ndarray:
    """MSCN coefficients in float32 (the local moments rounded to float32, then combined in float32):
    this reproduces the MATLAB release's value on Set14's baboon (R2021a: 5.72957, BasicSR's
    docstring) to 1e-5, where float64 moments give 5.72996. ``E[x^2] - E[x]^2`` cancels on the
    [0, 255] scale, so the precision of this step is what the score's last digits depend on."""
    window = gaussian_window()
    img = img.astype(np.float32)
    mu = correlate(img, window, mode="nearest")
    sigma = np.sqrt(np.abs(correlate(img * img, window, mode="nearest") - mu * mu))
    return (img - mu) / (sigma + 1)


def niqe(luma: np.ndarray | torch.Tensor) -> float:
    """NIQE of a luma image ``(H, W)`` on the [0, 255] scale (rounded to integers first, as the
    MATLAB release reads 8-bit files). Needs at least 96x96 pixels (one block); a ``ValueError``
    says so otherwise. NaN for an image without texture in any block (a flat image), as MATLAB."""
    img = luma.detach().cpu().double().numpy() if isinstance(luma, torch.Tensor) else np.asarray(luma)
    img = np.round(img.astype(np.float64))
    if img.ndim != 2:
        raise ValueError(f"NIQE expects one luma image (H, W), got shape {img.shape}")
    h, w = img.shape
    nh, nw = h // BLOCK, w // BLOCK
    if nh == 0 or nw == 0:
        raise ValueError(f"NIQE needs at least {BLOCK}x{BLOCK} pixels, got {w}x{h}")
    img = img[: nh * BLOCK, : nw * BLOCK]
    per_scale = []
    for scale in (1, 2):
        b = BLOCK // scale
        mscn = _mscn(img)
        blocks = mscn.reshape(nh, b, nw, b).transpose(0, 2, 1, 3).reshape(-1, b, b)
        per_scale.append(block_features(blocks))
        if scale == 1:
            img = imresize(torch.from_numpy(img.astype(np.float32) / 255), 0.5).numpy() * 255
    dist = np.concatenate(per_scale, axis=1)
    mu_pris, cov_pris = pristine_model()
    clean = dist[~np.isnan(dist).any(axis=1)]
    if len(clean) == 0:
        return math.nan  # no block with texture (a flat image): undefined, NaN as in MATLAB
    mu_dist = np.nanmean(dist, axis=0)
    if len(clean) < 2:
        cov_dist = np.zeros_like(cov_pris)  # one block: no spread to estimate (MATLAB: NaN)
    else:
        cov_dist = np.cov(clean, rowvar=False)
    diff = mu_pris - mu_dist
    quality = diff @ np.linalg.pinv((cov_pris + cov_dist) / 2) @ diff
    return float(np.sqrt(quality))


def niqe_rgb(img: torch.Tensor, crop_border: int = 0) -> float:
    """NIQE of an RGB ``(3, H, W)`` (or luma ``(1, H, W)``) image in [0, 1]: the MATLAB BT.601 luma
    (as PSNR/SSIM use), rounded to 8 bits, ``crop_border`` pixels dropped at each edge."""
    from sr.metrics.psnr_ssim import luma_255

    x = img.detach().to("cpu", torch.float64).clamp(0, 1)
    if x.dim() == 4:
        if x.shape[0] != 1:
            raise ValueError(f"niqe_rgb scores one image at a time, got a batch of {x.shape[0]}")
        x = x[0]
    if x.dim() != 3 or x.shape[0] not in (1, 3):
        raise ValueError(f"expected an image (C, H, W) with C in (1, 3), got {tuple(x.shape)}")
    x = x.mul(255).round()
    y = luma_255(x.unsqueeze(0))[0, 0] if x.shape[0] == 3 else x[0]
    if crop_border:
        y = y[crop_border:-crop_border, crop_border:-crop_border]
    return niqe(y)
