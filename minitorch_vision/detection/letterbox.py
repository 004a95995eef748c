"""Getting an image into YOLOv5 and its boxes back out: resizing, letterboxing, rescaling.

YOLOv5 takes a (3, H, W) image with H and W multiples of the largest stride (32). "Letterboxing"
scales the image by one factor ``r`` (aspect ratio kept) and pads it with grey (114) to that shape;
``scale_boxes`` undoes it for the predicted boxes (minus the padding, divided by ``r``).

The official code resizes with OpenCV; to reproduce its numbers exactly we reproduce its resizers
in integer torch arithmetic (no OpenCV at run time):

* ``resize_linear`` = ``cv2.resize(..., INTER_LINEAR)`` on uint8: half-pixel-centre bilinear with
  weights quantised to 11 bits and OpenCV's vectorised rounding. Bit-exact on bus.jpg (tests);
  OpenCV rounds the last few pixels of a row in a scalar loop that can differ by 1 grey level.
* ``resize_area`` = ``cv2.resize(..., INTER_AREA)`` when shrinking: each output pixel is the
  area-weighted mean of the input pixels it covers (for integer factors, a plain block mean,
  like Pillow's ``Image.BOX``), rounded half to even.

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

PAD_VALUE = 114


# ----------------------------------------------------------------------------------- resizing
def _linear_taps(src, dst):
    """Source indices (i0, i1) and 11-bit weights (w0, w1) per output index, as OpenCV computes them."""
    scale = 1.0 / (dst / src)                                                # double, as cv::resize
    f = ((torch.arange(dst, dtype=torch.float64) + 0.5) * scale - 0.5).float()
    i0 = torch.floor(f)
    f = f - i0
    i0 = i0.long()
    low, high = i0 < 0, i0 >= src - 1                                        # borders: replicate
    f = torch.where(low | high, torch.zeros_like(f), f)
    i0 = i0.clamp(0, src - 1)
    i1 = (i0 + 1).clamp(max=src - 1)
    w0 = torch.round((1.0 - f) * 2048).long()                                # cvRound: half to even
    w1 = torch.round(f * 2048).long()
    return i0, i1, w0, w1


def resize_linear(img, size_hw):
    """Bilinear resize of a uint8 (C, H, W) image to ``size_hw`` exactly like OpenCV's INTER_LINEAR."""
    h, w = size_hw
    c, H, W = img.shape
    if (H, W) == (h, w):
        return img.clone()
    x = img.long()
    i0, i1, a0, a1 = _linear_taps(W, w)
    j0, j1, b0, b1 = _linear_taps(H, h)
    rows = x[:, :, i0] * a0 + x[:, :, i1] * a1                   # (C, H, w), weights sum to 2048
    s0, s1 = rows[:, j0] >> 4, rows[:, j1] >> 4                  # OpenCV's SIMD path: 16-bit products
    out = (((b0.view(1, -1, 1) * s0) >> 16) + ((b1.view(1, -1, 1) * s1) >> 16) + 2) >> 2
    return out.clamp(0, 255).to(torch.uint8)


def _area_weights(src, dst):
    """(dst, src) matrix: share of input pixel j in output pixel i (rows sum to 1), for dst <= src."""
    scale = src / dst
    lo = torch.arange(dst, dtype=torch.float64) * scale                     # output pixel i covers
    hi = lo + scale                                                         # [i*scale, (i+1)*scale)
    j = torch.arange(src, dtype=torch.float64)
    overlap = (torch.minimum(hi[:, None], j[None] + 1) - torch.maximum(lo[:, None], j[None])).clamp(min=0)
    return overlap / scale


def resize_area(img, size_hw):
    """Shrink a uint8 (C, H, W) image by area averaging (OpenCV INTER_AREA); enlarging -> bilinear."""
    h, w = size_hw
    c, H, W = img.shape
    if h > H or w > W:
        return resize_linear(img, size_hw)
    if (H, W) == (h, w):
        return img.clone()
    out = _area_weights(H, h) @ img.double() @ _area_weights(W, w).T      # (C, h, w)
    return torch.round(out).clamp(0, 255).to(torch.uint8)


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
