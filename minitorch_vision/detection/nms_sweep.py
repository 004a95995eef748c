"""Greedy NMS without a Python loop over boxes: the same answer as the definition
(:func:`~minitorch_vision.detection.nms.nms_reference`), bit for bit, in three vectorised steps.

1. Sort by score (stable, so equal scores keep their input order, as torchvision does).
2. Find the overlapping pairs. IoU(p, q) <= (x-overlap) / width(p), so after sorting the boxes
   by x1, box p can only exceed the threshold with the boxes that follow it up to the first one
   whose x1 >= x2_p - threshold * width_p (a "sweep line"; ``searchsorted`` finds that end for
   all boxes at once). Per-class NMS sorts by class first and sweeps each class on its own, so
   boxes of two classes are never compared (no coordinate offsets, no rounding of shifted
   coordinates). Only those candidate pairs get an IoU; the pairs with IoU > threshold
   are the edges "higher-scored box -> lower-scored box it would suppress". Candidates are
   computed in blocks of rows, so memory stays bounded for tens of thousands of boxes.
3. Resolve the greedy order on that graph in rounds: a box none of whose remaining
   suppressors is alive is kept; every box an already-kept box points to is suppressed;
   edges whose ends are decided are dropped. Each round decides at least the best-scored
   undecided box, so the answer is exactly the greedy one; the number of rounds is the length
   of the longest keep/suppress dependency chain (a handful for real detections).

The IoU is the definition's float formula and, as in torchvision's C++ kernel, it is compared
with the threshold in double precision, so the kept indices agree bit for bit (tested against the
definition, torchvision and its stored outputs). Called through :func:`.nms.nms`, which checks
the inputs and up-casts them; only thresholds >= 0 reach this file.
"""
import torch

# Candidate pairs generated at once in step 2 (about 100 MB of temporaries per chunk).
_PAIR_CHUNK = 1 << 21
_ROWS = 256  # rows per block: each block is as wide as its widest reach, so keep blocks short


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


def _sweep_order(boxes, classes, iou_threshold):
    """The sweep's visiting order and each box's reach.

    Boxes are sorted by class, then by x1 (both stable). IoU(p, q) is at most
    (x-overlap) / width(p), so box p can only exceed the threshold with the boxes q after it,
    in its own class, whose x1 is below x2_p - threshold * width_p: the next ``count[p]``
    boxes. Returns (x_order (N,), count (N,)), both int64.
    """
    x_order = torch.sort(boxes[:, 0], stable=True).indices
    if classes is not None:
        x_order = x_order[torch.sort(classes[x_order], stable=True).indices]
        sizes = torch.unique_consecutive(classes[x_order], return_counts=True)[1].tolist()
    else:
        sizes = [len(boxes)]
    x1d, x2d = boxes[x_order, 0].double(), boxes[x_order, 2].double()
    # the reach in float64 with a relative margin of 1e-5, so that no pair the float32 IoU
    # would count as overlapping is left out
    reach = x2d - (x2d - x1d).clamp(min=0) * (iou_threshold * (1 - 1e-5))
    end, start = torch.empty(len(boxes), dtype=torch.long), 0
    for size in sizes:  # one sorted run of x1 per class
        seg = slice(start, start + size)
        end[seg] = start + torch.searchsorted(x1d[seg].contiguous(), reach[seg].contiguous(), side="left")
        start += size
    return x_order, (end - torch.arange(len(boxes)) - 1).clamp(min=0)


def _overlap_edges(boxes, iou_threshold, classes=None):
    """Pairs (a, b), a < b, of rows of ``boxes`` with IoU > iou_threshold (needs threshold >= 0),
    of the same class when ``classes`` (N,) is given.

    Returns two int64 tensors (a, b). IoU is computed on a band of shape (rows, W) -- row p against
    the boxes p+1 .. p+W in sweep order (:func:`_sweep_order`) -- a block of rows at a time.
    """
    n = len(boxes)
    threshold = _threshold_in(boxes.dtype, iou_threshold)
    x_order, count = _sweep_order(boxes, classes, iou_threshold)
    width = int(count.max())
    if width == 0:
        empty = torch.zeros(0, dtype=torch.long)
        return empty, empty
    x1, y1, x2, y2 = boxes[x_order].unbind(1)
    # padded copies so that row p's band p+1 .. p+W is a strided window (a view, no gather)
    pad = boxes.new_zeros(width)
    bx1, by1, bx2, by2 = (torch.cat((v, pad)) for v in (x1, y1, x2, y2))
    barea = (bx2 - bx1) * (by2 - by1)
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
            # way); max(x1_p, x1_q) is x1_q inside the reach, where the boxes are sorted by x1
            iw = torch.min(own(x2), band(bx2)).sub_(band(bx1)).clamp_(min=0)
            ih = torch.min(own(y2), band(by2)).sub_(torch.max(own(y1), band(by1))).clamp_(min=0)
            inter = iw.mul_(ih)
            union = (own(barea) + band(barea)).sub_(inter)
            within = torch.arange(w) < count[lo:hi, None]     # the reach: same class, close in x
            p, k = ((inter.div_(union) > threshold) & within).nonzero(as_tuple=True)
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


def nms_sweep(boxes, scores, iou_threshold, classes=None):
    """Greedy NMS of float (N, 4) xyxy ``boxes`` with (N,) ``scores`` on the CPU, threshold >= 0;
    with ``classes`` (N,), boxes of different classes never suppress each other.

    Returns the kept indices (int64) by decreasing score, equal scores in input order.
    """
    order = torch.sort(scores, descending=True, stable=True).indices  # (N,) rank -> index
    ranked_classes = None if classes is None else classes[order]
    src, dst = _overlap_edges(boxes[order], iou_threshold, ranked_classes)  # rank numbers, src < dst
    kept = _greedy_on_edges(len(boxes), src, dst)
    return order[kept]
