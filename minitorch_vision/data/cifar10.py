"""CIFAR-10 (Krizhevsky 2009, "Learning Multiple Layers of Features from Tiny Images"), three ways in,
and the few-shot "mini-dataset" the transfer-learning lesson trains on.

1. The official Python pickles ``cifar-10-batches-py/{data_batch_1..5, test_batch, batches.meta}``:
   each batch is a dict with ``b"data"`` (10000, 3072) uint8, rows laid out as 1024 red, 1024 green,
   1024 blue values of a 32x32 image (row-major), and ``b"labels"`` (list of 10000 ints).
   ``ensure_pickles`` downloads ``cifar-10-python.tar.gz`` (md5-checked) and extracts it safely
   (:mod:`.manifest`, :mod:`.archive`). The files are read with a restricted unpickler
   (:mod:`.safe_pickle`): a tampered batch cannot run code.
2. An image folder ``root/<split>/<class>/*.png|jpg``: what a learner's own photos look like.
3. ``mini_dataset``: k images per class for a few chosen classes, seeded and balanced, plus a
   held-out test set that never shares an image with the training set.
"""
import pickle
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..errors import DataUnavailable
from .images import list_images, read_image
from .manifest import ensure
from .paths import data_dir as resolve_data_dir
from .safe_pickle import CIFAR_GLOBALS, PickleRefused, load_restricted
from .transforms import resize

CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
SUBDIR = "cifar-10-batches-py"  # what cifar-10-python.tar.gz extracts to (URL and checksums: manifest "cifar-10")
TRAIN_FILES = [f"data_batch_{i}" for i in range(1, 6)]
TEST_FILES = ["test_batch"]
IMAGES_SUBDIR = "cifar10-images"


# ---- 1. the official pickles --------------------------------------------------------------------

def read_batch(path):
    """Read one pickled batch file -> (x uint8 (N, 3, 32, 32), y int64 (N,)).

    Raises DataUnavailable naming the file when it is missing, not a pickle, or malformed.
    """
    path = Path(path)
    if not path.is_file():
        raise DataUnavailable(f"CIFAR-10 batch {path} does not exist")
    try:
        d = load_restricted(path, CIFAR_GLOBALS, "CIFAR-10 batch")  # written by Python 2: byte-string keys
        data, labels = d[b"data"], d[b"labels"]
    except PickleRefused:
        raise
    except (pickle.UnpicklingError, EOFError, KeyError, TypeError, ValueError, AttributeError, IndexError) as e:
        raise DataUnavailable(f"{path} is not a CIFAR-10 batch file ({type(e).__name__}) — delete it and "
                              f"download it again") from None
    data = np.asarray(data, dtype=np.uint8)
    if data.ndim != 2 or data.shape[1] != 3 * 32 * 32 or len(labels) != len(data):
        raise DataUnavailable(f"{path} has data of shape {data.shape} and {len(labels)} labels, expected (N, 3072) and N")
    x = torch.from_numpy(data.reshape(-1, 3, 32, 32).copy())  # 3072 = 3 planes of 32x32: already CHW
    return x, torch.tensor(labels, dtype=torch.int64)


def read_meta(folder):
    """Class names from ``batches.meta`` (``label_names``), or the standard list if it is absent."""
    p = Path(folder) / "batches.meta"
    if not p.is_file():
        return list(CLASSES)
    try:
        names = load_restricted(p, CIFAR_GLOBALS, "CIFAR-10 meta file")[b"label_names"]
        return [n.decode() if isinstance(n, bytes) else str(n) for n in names]
    except PickleRefused:
        raise
    except (pickle.UnpicklingError, EOFError, KeyError, TypeError, ValueError, AttributeError, IndexError) as e:
        raise DataUnavailable(f"{p} is not a CIFAR-10 meta file ({type(e).__name__}) — delete it and "
                              f"download it again") from None


def read_pickles(folder, split="train"):
    """All batches of a split from a ``cifar-10-batches-py`` folder -> (x, y, class names)."""
    folder = Path(folder)
    files = TRAIN_FILES if split == "train" else TEST_FILES
    parts = [read_batch(folder / f) for f in files]
    return torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts]), read_meta(folder)


def has_pickles(root):
    folder = Path(root) / SUBDIR
    return all((folder / f).is_file() for f in TRAIN_FILES + TEST_FILES)


def ensure_pickles(root=None, allow_download=True):
    """The ``cifar-10-batches-py`` folder, downloading and extracting the official archive if needed."""
    return ensure("cifar-10", root, allow_download)


# ---- 2. an image folder -------------------------------------------------------------------------

def read_image_folder(root, split, classes=None, size=None, limit_per_class=None):
    """Read ``root/<split>/<class>/*`` images -> (x uint8 (N, 3, H, W), y int64 (N,), class names).

    Args:
        classes: class folder names to read, in label order (default: every sub-folder, sorted).
        size: resize every image to ``size`` x ``size`` (needed when the photos differ in size);
            None requires all images to have the same size (CIFAR: 32x32).
        limit_per_class: read only the first n files (sorted by name) of each class.
    Raises DataUnavailable for a missing folder, an empty class, or an unreadable image.
    """
    base = Path(root) / split
    if not base.is_dir():
        raise DataUnavailable(f"image folder {base} does not exist (expected {Path(root)}/{split}/<class>/*.jpg)")
    classes = list(classes) if classes is not None else sorted(p.name for p in base.iterdir() if p.is_dir())
    xs, ys = [], []
    for label, name in enumerate(classes):
        folder = base / name
        files = list_images(folder) if folder.is_dir() else []
        if not files:
            raise DataUnavailable(f"no images in {folder} (class {name!r})")
        for f in files[:limit_per_class]:
            img = read_image(f)
            if size is not None:
                img = (resize(img, size) * 255.0).round().clamp(0, 255).to(torch.uint8)
            elif xs and img.shape != xs[0].shape:
                raise DataUnavailable(f"{f} is {tuple(img.shape[1:])}, others are {tuple(xs[0].shape[1:])} — "
                                      f"resize the images in {base} to one size (CIFAR-10's is 32x32), "
                                      f"or use --source pickles")
            xs.append(img)
            ys.append(label)
    return torch.stack(xs), torch.tensor(ys, dtype=torch.int64), classes


