"""The two pretrained backbones of transfer learning, loaded and used the same way.

  * ``resnet18``: torchvision's ImageNet-trained ResNet-18 (downloaded once, 47 MB);
  * ``yolov5n``: the CSP-Darknet backbone of the COCO-trained YOLOv5n detector, read from the
    checkpoint every data folder of the course already holds; its pooled P3, P4 and P5 maps feed the head.
Both models offer ``forward_features``, ``fc``, ``replace_head``, ``freeze(stage)``, ``STAGES``,
``LAST_STAGE`` and the split ``forward_until`` / ``forward_from``, so :mod:`minitorch_vision.transfer`
and :mod:`minitorch_vision.classifier` do not depend on which. ``BACKBONES`` says what differs (input
normalisation, measured resolutions, the Grad-CAM layer); :func:`load_backbone` loads one.
:func:`cached_features` runs a frozen part once over a dataset and :class:`Tail` trains what follows it.
"""
from dataclasses import dataclass

import torch
import torch.nn as nn

from .data.paths import data_dir as resolve_data_dir
from .data.transforms import IMAGENET_MEAN, IMAGENET_STD
from .errors import DataUnavailable, MTVError
from .nnutil import eval_mode
from .weights import RESNET18_FILE, load_resnet18, load_yolov5_backbone


@dataclass(frozen=True)
class BackboneSpec:
    """What differs between the backbones: name, pretraining, input normalisation, default resolutions.

    ``sizes``: input resolution per mode, (on a CPU, with a GPU), chosen by measurement
    (``benchmarks/transfer_resolution.py``; ``benchmarks/RESULTS.md``, "Input resolution, chosen by
    measurement"). Frozen features are computed once, so frozen mode could afford more pixels; for
    YOLOv5n more pixels did not help.
    """
    name: str
    title: str
    pretrained_on: str
    mean: tuple
    std: tuple
    sizes: dict
    gradcam_layer: str  # the module whose maps Grad-CAM reads (the last stage)
    stages: tuple = ()  # (label, module path) of the stages whose output shapes the lesson prints


BACKBONES = {
    # ImageNet features were learned at 224 px (7x7 layer4 maps): 224 on a GPU; on a CPU 64 px costs
    # ~20x less per image (8 vs 170 ms, benchmarks/RESULTS.md), the accuracy cost is not measurable offline
    "resnet18": BackboneSpec("resnet18", "ResNet-18", "ImageNet", IMAGENET_MEAN, IMAGENET_STD,
                             {"scratch": (64, 224), "frozen": (64, 224), "finetune": (64, 224)}, "layer4",
                             (("stem: conv1 bn1 relu maxpool", "maxpool"), ("layer1", "layer1"), ("layer2", "layer2"),
                              ("layer3", "layer3"), ("layer4", "layer4"))),
    # YOLOv5 reads RGB in [0, 1]: no mean/std
    "yolov5n": BackboneSpec("yolov5n", "YOLOv5n backbone", "COCO", (0.0, 0.0, 0.0), (1.0, 1.0, 1.0),
                            # 64 px measured best for frozen features (32/64/128/224), so every mode uses it
                            {"scratch": (64, 64), "frozen": (64, 64), "finetune": (64, 64)}, "backbone.sppf",
                            (("stem", "backbone.stem"), ("down2 + C3 (P2)", "backbone.stage2"),
                             ("down3 + C3 (P3)", "backbone.stage3"), ("down4 + C3 (P4)", "backbone.stage4"),
                             ("down5 + C3 (P5)", "backbone.stage5"), ("SPPF (P5)", "backbone.sppf"))),
}


@torch.no_grad()
def stage_shapes(model, x, spec):
    """``[(stage label, output shape), ...]`` of one forward pass of ``x`` through ``model``'s backbone
    (forward hooks on ``spec.stages``), then the pooled feature vector the head reads."""
    shapes, hooks = [], []
    for label, path in spec.stages:
        hooks.append(model.get_submodule(path).register_forward_hook(
            lambda mod, inp, out, label=label: shapes.append((label, tuple(out.shape)))))
    try:
        with eval_mode(model):
            feats = model.forward_features(x)
    finally:
        for h in hooks:
            h.remove()
    return shapes + [("pooled features", tuple(feats.shape))]


