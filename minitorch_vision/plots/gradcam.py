"""Grad-CAM figures (lesson 06). Heatmaps are (H, W) arrays in [0, 1] from minitorch_vision.gradcam;
images are uint8 or [0, 1] float, (3, H, W), (1, H, W) or (H, W)."""
import matplotlib.pyplot as plt

from . import save
from .images import as_rgb01, overlay_heatmap


def plot_gradcam(image, heatmaps, titles, path, suptitle=None, alpha=0.5, caption=None):
    """The original image, then one overlay per heatmap, side by side in one row."""
    n = len(heatmaps) + 1
    fig, axes = plt.subplots(1, n, figsize=(3.2 * n, 3.4))
    axes[0].imshow(as_rgb01(image))
    axes[0].set_title("input")
    for ax, h, t in zip(axes[1:], heatmaps, titles):
        ax.imshow(overlay_heatmap(image, h, alpha))
        ax.set_title(t, fontsize=9)
    for ax in axes:
        ax.axis("off")
    if suptitle:
        fig.suptitle(suptitle)
    return save(fig, path, caption, dpi=90)


def plot_gradcam_gallery(images, heatmaps, titles, path, ncols=4, suptitle=None, alpha=0.5, caption=None):
    """A grid of (original | Grad-CAM overlay) pairs, one pair per item, titled underneath."""
    n = len(images)
    ncols = max(1, min(ncols, n))
    nrows = max(1, -(-n // ncols))
    fig, axes = plt.subplots(nrows, 2 * ncols, figsize=(2.2 * 2 * ncols, 2.9 * nrows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for i, (img, h, t) in enumerate(zip(images, heatmaps, titles)):
        r, c = divmod(i, ncols)
        axes[r, 2 * c].imshow(as_rgb01(img))
        axes[r, 2 * c + 1].imshow(overlay_heatmap(img, h, alpha))
        axes[r, 2 * c].set_title(t, fontsize=7, loc="left")
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return save(fig, path, caption)


def plot_sanity_check(rows, image, maps, map_titles, path, caption=None):
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
    a0.imshow(as_rgb01(image))
    a0.set_title("input", fontsize=8)
    a0.axis("off")
    for i, (h, t) in enumerate(zip(maps, map_titles)):
        a = fig.add_subplot(grid[1, i + 1])
        a.imshow(overlay_heatmap(image, h))
        a.set_title(t, fontsize=7)
        a.axis("off")
    return save(fig, path, caption)
