"""OpenCV's uint8 resizers, reproduced bit for bit in plain torch (no OpenCV at run time).

The official YOLOv5 scripts resize with ``cv2.resize``; to get their numbers exactly we must get
their pixels exactly, and a "textbook" bilinear or box filter is one grey level off on a third of
the pixels. What OpenCV (``modules/imgproc/src/resize.cpp``) does on a uint8 image:

**INTER_LINEAR** (:func:`resize_linear`): output pixel ``d`` samples the source at
``f = (d + 0.5) * src / dst - 0.5`` (half-pixel centres), between ``i0 = floor(f)`` and ``i0 + 1``
with the fraction ``t = f - i0``. The two weights are *fixed point*: ``round((1 - t) * 2048)`` and
``round(t * 2048)`` (11 bits; they always sum to 2048). The horizontal pass is exact integer
arithmetic, ``S = w0 * p0 + w1 * p1`` (scale 2048). The vertical pass runs in 16-bit SIMD lanes,
so each row sum first loses 4 bits, and each product keeps only its high 16 bits:

    out = ( ((b0 * (S0 >> 4)) >> 16) + ((b1 * (S1 >> 4)) >> 16) + 2 ) >> 2

The two ``>> 16`` *truncate* and the final ``(+2) >> 2`` rounds half up, so the result is the
bilinear value rounded, but now and then one grey level *below* it: the 2x2 image
``[[95, 130], [194, 217]]`` enlarged to 3x3 has 112.5 in its top middle pixel, and OpenCV writes
112 (row weights 341 + 1707, each product truncated), where ``round`` would give 113. At the
borders the column index is clamped (weight 2048 on the edge pixel), while the row index is
clamped *without* changing the two row weights.

**INTER_AREA** (:func:`resize_area`), when shrinking: each output pixel is the mean of the source
pixels its footprint covers, each weighted by the covered fraction.

* Exact 2x shrink (both sides halve): ``(a + b + c + d + 2) >> 2``, the integer mean rounded *half
  up* (the 2x2 block ``[[0, 1], [0, 1]]`` gives 1, where round-half-to-even would give 0).
  ``INTER_LINEAR`` takes this path too for an exact 2x shrink (it is the same bilinear sample).
* Other integer factors k x l: ``sum * float32(1 / (k*l))`` in float32, rounded half to even.
* Any other factor: float32 weights ``covered / cell`` (a partial pixel counts only if more than
  0.001 of it is covered), accumulated left to right in float32, first along rows then down
  columns, rounded half to even. The order matters: float32 addition is not associative.

Enlarging with INTER_AREA is a variant of bilinear: ``i0 = floor(d * src / dst)`` and fraction
``(d + 1) - (i0 + 1) * dst / src`` where positive (then its fractional part), else 0 -- nearest-like
inside a source pixel, a linear ramp only across its edges.

Tested against ``cv2.resize`` (opencv-python-headless 5.0.0.93, a test-only dependency) on every
COCO128 image at several sizes and on random images of random shapes: 0 differing pixels.
"""
import math

import torch

COEF_BITS = 11                   # OpenCV's INTER_RESIZE_COEF_BITS: weights are integers out of 2048
COEF_SCALE = 1 << COEF_BITS
AREA_EPS = 1e-3                  # computeResizeAreaTab ignores a partial pixel covered <= 0.001


def _is_integer(x):
    """OpenCV's test for an integer scale: within DBL_EPSILON of the nearest integer."""
    return abs(x - round(x)) < 2.220446049250313e-16


