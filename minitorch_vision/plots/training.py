"""Training figures of lessons 01-03, in the lessons' order: learning curves (01), the diagnostics of
a classifier (02), convolution seen from inside and the comparisons (03).

These functions only draw: what they show is computed in :mod:`minitorch_vision.diagnostics`,
:mod:`minitorch_vision.studies` or the lesson.
"""
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Rectangle

from . import save
from .images import image_grid

BAR = "tab:blue"  # one colour for bars whose length is the quantity: the colour means nothing else


def learning_curves(history, title="", path=None, caption=None):
    """Loss and accuracy per epoch from ``fit``'s history: train and validation close together means
    no over-fitting; validation falling behind train while train still improves means over-fitting."""
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
        a.set_xticks(ep if len(ep) <= 12 else ep[::max(1, len(ep) // 10)])
    fig.suptitle(title)
    return save(fig, path, caption) if path else fig


# --- lesson 02: where a classifier is wrong ---------------------------------------------------------

def confusion_matrix_plot(cm, class_names, title="confusion matrix", path=None, caption=None):
    """Counts with row = true class, column = predicted: the diagonal went right, a dark cell off it
    is a pair of classes the model mixes up."""
    cm = np.asarray(cm)
    fig, ax = plt.subplots(figsize=(8, 6.5))
    im = ax.imshow(cm, cmap="Blues")
    for (r, c), v in np.ndenumerate(cm):
        ax.text(c, r, str(v), ha="center", va="center", fontsize=8, color="white" if v > cm.max() / 2 else "black")
    ax.set_xticks(range(len(class_names)), class_names, rotation=45, ha="right")
    ax.set_yticks(range(len(class_names)), class_names)
    ax.set(xlabel="predicted class", ylabel="true class", title=title)
    ax.spines[:].set_visible(False)
    fig.colorbar(im, ax=ax, shrink=0.8, label="test images")
    return save(fig, path, caption) if path else fig


def per_class_accuracy_plot(acc, class_names, title="per-class accuracy", path=None, caption=None):
    """One bar per class on a 0-1 axis: the short bars are the classes the model finds hard."""
    acc = np.asarray(acc, dtype=float)
    fig, ax = plt.subplots(figsize=(8, 4))
    bars = ax.barh(range(len(acc)), acc, color=BAR)
    ax.bar_label(bars, [f"{a:.3f}" for a in acc], padding=3, fontsize=9)
    ax.set_yticks(range(len(acc)), class_names)
    ax.invert_yaxis()
    ax.set_xlim(0, 1.08)
    ax.set(xlabel="accuracy on the test images of the class (recall)", title=title)
    ax.grid(axis="x", alpha=0.3)
    return save(fig, path, caption) if path else fig


def diagnostics_figures(diag, images, class_names, out, model, captions=None):
    """Draw :func:`minitorch_vision.diagnostics.diagnose`'s result: ``confusion_matrix.png``,
    ``per_class_accuracy.png`` and ``worst_mistakes.png`` in ``out``, titled with ``model``.

    Args:
        images: (N, H, W) uint8 test images, indexed like the probabilities ``diag`` was made from.
        captions: optional ``{figure stem: caption}``.
    Returns: the three paths.
    """
    out, captions = Path(out), captions or {}
    m = diag["mistakes"]
    return [
        confusion_matrix_plot(diag["confusion_matrix"], class_names, f"{model}: confusion matrix (test set)",
                              out / "confusion_matrix.png", captions.get("confusion_matrix")),
        per_class_accuracy_plot(diag["per_class_accuracy"], class_names, f"{model}: per-class test accuracy",
                                out / "per_class_accuracy.png", captions.get("per_class_accuracy")),
        image_grid([images[i].numpy() for i in m["index"]],
                   [f"{class_names[p]} {c:.2f}\n(true: {class_names[t]})"
                    for p, c, t in zip(m["predicted"].tolist(), m["confidence"].tolist(), m["true"].tolist())],
                   out / "worst_mistakes.png", suptitle=f"{model}: most confident mistakes (predicted, confidence, true)",
                   caption=captions.get("worst_mistakes")),
    ]


# --- lesson 03: convolution from inside, and the comparisons ----------------------------------------

def im2col_patch(image, cols, at, kernel_size, path=None, caption=None):
    """One image, the k x k patch at pixel ``at`` = (row, col) enlarged, and the whole patch matrix
    (k*k rows, one column per output pixel) with that patch's column marked: convolution is
    ``weight @ this matrix``."""
    img, cols = np.asarray(image), np.asarray(cols)
    r, c = at
    k = kernel_size
    width = img.shape[1]
    col = r * width + c
    patch = cols[:, col].reshape(k, k)
    fig = plt.figure(figsize=(11, 3.8))
    gs = fig.add_gridspec(1, 3, width_ratios=[1, 1, 2.6])
    a1, a2, a3 = (fig.add_subplot(g) for g in gs)
    a1.imshow(img, cmap="gray")
    a1.add_patch(Rectangle((c - k // 2 - 0.5, r - k // 2 - 0.5), k, k, fill=False, ec="tab:orange", lw=2))
    a1.set_title(f"image {img.shape[0]}x{img.shape[1]}\npatch centred at ({r}, {c})")
    a2.imshow(patch, cmap="gray", vmin=img.min(), vmax=img.max())
    for (i, j), v in np.ndenumerate(patch):
        a2.text(j, i, f"{v:.1f}", ha="center", va="center", fontsize=9, color="tab:orange")
    a2.set_title(f"the {k}x{k} patch\n= column {col}")
    im = a3.imshow(cols, cmap="gray", aspect="auto", interpolation="nearest")
    a3.axvline(col, color="tab:orange", lw=2)
    a3.set(title=f"patch matrix ({cols.shape[0]}, {cols.shape[1]}): one column per output pixel",
           xlabel="output pixel (row-major)", ylabel="position in the patch")
    for ax in (a1, a2):
        ax.set_xticks([])
        ax.set_yticks([])
    fig.colorbar(im, ax=a3, label="standardised pixel value")
    return save(fig, path, caption) if path else fig


def conv_filters(weight, title="", path=None, caption=None):
    """A conv layer's first-layer filters (C_out, 1, k, k) as small images on one symmetric colour
    scale: red weights reward bright pixels, blue ones dark pixels (edge and blob detectors)."""
    w = np.asarray(weight)[:, 0]
    lim = np.abs(w).max()
    ncols = 8
    nrows = -(-len(w) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(ncols * 1.2, nrows * 1.3), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < len(w):
            im = ax.imshow(w[i], cmap="seismic", vmin=-lim, vmax=lim)
            ax.set_title(str(i), fontsize=9)
    fig.colorbar(im, ax=list(axes.flat), shrink=0.8, label="weight")
    fig.suptitle(title)
    return save(fig, path, caption) if path else fig


def feature_maps(image, maps, title="", path=None, caption=None, n=16):
    """An input image and the first ``n`` feature maps (C, H, W) a conv layer computes from it,
    each on its own scale: every filter lights up where its pattern occurs."""
    maps = np.asarray(maps)[:n]
    ncols = 8
    nrows = 1 + -(-len(maps) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(ncols * 1.3, nrows * 1.45), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    axes[0, 0].imshow(np.asarray(image), cmap="gray")
    axes[0, 0].set_title("input", fontsize=9)
    for i, (ax, m) in enumerate(zip(axes[1:].flat, maps)):
        ax.imshow(m, cmap="magma")
        ax.set_title(f"map {i}", fontsize=9)
    fig.suptitle(title)
    return save(fig, path, caption) if path else fig


def _budget_text(b):
    return f"{b['epochs']} epochs x {b['train_images']:,} images"


def model_comparison(names, accuracies, budgets, title="", path=None, caption=None):
    """Test accuracy and error rate per model on axes from 0, each bar labelled with its training
    budget: with equal budgets the taller accuracy bar (the shorter error bar) is the better model."""
    acc = np.asarray(accuracies, dtype=float)
    labels = [f"{n}\n{_budget_text(b)}" for n, b in zip(names, budgets)]
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 3.8))
    for ax, vals, name in ((a1, acc, "test accuracy"), (a2, 1 - acc, "test error rate (1 - accuracy)")):
        bars = ax.bar(labels, vals, color=BAR, width=0.55)
        ax.bar_label(bars, [f"{v:.4f}" for v in vals], padding=2)
        ax.set_ylim(0, max(vals) * 1.15)
        ax.set(ylabel=name, title=name)
        ax.grid(axis="y", alpha=0.3)
    fig.suptitle(title)
    return save(fig, path, caption) if path else fig


def kernel_study(rows, title="", path=None, caption=None, key="val_accuracy", pick=None, noise=None):
    """Accuracy vs depth for each kernel size (left) and vs compute, marker AREA proportional to
    training time (right; the legend gives the scale), ``pick`` ringed: up and to the left is good.
    ``noise``: a lead this small is no ranking (``studies.study_verdict``); shaded below the best."""
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4))
    if noise:
        best = max(r[key] for r in rows)
        a1.axhspan(best - noise, best, color="0.85", zorder=0, label="within the noise\nof the best")
        a2.axhspan(best - noise, best, color="0.85", zorder=0)
    tmax = max(r["train_seconds"] for r in rows)

    def area(seconds):  # points^2, proportional to seconds: twice the time, twice the ink
        return 600.0 * seconds / tmax

    for k, colour in zip(sorted({r["kernel_size"] for r in rows}), ("tab:blue", "tab:orange", "tab:green", "tab:red")):
        rs = sorted((r for r in rows if r["kernel_size"] == k), key=lambda r: r["conv_blocks"])
        a1.plot([r["conv_blocks"] for r in rs], [r[key] for r in rs], "-o", color=colour, label=f"{k}x{k}")
        a2.scatter([r["multiply_adds"] / 1e6 for r in rs], [r[key] for r in rs], s=[area(r["train_seconds"]) for r in rs],
                   color=colour, alpha=0.6)
    if pick is not None:
        a2.scatter([pick["multiply_adds"] / 1e6], [pick[key]], s=area(pick["train_seconds"]) + 250, facecolors="none",
                   edgecolors="black", lw=1.5, label="pick")
    name = key.replace("_", " ")
    a1.set(xlabel="conv blocks (depth)", ylabel=name, title="depth and kernel size")
    a1.set_xticks(sorted({r["conv_blocks"] for r in rows}))
    lo, hi = a1.get_ylim()
    a1.set_ylim(lo, hi + 0.5 * (hi - lo))  # headroom: the legend above the lines, not on them
    a2.set_ylim(a1.get_ylim())             # one accuracy scale for both panels
    a1.legend(title="kernel (colour)", loc="upper center", ncol=2, fontsize="small")
    a2.set(xlabel="million multiply-adds per image (log scale)", ylabel=name, xscale="log",
           title="accuracy vs compute; area = train time")
    for t in (tmax / 4, tmax):  # a size key: the same area rule as the markers
        a2.scatter([], [], s=area(t), color="gray", alpha=0.5, label=f"{t:.2g} s")
    a2.legend(title="area: train time", loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False, labelspacing=1.5)
    for a in (a1, a2):
        a.grid(alpha=0.3)
    fig.suptitle(title)
    return save(fig, path, caption) if path else fig
