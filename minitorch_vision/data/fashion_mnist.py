"""FashionMNIST (Xiao, Rasul & Vollgraf 2017) from its four official IDX files.

The IDX format (LeCun's MNIST page): a big-endian header ``0x00 0x00 <dtype> <ndim>``, then
``ndim`` big-endian uint32 sizes, then the raw values. Images have magic 2051 (ubyte, 3 dims),
labels 2049 (ubyte, 1 dim). The files are gzip-compressed on the official mirrors; their URLs and
md5s are the ``"fashion-mnist"`` entry of :mod:`minitorch_vision.data.manifest`.
"""
import gzip
import struct
from pathlib import Path

import numpy as np
import torch

from ..errors import DataUnavailable
from .manifest import ensure

CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
           "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]

_MAGIC = {2051: 3, 2049: 1}  # images: 3 dims, labels: 1 dim


def read_idx(path):
    """Read an IDX file (optionally .gz) into a uint8 tensor, checking magic number and length.

    Raises DataUnavailable naming the file when the magic is wrong or the file is truncated.
    """
    path = Path(path)
    try:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError, gzip.BadGzipFile) as e:
        raise DataUnavailable(f"{path} is not a readable IDX file ({e}); delete it and download it again") from None
    if len(raw) < 4:
        raise DataUnavailable(f"{path} is truncated (only {len(raw)} bytes)")
    magic, = struct.unpack(">I", raw[:4])
    if magic not in _MAGIC:
        raise DataUnavailable(f"{path} has IDX magic {magic}, expected 2051 (images) or 2049 (labels)")
    ndim = _MAGIC[magic]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataUnavailable(f"{path} is truncated inside its header")
    dims = struct.unpack(f">{ndim}I", raw[4:header])
    expected = header + int(np.prod(dims))
    if len(raw) != expected:
        raise DataUnavailable(f"{path} has {len(raw)} bytes, expected {expected} for shape {dims} (truncated or corrupt)")
    return torch.from_numpy(np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims).copy())


def ensure_files(root=None, allow_download=True):
    """The folder holding the four official files, downloading any that are missing or corrupt.

    Raises DataUnavailable with the real cause (each URL's reason: checksum, HTTP 404, cut-short body;
    permission denied or a data folder that is a file, naming the path), or offline every missing file.
    """
    return ensure("fashion-mnist", root, allow_download)


def load_fashion_mnist(root=None, allow_download=True):
    """The full dataset as uint8 tensors.

    Returns:
        dict with ``train_x`` (60000, 28, 28), ``train_y`` (60000,), ``test_x`` (10000, 28, 28),
        ``test_y`` (10000,), all uint8 / int64, and ``classes`` (10 names).
    """
    folder = ensure_files(root, allow_download)
    d = {
        "train_x": read_idx(folder / "train-images-idx3-ubyte.gz"),
        "train_y": read_idx(folder / "train-labels-idx1-ubyte.gz").long(),
        "test_x": read_idx(folder / "t10k-images-idx3-ubyte.gz"),
        "test_y": read_idx(folder / "t10k-labels-idx1-ubyte.gz").long(),
    }
    for split in ("train", "test"):
        if len(d[f"{split}_x"]) != len(d[f"{split}_y"]):
            raise DataUnavailable(f"FashionMNIST {split} images and labels differ in count; re-download {folder}")
    d["classes"] = CLASSES
    return d


def train_val_split(n, val_size, seed=0):
    """Indices (train_idx, val_idx) carved from ``range(n)`` by a seeded permutation."""
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    return perm[val_size:], perm[:val_size]


def standardize(x, mean=0.2860, std=0.3530):
    """uint8 (N, 28, 28) -> float32 (N, 1, 28, 28) standardised with the training set's mean/std."""
    return ((x.float() / 255.0 - mean) / std).unsqueeze(1)


def fashion_mnist_splits(root=None, *, val_size=5000, seed=0, quick=False, allow_download=True):
    """Train / validation / test splits as standardised float tensors, ready for ``Batches``.

    The validation set is carved from the official training set with a seeded permutation; the
    official test set is only used to report the final number. ``quick`` keeps a small slice
    (5000 train, 1000 val, 2000 test) for runs under a minute.

    Returns:
        dict with ``train``, ``val``, ``test``: each ``(x float32 (N, 1, 28, 28), y int64 (N,))``,
        ``test_images`` uint8 (N, 28, 28) (for plots) and ``classes``.
    """
    d = load_fashion_mnist(root, allow_download)
    tr_idx, va_idx = train_val_split(len(d["train_x"]), val_size if not quick else 1000, seed)
    test_n = 2000 if quick else len(d["test_x"])
    if quick:
        tr_idx = tr_idx[:5000]
    return {
        "train": (standardize(d["train_x"][tr_idx]), d["train_y"][tr_idx]),
        "val": (standardize(d["train_x"][va_idx]), d["train_y"][va_idx]),
        "test": (standardize(d["test_x"][:test_n]), d["test_y"][:test_n]),
        "test_images": d["test_x"][:test_n],
        "classes": d["classes"],
    }
