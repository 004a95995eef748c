"""The hand-written COCO evaluation against pycocotools (a test-only reference): every one of the
12 summary numbers, and the full precision / recall arrays, on synthetic detections with crowds and
every area range, and on COCO128 with our YOLOv5n predictions at 640 and 416."""
import contextlib
import copy
import functools
import io

import numpy as np
import pytest
import torch

from conftest import need
from minitorch_vision.data.images import image_size
from minitorch_vision.detection.coco_eval import (SUMMARY, coco_box_iou, coco_evaluate, detections_to_coco,
                                                  format_coco_stats, match_greedy, yolo_to_coco_gt)
from minitorch_vision.detection.evaluate import evaluate_detector
from minitorch_vision.detection.labels import read_yolo_labels


def pycocotools_eval(gt, detections):
    """pycocotools' COCOeval (bbox) on the same dicts: evaluate(), accumulate(), summarize()."""
    pytest.importorskip("pycocotools", reason="skipped: pycocotools (test extra) not installed")
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO()
        coco_gt.dataset = copy.deepcopy(gt)
        coco_gt.createIndex()
        e = COCOeval(coco_gt, coco_gt.loadRes(copy.deepcopy(detections)), "bbox")
        e.evaluate()
        e.accumulate()
        e.summarize()
    return e


def synthetic(seed, n_images=30, n_cats=5, clutter=5):
    """Random ground truth of every size (areas 25 .. 90000 px^2, so all three ranges), 10% crowds,
    'area' fields that differ from the box area (as COCO's segment areas do), one category without
    ground truth; detections jittered around it, with repeated scores, and random clutter."""
    rng = np.random.default_rng(seed)
    images = [{"id": int(i)} for i in rng.permutation(np.arange(100, 100 + n_images))]
    anns, dets = [], []
    for im in images:
        for _ in range(rng.integers(0, 8)):
            s = float(np.exp(rng.uniform(np.log(5), np.log(300))))
            x, y = rng.uniform(0, 500, 2)
            w, h = s * rng.uniform(0.5, 1.5), s * rng.uniform(0.5, 1.5)
            c = int(rng.integers(1, n_cats + 1))
            anns.append({"id": len(anns) + 1, "image_id": im["id"], "category_id": c, "bbox": [x, y, w, h],
                         "area": w * h * rng.uniform(0.6, 1.0), "iscrowd": int(rng.random() < 0.1)})
            for _ in range(rng.integers(0, 4)):
                j = rng.normal(0, 0.15 * s, 4)
                cls = c if rng.random() < 0.8 else int(rng.integers(1, n_cats + 1))
                dets.append({"image_id": im["id"], "category_id": cls, "score": float(rng.choice([0.5, 0.7, rng.random()])),
                             "bbox": [x + j[0], y + j[1], max(1.0, w + j[2]), max(1.0, h + j[3])]})
        for _ in range(rng.integers(0, clutter)):
            x, y = rng.uniform(0, 500, 2)
            w, h = rng.uniform(2, 200, 2)
            dets.append({"image_id": im["id"], "category_id": int(rng.integers(1, n_cats + 1)),
                         "bbox": [x, y, w, h], "score": float(rng.random())})
    return {"images": images, "annotations": anns, "categories": [{"id": c} for c in range(1, n_cats + 2)]}, dets


def assert_same_as_pycocotools(gt, dets):
    ours, theirs = coco_evaluate(gt, dets), pycocotools_eval(gt, dets)
    assert np.abs(ours.stats - theirs.stats).max() < 1e-12, (ours.stats, theirs.stats)
    assert np.array_equal(ours.precision, theirs.eval["precision"])
    assert np.array_equal(ours.recall, theirs.eval["recall"])
    return ours


@pytest.mark.parametrize("seed", range(6))
def test_synthetic_detections_equal_pycocotools(seed):
    gt, dets = synthetic(seed, clutter=400 if seed % 3 == 0 else 5)   # 0 and 3: > 100 per image and class
    ours = assert_same_as_pycocotools(gt, dets)
    assert (ours.stats > -1).all() and ours.stats[0] > 0    # every range has ground truth; some hits
    assert {a["iscrowd"] for a in gt["annotations"]} == {0, 1}


def test_crowd_iou_divides_by_the_detections_area():
    dt, gt = [[0.0, 0.0, 10.0, 10.0]], [[5.0, 0.0, 100.0, 100.0]]
    assert coco_box_iou(dt, gt, [False])[0, 0] == pytest.approx(50 / (100 + 10000 - 50))
    assert coco_box_iou(dt, gt, [True])[0, 0] == 0.5          # half of the detection lies in the crowd
    assert coco_box_iou(dt, [[10.0, 0.0, 5.0, 5.0]], [False])[0, 0] == 0.0   # touching: no overlap


