"""Images and pixels (lesson 01), and the image helpers every lesson's figures share."""
import matplotlib
import matplotlib.pyplot as plt
import numpy as np

from . import save


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


def image_grid(images, titles, path=None, ncols=8, cmap="gray", suptitle="", caption=None):
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
    return save(fig, path, caption) if path else fig


def image_with_values(img, title="", path=None, caption=None):
    """A small grayscale image (H, W) uint8 drawn with its pixel value printed in every cell."""
    a = np.asarray(img)
    fig, ax = plt.subplots(figsize=(a.shape[1] * 0.33, a.shape[0] * 0.33))
    ax.imshow(a, cmap="gray", vmin=0, vmax=255)
    for (r, c), v in np.ndenumerate(a):
        ax.text(c, r, str(v), ha="center", va="center", fontsize=4.5, color="red" if v < 128 else "black")
    ax.set_title(title)
    ax.axis("off")
    return save(fig, path, caption) if path else fig


def rgb_channels(img, title="", path=None, caption=None):
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
    return save(fig, path, caption) if path else fig


def pixel_histograms(channels, labels, colors, title="", path=None, caption=None):
    """Histogram of pixel values (0..255) for each array in ``channels``."""
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for ch, lab, col in zip(channels, labels, colors):
        ax.hist(np.asarray(ch).ravel(), bins=64, range=(0, 255), alpha=0.5, color=col, label=lab)
    ax.set_xlabel("pixel value")
    ax.set_ylabel("count")
    ax.set_yscale("log")
    ax.legend()
    ax.set_title(title)
    return save(fig, path, caption) if path else fig


def linear_weights(weight, class_names, path=None, caption=None):
    """The rows of a linear classifier's (K, 784) weight matrix drawn as 28x28 templates."""
    w = np.asarray(weight).reshape(len(class_names), 28, 28)
    lim = np.abs(w).max()
    fig, axes = plt.subplots(2, 5, figsize=(10, 4.4))
    for ax, wi, name in zip(axes.flat, w, class_names):
        ax.imshow(wi, cmap="seismic", vmin=-lim, vmax=lim)
        ax.set_title(name, fontsize=8)
        ax.axis("off")
    fig.suptitle("linear classifier weights: red pushes towards the class, blue away")
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
