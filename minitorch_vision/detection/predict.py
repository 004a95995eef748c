"""Running a YOLOv5 on images, the way the official ``detect.py`` does.

    image file -> RGB uint8 (3, H, W) -> letterbox (long side 640, pad to a multiple of 32)
    -> float / 255 -> model (eval: (1, A, 5+nc) boxes in input pixels) -> non_max_suppression
    -> boxes mapped back to the original image (``scale_boxes``) and rounded -> (n, 6) per image.
"""
from dataclasses import dataclass
from pathlib import Path

import torch

from ..data.images import read_image
from ..nnutil import eval_mode
from .letterbox import letterbox, scale_boxes
from .nms import non_max_suppression


@dataclass
class Detections:
    """Detections on one image: ``boxes`` (n, 6) = x1, y1, x2, y2 (original pixels), conf, class id."""
    source: str
    image: torch.Tensor          # uint8 (3, H, W), the original image
    boxes: torch.Tensor
    names: list

    def as_list(self):
        """[{name, cls, conf, box}] for JSON."""
        return [{"name": self.names[int(c)] if int(c) < len(self.names) else str(int(c)), "cls": int(c),
                 "conf": round(float(p), 4), "box": [round(float(v), 1) for v in b]}
                for *b, p, c in self.boxes.tolist()]


def preprocess(img, img_size=640, stride=32):
    """uint8 (3, H, W) -> (float (1, 3, h, w) in [0, 1], letterboxed uint8 (3, h, w))."""
    lb, _, _ = letterbox(img, img_size, stride=stride, auto=True)
    return (lb.float() / 255)[None], lb


@torch.no_grad()
def detect(model, sources, img_size=640, conf_thres=0.25, iou_thres=0.45, max_det=1000, classes=None,
           agnostic=False, device="cpu"):
    """Detect objects in image files (or uint8 (3, H, W) tensors), one image at a time.

    Defaults are ``detect.py``'s (conf 0.25, IoU 0.45, max_det 1000, one class per box). A file
    that cannot be read raises :class:`DataUnavailable` (one line); grayscale, RGBA and 16-bit
    images are converted to RGB by ``read_image``.

    The model runs in eval mode; the mode it came in with is restored afterwards.

    Returns:
        list of :class:`Detections`, boxes in original-image pixels, rounded like ``detect.py``.
    """
    stride = int(max(model.detect.stride))
    out = []
    for k, src in enumerate(sources):
        img = src if isinstance(src, torch.Tensor) else read_image(src)
        x, lb = preprocess(img, img_size, stride)
        with eval_mode(model):
            pred = model(x.to(device))                                    # (1, A, 5+nc) decoded
        det = non_max_suppression(pred, conf_thres, iou_thres, classes=classes, agnostic=agnostic,
                                  max_det=max_det)[0].cpu()
        det = scale_boxes(lb.shape[1:], det, img.shape[1:])
        det[:, :4] = det[:, :4].round()
        name = str(src) if not isinstance(src, torch.Tensor) else f"image{k}"
        out.append(Detections(Path(name).name, img, det, model.names))
    return out