def test_greedy_matching_by_score_takes_the_best_iou_then_ignored_boxes():
    # two detections (best first), two regular ground truths and one ignored
    ious = np.array([[0.6, 0.8, 0.9],
                     [0.7, 0.0, 0.0]])
    ignore, crowd = np.array([False, False, True]), np.array([False, False, True])
    match = match_greedy(ious, ignore, crowd, thresholds=np.array([0.5, 0.65, 0.75, 0.85]))
    # detection 0: regular box 1 (0.8) beats the ignored crowd (0.9) while it qualifies, then the crowd
    assert match[:, 0].tolist() == [1, 1, 1, 2]
    # detection 1: box 0 is still free
    assert match[:, 1].tolist() == [0, 0, -1, -1]
    # equal IoUs: the last box wins (pycocotools replaces on >=)
    assert match_greedy(np.array([[0.7, 0.7]]), np.zeros(2, bool), np.zeros(2, bool), np.array([0.5]))[0, 0] == 1


def test_edge_cases_equal_pycocotools():
    gt, dets = synthetic(7)
    gt["images"].append({"id": 999})                          # an image with nothing at all
    dets.append({"image_id": 999, "category_id": 1, "bbox": [1.0, 1.0, 5.0, 5.0], "score": 0.3})
    dets.append({"image_id": 100, "category_id": 77, "bbox": [1.0, 1.0, 5.0, 5.0], "score": 0.3})  # unknown class
    assert_same_as_pycocotools(gt, dets)
    with pytest.raises(ValueError, match="image_id 12345, which is not in the ground truth"):
        coco_evaluate(gt, [{"image_id": 12345, "category_id": 1, "bbox": [0, 0, 1, 1], "score": 1.0}])
    empty = coco_evaluate(gt, [])                             # no detections: AP 0 where gt exists
    assert (empty.stats == 0).all()


def test_format_coco_stats_looks_like_pycocotools():
    text = format_coco_stats(np.arange(12) / 100)
    lines = text.splitlines()
    assert len(lines) == len(SUMMARY) == 12
    assert lines[0] == " Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ] = 0.000"
    assert lines[6] == " Average Recall     (AR) @[ IoU=0.50:0.95 | area=   all | maxDets=  1 ] = 0.060"


def test_yolo_labels_to_coco_boxes():
    gt = yolo_to_coco_gt([(100, 200)], [torch.tensor([[3, 0.5, 0.5, 0.2, 0.4]])], ["a", "b", "c", "d"])
    (ann,) = gt["annotations"]
    assert ann["bbox"] == pytest.approx([80.0, 30.0, 40.0, 40.0]) and ann["area"] == pytest.approx(1600.0)
    assert ann["id"] == 1 and ann["category_id"] == 3 and ann["iscrowd"] == 0
    assert [c["id"] for c in gt["categories"]] == [0, 1, 2, 3]
    dets = detections_to_coco([torch.tensor([[80.0, 30.0, 120.0, 70.0, 0.9, 3.0]])])
    assert dets == [{"image_id": 0, "category_id": 3, "bbox": [80.0, 30.0, 40.0, 40.0], "score": pytest.approx(0.9)}]
    ev = coco_evaluate(gt, dets)
    assert ev.stats[1] == pytest.approx(1.0)                          # AP50 of a perfect detection
    assert list(ev.record()) == [name for name, *_ in SUMMARY] and ev.record()["AP50"] == ev.stats[1]


@functools.lru_cache(maxsize=None)
def coco128(data_dir, img_size):
    """Our YOLOv5n on COCO128 with the val protocol: (COCO ground truth, COCO detections)."""
    from minitorch_vision.yolov5_checkpoint import load_yolov5
    model = load_yolov5(need(data_dir, "weights", "yolov5n.pt")).fuse()
    labels = need(data_dir, "coco128", "labels", "train2017")
    ev = evaluate_detector(model, need(data_dir, "coco128", "images", "train2017"), labels, img_size=img_size,
                           progress=False)
    gt = yolo_to_coco_gt([image_size(f) for f in ev.files],
                         [read_yolo_labels(labels / (f.stem + ".txt")) for f in ev.files], model.names)
    return gt, detections_to_coco(ev.detections)


@pytest.mark.parametrize("img_size", [640, 416])
def test_coco128_yolov5n_equals_pycocotools_SLOW(data_dir, img_size):
    gt, dets = coco128(data_dir, img_size)
    assert len(gt["images"]) == 128 and len(gt["annotations"]) == 929
    ours = assert_same_as_pycocotools(gt, dets)
    if img_size == 640:                                       # the COCO numbers of yolov5n on COCO128
        assert ours.stats[0] == pytest.approx(0.350, abs=5e-4) and ours.stats[1] == pytest.approx(0.548, abs=5e-4)
