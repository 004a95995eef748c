"""Experiments that train several small models for lesson 03: the MLP baseline and the kernel study.

Each is one call so that the lesson reads as the experiment; both train with :func:`train.fit`
(Adam, the 1cycle schedule) and are seeded, so the same seed gives the same rows.

The kernel study trains every (kernel size, depth) pair of :class:`models.cnn.CNN` for the same
budget on the same slice of the training set and scores it on the validation split (choices are
made on validation data; the test set only reports the final model). :func:`study_verdict` tells
apart what the validation images can tell apart (a paired test) and picks the cheapest configuration
within the noise of the best; a study whose CNNs are no better than raw pixels is too short to conclude.
"""
import json
import math
import statistics
from pathlib import Path

import torch
from torch import nn

from .data.loader import Batches
from .models.cnn import CNN, CNNConfig
from .models.mlp import MLP
from .nnutil import count_params, eval_mode
from .train import evaluate, fit, one_cycle, predict


def budget(epochs, n_train, batch_size):
    """A training budget as it is printed and stored: ``{"epochs", "train_images", "batch_size"}``."""
    return {"epochs": epochs, "train_images": n_train, "batch_size": batch_size}


def train_quietly(model, train, val, *, epochs, lr, device="cpu", log_dir=None, amp=False):
    """Adam + 1cycle for ``epochs`` passes over ``train``, no checkpoint, no progress bar, no log lines.
    Returns ``(history, val_accuracy or None, seconds spent training)``."""
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    h = fit(model, train, None, epochs=epochs, opt=opt, sched=one_cycle(opt, lr, epochs, len(train)),
            device=device, out=None, log_dir=log_dir, progress=False, verbose=False, amp=amp)
    acc = evaluate(model, val, device, amp=amp)["accuracy"] if val is not None else None
    return h, acc, sum(r["seconds"] for r in h)


def mlp_baseline(train, test, *, epochs, lr=2e-3, seed=0, quick=False, device="cpu", log_dir=None, amp=False,
                 reuse=None):
    """Lesson 02's MLP with exactly the budget it is compared with (the same batches, the same epochs).

    Args:
        train: the :class:`Batches` the compared model was trained on; test: the batches it is scored on.
        reuse: lesson 02's ``results.json``: when it records this very budget, seed and ``quick``,
            its test accuracy is taken instead of training the same MLP again.
    Returns:
        ``{"test_accuracy", "params", "train_seconds", "budget", "source"}``.
    """
    want = budget(epochs, len(train.x), train.batch_size)
    if reuse is not None and Path(reuse).is_file():
        r = json.loads(Path(reuse).read_text())
        if r.get("budget") == want and r.get("quick") == quick and r.get("flags", {}).get("seed") == seed:
            return {"test_accuracy": r["test_accuracy"], "params": r["params"], "train_seconds": r["train_seconds"],
                    "budget": want, "source": str(reuse)}
    torch.manual_seed(seed)
    model = MLP().to(device)
    _, acc, seconds = train_quietly(model, train, test, epochs=epochs, lr=lr, device=device, log_dir=log_dir, amp=amp)
    return {"test_accuracy": acc, "params": count_params(model), "train_seconds": seconds, "budget": want,
            "source": "trained here"}


