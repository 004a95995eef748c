"""Finding pretrained weights, one rule for every model.

``resolve_weights`` looks, in order: an explicit ``--weights PATH``; the data folder's
``weights/<file name>``; else the official URL, downloaded into ``<data>/weights/`` and checked
against its published sha256 (see :mod:`minitorch_vision.data.download`); a file with no known
sha256 is downloaded with a printed warning. Offline, the error says which file to put where
(one line and exit status 2 in a lesson).

Then the small loaders built on it: ResNet-18 (torchvision's state dict), the YOLOv5 backbone as a
classifier (the checkpoint readers live in :mod:`minitorch_vision.yolov5_checkpoint`) and lesson 03's
CNN checkpoint.
"""
import os
import pickle
from pathlib import Path

import torch

from .data.download import fetch, file_digest
from .data.manifest import ENTRIES, YOLOV5_URL, mirrors
from .data.paths import data_dir as resolve_data_dir
from .errors import DataUnavailable, MTVError, summarize
from .models.cnn import CNN, config_from_state_dict
from .models.resnet import resnet18
from .models.yolov5 import SIZES, BackboneClassifier, YOLOv5Config, size_name
from .yolov5_checkpoint import load_yolov5

__all__ = [
    "resolve_weights",
    "RESNET18_FILE", "RESNET18_URL", "RESNET18_SHA256", "RANDOM_WARNING", "load_state_dict_file", "check_fits",
    "load_resnet18", "resnet18_source", "load_yolov5_backbone",
    "YOLOV5_DEFAULT_TAG", "YOLOV5_SHA256", "yolov5_weights",
    "load_cnn_checkpoint",
]


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
    unverified_download = sha256 is None and not dest.exists()
    try:
        path = fetch(url, dest, sha256=sha256, allow_download=allow_download)
    except DataUnavailable as e:
        if dest.exists() or "sha256" in str(e):
            raise
        raise DataUnavailable(f"weights {filename} not found and cannot be downloaded: "
                              f"download {url} and put it at {dest.resolve()} (or pass --weights PATH)") from None
    if unverified_download:  # never a silent unverified download: say so, with the digest we got
        print(f"WARNING: downloaded {url} to {path} WITHOUT checksum verification (no published sha256); "
              f"its sha256 is {file_digest(path, 'sha256')}")
    return path


# ---- ResNet-18 (torchvision's ImageNet weights) -----------------------------------------------------
# IMAGENET1K_V1 from torchvision's model zoo; URL, size and sha256 live in the data manifest.
RESNET18_FILE = "resnet18-f37072fd.pth"
RESNET18_URL = ENTRIES[f"weights/{RESNET18_FILE}"].files[0].urls[0]
RESNET18_SHA256 = ENTRIES[f"weights/{RESNET18_FILE}"].files[0].sha256

RANDOM_WARNING = ("WARNING: --weights random: the backbone is UNTRAINED (random init). Nothing is transferred, "
                  "so frozen features and fine-tuning only show the mechanics: the lesson's point (pretrained "
                  "features beat training from scratch on a few images) is lost. Use the ImageNet weights to see it.")


def load_state_dict_file(path):
    """``torch.load(path, weights_only=True)`` -> a state dict; a broken file is one clear line.

    ``weights_only=True`` refuses pickles that would run code: a published weights file needs only
    tensors. A checkpoint that wraps the weights (``{"state_dict": ...}`` or ``{"model": ...}``) is unwrapped.
    """
    try:
        sd = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # UnpicklingError, RuntimeError (not a zip), EOFError (truncated), ...
        raise DataUnavailable(f"cannot load weights {path} with torch.load(weights_only=True): {summarize(e)} — "
                              f"download the file again or pass another --weights") from None
    for key in ("state_dict", "model"):
        if isinstance(sd, dict) and isinstance(sd.get(key), dict):
            sd = sd[key]
    if not isinstance(sd, dict) or not all(hasattr(v, "shape") for v in sd.values()):
        raise MTVError(f"{path} does not hold a state dict (a dict of tensors): got {type(sd).__name__}")
    return sd


