"""Where datasets and weights live.

The data folder is chosen, first match wins: the ``--data-dir`` flag, the ``MTV_DATA_DIR``
environment variable, else ``./data``. Inside it the layout mirrors the official file names,
e.g. ``fashion-mnist/train-images-idx3-ubyte.gz`` or ``weights/yolov5n.pt``.
"""
import os
from pathlib import Path

from ..errors import DataUnavailable

__all__ = ["ENV_VAR", "DataUnavailable", "data_dir"]  # DataUnavailable re-exported for callers

ENV_VAR = "MTV_DATA_DIR"


def data_dir(arg=None):
    """Resolve the data folder: ``arg`` (from ``--data-dir``) > ``$MTV_DATA_DIR`` > ``./data``."""
    if arg:
        return Path(arg).expanduser()
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR]).expanduser()
    return Path("data")