def multiply_adds(model, x):
    """Multiply-adds of one forward pass per image, counting the conv and linear layers (the rest is
    noise next to them): a conv layer costs ``output values x C_in/groups x kh x kw``, a linear layer
    ``in x out``. ``x``: one input batch; only its first image is run."""
    total = 0

    def count(m, inputs, out):
        nonlocal total
        if isinstance(m, nn.Conv2d):
            total += out[0].numel() * (m.in_channels // m.groups) * m.kernel_size[0] * m.kernel_size[1]
        else:
            total += m.in_features * m.out_features

    hooks = [m.register_forward_hook(count) for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    try:
        with torch.no_grad(), eval_mode(model):
            model(x[:1])
    finally:
        for h in hooks:
            h.remove()
    return total


def _fit_and_predict(model, train, x_val, *, epochs, lr, device, log_dir):
    """Train quietly, then ``(val predictions (N_val,), train seconds)``."""
    _, _, seconds = train_quietly(model, train, None, epochs=epochs, lr=lr, device=device, log_dir=log_dir)
    return predict(model, x_val, device=device).argmax(1), seconds


def kernel_study(x, y, x_val, y_val, *, epochs, kernel_sizes=(3, 5, 7), depths=(1, 2, 3), width=16, lr=3e-3,
                 batch_size=256, seed=0, device="cpu", log_root=None, verbose=True):
    """Train one CNN per (kernel size, conv blocks) on ``x, y`` for ``epochs``; predict ``x_val``.

    Every configuration gets the same initial seed, the same batches in the same order and the
    same schedule: only the architecture differs. ``width`` is the first block's channel count
    (lesson 03's main model uses 32; the study uses fewer to stay cheap). ``log_root``: one
    TensorBoard run per configuration in ``log_root/k<k>_blocks<b>``.

    Returns:
        ``{"rows", "predictions"}``: one row per configuration with ``kernel_size``, ``conv_blocks``,
        ``val_accuracy``, ``params``, ``multiply_adds`` (per image) and ``train_seconds``; and their
        (configurations, N_val) int64 predicted labels, which :func:`study_verdict` compares.
    """
    train = Batches(x, y, batch_size, shuffle=True, seed=seed)
    rows, preds = [], []
    for k in kernel_sizes:
        for blocks in depths:
            torch.manual_seed(seed)
            m = CNN(CNNConfig(kernel_size=k, conv_blocks=blocks, width=width)).to(device, memory_format=torch.channels_last)
            log_dir = None if log_root is None else log_root / f"k{k}_blocks{blocks}"
            pred, seconds = _fit_and_predict(m, train, x_val, epochs=epochs, lr=lr, device=device, log_dir=log_dir)
            preds.append(pred)
            rows.append({"kernel_size": k, "conv_blocks": blocks, "val_accuracy": (pred == y_val).double().mean().item(),
                         "params": count_params(m), "multiply_adds": multiply_adds(m, x_val[:1].to(device)),
                         "train_seconds": seconds})
            if verbose:
                r = rows[-1]
                print(f"  kernel {k}x{k}, {blocks} block(s): val accuracy {r['val_accuracy']:.4f}, {r['params']:>9,} params, "
                      f"{r['multiply_adds'] / 1e6:5.2f} M multiply-adds/image, {seconds:5.1f} s")
    return {"rows": rows, "predictions": torch.stack(preds)}


def _name(r):
    return f"{r['kernel_size']}x{r['kernel_size']} with {r['conv_blocks']} block(s)"


def paired_gap(right_a, right_b):
    """``(accuracy of a - accuracy of b, its standard error)`` for two models scored on the same images.

    McNemar's view: only the images where exactly one model is right carry information; with
    ``d`` such images out of ``n`` the difference has standard error ``sqrt(d) / n``.
    ``right_a``, ``right_b``: (n,) bool, whether each model got each image right."""
    n = right_a.numel()
    return (right_a.double().mean() - right_b.double().mean()).item(), math.sqrt((right_a != right_b).sum().item()) / n


# A CNN that does not beat a linear classifier on raw pixels has not learned features yet: the study's
# floor is the published logistic regression on FashionMNIST (Xiao et al. 2017 benchmark; lesson 01 ~0.84).
LINEAR_REFERENCE = 0.842


def study_verdict(study, y_val, reference=LINEAR_REFERENCE):
    """What :func:`kernel_study` can conclude, and which configuration to pick.

    A configuration is *worse than the best* when it trails by more than two standard errors of a
    paired difference (:func:`paired_gap`, about 95%). Among those not worse (the *contenders*) the
    one to pick is the cheapest in multiply-adds: the one-standard-error rule of Breiman et al.
    1984, the simplest model within the noise of the best. The study is *too short to conclude*
    when the best CNN is not clearly above ``reference`` (a linear classifier's accuracy: the CNNs
    have not learned their features yet; two binomial standard errors on the ``n`` validation
    images). When no configuration is worse than the best, that is the finding: at this budget
    kernel size and depth matter less than the validation images can measure, and the pick is the
    cheapest of all.

    Returns:
        ``{"best", "pick", "contenders", "worse" (names), "conclusive", "text", "noise"}``; ``noise``: two
        standard errors of a paired difference with the best (the median over configurations), the lead
        below which a configuration is within the noise (drawn as a band by ``plots.training.kernel_study``).
    """
    rows, correct = study["rows"], study["predictions"] == y_val     # (configs, n) bool
    n = correct.shape[1]
    b = max(range(len(rows)), key=lambda i: rows[i]["val_accuracy"])
    contenders, worse, ses = [], [], []
    for i in range(len(rows)):
        gap, se = paired_gap(correct[b], correct[i])
        (worse if gap > 2 * se else contenders).append(i)
        ses.append(se)
    pick = min(contenders, key=lambda i: rows[i]["multiply_adds"])
    best, chosen = rows[b], rows[pick]
    cheapest = f"{_name(chosen)} ({chosen['multiply_adds'] / 1e6:.2f} M multiply-adds per image)"
    conclusive = best["val_accuracy"] > reference + 2 * math.sqrt(reference * (1 - reference) / n)
    if not conclusive:
        text = (f"too short to conclude: the best CNN ({_name(best)}, {best['val_accuracy']:.4f}) is not clearly above "
                f"a linear classifier on raw pixels ({reference}); the CNNs have not learned their features yet")
    elif not worse:
        text = (f"best: {_name(best)} ({best['val_accuracy']:.4f}), but all {len(rows)} configurations are within "
                f"the noise of it on {n} validation images: here kernel size and depth matter less than that; "
                f"the cheapest: {cheapest}")
    else:
        text = (f"best: {_name(best)} ({best['val_accuracy']:.4f}); {len(worse)} of {len(rows)} configurations are "
                f"significantly worse, {len(contenders)} within the noise; the cheapest of those: {cheapest}")
    return {"best": best, "pick": chosen, "contenders": [_name(rows[i]) for i in contenders],
            "worse": [_name(rows[i]) for i in worse], "conclusive": conclusive, "text": text,
            "noise": 2 * statistics.median(ses[:b] + ses[b + 1:] or [0.0])}
