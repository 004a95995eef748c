"""Evaluating a detector on a YOLO-format dataset with the official YOLOv5 v6.1 ``val.py`` protocol.

    images sorted by aspect ratio, rectangular batches of 32 (``rect_batches``, pad 0.5)
    each image: long side -> 640 (area shrink / bilinear enlarge), letterbox to its batch shape
    model -> NMS (conf 0.001, IoU 0.6, every class above conf per box, at most 300 per image)
    boxes and labels mapped back to original pixels -> true positives at IoU 0.50:0.05:0.95
    -> per class: P and R at the confidence maximising the mean F1, 101-point AP -> class means

The very low confidence threshold is deliberate: AP integrates the whole precision-recall
curve, so low-confidence detections must be kept; P and R are then read at one confidence.
"""
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from ..data.images import image_size, list_images, read_image
from ..errors import DataUnavailable
from ..nnutil import eval_mode
from .boxes import xywh_to_xyxy
from .labels import label_path_for, read_yolo_labels
from .letterbox import letterbox, load_for_val, rect_batches, scale_boxes
from .metrics import ap_per_class, default_iouv, match_predictions, mean_results
from .nms import non_max_suppression


@dataclass
class EvalResult:
    """What :func:`evaluate_detector` measured; ``files``, ``detections`` and ``labels`` (one entry per
    image, in file-name order) let another protocol (:mod:`.coco_eval`) score the same detections."""
    precision: float
    recall: float
    map50: float
    map50_95: float
    per_class: list                    # [{name, images, instances, precision, recall, map50, map50_95}]
    n_images: int
    n_labels: int
    curves: dict = field(repr=False, default_factory=dict)   # ap_per_class output (for plots)
    seconds: float = 0.0
    files: list = field(repr=False, default_factory=list)       # image paths
    detections: list = field(repr=False, default_factory=list)  # (n, 6) x1, y1, x2, y2, conf, cls (original px)
    labels: list = field(repr=False, default_factory=list)      # (m, 5) cls, x1, y1, x2, y2 (original px)

    def record(self):
        """The scores, overall and per class (for results.json)."""
        return {"n_images": self.n_images, "n_labels": self.n_labels, "precision": self.precision,
                "recall": self.recall, "map50": self.map50, "map50_95": self.map50_95, "per_class": self.per_class}


def _labels_to_orig(labels, hw_resized, gain, pad, input_hw, orig_hw):
    """Normalised (cls, cx, cy, w, h) -> (cls, x1, y1, x2, y2) in original pixels, via the letterboxed
    frame as the official loader does: it clips label corners to the padded input minus 1e-3 px
    (``xyxy2xywhn(..., clip=True, eps=1e-3)``, which keeps normalised coordinates below 1), then
    val maps them back to the original image like the predictions."""
    h, w = hw_resized                                       # size of the image inside the letterbox
    box = xywh_to_xyxy(labels[:, 1:]) * labels.new_tensor([w, h, w, h]) + labels.new_tensor([*pad, *pad])
    box[:, 0::2] = box[:, 0::2].clamp(0, input_hw[1] - 1e-3)
    box[:, 1::2] = box[:, 1::2].clamp(0, input_hw[0] - 1e-3)
    return torch.cat((labels[:, :1], scale_boxes(input_hw, box, orig_hw, (gain, pad))), 1)


def _val_chunk(model, paths, shape, label_file, nc, img_size, nms_kwargs, device):
    """A few images of one rectangular batch through val's pipeline: per image (detections, labels),
    both in original pixels (see :class:`EvalResult`)."""
    xs, metas = [], []
    for path in paths:
        img = read_image(path)
        resized = load_for_val(img, img_size)
        lb, r, pad = letterbox(resized, shape, auto=False, scaleup=False)
        gain = resized.shape[1] / img.shape[1] * r        # official: h / h0 (r == 1 here)
        xs.append(lb)
        metas.append((path, img.shape[1:], (resized.shape[1] * r, resized.shape[2] * r), gain, pad))
    x = torch.stack(xs).to(device).float() / 255
    preds = non_max_suppression(model(x), **nms_kwargs)
    out = []
    for det, (path, orig_hw, hw, gain, pad) in zip(preds, metas):
        det = scale_boxes(x.shape[2:], det.cpu(), orig_hw, (gain, pad))
        labels = _labels_to_orig(read_yolo_labels(label_file(path), nc), hw, gain, pad, x.shape[2:], orig_hw)
        out.append((det, labels))
    return out


