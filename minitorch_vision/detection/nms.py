"""Non-maximum suppression (NMS), written by hand in plain PyTorch.

A detector proposes many overlapping boxes per object; greedy NMS keeps the best one:

    sort the boxes by score, highest first
    for each box in that order that is still alive: keep it, and kill every later box
    whose IoU with it is > iou_threshold

``nms_reference`` is exactly that loop (short, slow, the definition). ``nms`` computes the
same answer fast without a Python loop over boxes, in three vectorised steps:

1. Sort by score (stable, so equal scores keep their input order, as torchvision does).
2. Find the overlapping pairs. IoU(p, q) <= (x-overlap) / width(p), so after sorting the boxes
   by x1, box p can only exceed the threshold with the boxes that follow it up to the first one
   whose x1 >= x2_p - threshold * width_p (a "sweep line"; ``searchsorted`` finds that end for
   all boxes at once). Only those candidate pairs get an IoU; the pairs with IoU > threshold
   are the edges "higher-scored box -> lower-scored box it would suppress". Candidates are
   computed in blocks of rows, so memory stays bounded for tens of thousands of boxes.
3. Resolve the greedy order on that graph in rounds: a box none of whose remaining
   suppressors is alive is kept; every box an already-kept box points to is suppressed;
   edges whose ends are decided are dropped. Each round decides at least the best-scored
   undecided box, so the answer is exactly the greedy one; the number of rounds is the length
   of the longest keep/suppress dependency chain (a handful for real detections).

Threshold semantics are torchvision's: a box is suppressed when IoU > iou_threshold strictly,
so IoU exactly equal to the threshold is kept. The IoU is the same float32 formula and, as in
torchvision's C++ kernel, it is compared with the threshold in double precision (the float32
IoU 0.3f = 0.30000001 counts as > 0.3), so the kept indices agree bit for bit (tested against
torchvision and its stored outputs).

``non_max_suppression`` is the YOLOv5 (release v6.1) post-processing on top: confidence
filtering, obj x cls scores, class-aware NMS through coordinate offsets and ``max_det``.
"""
import torch

from .boxes import xywh_to_xyxy

# Candidate pairs generated at once in step 2 (about 100 MB of temporaries per chunk).
_PAIR_CHUNK = 1 << 21
_ROWS = 256  # rows per block: each block is as wide as its widest reach, so keep blocks short


def nms_reference(boxes, scores, iou_threshold):
    """Greedy NMS as a plain loop over boxes: the definition ``nms`` is tested against.

    Same arguments and result as :func:`nms`; O(kept x N) tensor operations, fine for a few
    hundred boxes.
    """
    order = torch.sort(scores, descending=True, stable=True).indices
    boxes = boxes[order]
    x1, y1, x2, y2 = boxes.unbind(1)
    area = (x2 - x1) * (y2 - y1)
    alive = torch.ones(len(boxes), dtype=torch.bool)
    keep = []
    for i in range(len(boxes)):
        if not alive[i]:
            continue
        keep.append(i)
        j = slice(i + 1, None)  # only lower-scored boxes can be suppressed by box i
        w = (torch.min(x2[i], x2[j]) - torch.max(x1[i], x1[j])).clamp(min=0)
        h = (torch.min(y2[i], y2[j]) - torch.max(y1[i], y1[j])).clamp(min=0)
        inter = w * h
        iou = inter / (area[i] + area[j] - inter)
        alive[j] &= ~(iou.double() > iou_threshold)  # compared in double, as torchvision's C++
    return order[torch.tensor(keep, dtype=torch.long)]


def _threshold_in(dtype, iou_threshold):
    """The threshold to compare ``dtype`` IoUs against so that ``iou > t`` means exactly
    ``float(iou) > iou_threshold`` in double precision (what torchvision's C++ kernel does:
    a float32 IoU of 0.3f = 0.30000001 is > 0.3 and is suppressed). That is the largest
    ``dtype`` number <= the threshold."""
    t = torch.tensor(iou_threshold, dtype=torch.float64)
    low = t.to(dtype)
    if low.double() > t:
        low = torch.nextafter(low, torch.tensor(float("-inf"), dtype=dtype))
    return low.item()


