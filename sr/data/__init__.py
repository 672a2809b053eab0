"""The data layer: image I/O, datasets, samplers and loaders.

Importing ``sr.data`` pulls in torch, numpy, OpenCV and Pillow, not TensorBoard or the models.
"""

from sr.data.datasets import HRImageDataset, PairedImageDataset, build_dataset
from sr.data.imageio import ImageReadError
from sr.data.loader import build_train_loader, build_val_loader, error_text, iterate_forever
from sr.data.mixed import MixedSourceDataset
from sr.data.sampler import MixedBatchSampler, TrainSampler
from sr.data.sources import DatasetError

__all__ = [
    "DatasetError",
    "HRImageDataset",
    "ImageReadError",
    "MixedBatchSampler",
    "MixedSourceDataset",
    "PairedImageDataset",
    "TrainSampler",
    "build_dataset",
    "build_train_loader",
    "build_val_loader",
    "error_text",
    "iterate_forever",
]
