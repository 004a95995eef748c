"""Finding pretrained weights, one rule for every model.

``resolve_weights`` looks, in order: an explicit ``--weights PATH``; the data folder's
``weights/<file name>``; else the official URL, downloaded into ``<data>/weights/`` and checked
against its published sha256 (see :mod:`minitorch_vision.data.download`). Offline, the error
says which file to put where (exit status 2 through the lesson's ``main_guard``).
"""
from pathlib import Path

from .data.download import fetch, verify
from .data.paths import data_dir as resolve_data_dir
from .errors import DataUnavailable, MTVError


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


# ---- ResNet-18 (torchvision's ImageNet weights) -----------------------------------------------------
# IMAGENET1K_V1 from torchvision's model zoo: 46,830,571 bytes; the file name carries the first 8 hex
# digits of its sha256 (torchvision's convention).
RESNET18_FILE = "resnet18-f37072fd.pth"
RESNET18_URL = "https://download.pytorch.org/models/resnet18-f37072fd.pth"
RESNET18_SHA256 = "f37072fd47e89c5e827621c5baffa7500819f7896bbacec160b1a16c560e07ec"

RANDOM_WARNING = ("WARNING: --weights random: the backbone is UNTRAINED (random init). Nothing is transferred, "
                  "so frozen features and fine-tuning only show the mechanics: the lesson's point (pretrained "
                  "features beat training from scratch on a few images) is lost. Use the ImageNet weights to see it.")


def load_state_dict_file(path):
    """``torch.load(path, weights_only=True)`` -> a state dict; a broken file is one clear line.

    ``weights_only=True`` refuses pickles that would run code: a published weights file needs only
    tensors. A checkpoint that wraps the weights (``{"state_dict": ...}`` or ``{"model": ...}``) is unwrapped.
    """
    import torch

    try:
        sd = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # UnpicklingError, RuntimeError (not a zip), EOFError (truncated), ...
        msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise DataUnavailable(f"cannot load weights {path} with torch.load(weights_only=True): {msg[:200]}") from None
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


def load_resnet18(arg=None, data_dir=None, allow_download=True, num_classes=None,
                  url=RESNET18_URL, sha256=RESNET18_SHA256, verbose=True):
    """A ResNet-18 with torchvision's ImageNet weights (or random ones), one call for every lesson.

    Args:
        arg: the ``--weights`` value. None: ``<data>/weights/resnet18-f37072fd.pth``, downloaded from
            ``url`` (sha256-checked) when absent; a path: that file; ``"random"``: an untrained
            network (prints a loud warning: nothing is transferred then).
        num_classes: if given (and not 1000), the ImageNet head is replaced by a fresh ``fc`` with
            that many outputs *after* loading, so the file always loads with ``strict=True``.
        url, sha256: overridable for tests (a local server); lessons use the official values.
    Returns:
        ``(model, "imagenet" | "random")``, the model in eval mode on the CPU.
    Raises:
        DataUnavailable (offline / missing / corrupt file) or MTVError (weights that do not fit),
        each a single line; the lesson's ``main_guard`` exits with status 2.
    """
    from .models.resnet import resnet18

    model = resnet18()
    if arg == "random":
        if verbose:
            print(RANDOM_WARNING)
        kind = "random"
    else:
        path = resolve_weights(arg, RESNET18_FILE, url, sha256=sha256, data_dir=data_dir, allow_download=allow_download)
        sd = load_state_dict_file(path)
        check_fits(model, sd, path)
        model.load_state_dict(sd, strict=True)
        kind = "imagenet"
        if verbose:
            print(f"loaded ImageNet weights from {path}")
    if num_classes is not None and num_classes != model.fc.out_features:
        model.replace_head(num_classes)
    return model.eval(), kind