def check_fits(model, sd, source):
    """Raise a one-line :class:`MTVError` saying which keys/shapes of ``sd`` do not fit ``model``."""
    own = model.state_dict()
    missing = [k for k in own if k not in sd]
    unexpected = [k for k in sd if k not in own]
    shapes = [f"{k} {tuple(sd[k].shape)} vs {tuple(own[k].shape)}" for k in own if k in sd and sd[k].shape != own[k].shape]
    if missing or unexpected or shapes:
        def few(xs):
            return ", ".join(xs[:3]) + (f" (+{len(xs) - 3} more)" if len(xs) > 3 else "")
        parts = [f"{len(missing)} missing keys: {few(missing)}" if missing else "",
                 f"{len(unexpected)} unexpected keys: {few(unexpected)}" if unexpected else "",
                 f"{len(shapes)} shape mismatches (file vs model): {few(shapes)}" if shapes else ""]
        raise MTVError(f"weights {source} do not fit {type(model).__name__}: " + "; ".join(p for p in parts if p))


def resnet18_source():
    """``(url, sha256)`` of the ImageNet weights: the official ones, unless the environment says otherwise.

    ``$MTV_MIRROR`` (the course's mirror, :func:`data.manifest.mirrors`; the first one is used) replaces
    the host: ``<mirror>/weights/resnet18-f37072fd.pth``. ``$MTV_RESNET18_SHA256`` replaces the expected
    checksum, for a mirror that serves a re-saved file (and for the test that stands a local server in
    for the official URL); the file is still verified, against the digest you chose.
    """
    bases = mirrors()
    url = bases[0] + f"weights/{RESNET18_FILE}" if bases else RESNET18_URL
    return url, os.environ.get("MTV_RESNET18_SHA256") or RESNET18_SHA256


def load_resnet18(arg=None, data_dir=None, allow_download=True, num_classes=None,
                  url=None, sha256=None, verbose=True):
    """A ResNet-18 with torchvision's ImageNet weights (or random ones), one call for every lesson.

    Args:
        arg: the ``--weights`` value. None: ``<data>/weights/resnet18-f37072fd.pth``, downloaded from
            ``url`` (sha256-checked) when absent; a path: that file; ``"random"``: an untrained
            network (prints a loud warning: nothing is transferred then).
        num_classes: if given (and not 1000), the ImageNet head is replaced by a fresh ``fc`` with
            that many outputs *after* loading, so the file always loads with ``strict=True``.
        url, sha256: overridable for tests (a local server); default :func:`resnet18_source`.
    Returns:
        ``(model, "imagenet" | "random")``, the model in eval mode on the CPU.
    Raises:
        DataUnavailable (offline / missing / corrupt file) or MTVError (weights that do not fit),
        each a single line; a lesson then exits with status 2.
    """
    model = resnet18()
    if arg == "random":
        if verbose:
            print(RANDOM_WARNING)
        kind = "random"
    else:
        default_url, default_sha256 = resnet18_source()
        path = resolve_weights(arg, RESNET18_FILE, url or default_url, sha256=sha256 or default_sha256,
                               data_dir=data_dir, allow_download=allow_download)
        sd = load_state_dict_file(path)
        check_fits(model, sd, path)
        model.load_state_dict(sd, strict=True)
        kind = "imagenet"
        if verbose:
            print(f"loaded ImageNet weights from {path}")
    if num_classes is not None and num_classes != model.fc.out_features:
        model.replace_head(num_classes)
    return model.eval(), kind


# ---- YOLOv5 (Ultralytics release checkpoints) ----------------------------------------------------------
# Reading the files (a restricted unpickler for the official pickles, our own plain format) is
# :mod:`minitorch_vision.yolov5_checkpoint`; here: where the file is, and the backbone as a classifier.
YOLOV5_DEFAULT_TAG = "v7.0"
# Known sha256 per (release, size), from the data manifest (where the measured yolov5n v6.1 digest is
# explained). The v7.0 files have no known digest: their download is not verified and resolve_weights says so.
YOLOV5_SHA256 = {("v6.1", "n"): ENTRIES["weights/yolov5n.pt"].files[0].sha256}


