"""Non-maximum suppression (NMS), written by hand in plain PyTorch, and YOLOv5's post-processing.

A detector proposes many overlapping boxes per object; greedy NMS keeps the best one:

    sort the boxes by score, highest first
    for each box in that order that is still alive: keep it, and kill every later box
    whose IoU with it is > iou_threshold

:func:`nms_reference` is exactly that loop: the definition, short and slow (one step per kept
box). :func:`nms` returns the same indices, bit for bit, without a Python loop over boxes (the
sweep in :mod:`.nms_sweep`; tested equal to the definition and to torchvision).

Threshold semantics are torchvision's: a box is suppressed when IoU > iou_threshold strictly,
so IoU exactly equal to the threshold is kept; the float IoU is compared in double precision, as
torchvision's C++ kernel does (the float32 IoU 0.3f = 0.30000001 counts as > 0.3). Equal scores
keep their input order. A nan score sorts first (as in ``torch.sort``); a nan IoU suppresses
nothing. Boxes are up-cast like torchvision (float16/bfloat16 to float32; integer boxes, which
torchvision refuses, to float64).

:func:`batched_nms` runs NMS per class; :func:`non_max_suppression` is the YOLOv5 (release v6.1)
post-processing on top: confidence filtering, obj x cls scores, class-aware NMS and ``max_det``.
"""
import torch

from .boxes import check_boxes, upcast, xywh_to_xyxy
from .nms_sweep import nms_sweep


def nms_reference(boxes, scores, iou_threshold):
    """Greedy NMS as a plain loop over boxes: the definition :func:`nms` is tested against.

    Same arguments and result as :func:`nms`; O(kept x N) tensor operations, fine for a few
    hundred boxes.
    """
    device = boxes.device
    boxes, scores = _prepared(boxes, scores)
    order = torch.sort(scores, descending=True, stable=True).indices
    x1, y1, x2, y2 = boxes[order].unbind(1)
    area = (x2 - x1) * (y2 - y1)
    alive = torch.ones(len(order), dtype=torch.bool)
    keep = []
    for i in range(len(order)):
        if not alive[i]:
            continue
        keep.append(i)
        later = slice(i + 1, None)  # only lower-scored boxes can be suppressed by box i
        w = (torch.min(x2[i], x2[later]) - torch.max(x1[i], x1[later])).clamp(min=0)
        h = (torch.min(y2[i], y2[later]) - torch.max(y1[i], y1[later])).clamp(min=0)
        inter = w * h
        iou = inter / (area[i] + area[later] - inter)
        alive[later] &= ~(iou.double() > iou_threshold)  # compared in double, as torchvision's C++
    return order[torch.tensor(keep, dtype=torch.long)].to(device)


def _prepared(boxes, scores):
    """Checked CPU copies of (boxes (N, 4), scores (N,)) in the dtype NMS computes IoUs in."""
    check_boxes(boxes)
    if not torch.is_tensor(scores) or scores.shape != (len(boxes),):
        got = f"shape {tuple(scores.shape)}" if torch.is_tensor(scores) else f"a {type(scores).__name__}"
        raise ValueError(f"scores must be a tensor of shape (N,) = ({len(boxes)},), one per box, got {got}")
    boxes = boxes.detach().cpu()
    boxes = upcast(boxes) if boxes.is_floating_point() else boxes.double()
    scores = scores.detach().cpu()
    return boxes, (upcast(scores) if scores.is_floating_point() else scores)


def nms(boxes, scores, iou_threshold):
    """Greedy non-maximum suppression (Neubeck & Van Gool, 2006), like ``torchvision.ops.nms``.

    Args:
        boxes (Tensor[N, 4]): xyxy boxes.
        scores (Tensor[N]): one score per box.
        iou_threshold (float): a box is discarded when its IoU with a kept, higher-scored box is
            strictly greater than this (float IoU compared in double precision, as torchvision);
            IoU exactly equal to the threshold is kept.

    Returns:
        Tensor[K] (int64, on ``boxes``' device): indices into ``boxes`` of the kept boxes, by
        decreasing score (equal scores in input order).
    """
    device = boxes.device if torch.is_tensor(boxes) else None
    boxes, scores = _prepared(boxes, scores)
    if len(boxes) == 0:
        return torch.zeros(0, dtype=torch.long, device=device)
    if iou_threshold < 0:  # every pair "overlaps" then; the sweep needs IoU > 0 to be possible
        return nms_reference(boxes, scores, iou_threshold).to(device)
    return nms_sweep(boxes, scores, iou_threshold).to(device)


