"""Transfer learning with a pretrained backbone: train from scratch, train a head on frozen features, or
fine-tune the last stage (Yosinski et al. 2014, "How transferable are features in deep neural networks?").

Two backbones (``BACKBONES``), used the same way:
  * ``resnet18``: torchvision's ImageNet-trained ResNet-18 (downloaded once, 47 MB);
  * ``yolov5n``: the CSP-Darknet backbone of the COCO-trained YOLOv5n detector, read from the
    checkpoint every data folder of the course already holds; its pooled P3, P4 and P5 maps feed the head.
Both models offer ``forward_features``, ``fc``, ``replace_head``, ``freeze(stage)``, ``STAGES``,
``LAST_STAGE`` and the split ``forward_until`` / ``forward_from``, so nothing below depends on which.

The three modes differ only in which stages get gradients (``model.freeze``):
  * ``scratch``  the same architecture from a random init, every weight trained;
  * ``frozen``   only a new ``fc`` head; the backbone is a fixed feature extractor;
  * ``finetune`` the last stage (``LAST_STAGE``: ResNet's ``layer4``, YOLOv5's last C3 + SPPF) + the head,
    every BatchNorm normalising with its pretrained statistics (``models.stages.Freezable``).
A frozen part of the network computes the same thing every epoch, so it is run ONCE and its outputs
are cached: ``frozen`` trains a linear layer on (N, D) vectors, ``finetune`` without augmentation
trains the last stage on cached maps. With augmentation every epoch sees new pixels, so ``finetune``
recomputes the frozen part on the fly (without gradients) and ``frozen`` caches ``views`` augmented
copies of each training image. ``benchmarks/feature_cache.py`` measures the gain.

For lesson 06 (Grad-CAM on a pretrained classifier): :func:`save_classifier` / :func:`load_classifier`
store a trained classifier as plain tensors, and :func:`train_linear_probe` makes one in seconds when
lesson 04 has not run.
"""
import argparse
import copy
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.nn as nn

from .atomic import atomic_path
from .data import cifar10
from .data.loader import Batches
from .data.paths import data_dir as resolve_data_dir
from .data.transforms import IMAGENET_MEAN, IMAGENET_STD, Augment, center_crop, normalize, resize
from .errors import DataUnavailable, MTVError
from .flags import class_list, int_list, int_range, positive_int
from .nnutil import eval_mode
from .train import evaluate, fit, one_cycle
from .weights import RESNET18_FILE, load_resnet18, load_yolov5_backbone

MODES = ("scratch", "frozen", "finetune")
DEFAULT_CLASSES = ("airplane", "automobile", "bird", "cat", "deer")


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


# ---- lesson 04's own flags -----------------------------------------------------------------------------
# Size flags: (default, default with --quick). A flag given on the command line keeps its value, --quick
# or not; SUPPRESS leaves it out of the parsed flags when not given, so ``quick_defaults`` can tell.
QUICK = {"shots": ((5, 10, 50), (5, 10)), "test_per_class": (100, 20), "head_steps": (300, 150), "views": (8, 4)}


def lesson_flags(p):
    """Lesson 04's flags (``cli.lesson_args(extra=...)``); then call :func:`quick_defaults` on the result."""

    def default(name):
        full, quick = QUICK[name]
        show = ",".join(map(str, full)) if isinstance(full, tuple) else full
        return f" (default: {show}; {','.join(map(str, quick)) if isinstance(quick, tuple) else quick} with --quick)"
    p.add_argument("--backbone", default="auto", choices=["auto", *BACKBONES],
                   help="pretrained backbone; auto: resnet18 when its ImageNet weights are present or can be "
                        "downloaded, else yolov5n (its COCO checkpoint is in every course data folder)")
    p.add_argument("--weights", default=None,
                   help="the backbone's weights: a file (default: <data>/weights/, downloaded if absent), or "
                        "'random' = an untrained backbone (the lesson's point is then lost)")
    p.add_argument("--size", type=int_range(32), default=None,
                   help="input resolution for every mode (default: the backbone's measured default per mode)")
    p.add_argument("--classes", type=class_list(cifar10.CLASSES), default=",".join(DEFAULT_CLASSES),
                   help="CIFAR-10 classes, comma-separated")
    p.add_argument("--shots", type=int_list, default=argparse.SUPPRESS,
                   help="training images per class, comma-separated" + default("shots"))
    p.add_argument("--test-per-class", type=positive_int, default=argparse.SUPPRESS,
                   help="held-out test images per class" + default("test_per_class"))
    p.add_argument("--head-steps", type=positive_int, default=argparse.SUPPRESS,
                   help="optimizer steps of the head on cached features" + default("head_steps"))
    p.add_argument("--views", type=positive_int, default=argparse.SUPPRESS,
                   help="augmented views cached per image for frozen + augmentation" + default("views"))
    p.add_argument("--source", default="auto", choices=["auto", "pickles", "images"],
                   help="CIFAR-10 from the official pickles or from <data>/cifar10-images/<split>/<class>/")
    p.add_argument("--image", default=None, help="a photo for the trained classifier (default: <data>/images/cat.png)")
    p.add_argument("--check-exercises", action="store_true", help="run the exercises' check cells")


