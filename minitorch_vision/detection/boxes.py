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


def box_area(boxes):
    """Area of each box.

    Args:
        boxes (Tensor[N, 4]): xyxy boxes (or any (..., 4)).

    Returns:
        Tensor[N]: (x2 - x1) * (y2 - y1). A box with x2 < x1 gets a negative area: validate
        boxes upstream, as torchvision does, rather than hide the error here.
    """
    return (boxes[..., 2] - boxes[..., 0]) * (boxes[..., 3] - boxes[..., 1])


def box_iou(boxes1, boxes2):
    """Intersection over union of every box in ``boxes1`` with every box in ``boxes2``.

    IoU(a, b) = area(a ∩ b) / (area(a) + area(b) - area(a ∩ b)), in [0, 1] for valid boxes.
    The arithmetic (and so the float rounding) is the same as ``torchvision.ops.box_iou``.

    Args:
        boxes1 (Tensor[N, 4]): xyxy boxes.
        boxes2 (Tensor[M, 4]): xyxy boxes.

    Returns:
        Tensor[N, M]: ``iou[i, j]`` = IoU(boxes1[i], boxes2[j]). Two identical zero-area boxes
        give 0/0 = nan (torchvision does the same); nan compares False with any threshold.
    """
    area1, area2 = box_area(boxes1), box_area(boxes2)
    top_left = torch.max(boxes1[:, None, :2], boxes2[None, :, :2])  # (N, M, 2)
    bottom_right = torch.min(boxes1[:, None, 2:], boxes2[None, :, 2:])  # (N, M, 2)
    wh = (bottom_right - top_left).clamp(min=0)  # no overlap -> width or height 0
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