def batched_nms(boxes, scores, idxs, iou_threshold):
    """NMS done independently per class: boxes of different classes never suppress each other.

    The definition is one :func:`nms` per class (torchvision's ``_batched_nms_vanilla``, from
    Detectron2); the sweep does it in one pass, comparing only boxes of the same class. This is
    the library's one class-aware NMS. No coordinate offsets: the common shortcut -- shift each
    class's boxes apart (torchvision: by ``idx * (max coordinate + 1)``; YOLOv5: by ``cls * 7680``
    px) and run a single NMS -- fails for negative coordinates (two identical boxes
    [-100, -100, -1, -1] of classes 0 and 1 get offset 0 and suppress each other) or coordinates
    beyond the shift, and rounds the shifted floats.

    Args:
        boxes (Tensor[N, 4]): xyxy boxes.
        scores (Tensor[N]): scores.
        idxs (Tensor[N]): class of each box (any dtype; compared for equality).
        iou_threshold (float): as in :func:`nms`.

    Returns:
        Tensor[K] (int64, on ``boxes``' device): kept indices by decreasing score (equal scores in
        input order).
    """
    device = boxes.device if torch.is_tensor(boxes) else None
    boxes, scores = _prepared(boxes, scores)
    if not torch.is_tensor(idxs) or idxs.shape != (len(boxes),):
        got = f"shape {tuple(idxs.shape)}" if torch.is_tensor(idxs) else f"a {type(idxs).__name__}"
        raise ValueError(f"idxs must be a tensor of shape (N,) = ({len(boxes)},), one class per box, got {got}")
    idxs = idxs.detach().cpu()
    if len(boxes) == 0:
        return torch.zeros(0, dtype=torch.long, device=device)
    if iou_threshold < 0:  # the definition, class by class (as nms does for negative thresholds)
        kept = torch.zeros(len(boxes), dtype=torch.bool)
        for c in torch.unique(idxs):
            mine = torch.nonzero(idxs == c).view(-1)
            kept[mine[nms_reference(boxes[mine], scores[mine], iou_threshold)]] = True
        kept = torch.nonzero(kept).view(-1)
        return kept[torch.sort(scores[kept], descending=True, stable=True).indices].to(device)
    return nms_sweep(boxes, scores, iou_threshold, classes=idxs).to(device)


def non_max_suppression(pred, conf_thres=0.25, iou_thres=0.45, classes=None, agnostic=False,
                        multi_label=False, max_det=300, max_nms=30000):
    """YOLOv5 post-processing: decoded head output -> detections per image (YOLOv5 v6.1 semantics).

    Per image: keep rows whose objectness > ``conf_thres``; score of class c = obj x cls_c;
    one row per box with its best class (or, with ``multi_label``, one row per (box, class)
    with score > ``conf_thres``, how ``val.py`` evaluates); keep rows whose score >
    ``conf_thres``; if more than ``max_nms`` remain keep the best ``max_nms``; NMS per class
    (:func:`batched_nms`; the official code shifts each class's boxes by ``cls * 7680`` px instead:
    the same boxes up to float rounding, and the same COCO128 numbers); keep at most ``max_det``.
    Not done here (off by default in v6.1): merge-NMS, the wall-clock time limit.

    Args:
        pred (Tensor[B, A, 5 + nc]): the model's decoded (eval-mode) output, rows (cx, cy, w, h,
            obj, cls_0..) with boxes in input pixels and sigmoid-ed probabilities. Anything else
            (e.g. the list of per-level maps a model in training mode returns) is a ValueError.
        conf_thres (float): minimum objectness and final score, strictly greater, in [0, 1].
        iou_thres (float): NMS IoU threshold in [0, 1] (IoU > iou_thres suppressed).
        classes (list[int] | None): keep only these classes.
        agnostic (bool): one NMS over all classes instead of per class.
        multi_label (bool): allow several classes per box (ignored when nc == 1).
        max_det (int): maximum detections per image.
        max_nms (int): most boxes passed into NMS, the highest-scored ones.

    Returns:
        list of B Tensor[n, 6]: (x1, y1, x2, y2, conf, cls) in input pixels (not clipped),
        sorted by decreasing conf; cls is a float class index.
    """
    if not torch.is_tensor(pred) or pred.ndim != 3:
        got = f"a {type(pred).__name__}" if not torch.is_tensor(pred) else f"a tensor of shape {tuple(pred.shape)}"
        raise ValueError(f"non_max_suppression needs the decoded predictions (B, A, 5 + nc), got {got}: "
                         f"a YOLOv5 in training mode returns its undecoded per-level maps; call model.eval() first")
    if not 0 <= conf_thres <= 1 or not 0 <= iou_thres <= 1:
        raise ValueError(f"conf_thres {conf_thres} and iou_thres {iou_thres} must be in [0, 1]")
    nc = pred.shape[2] - 5
    multi_label = multi_label and nc > 1
    output = []
    for x in pred:  # x: (A, 5 + nc), one image
        x = x[x[:, 4] > conf_thres]  # objectness prefilter
        if len(x) == 0:
            output.append(pred.new_zeros((0, 6)))
            continue
        cls_conf = x[:, 5:] * x[:, 4:5]  # (n, nc): P(object) x P(class | object)
        box = xywh_to_xyxy(x[:, :4])
        if multi_label:
            i, j = (cls_conf > conf_thres).nonzero(as_tuple=True)
            det = torch.cat((box[i], cls_conf[i, j, None], j[:, None].to(x)), 1)
        else:
            conf, j = cls_conf.max(1, keepdim=True)
            det = torch.cat((box, conf, j.to(x)), 1)[conf.view(-1) > conf_thres]
        if classes is not None:
            det = det[(det[:, 5:6] == torch.tensor(classes, device=det.device)).any(1)]
        if len(det) > max_nms:
            det = det[torch.sort(det[:, 4], descending=True, stable=True).indices[:max_nms]]
        if len(det) == 0:
            output.append(det)
            continue
        boxes, scores = det[:, :4], det[:, 4]
        keep = (nms(boxes, scores, iou_thres) if agnostic else batched_nms(boxes, scores, det[:, 5], iou_thres))[:max_det]
        output.append(det[keep])
    return output
