"""Detection metrics the way YOLOv5 (release v6.1) ``val.py`` computes them.

Two steps:

1. :func:`match_predictions` (per image): which detections are true positives, at each of
   the 10 IoU thresholds 0.50, 0.55, ..., 0.95 (COCO's set).
2. :func:`ap_per_class` (over the whole dataset): per class, the precision-recall curve obtained
   by walking the detections from the most to the least confident, its average precision (AP,
   101-point interpolation as in COCO), and precision / recall / F1 read at one confidence
   threshold.

mAP@0.5 is the mean over classes of AP at IoU 0.5; mAP@0.5:0.95 the mean over classes of AP
averaged over the 10 thresholds. Classes enter the means only if they have ground-truth labels.
"""
import numpy as np
import torch

from .boxes import box_iou

_trapezoid = getattr(np, "trapezoid", None) or np.trapz  # np.trapz is gone in numpy 2.x


def default_iouv():
    """The 10 COCO IoU thresholds 0.50:0.05:0.95 as float32, as YOLOv5 builds them."""
    return torch.linspace(0.5, 0.95, 10)


def match_predictions(detections, labels, iouv=None, per_threshold=False):
    """Mark each detection of one image correct or not, at each IoU threshold.

    A detection can match a ground-truth box of the same class with IoU >= threshold; each
    detection and each label is used at most once. YOLOv5's rule (not COCO's, which walks the
    detections by confidence): every detection first picks its highest-IoU label; a label
    picked by several detections then goes to the one listed first in ``detections`` -- the
    most confident, since NMS output is sorted by confidence -- even if another has a higher
    IoU (YOLOv5 does not re-sort by IoU at that step; see ultralytics/yolov5 issues #4251 and
    #12673). Reproduced here because the official mAP numbers depend on it.

    * ``per_threshold=False`` (YOLOv5 v6.1, default): the pairs are chosen once, at the lowest
      threshold ``iouv[0]``; a matched detection is then correct at every threshold <= its IoU.
    * ``per_threshold=True`` (YOLOv5 >= v6.2): the matching is redone at every threshold, so a
      detection that lost its label at 0.5 can still win it at a higher threshold.

    Args:
        detections (Tensor[N, 6]): (x1, y1, x2, y2, conf, cls), xyxy pixels.
        labels (Tensor[M, 5]): (cls, x1, y1, x2, y2), same pixel frame.
        iouv (Tensor[T]): IoU thresholds, ascending; default :func:`default_iouv` (T = 10).
        per_threshold (bool): see above.

    Returns:
        Tensor[N, T] (bool): ``correct[i, t]`` = detection i is a true positive at ``iouv[t]``.
    """
    iouv = default_iouv() if iouv is None else torch.as_tensor(iouv)
    correct = torch.zeros(len(detections), len(iouv), dtype=torch.bool)
    if len(detections) == 0 or len(labels) == 0:
        return correct
    iou = box_iou(labels[:, 1:].float().cpu(), detections[:, :4].float().cpu())  # (M, N)
    same_class = labels[:, 0:1].cpu() == detections[:, 5].cpu()  # (M, N)
    levels = range(len(iouv)) if per_threshold else [0]
    for t in levels:
        label_i, det_i = torch.nonzero((iou >= iouv[t]) & same_class, as_tuple=True)  # row-major
        if len(label_i) == 0:
            continue
        pairs = torch.stack((label_i.float(), det_i.float(), iou[label_i, det_i]), 1).numpy()
        if len(pairs) > 1:  # best IoU first; one label per detection; one detection per label
            pairs = pairs[np.argsort(pairs[:, 2])[::-1]]  # numpy's sort, for YOLOv5's tie order
            pairs = pairs[np.unique(pairs[:, 1], return_index=True)[1]]
            pairs = pairs[np.unique(pairs[:, 0], return_index=True)[1]]
        det = torch.from_numpy(pairs[:, 1]).long()
        if per_threshold:
            correct[det, t] = True
        else:
            correct[det] = torch.from_numpy(pairs[:, 2:3].copy()) >= iouv[None, :]
    return correct


def compute_ap(recall, precision):
    """Average precision: area under the precision-recall curve, COCO's 101-point way.

    The curve gets sentinel points (recall 0, precision 1) and (recall 1, precision 0); its
    precision is replaced by the envelope max(precision at recall >= r) (so it never rises
    again), then sampled at recall 0, 0.01, ..., 1 and integrated with the trapezoid rule.

    Args:
        recall (ndarray[K]): recall after each detection, most confident first (non-decreasing).
        precision (ndarray[K]): precision after each detection.

    Returns:
        (ap, envelope_precision (K+2,), recall_with_sentinels (K+2,)).
    """
    mrec = np.concatenate(([0.0], recall, [1.0]))
    mpre = np.concatenate(([1.0], precision, [0.0]))
    mpre = np.flip(np.maximum.accumulate(np.flip(mpre)))  # envelope, right to left
    x = np.linspace(0, 1, 101)
    return float(_trapezoid(np.interp(x, mrec, mpre), x)), mpre, mrec