def _overlap_edges(boxes, iou_threshold):
    """Pairs (a, b), a < b, of rows of ``boxes`` with IoU > iou_threshold (needs threshold >= 0).

    Returns two int64 tensors (a, b). Boxes are visited in x1 order (sweep line). IoU(p, q) is
    at most (x-overlap) / width(p), so box p can only reach the boxes q after it whose x1 is
    below x2_p - threshold * width_p: the next ``count[p]`` boxes. IoU is computed on a band of
    shape (rows, W) -- row p against boxes p+1 .. p+W -- a block of rows at a time.
    """
    n = len(boxes)
    threshold = _threshold_in(boxes.dtype, iou_threshold)
    x_order = torch.sort(boxes[:, 0], stable=True).indices
    x1, y1, x2, y2 = boxes[x_order].unbind(1)
    area = (x2 - x1) * (y2 - y1)
    # the reach of each box, in float64 and with a relative margin of 1e-5 so that no pair the
    # float32 IoU below would count as overlapping is left out
    x1d, x2d = x1.double(), x2.double()
    reach = x2d - (x2d - x1d).clamp(min=0) * (iou_threshold * (1 - 1e-5))
    end = torch.searchsorted(x1d.contiguous(), reach.contiguous(), side="left")
    count = (end - torch.arange(n) - 1).clamp(min=0)
    width = int(count.max())
    if width == 0:
        empty = torch.zeros(0, dtype=torch.long)
        return empty, empty
    # padded copies so that row p's band p+1 .. p+W is a strided window (a view, no gather);
    # padding boxes start at x = +inf, so their IoU with anything is 0 (or nan): never a hit
    inf, zero = boxes.new_full((width,), float("inf")), boxes.new_zeros(width)
    bx1, bx2 = torch.cat((x1, inf)), torch.cat((x2, inf))
    by1, by2, barea = torch.cat((y1, zero)), torch.cat((y2, zero)), torch.cat((area, zero))
    edges_a, edges_b = [], []
    lo = 0
    while lo < n:
        hi = min(n, lo + _ROWS)
        w = int(count[lo:hi].max())
        if (hi - lo) * w > _PAIR_CHUNK:  # wide boxes: fewer rows per block to bound memory
            hi = lo + max(1, _PAIR_CHUNK // w)
            w = int(count[lo:hi].max())
        if w > 0:
            def band(v):  # (rows, w): row p holds v[p+1 .. p+w]
                return v[lo + 1: hi + w].unfold(0, w, 1)

            def own(v):  # (rows, 1): v[p]
                return v[lo:hi, None]

            # IoU with torchvision's arithmetic (same float rounding, so ties resolve the same
            # way); max(x1_p, x1_q) is x1_q since the boxes are sorted by x1
            iw = torch.min(own(x2), band(bx2)).sub_(band(bx1)).clamp_(min=0)
            ih = torch.min(own(y2), band(by2)).sub_(torch.max(own(y1), band(by1))).clamp_(min=0)
            inter = iw.mul_(ih)
            union = (own(area) + band(barea)).sub_(inter)
            p, k = (inter.div_(union) > threshold).nonzero(as_tuple=True)
            p = p + lo
            pa, qa = x_order[p], x_order[p + 1 + k]
            edges_a.append(torch.min(pa, qa))
            edges_b.append(torch.max(pa, qa))
        lo = hi
    return torch.cat(edges_a), torch.cat(edges_b)


def _greedy_on_edges(n, src, dst):
    """Resolve greedy NMS on a graph: box ``dst[e]`` dies if box ``src[e]`` (src < dst) is kept.

    Boxes are numbered in score order (0 = best). Returns a bool (n,) mask of kept boxes.
    """
    kept = torch.zeros(n, dtype=torch.bool)
    undecided = torch.ones(n, dtype=torch.bool)
    while len(src):
        has_suppressor = torch.zeros(n, dtype=torch.bool)
        has_suppressor[dst] = True
        newly_kept = undecided & ~has_suppressor  # nobody alive can suppress it any more
        kept |= newly_kept
        undecided &= ~newly_kept
        undecided[dst[kept[src]]] = False  # suppressed by a kept box
        live = undecided[src] & undecided[dst]  # edges that can still change something
        src, dst = src[live], dst[live]
    return kept | undecided  # no edges left: every undecided box is kept


def nms(boxes, scores, iou_threshold):
    """Greedy non-maximum suppression (Neubeck & Van Gool, 2006), like ``torchvision.ops.nms``.

    Args:
        boxes (Tensor[N, 4]): xyxy boxes, float.
        scores (Tensor[N]): one score per box.
        iou_threshold (float): a box is discarded when its IoU with a kept, higher-scored box is
            strictly greater than this (float IoU compared in double precision, as torchvision);
            IoU exactly equal to the threshold is kept.

    Returns:
        Tensor[K] (int64): indices into ``boxes`` of the kept boxes, by decreasing score (equal
        scores in input order).
    """
    n = len(boxes)
    if n == 0:
        return torch.zeros(0, dtype=torch.long, device=boxes.device)
    if iou_threshold < 0:  # every pair "overlaps" then; the sweep below assumes IoU > 0 needed
        return nms_reference(boxes, scores, iou_threshold)
    device = boxes.device
    boxes, scores = boxes.detach().cpu(), scores.detach().cpu()
    order = torch.sort(scores, descending=True, stable=True).indices  # (N,) rank -> index
    src, dst = _overlap_edges(boxes[order], iou_threshold)  # in rank numbers, src < dst
    kept = _greedy_on_edges(n, src, dst)
    return order[kept].to(device)


def batched_nms(boxes, scores, idxs, iou_threshold):
    """NMS done independently per category, like ``torchvision.ops.batched_nms``.

    Boxes of different categories never suppress each other: each category's boxes are shifted
    by ``idx * (max coordinate + 1)`` so that they cannot overlap other categories, and one
    ordinary :func:`nms` runs on the shifted boxes.

    Args:
        boxes (Tensor[N, 4]): xyxy boxes.
        scores (Tensor[N]): scores.
        idxs (Tensor[N], int64): category of each box.
        iou_threshold (float): as in :func:`nms`.

    Returns:
        Tensor[K] (int64): kept indices sorted by decreasing score.
    """
    if len(boxes) == 0:
        return torch.zeros(0, dtype=torch.long, device=boxes.device)
    offsets = idxs.to(boxes) * (boxes.max() + 1)
    return nms(boxes + offsets[:, None], scores, iou_threshold)


def non_max_suppression(pred, conf_thres=0.25, iou_thres=0.45, classes=None, agnostic=False,
                        multi_label=False, max_det=300, max_wh=7680, max_nms=30000):
    """YOLOv5 post-processing: decoded head output -> detections per image (YOLOv5 v6.1 semantics).

    Per image: keep rows whose objectness > ``conf_thres``; score of class c = obj x cls_c;
    one row per box with its best class (or, with ``multi_label``, one row per (box, class)
    with score > ``conf_thres``, how ``val.py`` evaluates); keep rows whose score >
    ``conf_thres``; if more than ``max_nms`` remain keep the best ``max_nms``; class-aware NMS
    by shifting each class's boxes by ``cls * max_wh`` pixels (``agnostic``: no shift); keep at
    most ``max_det``. Not done here (as in v6.1 defaults): merge-NMS, the wall-clock time limit.

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
        max_wh (int): class offset in pixels, larger than any box coordinate.
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
        offset = det[:, 5:6] * (0 if agnostic else max_wh)  # classes far apart: no cross-class IoU
        keep = nms(det[:, :4] + offset, det[:, 4], iou_thres)[:max_det]
        output.append(det[keep])
    return output
