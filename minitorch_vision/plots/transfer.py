"""Transfer-learning figures (lesson 04)."""
import matplotlib.pyplot as plt

from . import save


def topk_prediction(image, top, title="", path=None, caption=None):
    """The photo beside its top-k classes: read off which classes the network hesitates between, and how much.

    ``image``: uint8 (3, H, W) or float (3, H, W) in [0, 1]; ``top``: ``[(class name, probability), ...]``.
    The probability axis is fitted to the largest value (a flat distribution, e.g. from untrained
    weights, stays readable) and every bar carries its value.
    """
    img = image.detach().cpu().permute(1, 2, 0).float()
    img = (img if image.dtype.is_floating_point else img / 255.0).clamp(0, 1).numpy()
    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.4), gridspec_kw={"width_ratios": [1, 1.4]})
    a.imshow(img)
    a.axis("off")
    names, probs = [t[0] for t in top][::-1], [t[1] for t in top][::-1]
    b.barh(range(len(top)), probs, color="tab:blue")
    b.set_yticks(range(len(top)), names)
    hi = max(probs)
    b.set_xlim(0, min(1.0, hi * 1.25) if hi > 0 else 1.0)  # from zero: bar length is the probability
    b.set_xlabel("probability" + (" (axis zoomed: the distribution is flat)" if hi < 0.3 else ""))
    for i, p in enumerate(probs):
        b.text(p, i, f" {p:.1%}", va="center", fontsize=9)
    fig.suptitle(title)
    fig.tight_layout()
    return save(fig, path, caption) if path else fig


def predictions_grid(images, true, pred, prob, title="", path=None, caption=None, ncols=6):
    """Test images with the classifier's guess: green titles are right, red ones wrong (true class in brackets).

    ``images``: uint8 (N, 3, H, W); ``true``/``pred``: class names; ``prob``: the predicted class's probability.
    """
    n = len(images)
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(1.6 * ncols, 2.1 * nrows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, img, t, p, q in zip(axes.flat, images, true, pred, prob):
        ax.imshow(img.permute(1, 2, 0).numpy(), interpolation="nearest")
        right = t == p
        ax.set_title(f"{p} {q:.0%}" + ("" if right else f"\n(true: {t})"), fontsize=9,
                     color="tab:green" if right else "tab:red")
    fig.suptitle(title)
    fig.tight_layout(h_pad=1.0)  # room for the two-line titles of wrong guesses
    return save(fig, path, caption) if path else fig


def transfer_comparison(runs, title="", path=None, caption=None, chance=None):
    """Test accuracy vs images per class, one colour per mode: see how far above scratch the pretrained modes start.

    Solid = no augmentation, dashed = augmentation. ``runs``: dicts with mode, shots, augment, test_accuracy.
    """
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
    ax.set_ylim(0, 100)
    if chance:  # e.g. 0.2 for 5 classes: what guessing scores
        ax.axhline(100 * chance, color="grey", linestyle=":", linewidth=1, label="chance")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=9, loc="upper left", bbox_to_anchor=(1.01, 1.0))  # beside the curves, never over them
    ax.set_title(title)
    fig.tight_layout()
    return save(fig, path, caption) if path else fig
