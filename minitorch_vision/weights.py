"""Finding pretrained weights, one rule for every model.

``resolve_weights`` looks, in order: an explicit ``--weights PATH``; the data folder's
``weights/<file name>``; else the official URL, downloaded into ``<data>/weights/`` and checked
against its published sha256 (see :mod:`minitorch_vision.data.download`). Offline, the error
says which file to put where (exit status 2 through the lesson's ``main_guard``).
"""
from pathlib import Path

from .data.download import fetch, verify
from .data.paths import data_dir as resolve_data_dir
from .errors import DataUnavailable


def resolve_weights(arg, filename, url, sha256=None, data_dir=None, allow_download=True):
    """Return the path of a weights file.

    Args:
        arg: the ``--weights`` value: a path, or None for the default file.
        filename: the official file name, e.g. ``resnet18-f37072fd.pth``.
        url: its official download URL; sha256: its published checksum (None if unknown).
        data_dir: the data folder (``--data-dir``); weights live in ``<data_dir>/weights/``.

    Raises:
        DataUnavailable: an explicit path that does not exist, a local file with the wrong
            checksum, or a download that is impossible (offline) or fails its checksum.
    """
    if arg:
        p = Path(arg).expanduser()
        if not p.is_file():
            raise DataUnavailable(f"weights file {p} does not exist")
        return p
    dest = resolve_data_dir(data_dir) / "weights" / filename
    if dest.is_file() and sha256 and not verify(dest, sha256=sha256):
        if not allow_download:
            raise DataUnavailable(f"{dest} does not have the published sha256 {sha256[:12]}...: delete it and download {url}")
    try:
        return fetch(url, dest, sha256=sha256, allow_download=allow_download)
    except DataUnavailable as e:
        if dest.exists() or "sha256" in str(e):
            raise
        raise DataUnavailable(f"weights {filename} not found and cannot be downloaded: "
                              f"download {url} and put it at {dest.resolve()} (or pass --weights PATH)") from None