def quick_defaults(args):
    """Fill the size flags not given on the command line with their full or ``--quick`` default."""
    for name, (full, quick) in QUICK.items():
        if not hasattr(args, name):
            setattr(args, name, quick if args.quick else full)
    return args


@dataclass
class Recipe:
    """How long and how fast each mode trains. ``steps``: optimizer steps of scratch/finetune runs
    (epochs are chosen per run so that few images get more passes); the head on cached features is
    cheap, so it gets ``head_steps``. ``sizes``: input resolution per mode."""
    sizes: dict = field(default_factory=lambda: {m: 64 for m in MODES})
    mean: tuple = IMAGENET_MEAN
    std: tuple = IMAGENET_STD
    steps: int = 32
    head_steps: int = 300
    batch_size: int = 32
    lr: float = 1e-3           # AdamW peak LR (1cycle) for finetune: small steps keep the pretrained features
    scratch_lr: float = 1e-2   # from a random init larger steps are needed (32 steps at 1e-3 stay at chance)
    head_lr: float = 1e-2      # AdamW peak LR for the linear head on cached features
    weight_decay: float = 5e-4
    views: int = 8             # augmented copies cached per training image (frozen + augment)
    seed: int = 0
    test_evals: int = 10       # test-set evaluations logged per run (TensorBoard curves), the last epoch included

    def transform(self, mode, augment=False):
        """The batch transform of ``mode``: [crop + flip] -> resize -> the backbone's normalisation."""
        return Augment(self.sizes[mode], train=augment, mean=self.mean, std=self.std, seed=self.seed)


@dataclass
class RunResult:
    mode: str
    shots: int
    augment: bool
    test_accuracy: float
    train_seconds: float
    epochs: int
    steps: int
    model: nn.Module = field(default=None, repr=False, compare=False)  # the trained classifier (not in asdict)

    def record(self):
        """The numbers, without the model (for results.json)."""
        return {k: v for k, v in asdict(self).items() if k != "model"}


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


def scratch_model(base, num_classes):
    """The same architecture as ``base`` with a fresh random init and a ``num_classes`` head."""
    model = copy.deepcopy(base)
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.BatchNorm2d, nn.Linear)):
            m.reset_parameters()  # BatchNorm: also its running statistics
        if isinstance(m, nn.BatchNorm2d):
            # PyTorch's default 0.1 (YOLOv5 uses 0.03, tuned for 300 COCO epochs): after a few dozen steps
            # the running statistics, which evaluation uses, must have left their init (0.97^32 = 38% left)
            m.momentum = 0.1
    if hasattr(model, "reset_parameters"):
        model.reset_parameters()  # the architecture's own init (ResNet: Kaiming fan_out)
    model.frozen = ()  # nothing frozen: every weight trains
    model.replace_head(num_classes)
    return model.train()


def _adamw_1cycle(params, lr, wd, epochs, steps_per_epoch):
    """AdamW (decoupled weight decay, Loshchilov & Hutter 2019) with ``train.one_cycle``'s schedule."""
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=wd)
    return opt, one_cycle(opt, lr, epochs, steps_per_epoch)


def _epochs_for(n, batch_size, steps):
    return max(1, math.ceil(steps / math.ceil(n / batch_size)))


class HeldOutCurve:
    """An ``on_epoch_end`` for ``fit``: the test loss and accuracy on ``points`` evenly spaced epochs (the
    last included), so TensorBoard shows a test curve beside the training one. ``seconds`` sums the time
    those evaluations took (it is not training time)."""

    def __init__(self, net, test, epochs, points, device):
        self.net, self.test, self.epochs, self.device = net, test, epochs, device
        self.every, self.seconds = max(1, math.ceil(epochs / max(1, points))), 0.0

    def __call__(self, epoch, rec):
        if epoch % self.every == 0 or epoch == self.epochs:
            t = time.perf_counter()
            r = evaluate(self.net, self.test, self.device)
            rec["test_loss"], rec["test_accuracy"] = r["loss"], r["accuracy"]
            self.seconds += time.perf_counter() - t


