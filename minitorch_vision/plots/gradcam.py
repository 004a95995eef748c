"""Grad-CAM figures (lesson 06). Heatmaps are (H, W) arrays in [0, 1] from minitorch_vision.gradcam;
images are uint8 or [0, 1] float, (3, H, W), (1, H, W) or (H, W).

Every figure is about 8.5 in wide (about 935 px at the saved 110 dpi, the width the report shows),
so 10 pt titles stay readable; each has one colorbar for the map's colour scale, and a map that is
flat (all zero) says so in its own panel instead of looking like a blank overlay.
"""
import matplotlib
import matplotlib.pyplot as plt
import numpy as np

from . import save
from .images import as_rgb01, overlay_heatmap

CMAP = "jet"      # the colour scale of overlay_heatmap, shared by the colorbars
WIDTH = 8.5       # inches: ~935 px at save()'s 110 dpi
FLAT_NOTE = "flat map:\nno positive evidence\n(ReLU of a sum\n<= 0 everywhere)"


def is_flat(heatmap):
    """True when a Grad-CAM heatmap is all zero: ReLU(sum_k alpha_k A_k) <= 0 at every position,
    so no region raises the target score (min-max scaling keeps such a map at 0)."""
    return float(np.asarray(_numpy(heatmap)).max()) <= 0


def _numpy(a):
    return a.detach().cpu().numpy() if hasattr(a, "detach") else np.asarray(a)


def draw_map(ax, image, heatmap, title=None, alpha=0.5, fontsize=10):
    """One panel: ``heatmap`` over ``image``; a flat map is said to be flat, in the panel."""
    ax.imshow(overlay_heatmap(image, heatmap, alpha))
    if is_flat(heatmap):
        ax.text(0.5, 0.5, FLAT_NOTE, transform=ax.transAxes, ha="center", va="center", fontsize=9,
                color="white", bbox={"facecolor": "black", "alpha": 0.7, "edgecolor": "none"})
    if title:
        ax.set_title(title, fontsize=fontsize)
    ax.axis("off")


def colorbar(fig, axes, label="Grad-CAM (1 = the map's maximum)", shrink=1.0):
    """One colorbar for the maps drawn by :func:`draw_map` (their colour scale, 0 to 1)."""
    sm = matplotlib.cm.ScalarMappable(norm=matplotlib.colors.Normalize(0, 1), cmap=CMAP)
    cb = fig.colorbar(sm, ax=axes, fraction=0.025, pad=0.01, shrink=shrink)
    cb.set_label(label, fontsize=9)
    cb.ax.tick_params(labelsize=9)
    return cb


def plot_gradcam(image, heatmaps, titles, path, suptitle=None, alpha=0.5, caption=None):
    """The input, then one map per target over it: where the same activations, weighted for different
    targets, point."""
    n = len(heatmaps) + 1
    fig, axes = plt.subplots(1, n, figsize=(WIDTH, WIDTH / n * 1.25), layout="constrained")
    axes[0].imshow(as_rgb01(image))
    axes[0].set_title("input", fontsize=10)
    axes[0].axis("off")
    for ax, h, t in zip(axes[1:], heatmaps, titles):
        draw_map(ax, image, h, t, alpha)
    colorbar(fig, list(axes))
    if suptitle:
        fig.suptitle(suptitle)
    return save(fig, path, caption)


def plot_gradcam_gallery(images, heatmaps, titles, path, ncols=4, suptitle=None, alpha=0.5, caption=None):
    """A grid of items, each the image beside its Grad-CAM overlay, titled above: where the model looked
    for the class it chose."""
    n = len(images)
    ncols = max(1, min(ncols, n))
    nrows = max(1, -(-n // ncols))
    lines = max((str(t).count("\n") + 1 for t in titles), default=1)
    fig, axes = plt.subplots(nrows, ncols, figsize=(WIDTH, nrows * (WIDTH / ncols / 2 + 0.2 * lines) + 0.4),
                             squeeze=False, layout="constrained")
    for ax in axes.flat:
        ax.axis("off")
    for ax, img, h, t in zip(axes.flat, images, heatmaps, titles):
        pair = np.concatenate([as_rgb01(img), overlay_heatmap(img, h, alpha)], axis=1)  # (H, 2W, 3)
        ax.imshow(pair)
        ax.set_title(t, fontsize=9)
        if is_flat(h):  # on the overlay half
            ax.text(0.75, 0.5, "flat:\nno positive\nevidence", transform=ax.transAxes, ha="center", va="center",
                    fontsize=9, color="white", bbox={"facecolor": "black", "alpha": 0.7, "edgecolor": "none"})
    colorbar(fig, axes.ravel().tolist())
    if suptitle:
        fig.suptitle(suptitle)
    return save(fig, path, caption)


def plot_sanity_check(rows, image, maps, map_titles, path, cam_step=None, caption=None):
    """Adebayo et al. 2018 cascading randomisation: the mean rank correlation with the original map falls
    towards 0 as layers are re-initialised from the head down (a map that ignored the weights would stay
    at 1), and one image's map along the way."""
    fig = plt.figure(figsize=(WIDTH, 6.4), layout="constrained")
    top, bottom = fig.subfigures(2, 1, height_ratios=(1.25, 1.0))
    ax = top.subplots()
    labels = ["unchanged" if r["randomized"] is None else r["randomized"] for r in rows]
    x = np.arange(len(rows))
    ax.axhspan(-0.3, 0.3, color="tab:green", alpha=0.12, lw=0)
    ax.text(len(rows) - 1, 0.27, "passes: ends near 0, the map changed with the weights", ha="right", va="top",
            fontsize=9, color="tab:green")
    ax.axhline(1.0, color="tab:red", ls="--", lw=1)
    ax.text(len(rows) - 1, 0.97, "fails: a map that ignores the weights (an edge detector) stays at 1",
            ha="right", va="top", fontsize=9, color="tab:red")
    if cam_step is not None:
        ax.axvline(cam_step, color="grey", ls=":", lw=1)
        ax.text(cam_step, 0.55, " CAM layer\n random", fontsize=9, color="grey", va="center")
    ax.plot(x, [r["rank_correlation"] for r in rows], "o-", color="tab:blue", label="Grad-CAM")
    ax.set_xticks(x)
    ax.set_xticklabels(labels, rotation=30, ha="right", fontsize=9)
    ax.set_ylim(-0.35, 1.08)
    ax.set_xlabel("re-initialised cumulatively, from the head down to (module)")
    ax.set_ylabel("mean Spearman rank corr.\nwith the original map")
    axes = bottom.subplots(1, len(maps) + 1)
    axes[0].imshow(as_rgb01(image))
    axes[0].set_title("input", fontsize=10)
    axes[0].axis("off")
    for a, h, t in zip(axes[1:], maps, map_titles):
        draw_map(a, image, h, t)
    colorbar(bottom, list(axes), shrink=0.8)
    return save(fig, path, caption)
