"""The COCO detection metric (pycocotools' ``COCOeval`` with iouType "bbox"), written out in numpy.

The field reports detectors with this protocol (the YOLOv5 README's mAP columns are it); lesson
05's ``val.py`` numbers (:mod:`.evaluate`) use another. The protocol, per image and category:

1. Detections sorted by score (stable), at most ``maxDets[-1]`` = 100 kept **per image and
   category**; IoU of each detection with each ground-truth box in double precision, boxes as
   (x, y, w, h); a crowd box's IoU divides by the *detection's* area (any part of a crowd counts).
2. Greedy matching at each IoU threshold t in 0.50:0.05:0.95: each detection, best score first,
   takes the unmatched ground truth with the highest IoU >= t (the last one among equals), looking
   at regular boxes first and at "ignored" ones (crowds, or outside the area range) only if no
   regular box qualifies. A crowd can absorb any number of detections.
3. Area ranges all / small (< 32^2 px) / medium / large (> 96^2 px): ground truth outside the
   range is ignored, and so is an unmatched detection outside it. Matched-to-ignored and ignored
   detections count as neither TP nor FP.
4. Per category, range and maxDets (1, 10, 100): all images' detections sorted by score
   (stable, images in id order), cumulative TP / FP, precision made non-increasing from the right,
   read at the 101 recall points 0, 0.01, ..., 1 (the first detection reaching that recall;
   0 beyond the last recall reached). AP = the mean of those 101 values, no trapezoids.
5. The 12 ``summarize()`` numbers: means over categories (and thresholds) of the entries that
   exist, i.e. skipping categories without ground truth in that area range (-1 if none).

Differences from :mod:`.metrics` (YOLOv5 ``val.py``): COCO matches greedily by *score* at each
threshold separately (val.py pairs by IoU once), caps detections at 100 per image and category
(val.py: 300 per image), samples precision at 101 recalls instead of integrating an interpolated
curve, and means only categories with ground truth -- so the two mAP@0.5:0.95 differ by about 0.01.
Inputs use COCO's own JSON layout, so the same dicts feed ``pycocotools`` (a test-only reference).
"""
from collections import defaultdict
from dataclasses import dataclass

import numpy as np
import torch

IOU_THRESHOLDS = np.linspace(0.5, 0.95, 10)          # np.linspace as COCOeval builds them
RECALL_THRESHOLDS = np.linspace(0.0, 1.0, 101)
MAX_DETS = (1, 10, 100)
AREA_RANGES = {"all": (0, 1e10), "small": (0, 32 ** 2), "medium": (32 ** 2, 96 ** 2), "large": (96 ** 2, 1e10)}
SUMMARY = [  # (name, average precision?, IoU threshold or None for the mean, area range, maxDets)
    ("AP", True, None, "all", 100), ("AP50", True, 0.5, "all", 100), ("AP75", True, 0.75, "all", 100),
    ("AP_small", True, None, "small", 100), ("AP_medium", True, None, "medium", 100),
    ("AP_large", True, None, "large", 100), ("AR1", False, None, "all", 1), ("AR10", False, None, "all", 10),
    ("AR100", False, None, "all", 100), ("AR_small", False, None, "small", 100),
    ("AR_medium", False, None, "medium", 100), ("AR_large", False, None, "large", 100),
]


@dataclass
class CocoEval:
    """``stats`` (12,): the summarize() numbers in :data:`SUMMARY` order; ``precision``
    (T=10, R=101, K, A=4, M=3) and ``recall`` (T, K, A, M), -1 where a category has no ground
    truth; ``category_ids`` (K,) the order of the K axis."""
    stats: np.ndarray
    precision: np.ndarray
    recall: np.ndarray
    category_ids: list

    def record(self):
        """The 12 summary numbers by name, e.g. ``{"AP": 0.35, "AP50": 0.52, ...}`` (for results.json)."""
        return dict(zip([name for name, *_ in SUMMARY], self.stats.tolist()))


