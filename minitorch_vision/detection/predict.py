"""Running a YOLOv5 on images, the way the official ``detect.py`` does.

    image file -> RGB uint8 (3, H, W) -> letterbox (long side 640, pad to a multiple of 32)
    -> float / 255 -> model (eval: (1, A, 5+nc) boxes in input pixels) -> non_max_suppression
    -> boxes mapped back to the original image (``scale_boxes``) and rounded -> (n, 6) per image.
"""
import os
from dataclasses import dataclass
from pathlib import Path

import torch

from ..data.images import list_images, read_image
from ..errors import DataUnavailable, MTVError
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


def image_files(paths):
    """Image files from a list of files and folders (a folder: its images, sorted by name).

    An empty folder is a one-line :class:`MTVError` (the user asked for its images); a path that is
    not an image is kept, so the reader can report it."""
    files = []
    for p in map(Path, paths):
        if p.is_dir():
            found = list_images(p)
            if not found:
                raise MTVError(f"{p}: the folder is empty (no .jpg, .png, ... files) — put images there or pass other files")
            files += found
        else:
            files.append(p)
    return files


def check_readable(unreadable, n_images):
    """After drawing every readable image: one :class:`MTVError` listing the ``(key, reason)`` pairs of
    the unreadable ones (exit status 2), if there are any."""
    if unreadable:
        listed = "; ".join(f"{k}: {why}" for k, why in unreadable[:3]) + ("; ..." if len(unreadable) > 3 else "")
        raise MTVError(f"{len(unreadable)} of {n_images} images could not be read ({listed}) "
                       "— the others were drawn; replace or remove the unreadable files")


def source_keys(paths):
    """A unique name per image file: its path relative to the folder all of them share, in posix form.

    ``a/bus.jpg`` and ``b/bus.jpg`` stay apart (``a/bus.jpg``, ``b/bus.jpg``) where bare file names
    would collide; a single file, or files of one folder, are named by their file name."""
    paths = [Path(p).resolve() for p in paths]
    if not paths:
        return []
    root = Path(os.path.commonpath([p.parent for p in paths]))
    return [p.relative_to(root).as_posix() for p in paths]


def drawing_name(key):
    """Where the drawing of image ``key`` goes, relative to the output folder: always a .jpg, still unique
    (``bus.png`` -> ``bus.png.jpg``, so it cannot collide with a ``bus.jpg`` beside it)."""
    return key if Path(key).suffix.lower() in (".jpg", ".jpeg") else key + ".jpg"


@torch.no_grad()
def detect_each(model, sources, img_size=640, conf_thres=0.25, iou_thres=0.45, max_det=1000, classes=None,
                agnostic=False, device="cpu", unreadable=None):
    """Like :func:`detect`, but a generator (each image's result comes as soon as it is ready).

    ``unreadable``: a list; a file that cannot be read is appended to it as ``(key, reason)`` and
    skipped, instead of stopping everything (a folder of 100 photos with one broken file still gives
    99 drawings). Without it, such a file raises :class:`DataUnavailable`.
    """
    stride = int(max(model.detect.stride))
    files = [s for s in sources if not isinstance(s, torch.Tensor)]
    keys = iter(source_keys(files))
    for k, src in enumerate(sources):
        name = next(keys) if not isinstance(src, torch.Tensor) else f"image{k}"
        try:
            img = src if isinstance(src, torch.Tensor) else read_image(src)
        except DataUnavailable as e:
            if unreadable is None:
                raise
            unreadable.append((name, str(e)))
            continue
        x, lb = preprocess(img, img_size, stride)
        with eval_mode(model):
            pred = model(x.to(device))                                    # (1, A, 5+nc) decoded
        det = non_max_suppression(pred, conf_thres, iou_thres, classes=classes, agnostic=agnostic,
                                  max_det=max_det)[0].cpu()
        det = scale_boxes(lb.shape[1:], det, img.shape[1:])
        det[:, :4] = det[:, :4].round()
        yield Detections(name, img, det, model.names)


def detect(model, sources, img_size=640, conf_thres=0.25, iou_thres=0.45, max_det=1000, classes=None,
           agnostic=False, device="cpu"):
    """Detect objects in image files (or uint8 (3, H, W) tensors), one image at a time.

    Defaults are ``detect.py``'s (conf 0.25, IoU 0.45, max_det 1000, one class per box). A file
    that cannot be read raises :class:`DataUnavailable` (one line); grayscale, RGBA and 16-bit
    images are converted to RGB by ``read_image``. Each result's ``source`` is the file's name
    relative to the folder all the files share (:func:`source_keys`), unique per image.

    The model runs in eval mode; the mode it came in with is restored afterwards.

    Returns:
        list of :class:`Detections`, boxes in original-image pixels, rounded like ``detect.py``.
    """
    return list(detect_each(model, sources, img_size, conf_thres, iou_thres, max_det, classes, agnostic, device))
