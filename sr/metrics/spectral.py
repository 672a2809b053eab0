"""Spectral (aliasing) diagnostics: where in frequency an SR output differs from its ground truth.

PSNR says how much an output is wrong, not *where in frequency*. A model that transfers badly to
another resolution aliases and hallucinates: it puts energy at frequencies where the ground truth
has little, or misses the details above what the low-resolution input could hold. These functions
measure that (issue 5, after Sakarvadia et al., "The False Promise of Zero-Shot Super-Resolution in
Machine-Learned Operators", 2025).

**Inputs.** Float tensors ``(C, H, W)`` or ``(N, C, H, W)`` in [0, 1], C = 1 or 3. As for PSNR
(:mod:`sr.metrics.psnr_ssim`), an RGB image is reduced to MATLAB's BT.601 luma
(:func:`sr.ops.rgb_to_y`) when ``y_channel=True`` (the default; a 1-channel image is taken as luma),
``crop_border`` pixels are dropped on every side, and everything is computed in float64. Values are
used as given: not rounded or clamped (a clamp would add harmonics of its own).

**Periodogram.** For one ``H x W`` image ``x`` and window ``w``::

    m    = sum(w * x) / sum(w)                      (weighted mean: the DC bin is exactly 0)
    P(k) = |FFT2(w * (x - m))(k)|^2 / (H * W * mean(w^2))

at the ``H x W`` frequencies ``k = (ky, kx)`` of ``torch.fft.fftfreq`` in cycles/pixel, radial
frequency ``|k| = sqrt(ky^2 + kx^2)``. With ``window="none"`` (w = 1) Parseval holds as
``mean_k P(k) = mean((x - mean(x))^2)``, the image's variance: ``P`` is a power spectral *density*,
comparable across image sizes. The default ``window="hann"`` is the separable symmetric Hann window
``hann(H)[:, None] * hann(W)[None, :]``: the FFT treats the image as periodic, and the jump between
its left and right (top and bottom) edges would otherwise put a cross of spurious power along both
frequency axes, at every frequency, masking the very artefacts looked for here. Dividing by
``mean(w^2)`` keeps white noise at its variance (the Welch normalisation). An RGB input with
``y_channel=False`` has its periodograms averaged over the three channels.

**Radial bands.** ``nbins`` equal-width annuli cover (0, 0.5] cycles/pixel (0.5 is the image's
Nyquist frequency): band ``i`` holds the frequencies with ``i * d < |k| <= (i + 1) * d``,
``d = 0.5 / nbins``; the DC bin (``|k| = 0``) and the corners beyond 0.5 belong to no band. A radial
spectrum is the mean of ``P`` over each band's bins, reported at the band centres ``(i + 0.5) * d``.
Default ``nbins = min(H, W) // 2`` (``d`` is the frequency spacing of the shorter side); at most
``max(H, W) // 2`` (every band then holds some bins).

**Summaries** (:func:`spectral_report`), with ``P_sr``, ``P_gt``, ``P_res`` the periodograms of
SR, GT and SR - GT, ``f_c = 0.5 / scale`` the Nyquist frequency of the LR input on the HR grid,
``HF = {k : f_c < |k| <= 0.5}`` and ``LF = {k : 0 < |k| <= f_c}`` (disc only: the summaries are
rotation invariant)::

    hf_error        = sum_HF P_res / sum_HF P_gt
    hf_power_ratio  = sum_HF P_sr / sum_HF P_gt
    lf_error        = sum_LF P_res / sum_LF P_gt
    spurious_energy = sum_{k in disc, P_sr(k) >= 4 P_gt(k)} (P_sr(k) - P_gt(k)) / sum_HF P_gt

``hf_error`` is the fraction of the GT's energy above the LR Nyquist that the output gets wrong: 0
is perfect, about 1 an output with none of those frequencies (MATLAB bicubic: 0.91 on Set5 x4),
about 2 an output with texture of the right energy but uncorrelated with the GT (hallucination).
``hf_power_ratio`` asks only whether the output has the GT's amount of detail above the LR Nyquist,
right or wrong: about 0 for a blurry output, 1 when the output is as rich as the GT (what a GAN
aims at; a PSNR-oriented model stays well below), above 1 for noise or over-sharpening.
``lf_error`` is the same below the LR Nyquist, for contrast (small for any sane model: the LR image
holds those frequencies).
``spurious_energy`` is the energy the output adds at frequencies where the GT has little *compared
with the output* (aliasing, gratings, hallucinated texture), in units of the GT's energy above the
LR Nyquist: 0.1 means the added energy is a tenth of the GT's high-frequency energy. A bin counts
when the output has at least ``SPURIOUS_RATIO = 4`` times (6 dB) the GT's power there, which needs
an error at least as large as the GT's own component (``|G + E| >= 2 |G|`` needs ``|E| >= |G|``):
a small error on a strong GT bin (power ``|G|^2 + 2 Re(G E*) + |E|^2``, dominated by the cross
term) is not counted, a grating or a texture the GT lacks is, wherever it lies. (A threshold on
the GT alone, e.g. "below its band's median", misses an artefact that sits where the GT happens to
be above its median, such as on the frequency axes of an image with horizontal or vertical
structure.) A blurry output scores about 0. A summary whose denominator is 0 (a flat GT) is NaN.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch

from sr.ops.color import rgb_to_y

WINDOWS = ("hann", "none")
#: floor of the residual ratio's denominator, relative to the largest band power of the GT
RATIO_FLOOR = 1e-12
#: a frequency bin is spurious where the output has at least this many times the GT's power
SPURIOUS_RATIO = 4.0


def _prepare(x: torch.Tensor, crop_border: int, y_channel: bool, name: str = "image") -> torch.Tensor:
    """``(N, C', H, W)`` float64: the luma (C' = 1) or the channels, cropped."""
    if x.dim() == 3:
        x = x.unsqueeze(0)
    if x.dim() != 4 or x.shape[1] not in (1, 3):
        raise ValueError(
            f"{name}: expected an image tensor (C, H, W) or (N, C, H, W) with C in (1, 3), "
            f"got {tuple(x.shape)}"
        )
    x = x.detach().to(torch.float64)
    if y_channel and x.shape[1] == 3:
        x = rgb_to_y(x)
    if crop_border < 0:
        raise ValueError(f"crop_border must be >= 0, got {crop_border}")
    if crop_border:
        x = x[..., crop_border:-crop_border, crop_border:-crop_border]
    if min(x.shape[-2:]) < 2:
        raise ValueError(f"{name}: crop_border={crop_border} leaves a {tuple(x.shape[-2:])} image")
    return x


def _window(h: int, w: int, window: str, like: torch.Tensor) -> torch.Tensor:
    if window == "none":
        return torch.ones(h, w, dtype=torch.float64, device=like.device)
    if window == "hann":
        wy = torch.hann_window(h, periodic=False, dtype=torch.float64, device=like.device)
        wx = torch.hann_window(w, periodic=False, dtype=torch.float64, device=like.device)
        return wy[:, None] * wx[None, :]
    raise ValueError(f"unknown window {window!r}; choose one of {list(WINDOWS)}")


def _periodogram(x: torch.Tensor, window: str) -> torch.Tensor:
    """``(N, C, H, W)`` float64 -> ``(N, H, W)`` periodogram (module docstring), channel mean."""
    h, w = x.shape[-2:]
    win = _window(h, w, window, x)
    mean = (x * win).sum(dim=(-2, -1), keepdim=True) / win.sum()
    f = torch.fft.fft2((x - mean) * win)
    return (f.abs() ** 2 / (h * w * win.pow(2).mean())).mean(dim=1)


def power_spectrum(
    img: torch.Tensor, *, window: str = "hann", crop_border: int = 0, y_channel: bool = True
) -> torch.Tensor:
    """2-D periodogram ``P`` of each image, ``(N, H, W)`` (H, W after cropping), in the frequency
    layout of ``torch.fft.fftfreq`` (DC at ``[0, 0]``); see the module docstring."""
    return _periodogram(_prepare(img, crop_border, y_channel), window)


def radial_frequency(h: int, w: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """``(H, W)`` radial frequency ``|k|`` in cycles/pixel, in ``fftfreq`` layout."""
    fy = torch.fft.fftfreq(h, dtype=torch.float64, device=device)
    fx = torch.fft.fftfreq(w, dtype=torch.float64, device=device)
    return torch.sqrt(fy[:, None] ** 2 + fx[None, :] ** 2)


def _resolve_nbins(h: int, w: int, nbins: int | None) -> int:
    if nbins is None:
        return min(h, w) // 2
    if not 1 <= nbins <= max(h, w) // 2:
        raise ValueError(
            f"nbins={nbins}: a {h}x{w} image allows 1 to {max(h, w) // 2} radial bands "
            f"(an image needs at least {2 * nbins} pixels on its longer side for {nbins} bands)"
        )
    return nbins


def band_index(h: int, w: int, nbins: int | None = None, device: torch.device | str = "cpu") -> torch.Tensor:
    """``(H, W)`` long tensor: the radial band (0 .. nbins-1) of each frequency bin, -1 for DC and
    the corners beyond 0.5. Checks ``1 <= nbins <= max(H, W) // 2``."""
    nbins = _resolve_nbins(h, w, nbins)
    r = radial_frequency(h, w, device)
    d = 0.5 / nbins
    # band i is (i*d, (i+1)*d]; the tolerance sends frequencies on an edge (exact in real
    # arithmetic, e.g. k/H with nbins = H/2) to the lower band whatever the rounding of sqrt
    idx = torch.ceil(r / d - 1e-9).long() - 1
    idx[(r == 0) | (r > 0.5 + 1e-12)] = -1
    return idx.clamp(max=nbins - 1)