def yolov5_weights(arg=None, size="s", data_dir=None, allow_download=True, tag=YOLOV5_DEFAULT_TAG):
    """Path of YOLOv5 weights: ``--weights`` > ``<data>/weights/yolov5<size>.pt`` > official release URL."""
    if size not in SIZES:
        raise MTVError(f"unknown YOLOv5 size {size!r}: choose one of {', '.join(SIZES)}")
    return resolve_weights(arg, f"yolov5{size}.pt", YOLOV5_URL.format(tag=tag, size=size),
                           sha256=YOLOV5_SHA256.get((tag, size)), data_dir=data_dir, allow_download=allow_download)


def load_yolov5_backbone(arg=None, data_dir=None, allow_download=True, num_classes=1000, pyramid=True,
                         size="n", verbose=True):
    """YOLOv5's COCO-trained backbone as an image classifier (:class:`models.yolov5.BackboneClassifier`).

    Args:
        arg: ``--weights``: None for ``<data>/weights/yolov5<size>.pt`` (the official v6.1 file for ``n``,
            sha256-checked; downloaded when absent), a path to an official checkpoint or our own
            YOLOv5 file, or ``"random"`` for an untrained backbone of the same architecture.
        num_classes: outputs of the new (random) linear head; pyramid: pool P3, P4 and P5 (else P5).
    Returns:
        ``(model, "coco" | "random", source)`` with the model in eval mode on the CPU; source names the file.
    Raises:
        DataUnavailable / CheckpointRefused / MTVError: one line (missing, unreadable or non-YOLOv5 file).
    """
    if arg == "random":
        model = BackboneClassifier(YOLOv5Config.of_size(size), num_classes, pyramid)
        return model.eval(), "random", "random init"
    path = yolov5_weights(arg, size, data_dir, allow_download, tag="v6.1" if size == "n" else YOLOV5_DEFAULT_TAG)
    detector = load_yolov5(path)  # official checkpoints through the restricted reader (no code runs)
    if verbose:
        print(f"loaded the COCO-trained {size_name(detector.config)} backbone from {path}")
    return BackboneClassifier.from_detector(detector, num_classes, pyramid).eval(), "coco", str(path)


# ---- the FashionMNIST CNN of lesson 03 (reused by lesson 06) ------------------------------------------
def load_cnn_checkpoint(folder):
    """Lesson 03's trained CNN from ``<folder>/checkpoint.pt`` (written by ``train.fit``), or None.

    Returns ``(model, "lesson 03 (<path>)")``, or None when lesson 03 has not finished there (no
    ``results.json``) or the file does not hold a CNN (a note says why; the caller then trains one).
    The checkpoint holds only the weights; the architecture is read back from their shapes
    (:func:`models.cnn.config_from_state_dict`) and ``load_state_dict(strict=True)`` confirms it.

    Raises:
        DataUnavailable: the file's pickle asks for code (``weights_only=True`` refused it before
            anything ran): that is not a stale file but a tampered one, so the lesson stops.
    """
    folder = Path(folder)
    path = folder / "checkpoint.pt"
    if not (path.is_file() and (folder / "results.json").is_file()):  # results.json: lesson 03 finished
        return None
    try:
        sd = torch.load(path, map_location="cpu", weights_only=True)["model"]
        sd = {k.removeprefix("module."): v for k, v in sd.items()}  # saved from a DDP wrapper
        model = CNN(config_from_state_dict(sd))
        model.load_state_dict(sd, strict=True)
    except pickle.UnpicklingError as e:
        raise DataUnavailable(f"refused to load {path}: {summarize(e)} — delete it and run lesson 03 again, "
                              f"or pass another --cnn-from") from None
    except Exception as e:  # noqa: BLE001  a stale or foreign file: say so and let the caller train instead
        print(f"note: could not reuse {path} ({summarize(e)}); training a CNN here instead")
        return None
    return model, f"lesson 03 ({path})"
