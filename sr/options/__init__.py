"""Training options: typed schema (``schema``) and the strict YAML loader (``loader``).

``load_options("options/esrgan_x4.yml", ["train.optim_g.lr=2e-4"])`` -> a frozen :class:`Options`;
``dump_options(opt)`` -> the YAML saved with the run (reads back to an equal ``Options``).
"""

from sr.options.loader import (
    OptionsError,
    apply_overrides,
    dump_options,
    load_options,
    options_from_dict,
    parse_assignment,
    parse_value,
    read_yaml,
)
from sr.options.schema import (
    RENAMED,
    DatasetOptions,
    DistOptions,
    IOBackend,
    LoggerOptions,
    MetricOptions,
    Options,
    PathOptions,
    TrainOptions,
    ValOptions,
)

__all__ = [
    "RENAMED",
    "DatasetOptions",
    "DistOptions",
    "IOBackend",
    "LoggerOptions",
    "MetricOptions",
    "Options",
    "OptionsError",
    "PathOptions",
    "TrainOptions",
    "ValOptions",
    "apply_overrides",
    "dump_options",
    "load_options",
    "options_from_dict",
    "parse_assignment",
    "parse_value",
    "read_yaml",
]