# ---- 3. few-shot mini-datasets ------------------------------------------------------------------

@dataclass
class MiniDataset:
    """A balanced few-shot split. Labels are remapped to 0..len(classes)-1 in the order of ``classes``."""
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    classes: list
    train_index: torch.Tensor = field(repr=False)  # rows of the train pool used for training
    test_index: torch.Tensor = field(repr=False)   # rows of the test pool (the train pool if none)


def mini_dataset(x, y, class_names, classes, k, seed=0, test=None, test_per_class=100):
    """Choose ``k`` training images of each class in ``classes`` with a seed, plus a held-out test set.

    Args:
        x, y: the pool to draw training images from (y: indices into ``class_names``).
        classes: names (or indices) of the classes to keep, e.g. ``["cat", "dog"]``.
        k: images per class for training (balanced: every class gets exactly k).
        test: optional ``(x_test, y_test)`` pool (an official test split). Without it, the test
            images are carved out of the same pool, disjoint from every training image.
        test_per_class: test images per class (balanced).
    Nesting: with the same seed, the k=5 training set is contained in the k=10 one, and so on, and
    the test set does not depend on k, so runs with different k are compared on the same test images.
    Raises DataUnavailable when a class has too few images.
    """
    unknown = [c for c in classes if isinstance(c, str) and c not in class_names]
    if unknown:
        raise DataUnavailable(f"unknown class {', '.join(map(repr, unknown))}; choose from {', '.join(class_names)}")
    ids = [class_names.index(c) if isinstance(c, str) else int(c) for c in classes]
    names = [class_names[i] for i in ids]
    g = torch.Generator().manual_seed(seed)
    tr_idx, te_idx = [], []
    for name, c in zip(names, ids):
        pool = torch.nonzero(y == c).flatten()
        pool = pool[torch.randperm(len(pool), generator=g)]  # one fixed order per class and seed
        if test is None:
            need = test_per_class + k
            if len(pool) < need:
                raise DataUnavailable(f"class {name!r} has {len(pool)} images, need {test_per_class} test + {k} train")
            te_idx.append(pool[:test_per_class])  # the test slice comes first, so it never depends on k
            tr_idx.append(pool[test_per_class:test_per_class + k])
        else:
            if len(pool) < k:
                raise DataUnavailable(f"class {name!r} has {len(pool)} training images, need k={k}")
            tr_idx.append(pool[:k])
    if test is not None:
        xt, yt = test
        for name, c in zip(names, ids):
            pool = torch.nonzero(yt == c).flatten()
            pool = pool[torch.randperm(len(pool), generator=torch.Generator().manual_seed(seed + 1))]
            if len(pool) < test_per_class:
                raise DataUnavailable(f"class {name!r} has {len(pool)} test images, need {test_per_class}")
            te_idx.append(pool[:test_per_class])
    tr, te = torch.cat(tr_idx), torch.cat(te_idx)
    remap = torch.full((len(class_names),), -1, dtype=torch.int64)  # pool label -> 0..len(classes)-1
    remap[torch.tensor(ids)] = torch.arange(len(ids))
    xt, yt = (x, y) if test is None else test
    return MiniDataset(x[tr], remap[y[tr]], xt[te], remap[yt[te]], names, tr, te)


def load_cifar10(root=None, source="auto", classes=None, allow_download=True, limit_per_class=None):
    """CIFAR-10 train and test pools as uint8 tensors, from whichever source is available.

    ``source``: ``"pickles"`` (official batches, downloaded if missing), ``"images"``
    (``<data>/cifar10-images/{train,test}/<class>/*.jpg``), or ``"auto"``: the complete pickles if
    present, else the image folder if present, else download the pickles.
    Returns ``(x_train, y_train, x_test, y_test, class_names, description)``; with ``classes`` and the
    image folder, only those class folders are read (labels still index ``CLASSES``).
    """
    root = resolve_data_dir(root)
    if source == "auto":
        source = "pickles" if has_pickles(root) else "images" if (root / IMAGES_SUBDIR / "train").is_dir() else "pickles"
    if source == "pickles":
        folder = ensure_pickles(root, allow_download)
        xtr, ytr, names = read_pickles(folder, "train")
        xte, yte, _ = read_pickles(folder, "test")
        return xtr, ytr, xte, yte, names, f"{folder} (official pickles)"
    if source != "images":
        raise ValueError(f"unknown CIFAR-10 source {source!r}")
    folder = root / IMAGES_SUBDIR
    want = list(classes) if classes is not None else list(CLASSES)
    out = []
    for split in ("train", "test"):
        x, y, _ = read_image_folder(folder, split, want, limit_per_class=limit_per_class)
        out += [x, torch.tensor([CLASSES.index(want[i]) if want[i] in CLASSES else i for i in y.tolist()])]
    names = CLASSES if all(c in CLASSES for c in want) else want
    return out[0], out[1], out[2], out[3], list(names), f"{folder} (image folder)"
