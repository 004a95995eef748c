"""Experiments that train several small models for lesson 03: the MLP baseline and the kernel study.

Each is one call so that the lesson reads as the experiment; both train with :func:`train.fit`
(Adam, the 1cycle schedule) and are seeded, so the same seed gives the same rows.

The kernel study trains every (kernel size, depth) pair of :class:`models.cnn.CNN` for the same
budget on the same slice of the training set and scores it on the validation split (choices are
made on validation data; the test set only reports the final model). :func:`study_verdict` says
whether the winner's lead is larger than the noise of a validation accuracy measured on ``n``
images, so a study that is too short to conclude says so instead of suggesting a ranking.
"""
import math

import torch

from .data.loader import Batches
from .models.cnn import CNN, CNNConfig
from .models.mlp import MLP
from .nnutil import count_params
from .train import evaluate, fit, one_cycle


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


def mlp_baseline(train, test, *, epochs, lr=2e-3, seed=0, device="cpu", log_dir=None, amp=False):
    """Lesson 02's MLP trained with exactly the budget it is compared with (same batches, same epochs).

    Args:
        train: the :class:`Batches` the CNN was trained on; test: the batches it is scored on.
    Returns:
        ``{"test_accuracy", "params", "train_seconds", "budget"}``.
    """
    torch.manual_seed(seed)
    model = MLP().to(device)
    _, acc, seconds = train_quietly(model, train, test, epochs=epochs, lr=lr, device=device, log_dir=log_dir, amp=amp)
    return {"test_accuracy": acc, "params": count_params(model), "train_seconds": seconds,
            "budget": budget(epochs, len(train.x), train.batch_size)}


def kernel_study(x, y, val, *, kernel_sizes=(3, 5, 7), depths=(1, 2, 3), width=16, epochs=2, lr=3e-3,
                 batch_size=256, seed=0, device="cpu", log_root=None, verbose=True):
    """Train one CNN per (kernel size, conv blocks) on ``x, y`` for ``epochs``; score each on ``val``.

    Every configuration gets the same initial seed, the same batches in the same order and the
    same schedule: only the architecture differs. ``width`` is the first block's channel count
    (lesson 03's main model uses 32; the study uses fewer to stay cheap: the ranking is what it
    measures). ``log_root``: one TensorBoard run per configuration in ``log_root/k<k>_blocks<b>``.

    Returns:
        one row per configuration: ``kernel_size``, ``conv_blocks``, ``val_accuracy``, ``params``,
        ``train_seconds``.
    """
    train = Batches(x, y, batch_size, shuffle=True, seed=seed)
    rows = []
    for k in kernel_sizes:
        for blocks in depths:
            torch.manual_seed(seed)
            m = CNN(CNNConfig(kernel_size=k, conv_blocks=blocks, width=width)).to(device, memory_format=torch.channels_last)
            log_dir = None if log_root is None else log_root / f"k{k}_blocks{blocks}"
            _, acc, seconds = train_quietly(m, train, val, epochs=epochs, lr=lr, device=device, log_dir=log_dir)
            rows.append({"kernel_size": k, "conv_blocks": blocks, "val_accuracy": acc,
                         "params": count_params(m), "train_seconds": seconds})
            if verbose:
                print(f"  kernel {k}x{k}, {blocks} block(s): val accuracy {acc:.4f}, "
                      f"{rows[-1]['params']:>9,} params, {seconds:5.1f} s")
    return rows


def study_verdict(rows, n_val, key="val_accuracy"):
    """The study's winner and whether its lead is real.

    Two accuracies measured on ``n_val`` images each have a binomial standard error
    ``sqrt(p (1 - p) / n_val)``; the difference of two has ``sqrt(2)`` times that. A lead of less
    than two such standard errors (about 95% two-sided) is not a ranking.

    Returns:
        ``{"best": row, "runner_up": row, "lead": float, "noise": 2 sigma, "conclusive": bool,
        "text": one sentence for the learner}``.
    """
    ranked = sorted(rows, key=lambda r: r[key], reverse=True)
    best, second = ranked[0], ranked[1]
    p = best[key]
    noise = 2 * math.sqrt(2 * p * (1 - p) / max(n_val, 1))
    lead = best[key] - second[key]

    def name(r):
        return f"kernel {r['kernel_size']}x{r['kernel_size']} with {r['conv_blocks']} block(s)"
    if lead > noise:
        text = (f"{name(best)} wins ({p:.4f}), {lead:.4f} ahead of {name(second)}: "
                f"more than the noise of {noise:.4f} (2 sigma on {n_val} validation images)")
    else:
        text = (f"too short to conclude: {name(best)} ({p:.4f}) leads {name(second)} by {lead:.4f}, within the "
                f"noise of {noise:.4f} (2 sigma on {n_val} validation images); train longer for a ranking")
    return {"best": best, "runner_up": second, "lead": lead, "noise": noise, "conclusive": lead > noise, "text": text}
