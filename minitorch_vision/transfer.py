"""Transfer learning with a ResNet: train from scratch, train a head on frozen features, or fine-tune
the last block (Yosinski et al. 2014, "How transferable are features in deep neural networks?").

The three modes differ only in which stages get gradients (``ResNet.freeze``):
  * ``scratch``  every weight trained, starting from a random init;
  * ``frozen``   only a new ``fc`` head; the backbone is a fixed feature extractor;
  * ``finetune`` ``layer4`` + the new head; ``conv1..layer3`` fixed.
A frozen part of the network computes the same thing every epoch, so it is run ONCE and its
outputs are cached: ``frozen`` trains a linear layer on (N, 512) vectors, and ``finetune`` without
augmentation trains layer4+fc on cached layer3 maps. With augmentation every epoch sees new pixels,
so ``finetune`` recomputes conv1..layer3 on the fly (without gradients); ``frozen`` instead caches
``views`` augmented copies of each training image. ``benchmarks/feature_cache.py`` measures the gain.
"""
import copy
import math
import time
from dataclasses import asdict, dataclass

import torch
import torch.nn as nn

from .data.loader import Batches
from .data.transforms import Augment
from .nnutil import eval_mode
from .models.resnet import forward_from, forward_until, resnet18
from .train import evaluate, fit, one_cycle

MODES = ("scratch", "frozen", "finetune")


@dataclass
class Recipe:
    """How long and how fast each mode trains. ``steps``: optimizer steps of scratch/finetune runs
    (epochs are chosen per run so that few images get more passes); the head on cached features is
    cheap, so it gets ``head_steps``."""
    size: int = 64             # input resolution (pixels) fed to the network
    steps: int = 32
    head_steps: int = 300
    batch_size: int = 32
    lr: float = 1e-3           # AdamW peak LR (1cycle) for scratch / finetune
    head_lr: float = 1e-2      # AdamW peak LR for the linear head on cached features
    weight_decay: float = 5e-4
    views: int = 8             # augmented copies cached per training image (frozen + augment)
    seed: int = 0


@dataclass
class RunResult:
    mode: str
    shots: int
    augment: bool
    test_accuracy: float
    train_seconds: float
    epochs: int
    steps: int


class Tail(nn.Module):
    """The part of ``model`` after ``stage``: trains layer4 + fc on cached layer3 outputs."""

    def __init__(self, model, stage):
        super().__init__()
        self.model, self.stage = model, stage

    def forward(self, x):
        return forward_from(self.model, x, self.stage)


@torch.no_grad()
def cached_features(fn, model, x, transform, batch_size=64, device="cpu"):
    """``fn(model, transform(x_batch))`` for every batch of ``x``, in eval mode, concatenated on the CPU.

    ``fn`` is e.g. ``lambda m, xb: m.forward_features(xb)`` (pooled 512-vectors) or a partial forward.
    """
    with eval_mode(model):
        return torch.cat([fn(model, transform(xb).to(device)).cpu() for xb in x.split(batch_size)])


def pooled(model, xb):
    return model.forward_features(xb)


def to_layer3(model, xb):
    return forward_until(model, xb, "layer3")


def _adamw_1cycle(params, lr, wd, epochs, steps_per_epoch):
    """AdamW (decoupled weight decay, Loshchilov & Hutter 2019) with ``train.one_cycle``'s schedule."""
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=wd)
    return opt, one_cycle(opt, lr, epochs, steps_per_epoch)


def _epochs_for(n, batch_size, steps):
    return max(1, math.ceil(steps / math.ceil(n / batch_size)))


