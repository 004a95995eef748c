"""Reading and writing YOLOv5 weights: the official checkpoints and the project's own plain format.

An official ``yolov5*.pt`` is ``torch.save({"model": <models.yolo.Model object>, ...})``: unpickling it
normally imports the yolov5 code and can run any callable the file names (a pickle is a program).
``_RestrictedUnpickler`` resolves only the globals in ``_ALLOWED`` (tensor rebuilding, a few
containers, the torch.nn layer classes such a file names) and replaces the ``models.*`` classes with
inert stand-ins that only keep their attributes. Anything else (``os.system``, ``builtins.eval``,
``subprocess.Popen``...) is refused before it can be called. We then read the state dict, class names,
strides and anchors out of the stand-ins and load them into our own hand-written
:class:`~minitorch_vision.models.yolov5.YOLOv5`.

Our own format (:func:`save_yolov5`) holds only tensors, numbers and strings, so it loads with
``torch.load(weights_only=True)``. :func:`load_yolov5` reads either kind. Where the file comes from
(``--weights``, the data folder, a download) is :func:`minitorch_vision.weights.yolov5_weights`.
"""
import collections
import pickle
import types
import zipfile
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn as nn

from .atomic import atomic_path
from .errors import DataUnavailable, MTVError, modern_name, summarize
from .models.yolov5 import YOLOv5, YOLOv5Config, map_official_state_dict

_ALLOWED = {
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
_STANDINS = {
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
        if (module, name) in _ALLOWED:
            return _ALLOWED[(module, name)]
        if name in _STANDINS.get(module, ()):
            key = f"{module}.{name}"
            if key not in _standin_classes:
                _standin_classes[key] = type(name, (_StandIn,), {"__module__": "standin." + module})
            return _standin_classes[key]
        # protocol 2 (torch.save's) stores Python 3 names as Python 2 ones: name what the reader knows
        raise CheckpointRefused(f"refused to load: the pickle asks for {'.'.join(modern_name(module, name))}, which is not "
                                f"on the YOLOv5 checkpoint allow-list (nothing was run) — use an official "
                                f"YOLOv5 release file or one saved by this project")


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
            TypeError, KeyError, IndexError, zipfile.BadZipFile) as e:
        raise DataUnavailable(f"cannot read {path} as a PyTorch checkpoint: {summarize(e)} — "
                              f"download the file again") from None
    model = (ckpt.get("ema") or ckpt.get("model")) if isinstance(ckpt, dict) else None
    if not isinstance(model, _StandIn) or not isinstance(getattr(model, "yaml", None), dict):
        raise DataUnavailable(f"{path} is not an official YOLOv5 checkpoint (no 'model' object with a yaml) — "
                              f"pass a yolov5*.pt release file")
    try:
        return _checkpoint_fields(model)
    except (AttributeError, KeyError, IndexError, TypeError, ValueError) as e:  # allow-listed, but not all there
        raise DataUnavailable(f"{path} is an incomplete YOLOv5 checkpoint (its model lacks "
                              f"{_missing(e)}) — download the official file again") from None


def _missing(err):
    """What an incomplete checkpoint lacks, from the KeyError/AttributeError of reading it."""
    if isinstance(err, KeyError):
        return f"{err.args[0]!r}" if err.args else "a field"
    if isinstance(err, AttributeError) and getattr(err, "name", None):
        return f"{err.name!r}"
    return f"a field ({summarize(err)})"


def _checkpoint_fields(model):
    """A :class:`YOLOv5Checkpoint` from the unpickled stand-in model (raises on missing fields)."""
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
    config = YOLOv5Config(depth_multiple=ck.depth_multiple, width_multiple=ck.width_multiple, nc=ck.nc,
                       anchors=tuple(tuple(a.flatten().tolist()) for a in ck.anchors),
                       strides=tuple(int(s) for s in ck.strides), names=ck.names)
    model = YOLOv5(config)
    try:
        model.load_state_dict(map_official_state_dict(model, ck.state_dict), strict=True)
    except ValueError as e:
        raise MTVError(str(e)) from None
    return model.eval()


_OWN_FORMAT = "minitorch-vision/yolov5/1"


def save_yolov5(model, path):
    """Save our plain format: config + state dict (tensors, numbers, strings only), written atomically."""
    c = model.config
    obj = {"format": _OWN_FORMAT,
           "config": {"depth_multiple": c.depth_multiple, "width_multiple": c.width_multiple, "nc": c.nc,
                      "anchors": [list(a) for a in c.anchors], "strides": list(c.strides), "names": list(c.names)},
           "fused": any(isinstance(m, nn.Identity) for m in model.modules()),
           "state_dict": model.state_dict()}
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)
    return Path(path)


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
        raise DataUnavailable(f"cannot read {path} as a PyTorch checkpoint: {summarize(e)} — "
                              f"download the file again") from None
    if obj is None:
        return yolov5_from_checkpoint(read_yolov5_checkpoint(path))
    if not (isinstance(obj, dict) and obj.get("format") == _OWN_FORMAT):
        raise DataUnavailable(f"{path} is neither an official YOLOv5 checkpoint nor a minitorch-vision YOLOv5 file")
    try:
        c = obj["config"]
        model = YOLOv5(YOLOv5Config(depth_multiple=c["depth_multiple"], width_multiple=c["width_multiple"],
                                    nc=c["nc"], anchors=tuple(tuple(a) for a in c["anchors"]),
                                    strides=tuple(c["strides"]), names=list(c["names"])))
        state = obj["state_dict"]
    except (KeyError, TypeError, ValueError, IndexError, AttributeError) as e:
        raise DataUnavailable(f"{path} is an incomplete minitorch-vision YOLOv5 file (it lacks {_missing(e)}) — "
                              f"save it again with save_yolov5") from None
    if obj.get("fused"):
        model.fuse()
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as e:
        raise MTVError(f"{path} does not fit the YOLOv5 it describes ({summarize(e)}) — "
                       f"save it again with save_yolov5") from None
    return model.eval()
