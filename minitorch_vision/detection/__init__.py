"""Object detection: box utilities, hand-written non-maximum suppression, COCO-style metrics,
YOLO-format labels and drawing, plus the YOLOv5 pre/post-processing built on them.

Box formats used throughout (all in pixels unless a function says "normalised"):

* ``xyxy``: (x1, y1, x2, y2), top-left and bottom-right corners; the format of every
  function here that takes "boxes" without saying otherwise (as in torchvision.ops).
* ``xywh``: (cx, cy, w, h), centre and size; what the YOLOv5 head predicts and what YOLO label
  files store (normalised by the image size there).
"""
