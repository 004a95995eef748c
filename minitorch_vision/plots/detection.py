"""Detection figures (lesson 05): the drawn detections, precision-recall curves, and the PR curves
for TensorBoard."""
import math

import matplotlib.pyplot as plt
import numpy as np
from PIL import Image

from ..data.images import tensor_to_pil
from ..detection.draw import draw_detections
from . import save


def detection_grid(results, names, suptitle="", path=None, caption=None, ncols=3, size=480):
    """Photos with their detections drawn, one panel each: look at what was found, how sure, and missed.

    ``results``: (image uint8 (3, H, W), boxes (n, 6) x1 y1 x2 y2 conf cls in its pixels, title) per
    panel. Each photo is drawn at ``size`` px on its long side, so the labels stay readable in the panel."""
    n = len(results)
    ncols = max(1, min(ncols, n))
    nrows = max(1, math.ceil(n / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.4 * ncols, 4.6 * nrows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, (image, boxes, title) in zip(axes.flat, results):
        im = tensor_to_pil(image)
        scale = size / max(im.size)
        im = im.resize((round(im.width * scale), round(im.height * scale)), Image.BILINEAR)
        boxes = boxes.clone()
        boxes[:, :4] *= scale
        ax.imshow(draw_detections(im, boxes, names))
        ax.set_title(title, fontsize=10)
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return save(fig, path, caption) if path else fig


def pr_curves(px, pr_curve, names, ap50, title="", path=None, top=5, caption=None):
    """Precision against recall at IoU 0.5: the class mean in bold black and the ``top`` first classes
    (pass them most frequent first) in colour, labelled with their AP; the legend sits beside the
    plot, never over the curves. A curve that stays high to the right is a class found fully and cleanly.

    ``px`` (K,) recall grid; ``pr_curve`` (C, K) precision at that recall; ``names`` (C,) legend
    labels, e.g. "person (254 boxes)"; ``ap50`` (C,) AP@0.5 per class."""
    pr = np.asarray(pr_curve)
    fig, ax = plt.subplots(figsize=(8.6, 5))
    colors = plt.get_cmap("tab10").colors
    for i in range(min(top, len(pr))):
        ax.plot(px, pr[i], lw=1.6, color=colors[i % 10], label=f"{names[i]}: AP@0.5 {ap50[i]:.3f}")
    if len(pr):
        ax.plot(px, pr.mean(0), lw=3.2, color="black",
                label=f"mean of all {len(pr)} classes: mAP@0.5 {np.mean(ap50):.3f}")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("recall (share of the labelled boxes found)")
    ax.set_ylabel("precision (share of detections that are right)")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0, frameon=False)
    ax.set_title(title)
    fig.tight_layout()
    return save(fig, path, caption) if path else fig


def tensorboard_pr_curves(log_dir, curves, names, n_labels, top=5):
    """Write the PR curves of the ``top`` classes given first (and none other) to TensorBoard's PR
    curves tab, one tag per class, the confidence threshold as TensorBoard's threshold axis.

    ``curves``: :func:`~minitorch_vision.detection.metrics.ap_per_class` output (its ``p_curve`` and
    ``r_curve`` against the confidence grid ``px``), rows in the order of ``names``; ``n_labels``
    the labelled boxes per class. The counts TensorBoard asks for follow from P, R and the labels:
    TP = R * labels, FP = TP / P - TP, FN = labels - TP."""
    from torch.utils.tensorboard import SummaryWriter
    with SummaryWriter(str(log_dir)) as w:
        for i in range(min(top, len(names))):
            p, r, n = np.asarray(curves["p_curve"][i]), np.asarray(curves["r_curve"][i]), float(n_labels[i])
            tp = r * n
            fp = np.where(p > 0, tp / np.maximum(p, 1e-12) - tp, 0.0)
            w.add_pr_curve_raw(f"pr_iou0.5/{names[i]}", tp, fp, np.zeros_like(tp), n - tp, p, r,
                               num_thresholds=len(p))


def val_pr_curves(ev, title="", path=None, caption=None, log_dir=None, top=5):
    """:func:`pr_curves` of an :class:`~minitorch_vision.detection.evaluate.EvalResult`, the classes with the
    most labelled boxes first; with ``log_dir``, their curves in TensorBoard too (:func:`tensorboard_pr_curves`)."""
    order = sorted(range(len(ev.per_class)), key=lambda k: -ev.per_class[k]["instances"])
    per_class = [ev.per_class[k] for k in order]
    if log_dir is not None:
        tensorboard_pr_curves(log_dir, {k: ev.curves[k][order] for k in ("p_curve", "r_curve")},
                              [c["name"] for c in per_class], [c["instances"] for c in per_class], top)
    return pr_curves(ev.curves["px"], ev.curves["pr_curve"][order],
                     [f"{c['name']} ({c['instances']} boxes)" for c in per_class], ev.curves["ap"][order, 0],
                     title, path, top, caption)
