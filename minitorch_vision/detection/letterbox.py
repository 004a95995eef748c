"""Getting an image into YOLOv5 and its boxes back out: resizing, letterboxing, rescaling.

YOLOv5 takes a (3, H, W) image with H and W multiples of the largest stride (32). "Letterboxing"
scales the image by one factor ``r`` (aspect ratio kept) and pads it with grey (114) to that shape;
``scale_boxes`` undoes it for the predicted boxes (minus the padding, divided by ``r``).

The official code resizes with OpenCV; :mod:`.resize` reproduces its resizers bit for bit.

Two ways of letterboxing, as in the official scripts:

* detect (``letterbox(auto=True)``): scale so the long side fits 640, pad only up to the next
  multiple of 32 (a 1080x810 photo becomes 640x480, no padding).
* val (``load_for_val`` then ``letterbox(shape, auto=False, scaleup=False)``): scale the long side
  to 640 (area when shrinking, bilinear when enlarging, sizes truncated with ``int``), then pad to
  the shape of the image's *batch*: images are sorted by aspect ratio and each batch of 32 gets one
  shape, ``ceil(ratio * 640 / 32 + pad) * 32`` (``rect_batches``, pad 0.5).
"""
import math

import numpy as np
import torch

from .boxes import clip_boxes
from .resize import resize_area, resize_linear

PAD_VALUE = 114


# -------------------------------------------------------------------------------- letterboxing
def letterbox(img, new_shape=640, stride=32, auto=True, scaleup=True, pad_value=PAD_VALUE):
    """Resize (aspect kept) and pad a uint8 (3, H, W) image for YOLOv5, like the official ``letterbox``.

    Args:
        new_shape: target (h, w) or one int for a square.
        auto: pad only to the next multiple of ``stride`` (detect) instead of to ``new_shape`` (val).
        scaleup: allow enlarging (False in val: only shrink).
    Returns:
        (image uint8 (3, h', w'), gain r, (pad_w, pad_h)): input pixel = original pixel * r + pad,
        pad = half the total padding (the left/top pad is that rounded, as OpenCV's copyMakeBorder call).
    """
    if isinstance(new_shape, int):
        new_shape = (new_shape, new_shape)
    _, h0, w0 = img.shape
    r = min(new_shape[0] / h0, new_shape[1] / w0)
    if not scaleup:
        r = min(r, 1.0)
    w1, h1 = max(1, int(round(w0 * r))), max(1, int(round(h0 * r)))  # max: a 1x5000 strip stays 1 px
    dw, dh = new_shape[1] - w1, new_shape[0] - h1
    if auto:
        dw, dh = dw % stride, dh % stride
    dw, dh = dw / 2, dh / 2
    if (h1, w1) != (h0, w0):
        img = resize_linear(img, (h1, w1))
    # dh is half the total padding: for an odd total it ends in .5, where Python's round (half to
    # even) would give both sides the same even number, one pixel short or over in total;
    # -0.1 / +0.1 rounds the top down and the bottom up (the odd pixel goes bottom / right)
    top, bottom = int(round(dh - 0.1)), int(round(dh + 0.1))
    left, right = int(round(dw - 0.1)), int(round(dw + 0.1))
    out = torch.full((img.shape[0], h1 + top + bottom, w1 + left + right), pad_value, dtype=torch.uint8)
    out[:, top:top + h1, left:left + w1] = img
    return out, r, (dw, dh)


def load_for_val(img, img_size=640):
    """Val's first step: long side to ``img_size`` (area when shrinking, bilinear when enlarging).

    Sizes are truncated (``int``), as the official dataset loader does. Returns the resized image.
    """
    _, h0, w0 = img.shape
    r = img_size / max(h0, w0)
    if r == 1:
        return img
    size = (max(1, int(h0 * r)), max(1, int(w0 * r)))
    return resize_area(img, size) if r < 1 else resize_linear(img, size)


def rect_batches(shapes_hw, img_size=640, batch_size=32, stride=32, pad=0.5):
    """Rectangular val batches: sort images by aspect ratio h/w, one letterbox shape per batch.

    Args:
        shapes_hw: original (h, w) of every image.
    Returns:
        (order, batch_shapes): ``order`` the image indices sorted by aspect ratio with numpy's default
        (not stable) argsort, as the official loader: images with equal ratios at a batch boundary
        land in the same batch as there;
        ``batch_shapes[b]`` = (h, w) for the images ``order[b*batch_size:(b+1)*batch_size]``.
        A batch whose ratios are all < 1 (wide) gets (ratio_max, 1) * img_size, all > 1 (tall)
        (1, 1/ratio_min) * img_size, else square; each side is ``ceil(side/stride + pad) * stride``.
    """
    s = np.asarray(shapes_hw, dtype=np.float64).reshape(-1, 2)
    ar = (s[:, 0] / s[:, 1]).tolist()
    order = np.argsort(s[:, 0] / s[:, 1]).tolist()
    shapes = []
    for b in range(0, len(order), batch_size):
        ari = [ar[i] for i in order[b:b + batch_size]]
        lo, hi = min(ari), max(ari)
        s = (hi, 1.0) if hi < 1 else (1.0, 1.0 / lo) if lo > 1 else (1.0, 1.0)
        shapes.append(tuple(int(math.ceil(v * img_size / stride + pad) * stride) for v in s))
    return order, shapes


# --------------------------------------------------------------------------------- boxes back
def scale_boxes(input_hw, boxes, orig_hw, gain_pad=None):
    """Map xyxy boxes from letterboxed-input pixels to original-image pixels, clipped to the image.

    Args:
        input_hw: (h, w) of the letterboxed input; orig_hw: (h, w) of the original image.
        boxes: (N, >=4) tensor, columns 0..3 xyxy (extra columns are kept).
        gain_pad: (gain, (pad_w, pad_h)) if known (val: the gain of the whole resize chain);
            None: recomputed as the official ``scale_coords`` does (detect).
    Returns:
        a new (N, >=4) tensor: (xyxy - pad) / gain, clipped to [0, w] x [0, h].
    """
    if gain_pad is None:
        gain = min(input_hw[0] / orig_hw[0], input_hw[1] / orig_hw[1])
        pad = ((input_hw[1] - orig_hw[1] * gain) / 2, (input_hw[0] - orig_hw[0] * gain) / 2)
    else:
        gain, pad = gain_pad
    offset = boxes.new_tensor([pad[0], pad[1], pad[0], pad[1]])
    xyxy = clip_boxes((boxes[:, :4] - offset) / gain, orig_hw)
    return torch.cat((xyxy, boxes[:, 4:]), dim=1)
