"""Matplotlib figures, one function per kind of figure. The Agg backend draws to files, so the
lessons run on machines with no screen. Every figure is saved atomically as PNG by ``save``."""
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from . import distributed  # noqa: E402
from .atomic import atomic_path  # noqa: E402


def save(fig, path, dpi=110):
    """Save ``fig`` to ``path`` (PNG) via a temporary file and close it; returns the path.

    Under torchrun only rank 0 writes files; the other ranks just close the figure."""
    path = Path(path)
    if not distributed.is_main():
        plt.close(fig)
        return path
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return path


# ---------------------------------------------------------------- images and pixels (lesson 01)

def image_with_values(img, title="", path=None):
    """A small grayscale image (H, W) uint8 drawn with its pixel value printed in every cell."""
    a = np.asarray(img)
    fig, ax = plt.subplots(figsize=(a.shape[1] * 0.33, a.shape[0] * 0.33))
    ax.imshow(a, cmap="gray", vmin=0, vmax=255)
    for (r, c), v in np.ndenumerate(a):
        ax.text(c, r, str(v), ha="center", va="center", fontsize=4.5, color="red" if v < 128 else "black")
    ax.set_title(title)
    ax.axis("off")
    return save(fig, path) if path else fig


def rgb_channels(img, title="", path=None):
    """An RGB image (H, W, 3) uint8 next to its three channels shown as grayscale arrays."""
    a = np.asarray(img)
    fig, axes = plt.subplots(1, 4, figsize=(12, 3.2))
    axes[0].imshow(a)
    axes[0].set_title(title or f"RGB {a.shape[0]}x{a.shape[1]}")
    for i, (ax, name, cmap) in enumerate(zip(axes[1:], "RGB", ["Reds", "Greens", "Blues"])):
        ax.imshow(a[..., i], cmap=cmap, vmin=0, vmax=255)
        ax.set_title(f"{name} channel")
    for ax in axes:
        ax.axis("off")
    return save(fig, path) if path else fig


def pixel_histograms(channels, labels, colors, title="", path=None):
    """Histogram of pixel values (0..255) for each array in ``channels``."""
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for ch, lab, col in zip(channels, labels, colors):
        ax.hist(np.asarray(ch).ravel(), bins=64, range=(0, 255), alpha=0.5, color=col, label=lab)
    ax.set_xlabel("pixel value")
    ax.set_ylabel("count")
    ax.set_yscale("log")
    ax.legend()
    ax.set_title(title)
    return save(fig, path) if path else fig


