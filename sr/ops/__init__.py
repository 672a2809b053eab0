"""Pure-torch image operations shared by the architectures, the data layer and the metrics.

Nothing here imports anything but torch, so ``sr.archs`` may use it (SRCNN upsamples with
:func:`imresize`) without pulling in image I/O.
"""

from sr.ops.color import rgb_to_y, rgb_to_ycbcr, ycbcr_to_rgb
from sr.ops.imresize import imresize, resize_torch

__all__ = ["imresize", "resize_torch", "rgb_to_y", "rgb_to_ycbcr", "ycbcr_to_rgb"]