def _radial_mean(p: torch.Tensor, idx: torch.Tensor, nbins: int) -> torch.Tensor:
    """Mean of ``p`` ``(N, H, W)`` over each band of ``idx`` -> ``(N, nbins)``."""
    keep = idx >= 0
    flat_idx = idx[keep]
    counts = torch.bincount(flat_idx, minlength=nbins).to(p.dtype)
    out = torch.zeros(p.shape[0], nbins, dtype=p.dtype, device=p.device)
    out.index_add_(1, flat_idx, p[:, keep])
    return out / counts


def _freqs(nbins: int) -> torch.Tensor:
    return (torch.arange(nbins, dtype=torch.float64) + 0.5) * (0.5 / nbins)


def radial_power_spectrum(
    img: torch.Tensor,
    *,
    window: str = "hann",
    nbins: int | None = None,
    crop_border: int = 0,
    y_channel: bool = True,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Radially averaged power spectrum: ``(freqs, power)``, both ``(nbins,)`` float64, ``freqs`` the
    band centres in cycles/pixel; ``power`` is averaged over the images of a batch."""
    x = _prepare(img, crop_border, y_channel)
    h, w = x.shape[-2:]
    n = _resolve_nbins(h, w, nbins)
    idx = band_index(h, w, n, x.device)
    return _freqs(n), _radial_mean(_periodogram(x, window), idx, n).mean(0).cpu()


@dataclass(frozen=True)
class RadialSpectra:
    """Radially averaged spectra of an SR output, its GT and their residual, ``(nbins,)`` float64
    each, averaged over the images of a batch; ``ratio`` is the residual spectrum."""

    freqs: torch.Tensor
    sr: torch.Tensor
    gt: torch.Tensor
    residual: torch.Tensor

    @property
    def ratio(self) -> torch.Tensor:
        return residual_ratio(self.residual, self.gt)


def residual_ratio(residual: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:
    """``residual / max(gt, RATIO_FLOOR * max(gt))`` per band (a tiny absolute floor too, so that a
    flat GT gives a finite ratio): the floor only stops a division by ~0, it changes no band that
    holds measurable GT power."""
    floor = max(RATIO_FLOOR * float(gt.max()), 1e-300)
    return residual / gt.clamp(min=floor)


def _pair(sr: torch.Tensor, gt: torch.Tensor, crop_border: int, y_channel: bool):
    if sr.shape != gt.shape:
        raise ValueError(f"image shapes differ: sr {tuple(sr.shape)} vs gt {tuple(gt.shape)}")
    return _prepare(sr, crop_border, y_channel, "sr"), _prepare(gt, crop_border, y_channel, "gt")


def radial_spectra(
    sr: torch.Tensor,
    gt: torch.Tensor,
    *,
    window: str = "hann",
    nbins: int | None = None,
    crop_border: int = 0,
    y_channel: bool = True,
) -> RadialSpectra:
    """Radial spectra of ``sr``, ``gt`` and ``sr - gt`` (same shapes) with the same bands."""
    a, b = _pair(sr, gt, crop_border, y_channel)
    h, w = a.shape[-2:]
    n = _resolve_nbins(h, w, nbins)
    idx = band_index(h, w, n, a.device)

    def radial(x: torch.Tensor) -> torch.Tensor:
        return _radial_mean(_periodogram(x, window), idx, n).mean(0).cpu()

    return RadialSpectra(_freqs(n), radial(a), radial(b), radial(a - b))


def residual_spectrum(
    sr: torch.Tensor,
    gt: torch.Tensor,
    *,
    window: str = "hann",
    nbins: int | None = None,
    crop_border: int = 0,
    y_channel: bool = True,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(freqs, ratio)``: radially averaged ``|F(SR - GT)|^2`` over radially averaged ``|F(GT)|^2``
    per band (denominator floored, :func:`residual_ratio`); 0 is perfect, 1 is "as wrong as
    having nothing there"."""
    s = radial_spectra(sr, gt, window=window, nbins=nbins, crop_border=crop_border, y_channel=y_channel)
    return s.freqs, s.ratio


@dataclass(frozen=True)
class SpectralReport:
    """Scalar spectral summaries of an SR output against its GT (definitions: module docstring).
    For a batch, each is the mean over the images."""

    scale: int
    hf_error: float
    lf_error: float
    spurious_energy: float
    hf_power_ratio: float

    def to_dict(self) -> dict[str, float]:
        d = asdict(self)
        d.pop("scale")
        return d


def _ratio(num: torch.Tensor, den: torch.Tensor) -> torch.Tensor:
    return torch.where(den > 0, num / den.clamp(min=1e-300), torch.full_like(num, math.nan))


def spectral_report(
    sr: torch.Tensor,
    gt: torch.Tensor,
    scale: int,
    *,
    window: str = "hann",
    crop_border: int = 0,
    y_channel: bool = True,
) -> SpectralReport:
    """``hf_error``, ``lf_error``, ``spurious_energy`` and ``hf_power_ratio`` of ``sr`` against ``gt``
    for an LR input ``scale`` times smaller (``scale >= 2``)."""
    if isinstance(scale, bool) or not isinstance(scale, int) or scale < 2:
        raise ValueError(
            f"scale must be an integer >= 2 (no band lies above the LR Nyquist at 1), got {scale}"
        )
    a, b = _pair(sr, gt, crop_border, y_channel)
    h, w = a.shape[-2:]
    p_sr, p_gt, p_res = (_periodogram(x, window) for x in (a, b, a - b))
    r = radial_frequency(h, w, a.device)
    disc = (r > 0) & (r <= 0.5 + 1e-12)
    hf = disc & (r > 0.5 / scale)
    lf = disc & ~hf
    gt_hf = p_gt[:, hf].sum(1)
    hf_error = _ratio(p_res[:, hf].sum(1), gt_hf)
    lf_error = _ratio(p_res[:, lf].sum(1), p_gt[:, lf].sum(1))
    # bins where the output holds at least SPURIOUS_RATIO times the GT's power: the error there is at
    # least as large as the GT's component (|G + E| >= 2 |G| needs |E| >= |G|)
    added = (p_sr - p_gt)[:, disc]
    excess = added * (p_sr[:, disc] >= SPURIOUS_RATIO * p_gt[:, disc])
    spurious = _ratio(excess.sum(1), gt_hf)
    power_ratio = _ratio(p_sr[:, hf].sum(1), gt_hf)
    return SpectralReport(
        scale=scale,
        hf_error=float(hf_error.mean()),
        lf_error=float(lf_error.mean()),
        spurious_energy=float(spurious.mean()),
        hf_power_ratio=float(power_ratio.mean()),
    )
