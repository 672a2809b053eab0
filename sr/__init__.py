"""sr: classic single-image super-resolution (SRCNN, SRResNet/SRGAN, ESRGAN)."""

__version__ = "0.1.0"