def _numpy(a):
    return a.detach().cpu().numpy() if isinstance(a, torch.Tensor) else np.asarray(a)


def ap_per_class(tp, conf, pred_cls, target_cls, eps=1e-16):
    """Per-class precision, recall, AP and F1 over a dataset (YOLOv5 v6.1 ``ap_per_class``).

    For each class that has labels: sort its detections by decreasing confidence; after each
    one, recall = TP / n_labels and precision = TP / (TP + FP). AP per IoU threshold comes from
    :func:`compute_ap`. P and R are also sampled on a grid of 1000 confidences in [0, 1]
    (linear interpolation; recall 0 / precision 1 above the most confident detection), and the
    returned per-class P, R, F1 are read at the single grid confidence that maximises the
    F1 averaged over classes (at IoU 0.5). A class with labels but no detections gets P = R =
    AP = 0.

    Args:
        tp (array[N, T] bool): ``match_predictions`` output of all detections, concatenated.
        conf (array[N]): detection confidences.
        pred_cls (array[N]): detection classes.
        target_cls (array[L]): class of every ground-truth box of the dataset.
        eps (float): guards divisions (as in YOLOv5).

    Returns:
        dict with ``classes`` (nc,) int (the classes that have labels, ascending),
        ``n_labels`` (nc,), ``p``, ``r``, ``f1`` (nc,) at the chosen confidence, ``ap`` (nc, T),
        ``conf`` (the chosen confidence), and curves for plots: ``px`` (1000,) the grid,
        ``p_curve``, ``r_curve``, ``f1_curve`` (nc, 1000) against confidence, ``pr_curve``
        (nc, 1000) precision at recall = px (IoU 0.5).
    """
    tp, conf, pred_cls, target_cls = (_numpy(a) for a in (tp, conf, pred_cls, target_cls))
    tp = tp.reshape(len(tp), -1)
    order = np.argsort(-conf)  # numpy's default sort, as YOLOv5 (same order on ties)
    tp, conf, pred_cls = tp[order], conf[order], pred_cls[order]

    classes, n_labels = np.unique(target_cls, return_counts=True)
    nc, nt = len(classes), tp.shape[1]
    px = np.linspace(0, 1, 1000)
    ap = np.zeros((nc, nt))
    p_curve, r_curve, pr_curve = np.zeros((nc, 1000)), np.zeros((nc, 1000)), np.zeros((nc, 1000))
    for ci, c in enumerate(classes):
        mine = pred_cls == c
        if mine.sum() == 0 or n_labels[ci] == 0:
            continue
        tpc = tp[mine].cumsum(0)  # (n, T) true positives so far
        fpc = (1 - tp[mine]).cumsum(0)  # false positives so far
        recall = tpc / (n_labels[ci] + eps)
        precision = tpc / (tpc + fpc)
        # conf decreases along the detections; np.interp wants increasing x, hence the minus
        r_curve[ci] = np.interp(-px, -conf[mine], recall[:, 0], left=0)
        p_curve[ci] = np.interp(-px, -conf[mine], precision[:, 0], left=1)
        for t in range(nt):
            ap[ci, t], mpre, mrec = compute_ap(recall[:, t], precision[:, t])
            if t == 0:
                pr_curve[ci] = np.interp(px, mrec, mpre)

    f1_curve = 2 * p_curve * r_curve / (p_curve + r_curve + eps)
    best = int(f1_curve.mean(0).argmax()) if nc else 0  # one confidence for all classes
    return {
        "classes": classes.astype(np.int64), "n_labels": n_labels,
        "p": p_curve[:, best], "r": r_curve[:, best], "f1": f1_curve[:, best], "ap": ap,
        "conf": float(px[best]), "px": px,
        "p_curve": p_curve, "r_curve": r_curve, "f1_curve": f1_curve, "pr_curve": pr_curve,
    }


def mean_results(result):
    """(P, R, mAP@0.5, mAP@0.5:0.95): the class means printed on the "all" row of ``val.py``.

    Args:
        result (dict): :func:`ap_per_class` output.
    """
    if len(result["classes"]) == 0:
        return 0.0, 0.0, 0.0, 0.0
    ap = result["ap"]
    return (float(result["p"].mean()), float(result["r"].mean()), float(ap[:, 0].mean()),
            float(ap.mean(1).mean()))
