"""Transfer-learning figures (lesson 04)."""
import matplotlib.pyplot as plt

from . import save


def topk_prediction(image, top, title="", path=None, caption=None):
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
    return save(fig, path, caption) if path else fig


def transfer_comparison(runs, title="", path=None, caption=None):
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
    return save(fig, path, caption) if path else fig
