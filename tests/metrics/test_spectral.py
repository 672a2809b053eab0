"""Spectral diagnostics on cases whose answer is known: a perfect reconstruction, Parseval, pure
sinusoids, a scaled copy (exact ratios), a MATLAB-bicubic output of a real photograph, an output with
an injected grating."""

from __future__ import annotations

import math

import pytest
import torch

from sr.data.samples import load_sample
from sr.metrics import spectral_report
from sr.metrics.spectral import (
    band_index,
    power_spectrum,
    radial_power_spectrum,
    radial_spectra,
    residual_spectrum,
)
from sr.ops import imresize, rgb_to_y


@pytest.fixture(scope="module")
def photo() -> torch.Tensor:
    """A 192x192 RGB crop of scikit-image's ``chelsea`` (fur: broadband texture), float64."""
    return load_sample("chelsea")[:, 60:252, 150:342].double()


@pytest.fixture(scope="module")
def bicubic4(photo) -> torch.Tensor:
    return imresize(imresize(photo, 1 / 4), 4).clamp(0, 1)


def _grating(h: int, w: int, cycles_x: int, cycles_y: int = 0, amp: float = 0.25) -> torch.Tensor:
    yy, xx = torch.meshgrid(
        torch.arange(h, dtype=torch.float64), torch.arange(w, dtype=torch.float64), indexing="ij"
    )
    return amp * torch.sin(2 * math.pi * (cycles_x * xx / w + cycles_y * yy / h))[None]


def test_perfect_reconstruction_is_all_zero(photo):
    r = spectral_report(photo, photo.clone(), 4, crop_border=4)
    assert (r.hf_error, r.lf_error, r.spurious_energy) == (0.0, 0.0, 0.0)
    assert r.hf_power_ratio == 1.0
    freqs, ratio = residual_spectrum(photo, photo.clone())
    assert ratio.shape == freqs.shape == (96,) and float(ratio.abs().max()) == 0.0


