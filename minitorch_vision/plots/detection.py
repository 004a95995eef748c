"""Detection figures (lesson 05)."""
import matplotlib.pyplot as plt
import numpy as np

from . import save


def pr_curves(px, pr_curve, names, ap50, title="", path=None, top=10, caption=None):
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
    return save(fig, path, caption) if path else fig
