"""Transfer learning with a pretrained backbone: train from scratch, train a head on frozen features, or
fine-tune the last stage (Yosinski et al. 2014, "How transferable are features in deep neural networks?").

The backbones (ResNet-18, the YOLOv5n backbone) and their loader are :mod:`minitorch_vision.backbones`;
the three modes differ only in which stages get gradients (``model.freeze``):
  * ``scratch``  the same architecture from a random init, every weight trained;
  * ``frozen``   only a new ``fc`` head; the backbone is a fixed feature extractor;
  * ``finetune`` the last stage (``LAST_STAGE``: ResNet's ``layer4``, YOLOv5's last C3 + SPPF) + the head,
    every BatchNorm normalising with its pretrained statistics (``models.stages.Freezable``).
A frozen part of the network computes the same thing every epoch, so it is run ONCE and its outputs
are cached (:func:`backbones.cached_features`): ``frozen`` trains a linear layer on (N, D) vectors, ``finetune`` without augmentation
trains the last stage on cached maps. With augmentation every epoch sees new pixels, so ``finetune``
recomputes the frozen part on the fly (without gradients) and ``frozen`` caches ``views`` augmented
copies of each training image. ``benchmarks/feature_cache.py`` measures the gain.

:func:`train_one` trains one (mode, shots, augment) run, :func:`compare` all of them; the best classifier
is kept by :mod:`minitorch_vision.classifier` for lesson 06.
"""
import copy
import math
import time
from dataclasses import dataclass, field, fields

import torch
import torch.nn as nn

from .backbones import Tail, cached_features, frozen_stage, pooled
from .data.loader import Batches
from .data.transforms import IMAGENET_MEAN, IMAGENET_STD, Augment
from .train import evaluate, fit, one_cycle

MODES = ("scratch", "frozen", "finetune")
# lesson 04's default task (``--classes``): five of the ten CIFAR-10 classes
DEFAULT_CLASSES = ("airplane", "automobile", "bird", "cat", "deer")


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
    model: nn.Module = field(default=None, repr=False, compare=False)  # the trained classifier

    def record(self):
        """The numbers, without the model (for results.json; ``asdict`` would deep-copy the model first)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "model"}


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
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; expected one of {MODES}")
    torch.manual_seed(recipe.seed)
    test_cache = {} if test_cache is None else test_cache
    t0 = time.perf_counter()
    # each mode builds: the module to train, its parameters, the net that reads the test batches, both
    # batch streams, the learning rate and the step budget; then one schedule, one fit, one evaluation
    prepare = {"scratch": _scratch, "frozen": _frozen, "finetune": _finetune}[mode]
    model, run = prepare(base, data, recipe, augment, device, test_cache)
    fit_options = dict(log_dir=log_dir, progress=False, device=device)  # no checkpoints: 45 MB each
    if mode == "frozen":  # hundreds of tiny epochs on a linear layer: no per-epoch lines, no autocast
        fit_options.update(verbose=False)
    else:
        fit_options.update(verbose=log, amp=amp)
    seconds = time.perf_counter() - t0 - run.get("test_seconds", 0.0)  # the model, the frozen part's outputs
    epochs = _epochs_for(len(run["train"].y), recipe.batch_size, run["steps"])
    opt, sched = _adamw_1cycle(run["params"], run["lr"], recipe.weight_decay, epochs, len(run["train"]))
    t1 = time.perf_counter()
    curve = HeldOutCurve(run["test_net"], run["test"], epochs, recipe.test_evals, device)
    history = fit(run["net"], run["train"], epochs=epochs, opt=opt, sched=sched, on_epoch_end=curve, **fit_options)
    seconds += time.perf_counter() - t1 - curve.seconds
    acc = history[-1]["test_accuracy"]  # the curve always evaluates the last epoch
    n = len(data.x_train)
    return RunResult(mode, n // len(data.classes), augment, acc, seconds, epochs, epochs * len(run["train"]),
                     model.eval())


# The three preparations below. Their test batch sizes (64 images, 256 vectors, 128 cached maps) only trade
# memory for speed: evaluation in eval mode gives the same accuracy for any batch size.
def _scratch(base, data, r, augment, device, test_cache):
    """Nothing transferred: a random init of the same architecture, every weight trained on augmented pixels."""
    model = scratch_model(base, len(data.classes)).to(device)
    train = Batches(data.x_train, data.y_train, r.batch_size, shuffle=True, seed=r.seed,
                    transform=r.transform("scratch", augment))
    test = Batches(data.x_test, data.y_test, 64, transform=r.transform("scratch"))
    return model, dict(net=model, params=model.parameters(), train=train, test_net=model, test=test,
                       lr=r.scratch_lr, steps=r.steps)


def _frozen(base, data, r, augment, device, test_cache):
    """A linear head on the backbone's pooled features, computed once (``views`` augmented copies)."""
    model = copy.deepcopy(base).to(device)
    model.replace_head(len(data.classes))
    head_params = model.freeze("fc")
    aug, plain = r.transform("frozen", augment), r.transform("frozen")
    reps = r.views if augment else 1  # one pass without augmentation: the features never change
    feats = torch.cat([cached_features(pooled, model, data.x_train, aug, device=device) for _ in range(reps)])
    # the backbone is the same in every frozen run: cache test features once
    test_feats, test_seconds = _test_features(test_cache, ("pooled", id(base), r.sizes["frozen"]), pooled, model,
                                              data, plain, device)
    test = Batches(test_feats, data.y_test, 256)
    train = Batches(feats, data.y_train.repeat(reps), r.batch_size, shuffle=True, seed=r.seed)
    return model, dict(net=model.fc, params=head_params, train=train, test_net=model.fc, test=test,
                       lr=r.head_lr, steps=r.head_steps, test_seconds=test_seconds)


def _finetune(base, data, r, augment, device, test_cache):
    """The last stage and the head trained; the frozen part before it cached unless augmentation changes it."""
    model = copy.deepcopy(base).to(device)
    model.replace_head(len(data.classes))
    params = model.freeze(model.LAST_STAGE)
    cut = frozen_stage(model)
    plain = r.transform("finetune")

    def until(m, xb):
        return m.forward_until(xb, cut)
    if augment:  # new pixels every epoch: the frozen part runs on the fly (no gradients, eval-mode BN)
        net = model
        train = Batches(data.x_train, data.y_train, r.batch_size, shuffle=True, seed=r.seed,
                        transform=r.transform("finetune", augment))
    else:  # the frozen part's output never changes: compute it once
        net = Tail(model, cut, cached_features(until, model, data.x_train, plain, device=device))
        train = Batches(torch.arange(len(data.x_train)), data.y_train, r.batch_size, shuffle=True, seed=r.seed)
    test_maps, test_seconds = _test_features(test_cache, (cut, id(base), r.sizes["finetune"]), until, model,
                                             data, plain, device)
    test = Batches(torch.arange(len(data.y_test)), data.y_test, 128)
    return model, dict(net=net, params=params, train=train, test_net=Tail(model, cut, test_maps), test=test,
                       lr=r.lr, steps=r.steps, test_seconds=test_seconds)


def _test_features(test_cache, key, fn, model, data, transform, device):
    """``(test set's cached fn outputs, seconds spent)``: computed once per (stage, backbone, size) and
    shared by the runs given the same ``test_cache``; the seconds are not training time."""
    t = time.perf_counter()
    if key not in test_cache:
        test_cache[key] = cached_features(fn, model, data.x_test, transform, device=device)
    return test_cache[key], time.perf_counter() - t


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