# ==================================================================================================
# YOLOv5: the official checkpoints (pickled model objects) read by a restricted unpickler, and the
# project's own plain state-dict format.
#
# An official ``yolov5*.pt`` is ``torch.save({"model": <models.yolo.Model object>, ...})``: unpickling it
# normally imports the yolov5 code and can run any callable the file names (a pickle is a program).
# ``_RestrictedUnpickler`` resolves only the globals in ``_YOLOV5_ALLOWED`` (tensor rebuilding, a few
# containers, the torch.nn layer classes such a file names) and replaces the ``models.*`` classes with
# inert stand-ins that only keep their attributes. Anything else (``os.system``, ``builtins.eval``,
# ``subprocess.Popen``...) is refused before it can be called. We then read the state dict, class names,
# strides and anchors out of the stand-ins and load them into our own hand-written ``YOLOv5``.
import collections  # noqa: E402
import os  # noqa: E402
import pickle  # noqa: E402
import types  # noqa: E402
import zipfile  # noqa: E402
from dataclasses import dataclass  # noqa: E402

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402

from .models.yolov5 import SIZES, YOLOv5, YOLOv5Config, map_official_state_dict  # noqa: E402

YOLOV5_URL = "https://github.com/ultralytics/yolov5/releases/download/{tag}/yolov5{size}.pt"
YOLOV5_DEFAULT_TAG = "v7.0"
# Published sha256 per (release, size) where known. The v6.1 yolov5n.pt digest is the one verified in
# shared/data/SOURCES.md; no published digest of the v7.0 assets was found, so those are not checked.
YOLOV5_SHA256 = {("v6.1", "n"): "4f180cf23ba0717ada0badd6c685026d73d48f184d00fc159c2641284b2ac0a3"}

_YOLOV5_ALLOWED = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("builtins", "set"): set, ("__builtin__", "set"): set,
    ("torch._utils", "_rebuild_tensor_v2"): torch._utils._rebuild_tensor_v2,
    ("torch._utils", "_rebuild_parameter"): torch._utils._rebuild_parameter,
    ("torch", "Size"): torch.Size,
    # the layer classes official YOLOv5 checkpoints name (their __setstate__ only fills attributes)
    ("torch.nn.modules.conv", "Conv2d"): nn.Conv2d,
    ("torch.nn.modules.batchnorm", "BatchNorm2d"): nn.BatchNorm2d,
    ("torch.nn.modules.activation", "SiLU"): nn.SiLU,
    ("torch.nn.modules.activation", "LeakyReLU"): nn.LeakyReLU,
    ("torch.nn.modules.activation", "Hardswish"): nn.Hardswish,
    ("torch.nn.modules.linear", "Identity"): nn.Identity,
    ("torch.nn.modules.pooling", "MaxPool2d"): nn.MaxPool2d,
    ("torch.nn.modules.upsampling", "Upsample"): nn.Upsample,
    ("torch.nn.modules.container", "Sequential"): nn.Sequential,
    ("torch.nn.modules.container", "ModuleList"): nn.ModuleList,
}
# yolov5 repository classes replaced by stand-ins (v6.x/v7.0 names; DetectionModel is v7.0's Model)
_YOLOV5_STANDINS = {
    "models.yolo": {"Model", "DetectionModel", "Detect"},
    "models.common": {"Conv", "C3", "Bottleneck", "SPPF", "SPP", "Focus", "Concat"},
}


class _StandIn:
    """Takes the place of a ``models.*`` class: it runs no code, it only keeps the pickled attributes."""

    def __setstate__(self, state):
        self.__dict__.update(state)


_standin_classes = {}


class CheckpointRefused(DataUnavailable):
    """A checkpoint whose pickle names a global outside the allow-list."""


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) in _YOLOV5_ALLOWED:
            return _YOLOV5_ALLOWED[(module, name)]
        if name in _YOLOV5_STANDINS.get(module, ()):
            key = f"{module}.{name}"
            if key not in _standin_classes:
                _standin_classes[key] = type(name, (_StandIn,), {"__module__": "standin." + module})
            return _standin_classes[key]
        raise CheckpointRefused(f"refused to load: the pickle asks for {module}.{name}, which is not on the "
                                f"YOLOv5 checkpoint allow-list (a tampered or non-YOLOv5 file?)")


# torch.load(pickle_module=...) wants a module-like object with Unpickler and load.
_restricted_pickle = types.ModuleType("minitorch_vision_restricted_pickle")
_restricted_pickle.Unpickler = _RestrictedUnpickler
_restricted_pickle.load = lambda f, **kw: _RestrictedUnpickler(f, **kw).load()


