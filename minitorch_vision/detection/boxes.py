"""Box format conversions, areas, pairwise IoU and clipping.

Conventions follow ``torchvision.ops.boxes``: a box tensor has shape (..., 4), the last axis
holding one box; ``xyxy`` = (x1, y1, x2, y2) with x1 <= x2 and y1 <= y2, ``xywh`` =
(cx, cy, w, h) (centre and size, the YOLO convention, not torchvision's top-left "xywh").
Coordinates are continuous: a box from x1=0 to x2=10 is 10 wide (no "+1" pixel convention).
Every function returns a new tensor and leaves its input untouched.
"""
import torch


def xywh_to_xyxy(boxes):
    """Centre/size boxes to corner boxes.

    Args:
        boxes (Tensor[..., 4]): (cx, cy, w, h).

    Returns:
        Tensor[..., 4]: (x1, y1, x2, y2) = (cx - w/2, cy - h/2, cx + w/2, cy + h/2), same dtype.
    """
    cxcy, wh = boxes[..., :2], boxes[..., 2:4]
    half = wh / 2
    return torch.cat((cxcy - half, cxcy + half), dim=-1)


def xyxy_to_xywh(boxes):
    """Corner boxes to centre/size boxes.

    Args:
        boxes (Tensor[..., 4]): (x1, y1, x2, y2).

    Returns:
        Tensor[..., 4]: (cx, cy, w, h) = ((x1 + x2)/2, (y1 + y2)/2, x2 - x1, y2 - y1).
    """
    x1y1, x2y2 = boxes[..., :2], boxes[..., 2:4]
    return torch.cat(((x1y1 + x2y2) / 2, x2y2 - x1y1), dim=-1)


def upcast(t):
    """The dtype torchvision computes box areas in: float16/bfloat16 -> float32, int8/uint8/int16
    -> int32 (float32, float64, int32, int64 are kept). A float16 box 300 px wide has an area above
    float16's largest number (65504), and an int8 box 100 x 100 an area of 16 after wrapping."""
    if t.is_floating_point():
        return t if t.dtype in (torch.float32, torch.float64) else t.float()
    return t if t.dtype in (torch.int32, torch.int64) else t.int()


def check_boxes(boxes, name="boxes", batch="N"):
    """Raise a ValueError naming the expected shape unless ``boxes`` is a (``batch``, 4) tensor."""
    if not torch.is_tensor(boxes) or boxes.ndim != 2 or boxes.shape[1] != 4:
        got = f"shape {tuple(boxes.shape)}" if torch.is_tensor(boxes) else f"a {type(boxes).__name__}"
        raise ValueError(f"{name} must be a tensor of shape ({batch}, 4) holding (x1, y1, x2, y2), got {got}")


def box_area(boxes):
    """Area of each box, computed in :func:`upcast`'s dtype (as ``torchvision.ops.box_area``).

    Args:
        boxes (Tensor[N, 4]): xyxy boxes (or any (..., 4)).

    Returns:
        Tensor[N]: (x2 - x1) * (y2 - y1). A box with x2 < x1 gets a negative area: validate
        boxes upstream, as torchvision does, rather than hide the error here.
    """
    boxes = upcast(boxes)
    return (boxes[..., 2] - boxes[..., 0]) * (boxes[..., 3] - boxes[..., 1])


def box_iou(boxes1, boxes2):
    """Intersection over union of every box in ``boxes1`` with every box in ``boxes2``.

    IoU(a, b) = area(a ∩ b) / (area(a) + area(b) - area(a ∩ b)), in [0, 1] for valid boxes.
    The arithmetic is ``torchvision.ops.box_iou``'s, step for step (so is the float rounding):
    the corners are compared in the input dtype, widths, heights and areas are up-cast
    (:func:`upcast`), and the quotient is a float (float32 for integer boxes).

    Args:
        boxes1 (Tensor[N, 4]): xyxy boxes.
        boxes2 (Tensor[M, 4]): xyxy boxes.

    Returns:
        Tensor[N, M]: ``iou[i, j]`` = IoU(boxes1[i], boxes2[j]). Two identical zero-area boxes
        give 0/0 = nan (torchvision does the same); nan compares False with any threshold.
    """
    check_boxes(boxes1, "boxes1", "N")
    check_boxes(boxes2, "boxes2", "M")
    area1, area2 = box_area(boxes1), box_area(boxes2)
    top_left = torch.max(boxes1[:, None, :2], boxes2[None, :, :2])  # (N, M, 2)
    bottom_right = torch.min(boxes1[:, None, 2:], boxes2[None, :, 2:])  # (N, M, 2)
    wh = upcast(bottom_right - top_left).clamp(min=0)  # no overlap -> width or height 0
    inter = wh[..., 0] * wh[..., 1]  # (N, M)
    return inter / (area1[:, None] + area2[None, :] - inter)


def clip_boxes(boxes, shape_hw):
    """Clip xyxy boxes to an image.

    Args:
        boxes (Tensor[..., 4]): xyxy boxes in pixels.
        shape_hw (tuple[int, int]): image (height, width).

    Returns:
        Tensor[..., 4]: a new tensor with x clamped to [0, width] and y to [0, height]
        (the input is not modified).
    """
    h, w = shape_hw
    out = boxes.clone()
    out[..., 0::2] = out[..., 0::2].clamp(0, w)  # x1, x2
    out[..., 1::2] = out[..., 1::2].clamp(0, h)  # y1, y2
    return out
