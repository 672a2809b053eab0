"""Image quality metrics. PSNR/SSIM follow the published SR protocol (see ``psnr_ssim``);
NIQE (``niqe``) is the no-reference quality of the MATLAB release, with its pristine model shipped as data;
LPIPS wraps the ``lpips`` package (``sr.metrics.lpips``, imported on demand); ``spectral`` holds the
spectral (aliasing) diagnostics: radially averaged power and residual spectra and their summaries."""

from sr.metrics.niqe import niqe, niqe_rgb
from sr.metrics.psnr_ssim import gaussian_window, psnr, psnr_ssim, ssim, ssim_map
from sr.metrics.spectral import (
    SpectralReport,
    radial_power_spectrum,
    residual_spectrum,
    spectral_report,
)

__all__ = [
    "SpectralReport",
    "gaussian_window",
    "niqe",
    "niqe_rgb",
    "psnr",
    "psnr_ssim",
    "radial_power_spectrum",
    "residual_spectrum",
    "spectral_report",
    "ssim",
    "ssim_map",
]
