"""Training figures (lessons 01-03): learning curves, confusion matrix, bars, the kernel study."""
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from . import save
from .. import diagnostics as dg
from .images import image_grid


def learning_curves(history, title="", path=None, caption=None):
    """Loss and accuracy per epoch (train vs validation) from ``fit``'s history."""
    ep = [r["epoch"] for r in history]
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 3.6))
    for split, style in (("train", "-o"), ("val", "-s"), ("test", "--^")):
        if f"{split}_loss" in history[0]:
            a1.plot(ep, [r[f"{split}_loss"] for r in history], style, label=split)
        if f"{split}_accuracy" in history[0]:
            a2.plot(ep, [r[f"{split}_accuracy"] for r in history], style, label=split)
    a1.set(xlabel="epoch", ylabel="cross-entropy loss", title="loss")
    a2.set(xlabel="epoch", ylabel="accuracy", title="accuracy")
    for a in (a1, a2):
        a.grid(alpha=0.3)
        a.legend()
    fig.suptitle(title)
    return save(fig, path, caption) if path else fig


def confusion_matrix_plot(cm, class_names, title="confusion matrix", path=None, caption=None):
    """Counts with row = true class, column = predicted; the diagonal is what went right."""
    cm = np.asarray(cm)
    fig, ax = plt.subplots(figsize=(7, 6))
    ax.imshow(cm, cmap="Blues")
    for (r, c), v in np.ndenumerate(cm):
        ax.text(c, r, str(v), ha="center", va="center", fontsize=7,
                color="white" if v > cm.max() / 2 else "black")
    ax.set_xticks(range(len(class_names)), class_names, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(len(class_names)), class_names, fontsize=8)
    ax.set(xlabel="predicted", ylabel="true", title=title)
    return save(fig, path, caption) if path else fig


def bar_compare(names, values, ylabel, title="", path=None, fmt="{:.4f}", caption=None):
    """A labelled bar chart, e.g. test accuracy of the linear model, the MLP and the CNN."""
    fig, ax = plt.subplots(figsize=(max(4, len(names) * 1.3), 3.6))
    bars = ax.bar(names, values, color=plt.cm.tab10(np.arange(len(names))))
    for b, v in zip(bars, values):
        ax.text(b.get_x() + b.get_width() / 2, b.get_height(), fmt.format(v), ha="center", va="bottom", fontsize=8)
    lo = min(values)
    ax.set_ylim(max(0, lo - (max(values) - lo) * 2 - 0.01), max(values) + (max(values) - lo) * 0.3 + 0.005)
    ax.set(ylabel=ylabel, title=title)
    return save(fig, path, caption) if path else fig


def kernel_study(rows, path=None, caption=None):
    """Test accuracy vs depth for each kernel size, marker area ~ parameter count."""
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 3.8))
    for k in sorted({r["kernel_size"] for r in rows}):
        rs = sorted((r for r in rows if r["kernel_size"] == k), key=lambda r: r["conv_blocks"])
        a1.plot([r["conv_blocks"] for r in rs], [r["test_accuracy"] for r in rs], "-o", label=f"{k}x{k}")
        a2.scatter([r["params"] for r in rs], [r["test_accuracy"] for r in rs],
                   s=[20 + r["train_seconds"] for r in rs], label=f"{k}x{k}", alpha=0.7)
    a1.set(xlabel="conv blocks", ylabel="test accuracy", title="depth and kernel size")
    a1.set_xticks(sorted({r["conv_blocks"] for r in rows}))
    a2.set(xlabel="parameters", ylabel="test accuracy", xscale="log", title="accuracy vs size (area ~ train time)")
    for a in (a1, a2):
        a.grid(alpha=0.3)
        a.legend(title="kernel")
    return save(fig, path, caption) if path else fig


def diagnostics_figures(probs, y_true, images, class_names, out, prefix="", k_mistakes=24):
    """Confusion matrix, per-class accuracy and the most confident mistakes, as PNGs in ``out``.

    Args:
        probs: (N, K) softmax probabilities; y_true: (N,) labels; images: (N, H, W) uint8 for display.
    Returns:
        :func:`minitorch_vision.diagnostics.summarize`'s dict (JSON-friendly) plus the figure names.
    """
    out = Path(out)
    pred = probs.argmax(1)
    cm = dg.confusion_matrix(y_true, pred, len(class_names))
    confusion_matrix_plot(cm, class_names, f"{prefix} confusion matrix (test set)".strip(),
                          out / f"{prefix}confusion_matrix.png")
    acc = dg.per_class_accuracy(cm)
    bar_compare(class_names, acc.tolist(), "accuracy", f"{prefix} per-class accuracy".strip(),
                out / f"{prefix}per_class_accuracy.png", fmt="{:.2f}")
    idx, wrong, conf = dg.worst_mistakes(probs, y_true, k_mistakes)
    image_grid([images[i].numpy() for i in idx],
               [f"{class_names[w]} {c:.3f}\n(true: {class_names[y_true[i]]})" for i, w, c in zip(idx, wrong, conf)],
               out / f"{prefix}worst_mistakes.png", suptitle="most confident mistakes: predicted, confidence (true class)")
    summary = dg.summarize(probs, y_true, class_names)
    summary["figures"] = [f"{prefix}{n}.png" for n in ("confusion_matrix", "per_class_accuracy", "worst_mistakes")]
    return summary