def image_grid(images, titles, path=None, ncols=8, cmap="gray", suptitle=""):
    """A grid of small images (each (H, W) or (H, W, 3)) with a title under each."""
    n = len(images)
    nrows = max(1, -(-n // ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(ncols * 1.5, nrows * 1.75), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, im, t in zip(axes.flat, images, titles):
        ax.imshow(np.asarray(im), cmap=cmap)
        ax.set_title(t, fontsize=7)
    if suptitle:
        fig.suptitle(suptitle)
    return save(fig, path) if path else fig


def linear_weights(weight, class_names, path=None):
    """The rows of a linear classifier's (K, 784) weight matrix drawn as 28x28 templates."""
    w = np.asarray(weight).reshape(len(class_names), 28, 28)
    lim = np.abs(w).max()
    fig, axes = plt.subplots(2, 5, figsize=(10, 4.4))
    for ax, wi, name in zip(axes.flat, w, class_names):
        ax.imshow(wi, cmap="seismic", vmin=-lim, vmax=lim)
        ax.set_title(name, fontsize=8)
        ax.axis("off")
    fig.suptitle("linear classifier weights: red pushes towards the class, blue away")
    return save(fig, path) if path else fig


# ---------------------------------------------------------------- training (lessons 02, 03)

def learning_curves(history, title="", path=None):
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
    return save(fig, path) if path else fig


def confusion_matrix_plot(cm, class_names, title="confusion matrix", path=None):
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
    return save(fig, path) if path else fig


def bar_compare(names, values, ylabel, title="", path=None, fmt="{:.4f}"):
    """A labelled bar chart, e.g. test accuracy of the linear model, the MLP and the CNN."""
    fig, ax = plt.subplots(figsize=(max(4, len(names) * 1.3), 3.6))
    bars = ax.bar(names, values, color=plt.cm.tab10(np.arange(len(names))))
    for b, v in zip(bars, values):
        ax.text(b.get_x() + b.get_width() / 2, b.get_height(), fmt.format(v), ha="center", va="bottom", fontsize=8)
    lo = min(values)
    ax.set_ylim(max(0, lo - (max(values) - lo) * 2 - 0.01), max(values) + (max(values) - lo) * 0.3 + 0.005)
    ax.set(ylabel=ylabel, title=title)
    return save(fig, path) if path else fig


def kernel_study(rows, path=None):
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
    return save(fig, path) if path else fig


# =============================================================================================
# Grad-CAM figures (lesson 06). Heatmaps are (H, W) arrays in [0, 1] from
# minitorch_vision.gradcam; images are uint8 or [0, 1] float, (3, H, W), (1, H, W) or (H, W).
# =============================================================================================
def _as_rgb01(image):
    """Any image tensor/array -> float (H, W, 3) in [0, 1] for display."""
    a = image.detach().cpu().numpy() if hasattr(image, "detach") else np.asarray(image)
    a = a.astype(np.float64)
    if a.ndim == 3 and a.shape[0] in (1, 3):
        a = a.transpose(1, 2, 0)
    if a.ndim == 2:
        a = a[:, :, None]
    if a.shape[2] == 1:
        a = np.repeat(a, 3, axis=2)
    if a.max() > 1.0:
        a = a / 255.0
    return np.clip(a, 0.0, 1.0)


def overlay_heatmap(image, heatmap, alpha=0.5, cmap="jet"):
    """Blend a heatmap (H, W) in [0, 1], coloured by ``cmap``, over ``image``:
    ``(1 - alpha) * image + alpha * colour(heatmap)``. Returns float (H, W, 3) in [0, 1]."""
    img = _as_rgb01(image)
    h = heatmap.detach().cpu().numpy() if hasattr(heatmap, "detach") else np.asarray(heatmap)
    if h.shape != img.shape[:2]:
        raise ValueError(f"heatmap {h.shape} and image {img.shape[:2]} differ in size")
    colour = matplotlib.colormaps[cmap](np.clip(h, 0.0, 1.0))[..., :3]
    return (1.0 - alpha) * img + alpha * colour


def plot_gradcam(image, heatmaps, titles, path, suptitle=None, alpha=0.5):
    """The original image, then one overlay per heatmap, side by side in one row."""
    n = len(heatmaps) + 1
    fig, axes = plt.subplots(1, n, figsize=(3.2 * n, 3.4))
    axes[0].imshow(_as_rgb01(image))
    axes[0].set_title("input")
    for ax, h, t in zip(axes[1:], heatmaps, titles):
        ax.imshow(overlay_heatmap(image, h, alpha))
        ax.set_title(t, fontsize=9)
    for ax in axes:
        ax.axis("off")
    if suptitle:
        fig.suptitle(suptitle)
    return save(fig, path, dpi=90)


def plot_gradcam_gallery(images, heatmaps, titles, path, ncols=4, suptitle=None, alpha=0.5):
    """A grid of (original | Grad-CAM overlay) pairs, one pair per item, titled underneath."""
    n = len(images)
    ncols = max(1, min(ncols, n))
    nrows = max(1, -(-n // ncols))
    fig, axes = plt.subplots(nrows, 2 * ncols, figsize=(2.2 * 2 * ncols, 2.9 * nrows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for i, (img, h, t) in enumerate(zip(images, heatmaps, titles)):
        r, c = divmod(i, ncols)
        axes[r, 2 * c].imshow(_as_rgb01(img))
        axes[r, 2 * c + 1].imshow(overlay_heatmap(img, h, alpha))
        axes[r, 2 * c].set_title(t, fontsize=7, loc="left")
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return save(fig, path)


def plot_sanity_check(rows, image, maps, map_titles, path):
    """Adebayo et al. 2018 cascading randomisation: the mean rank correlation with the original
    Grad-CAM after each layer is re-initialised (head first), and one image's map along the way."""
    ncols = max(2, len(maps) + 1)
    fig = plt.figure(figsize=(2.4 * ncols, 7.0))
    grid = fig.add_gridspec(2, ncols, height_ratios=(1.2, 1.0), hspace=0.9)
    ax = fig.add_subplot(grid[0, :])
    labels = ["(none)" if r["randomized"] is None else r["randomized"] for r in rows]
    ax.plot(range(len(rows)), [r["rank_correlation"] for r in rows], "o-")
    ax.axhline(0, color="grey", lw=0.5)
    ax.set_xticks(range(len(rows)))
    ax.set_xticklabels(labels, rotation=45, ha="right", fontsize=7)
    ax.set_ylim(-0.2, 1.05)
    ax.set_ylabel("mean Spearman rank corr.")
    ax.set_title("re-initialised cumulatively, from the head down")
    a0 = fig.add_subplot(grid[1, 0])
    a0.imshow(_as_rgb01(image))
    a0.set_title("input", fontsize=8)
    a0.axis("off")
    for i, (h, t) in enumerate(zip(maps, map_titles)):
        a = fig.add_subplot(grid[1, i + 1])
        a.imshow(overlay_heatmap(image, h))
        a.set_title(t, fontsize=7)
        a.axis("off")
    return save(fig, path)


# =============================================================================================
# transfer learning (lesson 04)
# =============================================================================================
def topk_prediction(image, top, title="", path=None):
    """An image (uint8 (3, H, W) or float (3, H, W) in [0, 1]) beside a bar chart of its top-k
    ``[(class name, probability), ...]``."""
    img = image.detach().cpu().permute(1, 2, 0).float()
    img = (img if image.dtype.is_floating_point else img / 255.0).clamp(0, 1).numpy()
    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.4), gridspec_kw={"width_ratios": [1, 1.4]})
    a.imshow(img)
    a.axis("off")
    names, probs = [t[0] for t in top][::-1], [t[1] for t in top][::-1]
    b.barh(range(len(top)), probs, color="tab:blue")
    b.set_yticks(range(len(top)), names)
    b.set_xlim(0, 1)
    b.set_xlabel("probability")
    for i, p in enumerate(probs):
        b.text(min(p + 0.01, 0.85), i, f"{p:.1%}", va="center", fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    return save(fig, path) if path else fig


def transfer_comparison(runs, title="", path=None):
    """Test accuracy vs images per class: one colour per mode, solid = no augmentation,
    dashed = augmentation. ``runs``: dicts with mode, shots, augment, test_accuracy."""
    colors = {"scratch": "tab:red", "frozen": "tab:blue", "finetune": "tab:green"}
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for mode, color in colors.items():
        for aug, style in ((False, "-"), (True, "--")):
            pts = sorted((r["shots"], r["test_accuracy"]) for r in runs if r["mode"] == mode and r["augment"] == aug)
            if pts:
                ax.plot([p[0] for p in pts], [100 * p[1] for p in pts], style, marker="o", color=color,
                        label=f"{mode}{' + aug' if aug else ''}")
    shots = sorted({r["shots"] for r in runs})
    ax.set_xscale("log")
    ax.set_xticks(shots, [str(s) for s in shots])
    ax.minorticks_off()
    ax.set_xlabel("training images per class (k)")
    ax.set_ylabel("test accuracy (%)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(title)
    fig.tight_layout()
    return save(fig, path) if path else fig


# ---------------------------------------------------------------- error diagnostics (lessons 02, 03, 06)

def diagnostics_figures(probs, y_true, images, class_names, out, prefix="", k_mistakes=24):
    """Confusion matrix, per-class accuracy and the most confident mistakes, as PNGs in ``out``.

    Args:
        probs: (N, K) softmax probabilities; y_true: (N,) labels; images: (N, H, W) uint8 for display.
    Returns:
        :func:`minitorch_vision.diagnostics.summarize`'s dict (JSON-friendly) plus the figure names.
    """
    from . import diagnostics as dg

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


# =============================================================================================
# object detection (lesson 05)
# =============================================================================================
def pr_curves(px, pr_curve, names, ap50, title="", path=None, top=10):
    """Precision-recall curves at IoU 0.5: thin grey per class, the ``top`` most frequent classes in
    colour (``names`` "person (254)" etc. in that order), and the class mean in bold.

    ``px`` (K,) recall grid, ``pr_curve`` (C, K) precision at that recall, ``ap50`` (C,) AP@0.5."""
    pr = np.asarray(pr_curve)
    fig, ax = plt.subplots(figsize=(6.4, 5))
    for i in range(len(pr)):
        if i < top:
            ax.plot(px, pr[i], lw=1.2, label=f"{names[i]} AP {ap50[i]:.3f}")
        else:
            ax.plot(px, pr[i], lw=0.6, color="grey", alpha=0.35)
    if len(pr):
        ax.plot(px, pr.mean(0), lw=3, color="black", label=f"all classes mAP@0.5 {np.mean(ap50):.3f}")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower left")
    ax.set_title(title)
    fig.tight_layout()
    return save(fig, path) if path else fig