def _scores(per_image, iouv, names):
    """val.py's statistics from per-image (detections, labels): (P, R, mAP50, mAP50-95, per-class rows,
    number of labels, ap_per_class curves)."""
    stats, images_with = [], {}
    for det, labels in per_image:
        tcls = labels[:, 0].long()
        for k in tcls.unique().tolist():
            images_with[k] = images_with.get(k, 0) + 1
        if len(det) == 0:
            if len(labels):
                stats.append((torch.zeros(0, len(iouv), dtype=torch.bool), torch.zeros(0), torch.zeros(0), tcls))
            continue
        stats.append((match_predictions(det, labels, iouv), det[:, 4], det[:, 5], tcls))
    if not stats:
        res = ap_per_class(np.zeros((0, len(iouv)), bool), np.zeros(0), np.zeros(0), np.zeros(0))
    else:
        tp, conf, pcls, tcls = (torch.cat(z, 0).numpy() for z in zip(*stats))
        res = ap_per_class(tp, conf, pcls, tcls)
    per_class = [{"name": names[c] if c < len(names) else str(c), "images": images_with.get(int(c), 0),
                  "instances": int(n), "precision": float(pc), "recall": float(rc),
                  "map50": float(ap[0]), "map50_95": float(ap.mean())}
                 for c, n, pc, rc, ap in zip(res["classes"], res["n_labels"], res["p"], res["r"], res["ap"])]
    return (*mean_results(res), per_class, sum(len(s[3]) for s in stats), res)


@torch.no_grad()
def evaluate_detector(model, images_dir, labels_dir=None, img_size=640, batch_size=32, conf_thres=0.001,
                      iou_thres=0.6, max_det=300, limit=None, chunk=8, device="cpu", progress=True):
    """Precision, recall, mAP@0.5 and mAP@0.5:0.95 of ``model`` on ``images_dir`` (YOLOv5 v6.1 val protocol).

    Args:
        images_dir: folder of images; labels from ``labels_dir`` (default: ``images`` -> ``labels`` in
            the path), ``<stem>.txt`` per image, a missing file = background image.
        batch_size: the size of the rectangular batches (it sets the letterbox shapes, so it changes the
            numbers slightly; 32 is val.py's default). ``chunk``: images per forward pass (memory only).
        limit: evaluate only the first ``limit`` images (sorted by name).
    The model runs in eval mode (decoded predictions, BatchNorm running statistics); the mode it
    came in with is restored afterwards.

    Returns:
        :class:`EvalResult`; class means over the classes that have labels, as val.py's "all" row.
    """
    images_dir = Path(images_dir)
    if not images_dir.is_dir():
        raise DataUnavailable(f"image folder {images_dir} does not exist")
    files = list_images(images_dir)[:limit]
    if not files:
        raise DataUnavailable(f"no images in {images_dir}")
    label_file = (lambda p: Path(labels_dir) / (p.stem + ".txt")) if labels_dir else label_path_for
    shapes = [image_size(p) for p in files]       # upright (EXIF) sizes, as read_image returns them
    order, batch_shapes = rect_batches(shapes, img_size, batch_size, int(max(model.detect.stride)), 0.5)
    nms_kwargs = dict(conf_thres=conf_thres, iou_thres=iou_thres, multi_label=True, max_det=max_det)
    per_image = [None] * len(files)
    t0 = time.time()
    with eval_mode(model):  # a model left in training mode would return undecoded maps
        bar = tqdm(total=len(files), desc="val", unit="img", disable=not progress, leave=False)
        for b, shape in enumerate(batch_shapes):
            idx = order[b * batch_size:(b + 1) * batch_size]
            for c in range(0, len(idx), chunk):
                part = idx[c:c + chunk]
                results = _val_chunk(model, [files[i] for i in part], shape, label_file, len(model.names),
                                     img_size, nms_kwargs, device)
                for i, r in zip(part, results):
                    per_image[i] = r
                bar.update(len(part))
        bar.close()
    p, r, m50, m, per_class, n_labels, res = _scores([per_image[i] for i in order], default_iouv(), model.names)
    return EvalResult(p, r, m50, m, per_class, len(files), n_labels, res, time.time() - t0, files,
                      [d for d, _ in per_image], [lab for _, lab in per_image])


def format_val_table(ev):
    """The val.py-style text table of an :class:`EvalResult`: an ``all`` row, then one row per class."""
    lines = [f"{'class':>16} {'images':>7} {'labels':>7} {'P':>6} {'R':>6} {'mAP50':>6} {'mAP50-95':>8}",
             f"{'all':>16} {ev.n_images:>7} {ev.n_labels:>7} {ev.precision:6.3f} {ev.recall:6.3f} "
             f"{ev.map50:6.3f} {ev.map50_95:8.3f}"]
    for c in ev.per_class:
        lines.append(f"{c['name']:>16} {c['images']:>7} {c['instances']:>7} {c['precision']:6.3f} "
                     f"{c['recall']:6.3f} {c['map50']:6.3f} {c['map50_95']:8.3f}")
    return "\n".join(lines)