def _linear_taps(src, dst, area_mode=False):
    """Per output index d: (i0, w0, w1), OpenCV's source index and 11-bit weights of i0 and i0 + 1.

    Linear: f = (d + 0.5) * scale - 0.5 (double, then float32), i0 = floor(f), fraction f - i0.
    ``area_mode`` (INTER_AREA enlarging): i0 = floor(d * scale), fraction = (d + 1) - (i0 + 1) / scale
    (float32) where > 0, then its fractional part. Weights round half to even (OpenCV's cvRound).
    i0 is not clamped here: the caller clamps columns and rows differently, as OpenCV does.
    """
    inv = dst / src                                       # OpenCV's inv_scale (double)
    scale = 1.0 / inv
    d = torch.arange(dst, dtype=torch.float64)
    if area_mode:
        i0 = torch.floor(d * scale)
        t = ((d + 1) - (i0 + 1) * inv).float()
        t = torch.where(t <= 0, torch.zeros_like(t), t - torch.floor(t))
    else:
        f = ((d + 0.5) * scale - 0.5).float()
        i0 = torch.floor(f)
        t = f - i0                                        # float32, like OpenCV's ``fx -= sx``
    w0 = torch.round((1 - t) * COEF_SCALE).int()
    w1 = torch.round(t * COEF_SCALE).int()
    return i0.long(), w0, w1


def _columns(x, index):
    """``x[:, :, index]`` for a (C, H, W) tensor (``gather``: several times faster here)."""
    return torch.gather(x, 2, index.view(1, 1, -1).expand(x.shape[0], x.shape[1], -1))


def _bilinear_fixed_point(img, size_hw, area_mode):
    """OpenCV's 8-bit separable bilinear (see the module docstring); img uint8 (C, H, W)."""
    (h, w), (_, H, W) = size_hw, img.shape
    x = img.int()
    # columns: outside the image the index is clamped and all weight goes to the edge pixel
    i0, a0, a1 = _linear_taps(W, w, area_mode)
    edge = (i0 < 0) | (i0 >= W - 1)
    i0 = i0.clamp(0, W - 1)
    a0, a1 = torch.where(edge, COEF_SCALE, a0), torch.where(edge, 0, a1)
    rows = _columns(x, i0) * a0
    rows += _columns(x, (i0 + 1).clamp(max=W - 1)) * a1                    # (C, H, w), exact
    # rows: the indices are clamped but the two weights are kept
    j0, b0, b1 = _linear_taps(H, h, area_mode)
    rows >>= 4                                            # 16-bit lanes: the low 4 bits go first
    out = rows.index_select(1, j0.clamp(0, H - 1)).mul_(b0.view(1, -1, 1)) >> 16
    out += rows.index_select(1, (j0 + 1).clamp(0, H - 1)).mul_(b1.view(1, -1, 1)) >> 16
    return ((out + 2) >> 2).clamp_(0, 255).to(torch.uint8)


def _area_block_mean(img, kh, kw):
    """Integer shrink factors: the mean of each kh x kw block (OpenCV's resizeAreaFast)."""
    c, H, W = img.shape
    h, w = H // kh, W // kw
    s = img[:, :h * kh, :w * kw].int().view(c, h, kh, w, kw).sum((2, 4))
    if kh == kw == 2 and c in (1, 3, 4):                  # SIMD path: integer mean, half up
        return ((s + 2) >> 2).to(torch.uint8)
    scale = torch.tensor(1.0, dtype=torch.float32) / (kh * kw)               # float32 1/area
    return torch.round(s.float() * scale).clamp(0, 255).to(torch.uint8)


