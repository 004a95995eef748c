"""A trained transfer classifier, kept for later: lesson 06 explains its decisions with Grad-CAM.

:func:`save_classifier` / :func:`load_classifier` store what lesson 04's best run trained (the head, and
for ``finetune`` the last stage) as plain tensors, rebuilt on the pretrained backbone
(:mod:`minitorch_vision.backbones`); :func:`train_linear_probe` makes a classifier in seconds when
lesson 04 has not run.
"""
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from .atomic import atomic_path
from .backbones import BACKBONES, load_backbone
from .data import cifar10
from .data.transforms import center_crop, normalize, resize
from .errors import DataUnavailable
from .transfer import DEFAULT_CLASSES, MODES, Recipe, train_one

# written into every file and checked on load: a foreign .pt is refused in one line, and a future
# change of layout gets a new number instead of a confusing KeyError
_FORMAT = "minitorch-vision/classifier/1"


@dataclass
class ClassifierInfo:
    """What a saved classifier needs besides its weights: which backbone, which classes, what input."""
    backbone: str           # a key of BACKBONES
    weights: str            # the backbone's pretraining: "imagenet" | "coco" | "random"
    classes: list           # output index -> class name
    size: int               # input resolution it was trained at
    mode: str               # "frozen" | "finetune": what was trained
    test_accuracy: float = float("nan")

    @property
    def spec(self):
        return BACKBONES[self.backbone]

    def preprocess(self, images):
        """uint8 images (3, H, W) or (B, 3, H, W), any size -> (B, 3, size, size) float, as in training:
        the central square, shrunk to CIFAR's 32x32 (the classifier learned from 32x32 images), then
        upsampled to ``size`` and normalised like the backbone's pretraining."""
        x = images if images.dim() == 4 else images[None]
        side = min(x.shape[-2:])
        x = resize(center_crop(x, side), 32)
        return normalize(resize(x, self.size), self.spec.mean, self.spec.std)


def save_classifier(model, info, path):
    """Save a classifier trained by :func:`train_one` (``frozen`` or ``finetune``) to ``path``, atomically.

    Only what training changed is stored (the head, and for ``finetune`` the last stage) with
    :class:`ClassifierInfo` as plain values: the file loads with ``torch.load(weights_only=True)`` and
    :func:`load_classifier` rebuilds the rest from the pretrained backbone.
    """
    trained = ("fc",) if info.mode == "frozen" else model.STAGES[model.STAGES.index(model.LAST_STAGE):]
    prefix = tuple(f"{s}." for s in trained) + tuple(f"backbone.{s}." for s in trained)  # ResNet / YOLOv5 names
    sd = {k: v.detach().cpu() for k, v in model.state_dict().items() if k.startswith(prefix)}
    with atomic_path(path) as tmp:
        torch.save({"format": _FORMAT, "info": asdict(info), "state_dict": sd}, tmp)
    return Path(path)


def load_classifier(path, data_dir=None, allow_download=False):
    """Rebuild a classifier saved by :func:`save_classifier`: ``(model in eval mode, ClassifierInfo)``.

    The backbone's pretrained weights are read from the data folder (``allow_download``: fetch them
    if absent). Raises DataUnavailable (one line) for a missing or foreign file.
    """
    path = Path(path)
    if not path.is_file():
        raise DataUnavailable(f"no saved classifier at {path} — run lessons/04_transfer.py first")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001  torch raises many kinds on a foreign or truncated file
        raise DataUnavailable(f"cannot read {path} as a classifier: {str(e).splitlines()[0][:160]}") from None
    if not (isinstance(obj, dict) and obj.get("format") == _FORMAT):
        raise DataUnavailable(f"{path} is not a classifier saved by lesson 04 (save_classifier)")
    info = ClassifierInfo(**obj["info"])
    weights = "random" if info.weights == "random" else None
    model = load_backbone(info.backbone, weights, data_dir, allow_download, verbose=False).model
    model.replace_head(len(info.classes))
    known = model.state_dict()
    missing = [k for k in obj["state_dict"] if k not in known]
    if missing:
        raise DataUnavailable(f"{path} does not fit the {info.backbone} backbone ({missing[0]!r})")
    model.load_state_dict(obj["state_dict"], strict=False)  # the rest: the pretrained backbone just loaded
    return model.eval(), info


def train_linear_probe(backbone="auto", data_dir=None, classes=DEFAULT_CLASSES, shots=50, size=None, seed=0,
                       weights=None, allow_download=True, device="cpu"):
    """A classifier made on the spot: a pretrained backbone, frozen, with a linear head trained on
    ``shots`` CIFAR-10 images per class (what lesson 04's ``frozen`` mode does; seconds on a CPU).

    For when lesson 04's saved classifier (:func:`load_classifier`) is not there. Returns
    ``(model in eval mode, ClassifierInfo)``; ``info.test_accuracy`` is measured on 100 test images per class.
    """
    pre = load_backbone(backbone, weights, data_dir, allow_download, verbose=False)
    size = size or pre.spec.sizes["frozen"][0]
    xtr, ytr, xte, yte, names, _ = cifar10.load_cifar10(data_dir, "auto", list(classes), allow_download=allow_download)
    data = cifar10.mini_dataset(xtr, ytr, names, list(classes), shots, seed=seed, test=(xte, yte))
    recipe = Recipe(sizes={m: size for m in MODES}, mean=pre.spec.mean, std=pre.spec.std, seed=seed)
    res = train_one(pre.model, "frozen", data, recipe, augment=False, device=device, log=False)
    info = ClassifierInfo(pre.spec.name, pre.weights, list(data.classes), size, "frozen", res.test_accuracy)
    return res.model.cpu().eval(), info