@dataclass
class Pretrained:
    """A loaded backbone and where its weights came from (recorded in results.json)."""
    model: nn.Module
    spec: BackboneSpec
    weights: str            # "imagenet" | "coco" | "random"
    source: str             # the file read, or "random init"
    note: str = ""          # why this backbone (e.g. the ResNet-18 file could not be had)

    def record(self):
        return {"backbone": self.spec.name, "weights": self.weights, "weights_source": self.source,
                "backbone_note": self.note}


def load_backbone(name, weights=None, data_dir=None, allow_download=True, verbose=True):
    """Load backbone ``name`` (``"resnet18"`` | ``"yolov5n"`` | ``"auto"``) with its pretrained weights.

    ``weights``: the ``--weights`` value (None: the default file, downloaded if absent; a path; ``"random"``).
    ``"auto"`` is the ResNet-18 when its weights are present or can be downloaded, else the yolov5n
    backbone (whose checkpoint ships with the course's data), and says so in one line.
    Returns a :class:`Pretrained`. Raises DataUnavailable / MTVError (one line) for a missing or bad file.
    """
    note = ""
    if name == "auto":
        if weights is not None:  # an explicit file or "random" is a ResNet-18 request: no fallback
            return load_backbone("resnet18", weights, data_dir, allow_download, verbose)
        try:
            return load_backbone("resnet18", None, data_dir, allow_download, verbose)
        except DataUnavailable as e:
            note = f"using the yolov5n backbone: the ResNet-18 ImageNet weights are not available ({e})"
            print(f"note: {note}")
            name = "yolov5n"
    if name == "resnet18":
        model, kind = load_resnet18(weights, data_dir, allow_download=allow_download, verbose=verbose)
        source = "random init" if kind == "random" else str(weights or resolve_data_dir(data_dir) / "weights" / RESNET18_FILE)
        return Pretrained(model, BACKBONES[name], kind, source, note)
    if name == "yolov5n":
        model, kind, source = load_yolov5_backbone(weights, data_dir, allow_download, verbose=verbose)
        return Pretrained(model, BACKBONES[name], kind, source, note)
    raise MTVError(f"unknown backbone {name!r}: choose resnet18, yolov5n or auto")


# ---- running the frozen part once (transfer learning's feature cache) ---------------------------------------
class Tail(nn.Module):
    """The trainable rest of ``model`` after ``stage``, fed by row indices into ``cache``: the frozen
    part's outputs computed once (a tensor, or a tuple of tensors, e.g. YOLOv5's pooled P3/P4 and map)."""

    def __init__(self, model, stage, cache):
        super().__init__()
        self.model, self.stage, self.cache = model, stage, cache

    def forward(self, idx):                                      # (B,) row indices
        h = tuple(c[idx] for c in self.cache) if isinstance(self.cache, tuple) else self.cache[idx]
        return self.model.forward_from(h, self.stage)            # (B, classes)


@torch.no_grad()
def cached_features(fn, model, x, transform, batch_size=64, device="cpu"):
    """``fn(model, transform(x_batch))`` for every batch of ``x``, in eval mode, concatenated on the CPU
    (element by element when ``fn`` returns a tuple).

    ``fn`` is e.g. :func:`pooled` (the (N, D) vectors the head reads) or a partial forward.
    """
    with eval_mode(model):
        outs = [fn(model, transform(xb).to(device)) for xb in x.split(batch_size)]
    if isinstance(outs[0], tuple):
        return tuple(torch.cat([o[i].cpu() for o in outs]) for i in range(len(outs[0])))
    return torch.cat([o.cpu() for o in outs])


def pooled(model, xb):
    return model.forward_features(xb)


def frozen_stage(model):
    """The last frozen stage when fine-tuning: the one just before ``model.LAST_STAGE``."""
    return model.STAGES[model.STAGES.index(model.LAST_STAGE) - 1]