def coco_box_iou(dt, gt, crowd):
    """IoU of (D, 4) detections with (G, 4) ground-truth boxes, both (x, y, w, h), float64 (D, G).

    As pycocotools' ``bbIou``: intersection / union, but for a crowd box intersection / the
    detection's area; no overlap (width or height <= 0) is exactly 0.
    """
    dt, gt = np.asarray(dt, np.float64).reshape(-1, 4), np.asarray(gt, np.float64).reshape(-1, 4)
    w = np.minimum(dt[:, None, 2] + dt[:, None, 0], gt[None, :, 2] + gt[None, :, 0]) - np.maximum(dt[:, None, 0], gt[None, :, 0])
    h = np.minimum(dt[:, None, 3] + dt[:, None, 1], gt[None, :, 3] + gt[None, :, 1]) - np.maximum(dt[:, None, 1], gt[None, :, 1])
    inter = np.where((w > 0) & (h > 0), w * h, 0.0)
    dt_area, gt_area = dt[:, 2] * dt[:, 3], gt[:, 2] * gt[:, 3]
    union = np.where(np.asarray(crowd, bool)[None, :], dt_area[:, None], dt_area[:, None] + gt_area[None, :] - inter)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(inter > 0, inter / union, 0.0)


def match_greedy(ious, gt_ignore, crowd, thresholds=IOU_THRESHOLDS):
    """COCO's greedy matching of one image and category, for every threshold at once.

    Args:
        ious (D, G): detections sorted by score; ground truth in any order.
        gt_ignore (G,) bool: ignored ground truth (crowds, outside the area range).
        crowd (G,) bool: crowd boxes (may be matched any number of times).

    Returns:
        (T, D) int: the ground-truth index each detection matched at each threshold, -1 if none.
    """
    T, (D, G) = len(thresholds), ious.shape
    match = np.full((T, D), -1)
    taken = np.zeros((T, G), bool)
    lowest = np.minimum(thresholds, 1 - 1e-10)[:, None]
    rows = np.arange(T)
    for d in np.flatnonzero((ious >= lowest.min()).any(1)):  # others match nothing at any threshold
        free = (ious[d] >= lowest) & (~taken | crowd)                      # (T, G)
        for group in (~gt_ignore, gt_ignore):                   # regular boxes first, then ignored
            cand = free & group & (match[:, d] < 0)[:, None]
            best = G - 1 - np.argmax(np.where(cand, ious[d], -1.0)[:, ::-1], axis=1)  # last max
            hit = cand.any(1)
            match[hit, d] = best[hit]
        done = match[:, d] >= 0
        taken[rows[done], match[done, d]] = True
    return match


def _xywh(xyxy):
    """(x1, y1, x2, y2) -> COCO's (x, y, w, h), float64."""
    return np.concatenate([xyxy[:, :2], xyxy[:, 2:4] - xyxy[:, :2]], 1)


def coco_image_matches(detections, labels, max_det=MAX_DETS[-1]):
    """Which detections of one image COCOeval counts as true positives (area "all", no crowds).

    Args:
        detections (Tensor[N, 6]): (x1, y1, x2, y2, conf, cls); labels (Tensor[M, 5]): (cls, x1, y1, x2, y2).

    Returns:
        Tensor[N, 10] bool, in the rows of ``detections`` (as :func:`.metrics.match_predictions`, to compare):
        matched at IoU 0.50, 0.55, ..., 0.95; False for a detection beyond the ``max_det`` best of its class.
    """
    det, lab = np.asarray(detections, np.float64).reshape(-1, 6), np.asarray(labels, np.float64).reshape(-1, 5)
    tp = np.zeros((len(det), len(IOU_THRESHOLDS)), bool)
    for c in np.unique(det[:, 5]):
        rows = np.flatnonzero(det[:, 5] == c)
        rows = rows[np.argsort(-det[rows, 4], kind="mergesort")][:max_det]   # by score, stable
        gt = lab[lab[:, 0] == c, 1:]
        if len(gt) == 0:
            continue
        ious = coco_box_iou(_xywh(det[rows, :4]), _xywh(gt), np.zeros(len(gt), bool))
        tp[rows] = (match_greedy(ious, np.zeros(len(gt), bool), np.zeros(len(gt), bool)) >= 0).T
    return torch.from_numpy(tp)