def _area_taps(src, dst):
    """computeResizeAreaTab: per output index, the covered source indices and float32 weights.

    Output pixel d covers [d * scale, (d + 1) * scale) in source pixels; each source pixel gets
    the covered length / the cell width. Returns (index (dst, T) int64, weight (dst, T) float32),
    padded with weight 0, taps in increasing source order (OpenCV's summation order).
    """
    scale = 1.0 / (dst / src)
    taps = []
    for d in range(dst):
        lo, hi = d * scale, d * scale + scale
        cell = min(scale, src - lo)
        first, last = math.ceil(lo), min(math.floor(hi), src - 1)
        first = min(first, last)
        mine = []
        if first - lo > AREA_EPS:                                   # partial pixel on the left
            mine.append((first - 1, (first - lo) / cell))
        mine += [(s, 1.0 / cell) for s in range(first, last)]       # whole pixels
        if hi - last > AREA_EPS:                                    # partial pixel on the right
            mine.append((last, min(hi - last, 1.0, cell) / cell))
        taps.append(mine)
    n = max(len(t) for t in taps)
    padded = [t + [(0, 0.0)] * (n - len(t)) for t in taps]   # weight 0 adds exactly nothing
    index = torch.tensor([[s for s, _ in t] for t in padded], dtype=torch.long)
    weight = torch.tensor([[a for _, a in t] for t in padded], dtype=torch.float64)
    return index, weight.float()


def _area_general(img, size_hw):
    """Non-integer shrink: float32 weighted sums, rows first, in OpenCV's order (resizeArea_)."""
    (h, w), (_, H, W) = size_hw, img.shape
    x = img.float()
    index, weight = _area_taps(W, w)
    rows = torch.zeros(x.shape[0], H, w)
    for t in range(index.shape[1]):                       # sum += pixel * weight, left to right
        rows = rows + _columns(x, index[:, t]) * weight[:, t]
    index, weight = _area_taps(H, h)
    out = torch.zeros(x.shape[0], h, w)
    for t in range(index.shape[1]):                       # then down the columns
        out = out + rows[:, index[:, t]] * weight[:, t, None]
    return torch.round(out).clamp(0, 255).to(torch.uint8)


def _check(img, size_hw):
    if not (torch.is_tensor(img) and img.dtype == torch.uint8 and img.ndim == 3):
        got = f"{img.dtype} {tuple(img.shape)}" if torch.is_tensor(img) else type(img).__name__
        raise ValueError(f"expected a uint8 image of shape (C, H, W), got {got}")
    h, w = size_hw
    if h < 1 or w < 1:
        raise ValueError(f"output size must be at least 1x1, got {tuple(size_hw)}")
    return int(h), int(w)


def resize_linear(img, size_hw):
    """``cv2.resize(img, (w, h), interpolation=cv2.INTER_LINEAR)`` bit for bit.

    Args:
        img (Tensor[C, H, W] uint8): the image.
        size_hw (tuple[int, int]): output (height, width).

    Returns:
        Tensor[C, h, w] uint8 (a new tensor). Half-pixel-centre bilinear with OpenCV's fixed-point
        rounding (module docstring); an exact 2x shrink is OpenCV's 2x2 integer mean.
    """
    h, w = _check(img, size_hw)
    _, H, W = img.shape
    if (h, w) == (H, W):
        return img.clone()
    if H == 2 * h and W == 2 * w:               # OpenCV switches to INTER_AREA: same samples
        return _area_block_mean(img, 2, 2)
    return _bilinear_fixed_point(img, (h, w), area_mode=False)


def resize_area(img, size_hw):
    """``cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA)`` bit for bit.

    Args:
        img (Tensor[C, H, W] uint8): the image.
        size_hw (tuple[int, int]): output (height, width).

    Returns:
        Tensor[C, h, w] uint8 (a new tensor). Shrinking (both sides): the area-weighted mean of the
        covered source pixels; otherwise OpenCV's area-flavoured bilinear (module docstring).
    """
    h, w = _check(img, size_hw)
    _, H, W = img.shape
    if (h, w) == (H, W):
        return img.clone()
    scale_h, scale_w = 1.0 / (h / H), 1.0 / (w / W)      # as OpenCV computes them, in double
    if scale_h < 1 or scale_w < 1:                      # enlarging along some side
        return _bilinear_fixed_point(img, (h, w), area_mode=True)
    if _is_integer(scale_h) and _is_integer(scale_w):
        return _area_block_mean(img, round(scale_h), round(scale_w))
    return _area_general(img, (h, w))