def train_one(base, mode, data, recipe, augment, device="cpu", out=None, test_cache=None, log=True, amp=False):
    """Train one run and return its :class:`RunResult` (test accuracy on ``data``'s held-out test set).

    Args:
        base: the pretrained (or random) ResNet; it is copied, never modified.
        mode: ``"scratch"``, ``"frozen"`` or ``"finetune"``.
        data: a :class:`~minitorch_vision.data.cifar10.MiniDataset` (uint8 images).
        test_cache: dict shared between runs to reuse the test set's cached features.
        amp: mixed precision for the conv-net training (on by default on CUDA through ``--amp``).
    ``train_seconds`` counts everything training needs, the one-off feature caching included,
    but not the test evaluation.
    """
    r = recipe
    n_cls = len(data.classes)
    torch.manual_seed(r.seed)
    plain = Augment(r.size, train=False)
    aug = Augment(r.size, train=True, seed=r.seed) if augment else plain
    test_cache = {} if test_cache is None else test_cache
    n = len(data.x_train)
    # TensorBoard curves under ``out`` (no checkpoints: 45 MB each); per-epoch lines only if ``log``
    tb = dict(log_dir=out, checkpoint=False, progress=False, verbose=log)
    t0 = time.perf_counter()
    if mode == "scratch":
        model = resnet18(num_classes=n_cls).to(device)  # fresh random init: nothing transferred
        epochs = _epochs_for(n, r.batch_size, r.steps)
        train = Batches(data.x_train, data.y_train, r.batch_size, shuffle=True, seed=r.seed, transform=aug)
        opt, sched = _adamw_1cycle(model.parameters(), r.lr, r.weight_decay, epochs, len(train))
        fit(model, train, epochs=epochs, opt=opt, sched=sched, device=device, amp=amp, **tb)
        seconds = time.perf_counter() - t0
        acc = evaluate(model, Batches(data.x_test, data.y_test, 64, transform=plain), device)["accuracy"]
        return RunResult(mode, n // n_cls, augment, acc, seconds, epochs, epochs * len(train))

    model = copy.deepcopy(base).to(device)
    model.replace_head(n_cls)
    if mode == "frozen":
        head_params = model.freeze("fc")
        reps = r.views if augment else 1  # one pass without augmentation: the features never change
        feats = torch.cat([cached_features(pooled, model, data.x_train, aug, device=device) for _ in range(reps)])
        labels = data.y_train.repeat(reps)
        epochs = _epochs_for(len(feats), r.batch_size, r.head_steps)
        train = Batches(feats, labels, r.batch_size, shuffle=True, seed=r.seed)
        opt, sched = _adamw_1cycle(head_params, r.head_lr, r.weight_decay, epochs, len(train))
        # hundreds of tiny epochs: no per-epoch lines
        fit(model.fc, train, epochs=epochs, opt=opt, sched=sched, device=device, progress=False, verbose=False)
        seconds = time.perf_counter() - t0
        key = ("pooled", id(base), r.size)
        if key not in test_cache:  # the backbone is the same in every frozen run: cache test features once
            test_cache[key] = cached_features(pooled, model, data.x_test, plain, device=device)
        acc = evaluate(model.fc, Batches(test_cache[key], data.y_test, 256), device)["accuracy"]
        return RunResult(mode, n // n_cls, augment, acc, seconds, epochs, epochs * len(train))

    if mode != "finetune":
        raise ValueError(f"unknown mode {mode!r}; expected one of {MODES}")
    params = model.freeze("layer4")
    epochs = _epochs_for(n, r.batch_size, r.steps)
    if augment:  # new pixels every epoch: conv1..layer3 run on the fly (no gradients, eval-mode BN)
        net = model
        train = Batches(data.x_train, data.y_train, r.batch_size, shuffle=True, seed=r.seed, transform=aug)
    else:  # the frozen part's output never changes: compute layer3 maps once
        net = Tail(model, "layer3")
        maps = cached_features(to_layer3, model, data.x_train, plain, device=device)
        train = Batches(maps, data.y_train, r.batch_size, shuffle=True, seed=r.seed)
    opt, sched = _adamw_1cycle(params, r.lr, r.weight_decay, epochs, len(train))
    fit(net, train, epochs=epochs, opt=opt, sched=sched, device=device, amp=amp, **tb)
    seconds = time.perf_counter() - t0
    key = ("layer3", id(base), r.size)
    if key not in test_cache:
        test_cache[key] = cached_features(to_layer3, model, data.x_test, plain, device=device)
    acc = evaluate(Tail(model, "layer3"), Batches(test_cache[key], data.y_test, 128), device)["accuracy"]
    return RunResult(mode, n // n_cls, augment, acc, seconds, epochs, epochs * len(train))


def compare(base, datasets, recipe, modes=MODES, augments=(False, True), device="cpu", out=None, log=print,
            amp=False, done=(), test_cache=None):
    """Every (mode, shots, augment) run for each ``{shots: MiniDataset}``; returns a list of dicts.

    ``done``: :class:`RunResult` s already trained with the same ``base`` and ``recipe`` (e.g. a lesson's
    first frozen run); they are reused instead of trained again (``train_one`` is seeded, so a rerun
    would give the same numbers). ``test_cache``: the dict those runs were given, to reuse their test
    features too.
    """
    runs, test_cache = [], {} if test_cache is None else test_cache
    reuse = {(r.mode, r.shots, r.augment): r for r in done}
    for shots, data in datasets.items():
        for augment in augments:
            for mode in modes:
                name = f"{mode}_k{shots}_{'aug' if augment else 'noaug'}"
                res = reuse.get((mode, shots, augment)) or train_one(
                    base, mode, data, recipe, augment, device, out=None if out is None else out / name,
                    test_cache=test_cache, log=False, amp=amp)
                runs.append(asdict(res))
                if log:
                    log(f"  {name:<22} test accuracy {res.test_accuracy:6.1%}   {res.train_seconds:6.1f}s "
                        f"({res.steps} steps{', trained earlier' if (mode, shots, augment) in reuse else ''})")
    return runs


def format_table(runs):
    """A text table: one row per (shots, augment), one column per mode (test accuracy %)."""
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