def _evaluate_image(dts, gts, area_ranges, max_det):
    """One image and category, every area range: dict with ``scores`` (D,), ``tp`` and ``ignored``
    (A, T, D) bool, ``npig`` (A,) the number of non-ignored ground truths; None if both empty."""
    if not dts and not gts:
        return None
    dts = sorted(dts, key=lambda d: -d["score"])[:max_det]         # stable, like mergesort
    crowd = np.array([bool(g.get("iscrowd", 0)) for g in gts], bool)
    gt_area = np.array([g["area"] for g in gts], np.float64)
    dt_area = np.array([d["bbox"][2] * d["bbox"][3] for d in dts], np.float64)
    ious = coco_box_iou([d["bbox"] for d in dts], [g["bbox"] for g in gts], crowd)
    A, T, D = len(area_ranges), len(IOU_THRESHOLDS), len(dts)
    tp, ignored, npig = np.zeros((A, T, D), bool), np.zeros((A, T, D), bool), np.zeros(A, int)
    for a, (lo, hi) in enumerate(area_ranges):
        gt_ignore = crowd | (gt_area < lo) | (gt_area > hi)
        npig[a] = int((~gt_ignore).sum())
        match = match_greedy(ious, gt_ignore, crowd) if D and len(gts) else np.full((T, D), -1)
        matched = match >= 0
        ignored[a] = np.where(matched, gt_ignore[np.maximum(match, 0)] if len(gts) else False, False)
        ignored[a] |= ~matched & ((dt_area < lo) | (dt_area > hi))[None, :]
        tp[a] = matched & ~ignored[a]
    return {"scores": np.array([d["score"] for d in dts], np.float64), "tp": tp, "ignored": ignored, "npig": npig}


def _precision_recall(scores, tp, ignored, npig):
    """One category, area range and maxDets: (precision (T, R), recall (T,)) from the detections of
    every image concatenated in image order; tp / ignored (T, N)."""
    order = np.argsort(-scores, kind="mergesort")
    tp, ignored = tp[:, order], ignored[:, order]
    tps = np.cumsum(tp & ~ignored, axis=1).astype(float)
    fps = np.cumsum(~tp & ~ignored, axis=1).astype(float)
    rc = tps / npig
    pr = tps / (fps + tps + np.spacing(1))
    pr = np.flip(np.maximum.accumulate(np.flip(pr, 1), axis=1), 1)   # non-increasing from the right
    n = tp.shape[1]
    precision = np.zeros((len(tp), len(RECALL_THRESHOLDS)))
    for t in range(len(tp)):
        at = np.searchsorted(rc[t], RECALL_THRESHOLDS, side="left")  # first detection reaching r
        precision[t] = np.where(at < n, pr[t, np.minimum(at, n - 1)] if n else 0.0, 0.0)
    recall = rc[:, -1] if n else np.zeros(len(tp))
    return precision, recall


def _group(gt, detections):
    """Image ids (sorted), category ids (sorted), and per (image, category) lists of ground truth
    and detections in their input order (as pycocotools' ``_prepare``)."""
    image_ids = sorted({int(im["id"]) for im in gt["images"]})
    category_ids = sorted({int(c["id"]) for c in gt["categories"]})
    known, cats = set(image_ids), set(category_ids)
    gts, dts = defaultdict(list), defaultdict(list)
    for g in gt["annotations"]:
        if g["image_id"] in known and g["category_id"] in cats:
            gts[g["image_id"], g["category_id"]].append(g)
    for d in detections:
        if d["image_id"] not in known:
            raise ValueError(f"detection on image_id {d['image_id']}, which is not in the ground truth's images")
        if d["category_id"] in cats:
            dts[d["image_id"], d["category_id"]].append(d)
    return image_ids, category_ids, gts, dts


def summarize(precision, recall):
    """The 12 numbers ``COCOeval.summarize()`` prints, from ``precision`` (T, R, K, A, M) and
    ``recall`` (T, K, A, M): means of the entries > -1 (-1 when there are none), :data:`SUMMARY` order."""
    areas, stats = list(AREA_RANGES), []
    for _, is_ap, iou, area, max_det in SUMMARY:
        a, m = areas.index(area), MAX_DETS.index(max_det)
        s = precision[..., a, m] if is_ap else recall[..., a, m]
        if iou is not None:
            s = s[np.flatnonzero(IOU_THRESHOLDS == iou)]
        stats.append(float(np.mean(s[s > -1])) if (s > -1).any() else -1.0)
    return np.array(stats)


