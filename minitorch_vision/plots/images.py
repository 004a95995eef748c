"""Images and pixels (lesson 01), in the lesson's order, then the image helpers every lesson shares.

Pixel values are drawn one way everywhere: a gray ramp with 0 = black and 255 = white, and a
colorbar saying so; colour is used only where it names something (a channel, a class).
"""
import matplotlib
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Rectangle

from . import save


def image_with_values(img, title="", path=None, caption=None, crop=(6, 8, 12)):
    """A grayscale uint8 image (H, W), and a zoom on the ``size`` x ``size`` window at (``top``, ``left``),
    ``crop = (top, left, size)``, with every pixel's value printed: an image is a grid of numbers."""
    a = np.asarray(img)
    top, left, size = crop
    z = a[top:top + size, left:left + size]
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 5), gridspec_kw={"width_ratios": [1, 1.25]})
    im = a1.imshow(a, cmap="gray", vmin=0, vmax=255)
    a1.add_patch(Rectangle((left - 0.5, top - 0.5), z.shape[1], z.shape[0], fill=False, ec="tab:orange", lw=2))
    a1.set_title(f"{title}\nwhole image {a.shape[0]}x{a.shape[1]}, box = the zoom")
    a2.imshow(z, cmap="gray", vmin=0, vmax=255)
    for (r, c), v in np.ndenumerate(z):   # dark text on light pixels, light text on dark ones
        a2.text(c, r, str(v), ha="center", va="center", fontsize=8, color="black" if v > 110 else "white")
    a2.set_title(f"rows {top}-{top + z.shape[0] - 1}, columns {left}-{left + z.shape[1] - 1}: uint8 values")
    for ax in (a1, a2):
        ax.set_xticks([])
        ax.set_yticks([])
    fig.colorbar(im, ax=[a1, a2], shrink=0.8, label="pixel value (0 = black, 255 = white)")
    return save(fig, path, caption) if path else fig


def rgb_channels(img, title="", path=None, caption=None):
    """An RGB image (H, W, 3) uint8 and its three channels, each a grayscale array (0 = black):
    bright in the red channel means much red light at that pixel."""
    a = np.asarray(img)
    fig, axes = plt.subplots(1, 4, figsize=(12, 3.4))
    axes[0].imshow(a)
    axes[0].set_title(f"as displayed ({a.shape[0]}, {a.shape[1]}, 3)")
    for i, (ax, name) in enumerate(zip(axes[1:], ("red", "green", "blue"))):
        im = ax.imshow(a[..., i], cmap="gray", vmin=0, vmax=255)
        ax.set_title(f"{name} channel [{i}]")
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.colorbar(im, ax=list(axes), shrink=0.85, label="value (0 = black)")
    fig.suptitle(title or "an RGB image and its three channels")
    return save(fig, path, caption) if path else fig


def pixel_histograms(channels, labels, colors, title="", path=None, caption=None, log=False):
    """Step histograms of pixel values (0..255), one outline per array in ``channels`` so that none
    hides another; y = fraction of that array's pixels (linear axis unless ``log``)."""
    fig, ax = plt.subplots(figsize=(8, 3.6))
    for ch, lab, col in zip(channels, labels, colors):
        v = np.asarray(ch).ravel()
        ax.hist(v, bins=32, range=(0, 256), histtype="step", lw=2, color=col, label=f"{lab} ({v.size:,} px)",
                weights=np.full(v.size, 1.0 / v.size))
    ax.set_xlim(0, 256)
    ax.set_xlabel("pixel value (0 = black, 255 = brightest)")
    ax.set_ylabel("fraction of pixels" + (" (log scale)" if log else ""))
    if log:
        ax.set_yscale("log")
    else:
        ax.set_ylim(bottom=0)
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    ax.set_title(title)
    return save(fig, path, caption) if path else fig


def linear_weights(weight, class_names, path=None, caption=None, title=""):
    """The rows of a linear classifier's (K, 784) weight matrix drawn as 28x28 templates: each class
    looks for bright pixels where its template is red and dark ones where it is blue."""
    w = np.asarray(weight).reshape(len(class_names), 28, 28)
    lim = np.abs(w).max()
    fig, axes = plt.subplots(2, 5, figsize=(11, 4.8))
    for ax, wi, name in zip(axes.flat, w, class_names):
        im = ax.imshow(wi, cmap="seismic", vmin=-lim, vmax=lim)
        ax.set_title(name, fontsize=10)
        ax.axis("off")
    fig.colorbar(im, ax=list(axes.flat), shrink=0.8, label="weight (red: evidence for the class)")
    fig.suptitle(title or "linear classifier weights, one 28x28 template per class")
    return save(fig, path, caption) if path else fig


# --- shared by every lesson's figures -------------------------------------------------------------

def as_rgb01(image):
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


def image_grid(images, titles, path=None, ncols=8, cmap="gray", suptitle="", caption=None, fontsize=9):
    """A grid of small images (each (H, W) or (H, W, 3); uint8 grayscale drawn 0 = black) with a title over each."""
    n = len(images)
    ncols = max(1, min(ncols, n))
    nrows = max(1, -(-n // ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(ncols * 1.6, nrows * 2.0), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, im, t in zip(axes.flat, images, titles):
        im = np.asarray(im)
        ax.imshow(im, cmap=cmap, **({"vmin": 0, "vmax": 255} if im.dtype == np.uint8 and im.ndim == 2 else {}))
        ax.set_title(t, fontsize=fontsize)
    if suptitle:
        fig.suptitle(suptitle)
    return save(fig, path, caption) if path else fig


def overlay_heatmap(image, heatmap, alpha=0.5, cmap="jet"):
    """Blend a heatmap (H, W) in [0, 1], coloured by ``cmap``, over ``image``:
    ``(1 - alpha) * image + alpha * colour(heatmap)``. Returns float (H, W, 3) in [0, 1]."""
    img = as_rgb01(image)
    h = heatmap.detach().cpu().numpy() if hasattr(heatmap, "detach") else np.asarray(heatmap)
    if h.shape != img.shape[:2]:
        raise ValueError(f"heatmap {h.shape} and image {img.shape[:2]} differ in size")
    colour = matplotlib.colormaps[cmap](np.clip(h, 0.0, 1.0))[..., :3]
    return (1.0 - alpha) * img + alpha * colour
