"""Where datasets and weights live: the one data-folder resolver (lessons, tests and benchmarks).

The data folder is chosen, first match wins: the ``--data-dir`` flag, the ``MTV_DATA_DIR``
environment variable, then (tests and benchmarks only) the first non-empty folder among
``candidates``, else ``./data``. Inside it the layout mirrors the official file names,
e.g. ``fashion-mnist/train-images-idx3-ubyte.gz`` or ``weights/yolov5n.pt`` (the full list is
:mod:`minitorch_vision.data.manifest`).
"""
import os
from pathlib import Path

ENV_VAR = "MTV_DATA_DIR"


def data_dir(arg=None, candidates=()):
    """Resolve the data folder: ``arg`` > ``$MTV_DATA_DIR`` > first non-empty ``candidates`` > ``./data``.

    ``candidates`` lets tests and benchmarks look beside the repository (``../shared/data``) before
    falling back; a folder holding only a README does not count as data.
    """
    if arg:
        return Path(arg).expanduser()
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR]).expanduser()
    for c in candidates:
        c = Path(c)
        if c.is_dir() and any(p.name != "README.md" for p in c.iterdir()):
            return c
    return Path("data")
