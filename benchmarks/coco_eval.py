"""Hand-written COCO evaluation vs pycocotools' COCOeval, on the same detections, in the same run.

The detections are our YOLOv5n's on COCO128 with the val protocol (conf 0.001, IoU 0.6, at most
300 per image; --img 640 by default), the ground truth COCO128's YOLO labels converted to COCO
boxes. Timed: our ``coco_evaluate`` (per-image matching, accumulation and the 12 numbers) against
pycocotools' ``evaluate()`` + ``accumulate()`` (its ``summarize()`` only prints), median of
--repeat interleaved calls, single thread. The 12 numbers are checked to be equal first.
Goal (issue 12): ours at most 2x pycocotools' time.

    python benchmarks/coco_eval.py [--img 640] [--repeat 5] [--data-dir DIR]
"""
import argparse
import contextlib
import copy
import io

import numpy as np
import torch

from _common import data_dir, median_times
from minitorch_vision.data.images import image_size
from minitorch_vision.detection.coco_eval import coco_evaluate, detections_to_coco, yolo_to_coco_gt
from minitorch_vision.detection.evaluate import evaluate_detector
from minitorch_vision.detection.labels import read_yolo_labels
from minitorch_vision.yolov5_checkpoint import load_yolov5


def pycocotools_runner(gt, dets):
    """A function running pycocotools' evaluate() + accumulate() on fresh copies; returns the COCOeval."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO()
        coco_gt.dataset = copy.deepcopy(gt)
        coco_gt.createIndex()
        coco_dt = coco_gt.loadRes(copy.deepcopy(dets))

    def run():
        with contextlib.redirect_stdout(io.StringIO()):
            e = COCOeval(coco_gt, coco_dt, "bbox")
            e.evaluate()
            e.accumulate()
        return e
    return run


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--img", type=int, default=640)
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--data-dir")
    a = p.parse_args()
    torch.set_num_threads(1)
    root = data_dir(a.data_dir)
    model = load_yolov5(root / "weights" / "yolov5n.pt").fuse()
    labels = root / "coco128" / "labels" / "train2017"
    ev = evaluate_detector(model, root / "coco128" / "images" / "train2017", labels, img_size=a.img, progress=False)
    gt = yolo_to_coco_gt([image_size(f) for f in ev.files],
                         [read_yolo_labels(labels / (f.stem + ".txt")) for f in ev.files], model.names)
    dets = detections_to_coco(ev.detections)
    theirs = pycocotools_runner(gt, dets)
    e = theirs()
    with contextlib.redirect_stdout(io.StringIO()):
        e.summarize()
    ours = coco_evaluate(gt, dets)
    assert np.abs(ours.stats - e.stats).max() < 1e-12, (ours.stats, e.stats)
    t_ours, t_theirs = median_times([lambda: coco_evaluate(gt, dets), theirs], a.repeat)
    print(f"COCO128, yolov5n at {a.img}: {len(dets)} detections, {len(gt['annotations'])} boxes; "
          f"mAP@0.5:0.95 {ours.stats[0]:.4f} (pycocotools {e.stats[0]:.4f}), val.py protocol {ev.map50_95:.4f}")
    print(f"ours {t_ours:.2f} s, pycocotools evaluate()+accumulate() {t_theirs:.2f} s, ratio {t_ours / t_theirs:.2f}x")


if __name__ == "__main__":
    main()
