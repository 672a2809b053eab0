"""Image quality metrics. PSNR/SSIM follow the published SR protocol (see ``psnr_ssim``);
LPIPS wraps the ``lpips`` package (``sr.metrics.lpips``, imported on demand)."""

from sr.metrics.psnr_ssim import gaussian_window, psnr, ssim, ssim_map

__all__ = ["gaussian_window", "psnr", "ssim", "ssim_map"]
