"""Object detection: box utilities, hand-written non-maximum suppression, two ways of scoring a
detector, YOLO-format labels and drawing, plus the YOLOv5 pre/post-processing built on them.

    boxes      formats, areas, IoU (torchvision's arithmetic)
    nms        the greedy definition, ``nms``, per-class ``batched_nms``, YOLOv5's post-processing
    nms_sweep  the fast NMS behind ``nms`` (equal to the definition)
    resize     OpenCV's INTER_LINEAR / INTER_AREA, bit for bit
    letterbox  resize + pad for YOLOv5, and boxes back to the photo
    predict    detect.py: images -> detections
    labels     YOLO label files;  coco: the 80 class names;  draw: boxes on a photo
    metrics    val.py's matching and AP;  evaluate: val.py's protocol on a dataset
    coco_eval  pycocotools' COCOeval (the numbers papers report), by hand

Box formats used throughout (all in pixels unless a function says "normalised"):

* ``xyxy``: (x1, y1, x2, y2), top-left and bottom-right corners; the format of every
  function here that takes "boxes" without saying otherwise (as in torchvision.ops).
* ``xywh``: (cx, cy, w, h), centre and size; what the YOLOv5 head predicts and what YOLO label
  files store (normalised by the image size there). COCO's JSON "bbox" is (x, y, w, h) with
  (x, y) the top-left corner: only :mod:`.coco_eval` uses it.
"""