@dataclass
class YOLOv5Checkpoint:
    """What we take out of an official checkpoint: float32 state dict under the official keys."""
    state_dict: dict            # "model.0.conv.weight" -> float32 tensor
    names: list                 # class names, index = class id
    strides: list               # [8.0, 16.0, 32.0]
    anchors: torch.Tensor       # (nl, na, 2) anchor w, h in pixels
    depth_multiple: float
    width_multiple: float
    nc: int


def _module_state(obj, prefix, out):
    """state_dict() of an unpickled module tree (real nn.Modules or stand-ins) from its attributes."""
    d = vars(obj)
    for k, p in d.get("_parameters", {}).items():
        if p is not None:
            out[prefix + k] = p
    skip = d.get("_non_persistent_buffers_set", set())
    for k, b in d.get("_buffers", {}).items():
        if b is not None and k not in skip:
            out[prefix + k] = b
    for k, m in d.get("_modules", {}).items():
        if m is not None:
            _module_state(m, prefix + k + ".", out)
    return out


def read_yolov5_checkpoint(path):
    """Read an official YOLOv5 ``.pt`` without the yolov5 code (restricted unpickler); see module notes.

    Raises:
        CheckpointRefused: the pickle names a global that is not allowed (nothing was executed).
        DataUnavailable: not a readable PyTorch checkpoint, or not a YOLOv5 detection model.
    """
    path = Path(path)
    try:
        ckpt = torch.load(path, map_location="cpu", pickle_module=_restricted_pickle, weights_only=False)
    except CheckpointRefused as e:
        raise CheckpointRefused(f"{path}: {e}") from None
    except (RuntimeError, pickle.UnpicklingError, EOFError, OSError, ValueError, AttributeError,
            TypeError, zipfile.BadZipFile) as e:
        raise DataUnavailable(f"cannot read {path} as a PyTorch checkpoint: {str(e).splitlines()[0][:200]}") from None
    model = (ckpt.get("ema") or ckpt.get("model")) if isinstance(ckpt, dict) else None
    if not isinstance(model, _StandIn) or not isinstance(getattr(model, "yaml", None), dict):
        raise DataUnavailable(f"{path} is not an official YOLOv5 checkpoint (no 'model' object with a yaml)")
    # fp16 in the file -> float32 (exact); BN's int64 num_batches_tracked stays as it is
    sd = {k: v.detach().float() if v.is_floating_point() else v.detach()
          for k, v in _module_state(model, "", {}).items()}
    names = model.names
    if isinstance(names, dict):
        names = [names[i] for i in sorted(names)]
    detect = list(vars(model)["_modules"]["model"]._modules.values())[-1]
    strides = model.stride.float()
    anchors = vars(detect)["_buffers"]["anchors"].float() * strides.view(-1, 1, 1)
    y = model.yaml
    return YOLOv5Checkpoint(sd, list(names), strides.tolist(), anchors, float(y["depth_multiple"]),
                            float(y["width_multiple"]), int(y["nc"]))


def yolov5_from_checkpoint(ck):
    """Build our YOLOv5 with the checkpoint's size, classes and anchors, and load its weights (strict)."""
    cfg = YOLOv5Config(depth_multiple=ck.depth_multiple, width_multiple=ck.width_multiple, nc=ck.nc,
                       anchors=tuple(tuple(a.flatten().tolist()) for a in ck.anchors),
                       strides=tuple(int(s) for s in ck.strides), names=ck.names)
    model = YOLOv5(cfg)
    try:
        model.load_state_dict(map_official_state_dict(model, ck.state_dict), strict=True)
    except ValueError as e:
        raise MTVError(str(e)) from None
    return model.eval()


def size_name(cfg):
    """'yolov5n' etc. from the depth/width multiples ('yolov5-custom' when none fits)."""
    for k, (gd, gw) in SIZES.items():
        if abs(cfg.depth_multiple - gd) < 1e-6 and abs(cfg.width_multiple - gw) < 1e-6:
            return f"yolov5{k}"
    return "yolov5-custom"


_OWN_FORMAT = "minitorch-vision/yolov5/1"