def test_parseval_unwindowed():
    # mean over all H*W bins of P = variance of the image (module docstring); odd and even sizes
    x = torch.rand(2, 1, 37, 50, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    p = power_spectrum(x, window="none")
    assert p.shape == (2, 37, 50)
    var = x.var(dim=(-2, -1), unbiased=False).flatten()
    torch.testing.assert_close(p.mean(dim=(-2, -1)), var, rtol=1e-12, atol=0)
    assert float(p[:, 0, 0].abs().max()) < 1e-25  # DC removed


def test_white_noise_is_flat_at_its_variance_with_the_window():
    # the Welch normalisation by mean(w^2): white noise of variance 1/12 (uniform) stays at 1/12
    x = torch.rand(4, 1, 256, 256, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    freqs, p = radial_power_spectrum(x)
    assert freqs.shape == (128,) and freqs[0] == pytest.approx(0.5 / 128 / 2)
    assert float(p[8:].mean()) == pytest.approx(1 / 12, rel=0.02)
    assert float(p[8:].max() / p[8:].min()) < 1.5


@pytest.mark.parametrize(("cx", "cy"), [(20, 0), (12, 16)])  # |k| = 20/128 along an axis and diagonally
@pytest.mark.parametrize("window", ["none", "hann"])
def test_sinusoid_lands_in_its_band(cx, cy, window):
    # nbins = 64 on 128x128: band i is (i/128, (i+1)/128], so |k| = 20/128 (an edge) is band 19
    x = 0.5 + _grating(128, 128, cx, cy)
    freqs, p = radial_power_spectrum(x, window=window)
    assert int(p.argmax()) == 19 and freqs[19] == pytest.approx(19.5 / 128)
    if window == "none":  # all the power in the two bins +-k: band 19 alone is non-zero
        counts = torch.bincount(band_index(128, 128).flatten() + 1)[1:].double()
        assert float((p * counts)[19]) == pytest.approx(0.25**2 / 2 * 128 * 128, rel=1e-9)
        assert float(p[torch.arange(64) != 19].max()) < 1e-20


def test_scaled_copy_has_exact_ratios(photo):
    # SR - GT = -GT / 2: every residual power is a quarter of the GT's; the output adds nothing
    r = spectral_report(photo * 0.5, photo, 3)
    assert r.hf_error == pytest.approx(0.25, rel=1e-12) and r.lf_error == pytest.approx(0.25, rel=1e-12)
    # half the amplitude: a quarter of the power in every band
    assert r.hf_power_ratio == pytest.approx(0.25, rel=1e-12)
    assert r.spurious_energy == 0.0
    _, ratio = residual_spectrum(photo * 0.5, photo, nbins=32)
    torch.testing.assert_close(ratio, torch.full((32,), 0.25, dtype=torch.float64), rtol=1e-10, atol=0)


def test_bicubic_lacks_high_frequencies(photo, bicubic4):
    r = spectral_report(bicubic4, photo, 4, crop_border=4)
    # measured 0.948 / 0.0147 / 0.0037 on this crop (MATLAB bicubic x1/4 then x4)
    assert 0.85 < r.hf_error < 1.05
    assert r.lf_error < 0.05 and r.spurious_energy < 0.02
    s = radial_spectra(bicubic4, photo, crop_border=4, nbins=32)
    above = s.freqs > 0.5 / 4 + 1 / 64  # bands wholly above the LR Nyquist
    assert float(s.sr[above].sum()) < 0.2 * float(s.gt[above].sum())  # the output lacks them
    assert float(s.ratio[~above][:4].max()) < 0.05  # and gets the lowest ones right


def test_injected_grating_is_spurious_and_peaks_in_its_band(photo, bicubic4):
    # a faint grating at 77/192 ~ 0.40 cycles/pixel, where the photo (and its bicubic output) are weak
    artefact = (bicubic4 + _grating(192, 192, 77, amp=0.02)).clamp(0, 1)
    clean = spectral_report(bicubic4, photo, 4)
    dirty = spectral_report(artefact, photo, 4)
    # measured: spurious 0.0008 -> 0.191, hf_error 0.953 -> 1.148
    assert dirty.spurious_energy > 0.15 and dirty.spurious_energy > 50 * clean.spurious_energy
    # the grating is uncorrelated with the bicubic residual, so its energy adds to the residual's:
    # both summaries measure it in units of the GT's energy above the LR Nyquist
    assert dirty.spurious_energy == pytest.approx(dirty.hf_error - clean.hf_error, rel=0.1)
    assert dirty.lf_error == pytest.approx(clean.lf_error, abs=0.001)
    freqs, ratio = residual_spectrum(artefact, photo)  # 96 bands of 1/192
    assert int(ratio.argmax()) == 76 and freqs[76] == pytest.approx(76.5 / 192)


def test_random_phase_texture_doubles_the_error(photo):
    # hallucination: the GT's own power above the LR Nyquist, with random phases. Unwindowed,
    # |F(SR - GT)|^2 = |G|^2 |e^{i phi} - 1|^2, whose mean over uniform phases is 2 |G|^2: hf_error ~ 2;
    # the output adds no power anywhere, so spurious_energy = 0 (it counts power, not phase)
    y = rgb_to_y(photo)[0]
    f = torch.fft.fft2(y)
    noise = torch.rand(192, 192, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    phase = torch.exp(1j * torch.angle(torch.fft.fft2(noise)))  # Hermitian: the output stays real
    fy, fx = torch.fft.fftfreq(192, dtype=torch.float64), torch.fft.fftfreq(192, dtype=torch.float64)
    hf = (fy[:, None] ** 2 + fx[None, :] ** 2).sqrt() > 0.5 / 4
    sr = torch.fft.ifft2(torch.where(hf, f * phase, f)).real[None]
    r = spectral_report(sr, y[None], 4, window="none")
    assert 1.8 < r.hf_error < 2.2 and r.lf_error < 1e-20 and r.spurious_energy == 0.0
    assert r.hf_power_ratio == pytest.approx(1.0, rel=1e-6)  # same power, wrong phases


def test_rgb_is_scored_on_the_luma_and_batches_average(photo, bicubic4):
    r_rgb = spectral_report(bicubic4, photo, 4)
    r_y = spectral_report(rgb_to_y(bicubic4), rgb_to_y(photo), 4)
    assert r_rgb == r_y
    other = photo.flip(-1)
    r_other = spectral_report(imresize(imresize(other, 1 / 4), 4).clamp(0, 1), other, 4)
    batch = spectral_report(
        torch.stack([bicubic4, imresize(imresize(other, 1 / 4), 4).clamp(0, 1)]),
        torch.stack([photo, other]),
        4,
    )
    assert batch.hf_error == pytest.approx((r_rgb.hf_error + r_other.hf_error) / 2, rel=1e-12)
    assert batch.to_dict().keys() == {"hf_error", "lf_error", "spurious_energy", "hf_power_ratio"}


def test_crop_border_drops_pixels(photo):
    freqs, _ = radial_power_spectrum(photo, crop_border=16)  # 160x160 -> 80 bands
    assert freqs.shape == (80,)


def test_errors_name_the_problem(photo):
    with pytest.raises(ValueError, match="shapes differ"):
        spectral_report(photo, photo[:, :-1], 4)
    with pytest.raises(ValueError, match="unknown window 'hamming'"):
        radial_power_spectrum(photo, window="hamming")
    with pytest.raises(ValueError, match="nbins=97: a 192x192 image allows 1 to 96"):
        radial_power_spectrum(photo, nbins=97)
    with pytest.raises(ValueError, match="scale must be an integer >= 2"):
        spectral_report(photo, photo, 1)
    with pytest.raises(ValueError, match=r"C in \(1, 3\)"):
        power_spectrum(torch.zeros(2, 8, 8))