def train_one(base, mode, data, recipe, augment, device="cpu", log_dir=None, test_cache=None, log=True, amp=False):
    """Train one run and return its :class:`RunResult` (test accuracy on ``data``'s held-out test set,
    and the trained classifier in ``.model``).

    Args:
        base: the pretrained (or random) backbone model; it is copied, never modified.
        mode: ``"scratch"``, ``"frozen"`` or ``"finetune"``.
        data: a :class:`~minitorch_vision.data.cifar10.MiniDataset` (uint8 images).
        log_dir: TensorBoard run folder (``ctx.tb_dir(run)``): train and test loss/accuracy per epoch.
        test_cache: dict shared between runs to reuse the test set's cached features.
        amp: mixed precision for the conv-net training (on by default on CUDA through ``--amp``).
    ``train_seconds`` counts everything training needs, the one-off feature caching included,
    but not the test evaluation.
    """
    r = recipe
    n_cls = len(data.classes)
    torch.manual_seed(r.seed)
    plain, aug = r.transform(mode), r.transform(mode, augment)
    test_cache = {} if test_cache is None else test_cache
    n = len(data.x_train)
    fit_options = dict(log_dir=log_dir, progress=False, verbose=log, device=device)  # no checkpoints: 45 MB each
    t0 = time.perf_counter()
    if mode == "scratch":
        model = scratch_model(base, n_cls).to(device)  # nothing transferred
        epochs = _epochs_for(n, r.batch_size, r.steps)
        train = Batches(data.x_train, data.y_train, r.batch_size, shuffle=True, seed=r.seed, transform=aug)
        test = Batches(data.x_test, data.y_test, 64, transform=plain)
        opt, sched = _adamw_1cycle(model.parameters(), r.scratch_lr, r.weight_decay, epochs, len(train))
        curve = HeldOutCurve(model, test, epochs, r.test_evals, device)
        fit(model, train, epochs=epochs, opt=opt, sched=sched, amp=amp, on_epoch_end=curve, **fit_options)
        seconds = time.perf_counter() - t0 - curve.seconds
        acc = evaluate(model, test, device)["accuracy"]
        return RunResult(mode, n // n_cls, augment, acc, seconds, epochs, epochs * len(train), model.eval())

    model = copy.deepcopy(base).to(device)
    model.replace_head(n_cls)
    if mode == "frozen":
        head_params = model.freeze("fc")
        reps = r.views if augment else 1  # one pass without augmentation: the features never change
        feats = torch.cat([cached_features(pooled, model, data.x_train, aug, device=device) for _ in range(reps)])
        labels = data.y_train.repeat(reps)
        seconds = time.perf_counter() - t0
        key = ("pooled", id(base), r.sizes[mode])
        if key not in test_cache:  # the backbone is the same in every frozen run: cache test features once
            test_cache[key] = cached_features(pooled, model, data.x_test, plain, device=device)
        test = Batches(test_cache[key], data.y_test, 256)
        epochs = _epochs_for(len(feats), r.batch_size, r.head_steps)
        train = Batches(feats, labels, r.batch_size, shuffle=True, seed=r.seed)
        opt, sched = _adamw_1cycle(head_params, r.head_lr, r.weight_decay, epochs, len(train))
        t1 = time.perf_counter()  # hundreds of tiny epochs: no per-epoch lines
        curve = HeldOutCurve(model.fc, test, epochs, r.test_evals, device)
        fit(model.fc, train, epochs=epochs, opt=opt, sched=sched, log_dir=log_dir, progress=False, verbose=False,
            device=device, on_epoch_end=curve)
        seconds += time.perf_counter() - t1 - curve.seconds
        acc = evaluate(model.fc, test, device)["accuracy"]
        return RunResult(mode, n // n_cls, augment, acc, seconds, epochs, epochs * len(train), model.eval())

    if mode != "finetune":
        raise ValueError(f"unknown mode {mode!r}; expected one of {MODES}")
    params = model.freeze(model.LAST_STAGE)
    cut = frozen_stage(model)

    def until(m, xb):
        return m.forward_until(xb, cut)
    epochs = _epochs_for(n, r.batch_size, r.steps)
    if augment:  # new pixels every epoch: the frozen part runs on the fly (no gradients, eval-mode BN)
        net = model
        train = Batches(data.x_train, data.y_train, r.batch_size, shuffle=True, seed=r.seed, transform=aug)
    else:  # the frozen part's output never changes: compute it once
        net = Tail(model, cut, cached_features(until, model, data.x_train, plain, device=device))
        train = Batches(torch.arange(n), data.y_train, r.batch_size, shuffle=True, seed=r.seed)
    seconds = time.perf_counter() - t0
    key = (cut, id(base), r.sizes[mode])
    if key not in test_cache:
        test_cache[key] = cached_features(until, model, data.x_test, plain, device=device)
    test_net = Tail(model, cut, test_cache[key])
    test = Batches(torch.arange(len(data.y_test)), data.y_test, 128)
    opt, sched = _adamw_1cycle(params, r.lr, r.weight_decay, epochs, len(train))
    t1 = time.perf_counter()
    curve = HeldOutCurve(test_net, test, epochs, r.test_evals, device)
    fit(net, train, epochs=epochs, opt=opt, sched=sched, amp=amp, on_epoch_end=curve, **fit_options)
    seconds += time.perf_counter() - t1 - curve.seconds
    acc = evaluate(test_net, test, device)["accuracy"]
    return RunResult(mode, n // n_cls, augment, acc, seconds, epochs, epochs * len(train), model.eval())


def run_name(backbone, mode, shots, augment):
    """``"yolov5n-frozen-k10-aug"``: one TensorBoard run (and one table cell) per trained configuration."""
    return f"{backbone}-{mode}-k{shots}-{'aug' if augment else 'noaug'}"


def compare(base, datasets, recipe, modes=MODES, augments=(False, True), device="cpu", tb_dir=None, log=print,
            amp=False, done=(), test_cache=None, backbone="model"):
    """Every (mode, shots, augment) run for each ``{shots: MiniDataset}``.

    Returns ``(runs, best)``: one dict per run (:meth:`RunResult.record`), and the :class:`RunResult`
    (with its model) of the best non-scratch run at the largest ``shots``: the classifier worth keeping.
    ``tb_dir``: ``run name -> folder`` (``ctx.tb_dir``), one TensorBoard run per configuration.
    ``done``: :class:`RunResult` s already trained with the same ``base`` and ``recipe`` (e.g. a lesson's
    first frozen run); they are reused instead of trained again (``train_one`` is seeded, so a rerun
    would give the same numbers). ``test_cache``: the dict those runs were given, to reuse their test
    features too.
    """
    runs, best, test_cache = [], None, {} if test_cache is None else test_cache
    reuse = {(r.mode, r.shots, r.augment): r for r in done}
    top = max(datasets)
    for shots, data in datasets.items():
        for augment in augments:
            for mode in modes:
                name = run_name(backbone, mode, shots, augment)
                res = reuse.get((mode, shots, augment)) or train_one(
                    base, mode, data, recipe, augment, device, log_dir=None if tb_dir is None else tb_dir(name),
                    test_cache=test_cache, log=False, amp=amp)
                runs.append(res.record())
                if mode != "scratch" and shots == top and (best is None or res.test_accuracy > best.test_accuracy):
                    best = res
                else:
                    res.model = None  # keep one trained classifier in memory, not a dozen
                if log:
                    log(f"  {name:<30} test accuracy {res.test_accuracy:6.1%}   {res.train_seconds:6.1f}s "
                        f"({res.steps} steps{', trained earlier' if (mode, shots, augment) in reuse else ''})")
    return runs, best


def accuracy_table(runs):
    """A text table of a transfer comparison: one row per (shots, augment), one column per mode (test accuracy %)."""
    modes = [m for m in MODES if any(r["mode"] == m for r in runs)]
    head = f"{'shots':>5} {'augment':>7} " + " ".join(f"{m:>10}" for m in modes)
    lines = [head, "-" * len(head)]
    keys = sorted({(r["shots"], r["augment"]) for r in runs})
    for shots, aug in keys:
        cells = []
        for m in modes:
            hit = [r for r in runs if (r["mode"], r["shots"], r["augment"]) == (m, shots, aug)]
            cells.append(f"{hit[0]['test_accuracy']:>10.1%}" if hit else f"{'-':>10}")
        lines.append(f"{shots:>5} {'yes' if aug else 'no':>7} " + " ".join(cells))
    return "\n".join(lines)


# ---- a trained classifier, kept for later (lesson 06's Grad-CAM) ---------------------------------------

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
    missing = [k for k in obj["state_dict"] if k not in model.state_dict()]
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