def coco_evaluate(gt, detections):
    """COCOeval (bbox) on ``detections`` against ``gt``: ``evaluate()``, ``accumulate()``, ``summarize()``.

    Args:
        gt (dict): COCO ground truth: ``images`` [{id}], ``categories`` [{id}], ``annotations``
            [{id (>= 1), image_id, category_id, bbox [x, y, w, h] in pixels, area, iscrowd}].
        detections (list[dict]): COCO results: [{image_id, category_id, bbox [x, y, w, h], score}].

    Returns:
        :class:`CocoEval`.
    """
    image_ids, category_ids, gts, dts = _group(gt, detections)
    ranges = list(AREA_RANGES.values())
    T, R, K, A, M = len(IOU_THRESHOLDS), len(RECALL_THRESHOLDS), len(category_ids), len(ranges), len(MAX_DETS)
    precision, recall = -np.ones((T, R, K, A, M)), -np.ones((T, K, A, M))
    for k, c in enumerate(category_ids):
        per_image = [e for e in (_evaluate_image(dts[i, c], gts[i, c], ranges, MAX_DETS[-1]) for i in image_ids) if e]
        if not per_image:
            continue
        scores = np.concatenate([e["scores"] for e in per_image])
        rank = np.concatenate([np.arange(len(e["scores"])) for e in per_image])  # within its image
        for a in range(A):
            npig = sum(int(e["npig"][a]) for e in per_image)
            if npig == 0:                    # no ground truth in this range: stays -1 (skipped)
                continue
            tp = np.concatenate([e["tp"][a] for e in per_image], axis=1)
            ignored = np.concatenate([e["ignored"][a] for e in per_image], axis=1)
            for m, max_det in enumerate(MAX_DETS):
                top = rank < max_det
                precision[:, :, k, a, m], recall[:, k, a, m] = _precision_recall(
                    scores[top], tp[:, top], ignored[:, top], npig)
    return CocoEval(summarize(precision, recall), precision, recall, category_ids)


def format_coco_stats(stats):
    """The 12 lines ``COCOeval.summarize()`` prints, e.g.
    `` Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ] = 0.350``."""
    lines = []
    for value, (_, is_ap, iou, area, max_det) in zip(stats, SUMMARY):
        kind = "Average Precision  (AP)" if is_ap else "Average Recall     (AR)"
        ious = "0.50:0.95" if iou is None else f"{iou:0.2f}"
        lines.append(f" {kind} @[ IoU={ious:<9} | area={area:>6s} | maxDets={max_det:>3d} ] = {value:0.3f}")
    return "\n".join(lines)


def yolo_to_coco_gt(image_sizes, labels, names):
    """YOLO labels to a COCO ground-truth dict (what :func:`coco_evaluate` and pycocotools read).

    Args:
        image_sizes (list[(h, w)]): image sizes in pixels; image ``i`` gets id ``i``.
        labels (list[Tensor[n, 5]]): per image (cls, cx, cy, w, h) normalised to [0, 1].
        names (sequence[str]): class names; class ``c`` gets category id ``c``.

    Returns:
        dict: ``bbox`` = [(cx - w/2) * W, (cy - h/2) * H, w * W, h * H] in pixels (float64),
        ``area`` = its w * h, ``iscrowd`` 0 (YOLO labels have no crowds), ids from 1.
    """
    images, annotations = [], []
    for i, ((h, w), lab) in enumerate(zip(image_sizes, labels)):
        images.append({"id": i, "height": int(h), "width": int(w)})
        for c, cx, cy, bw, bh in np.asarray(lab, np.float64).reshape(-1, 5):
            box = [(cx - bw / 2) * w, (cy - bh / 2) * h, bw * w, bh * h]
            annotations.append({"id": len(annotations) + 1, "image_id": i, "category_id": int(c),
                                "bbox": box, "area": box[2] * box[3], "iscrowd": 0})
    categories = [{"id": c, "name": n} for c, n in enumerate(names)]
    return {"images": images, "annotations": annotations, "categories": categories}


def detections_to_coco(per_image):
    """Detections to COCO results: ``per_image[i]`` a (n, 6) tensor or array (x1, y1, x2, y2, conf,
    cls) in image ``i``'s pixels -> [{image_id: i, category_id: cls, bbox [x, y, w, h], score}].
    (``val.py --save-json`` rounds the boxes to 3 decimals and scores to 5; we keep them exact.)"""
    out = []
    for i, det in enumerate(per_image):
        for x1, y1, x2, y2, conf, c in np.asarray(det, np.float64).reshape(-1, 6):
            out.append({"image_id": i, "category_id": int(c), "bbox": [x1, y1, x2 - x1, y2 - y1], "score": conf})
    return out