def save_yolov5(model, path):
    """Save our plain format: config + state dict (tensors, numbers, strings only), written atomically."""
    c = model.cfg
    obj = {"format": _OWN_FORMAT,
           "config": {"depth_multiple": c.depth_multiple, "width_multiple": c.width_multiple, "nc": c.nc,
                      "anchors": [list(a) for a in c.anchors], "strides": list(c.strides), "names": list(c.names)},
           "fused": any(isinstance(m, nn.Identity) for m in model.modules()),
           "state_dict": model.state_dict()}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)
    return path


def load_yolov5(path):
    """Load a YOLOv5 from our own format (``torch.load(weights_only=True)``) or an official checkpoint.

    Returns the model in eval mode, float32, unfused (fuse it with ``model.fuse()``); a checkpoint saved
    after fusing is rebuilt fused.
    """
    path = Path(path)
    if not path.is_file():
        raise DataUnavailable(f"weights file {path} does not exist")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        obj = None  # not a plain file: an official checkpoint is a pickled model -> restricted reader
    except Exception as e:  # noqa: BLE001  torch raises RuntimeError, EOFError, IndexError... on junk
        raise DataUnavailable(f"cannot read {path} as a PyTorch checkpoint: {str(e).splitlines()[0][:200]}") from None
    if obj is None:
        return yolov5_from_checkpoint(read_yolov5_checkpoint(path))
    if not (isinstance(obj, dict) and obj.get("format") == _OWN_FORMAT):
        raise DataUnavailable(f"{path} is neither an official YOLOv5 checkpoint nor a minitorch-vision YOLOv5 file")
    c = obj["config"]
    model = YOLOv5(YOLOv5Config(depth_multiple=c["depth_multiple"], width_multiple=c["width_multiple"],
                                nc=c["nc"], anchors=tuple(tuple(a) for a in c["anchors"]),
                                strides=tuple(c["strides"]), names=list(c["names"])))
    if obj.get("fused"):
        model.fuse()
    try:
        model.load_state_dict(obj["state_dict"], strict=True)
    except RuntimeError as e:
        raise MTVError(f"{path} does not fit the YOLOv5 it describes: {str(e).splitlines()[0][:200]}") from None
    return model.eval()


def yolov5_weights(arg=None, size="s", data_dir=None, allow_download=True, tag=YOLOV5_DEFAULT_TAG):
    """Path of YOLOv5 weights: ``--weights`` > ``<data>/weights/yolov5<size>.pt`` > official release URL."""
    if size not in SIZES:
        raise MTVError(f"unknown YOLOv5 size {size!r}: choose one of {', '.join(SIZES)}")
    return resolve_weights(arg, f"yolov5{size}.pt", YOLOV5_URL.format(tag=tag, size=size),
                           sha256=YOLOV5_SHA256.get((tag, size)), data_dir=data_dir, allow_download=allow_download)


# ---- the FashionMNIST CNN of lesson 03 (reused by lesson 06) ------------------------------------------
def load_cnn_checkpoint(folder):
    """Lesson 03's trained CNN from ``<folder>/checkpoint.pt`` (written by ``train.fit``), or None.

    Returns ``(model, "lesson 03 (<path>)")``, or None when lesson 03 has not finished there (no
    ``results.json``) or the file does not hold a CNN (a note says why; the caller then trains one).
    The checkpoint holds only the weights; the architecture is read back from their shapes
    (:func:`models.cnn.config_from_state_dict`) and ``load_state_dict(strict=True)`` confirms it.
    """
    from .models.cnn import CNN, config_from_state_dict

    folder = Path(folder)
    path = folder / "checkpoint.pt"
    if not (path.is_file() and (folder / "results.json").is_file()):  # results.json: lesson 03 finished
        return None
    try:
        sd = torch.load(path, map_location="cpu", weights_only=True)["model"]
        sd = {k.removeprefix("module."): v for k, v in sd.items()}  # saved from a DDP wrapper
        model = CNN(config_from_state_dict(sd))
        model.load_state_dict(sd, strict=True)
    except Exception as e:  # noqa: BLE001  a stale or foreign file: say so and let the caller train instead
        print(f"note: could not reuse {path} ({str(e).splitlines()[0][:160]}); training a CNN here instead")
        return None
    return model, f"lesson 03 ({path})"
