"""Detection metrics on tiny cases computed by hand (YOLOv5 v6.1 protocol)."""
import numpy as np
import pytest
import torch

from minitorch_vision.detection.metrics import ap_per_class, compute_ap, default_iouv, match_predictions, mean_results


def det(x1, y1, x2, y2, conf, cls):
    return [x1, y1, x2, y2, conf, cls]


# --- matching ---------------------------------------------------------------------------------

def test_iouv_is_the_coco_set():
    torch.testing.assert_close(default_iouv(), torch.tensor([0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95]))


def test_match_iou_threshold_edges():
    labels = torch.tensor([[0, 0.0, 0.0, 10.0, 10.0]])
    # IoU exactly 0.5 (50/100): correct at 0.50 only (IoU >= threshold counts)
    c = match_predictions(torch.tensor([det(0, 0, 10, 5, 0.9, 0)]), labels)
    assert c.tolist() == [[True] + [False] * 9]
    # IoU just below 0.5: never correct
    c = match_predictions(torch.tensor([det(0, 0, 10, 4.99, 0.9, 0)]), labels)
    assert not c.any()
    # IoU 0.8 (80/100): correct at 0.50 .. 0.80, not above
    c = match_predictions(torch.tensor([det(0, 0, 10, 8, 0.9, 0)]), labels)
    assert c[0].tolist() == [True] * 7 + [False] * 3
    # perfect box of the wrong class: not correct
    c = match_predictions(torch.tensor([det(0, 0, 10, 10, 0.9, 1)]), labels)
    assert not c.any()


def test_match_one_label_two_detections_first_listed_wins():
    # YOLOv5 v6.1 rule: the label goes to the detection listed first (the more confident one
    # after NMS), not to the one with the higher IoU
    labels = torch.tensor([[0, 0.0, 0.0, 10.0, 10.0]])
    dets = torch.tensor([det(0, 0, 10, 6, 0.9, 0),  # IoU 0.6, listed first
                         det(0, 0, 10, 9, 0.5, 0)])  # IoU 0.9
    c = match_predictions(dets, labels)
    assert c[0].tolist() == [True] * 3 + [False] * 7  # correct at 0.50, 0.55, 0.60
    assert not c[1].any()


def test_match_detection_takes_its_best_iou_label():
    labels = torch.tensor([[0, 0.0, 0.0, 10.0, 10.0], [0, 0.0, 0.0, 10.0, 7.0]])
    c = match_predictions(torch.tensor([det(0, 0, 10, 8, 0.9, 0)]), labels)  # IoU 0.8 and 0.875
    assert c[0].tolist() == [True] * 8 + [False] * 2  # matched to label 1: correct up to 0.85


def test_match_two_labels_two_detections():
    labels = torch.tensor([[0, 0.0, 0.0, 10.0, 10.0], [0, 20.0, 0.0, 30.0, 10.0]])
    dets = torch.tensor([det(20, 0, 30, 10, 0.8, 0), det(0, 0, 10, 10, 0.7, 0), det(0, 0, 10, 10, 0.6, 0)])
    c = match_predictions(dets, labels)
    assert c[:, 0].tolist() == [True, True, False]  # the duplicate of label 0 is a false positive


def test_match_no_detections_or_no_labels():
    labels = torch.tensor([[0, 0.0, 0.0, 10.0, 10.0]])
    assert match_predictions(torch.zeros(0, 6), labels).shape == (0, 10)
    c = match_predictions(torch.tensor([det(0, 0, 10, 10, 0.9, 0)]), torch.zeros(0, 5))
    assert c.shape == (1, 10) and not c.any()


def test_match_per_threshold_variant():
    # redoing the matching at each threshold (YOLOv5 >= v6.2): once the first detection's IoU 0.6
    # is below the threshold, the label is free for the second one (IoU 0.9)
    labels = torch.tensor([[0, 0.0, 0.0, 10.0, 10.0]])
    dets = torch.tensor([det(0, 0, 10, 6, 0.9, 0), det(0, 0, 10, 9, 0.5, 0)])
    c = match_predictions(dets, labels, per_threshold=True)
    assert c[0].tolist() == [True] * 3 + [False] * 7
    assert c[1].tolist() == [False] * 3 + [True] * 6 + [False]
    one = torch.tensor([det(0, 0, 10, 8, 0.9, 0)])
    assert torch.equal(match_predictions(one, labels, per_threshold=True), match_predictions(one, labels))


# --- AP ---------------------------------------------------------------------------------------

def test_compute_ap_perfect_is_0995():
    # 101-point interpolation: precision 1 at recall 0..0.99; at recall 1.0 np.interp sees the
    # sentinel (recall 1, precision 0) last, so the last trapezoid is half: 0.99 + 0.005
    ap, _, _ = compute_ap(np.array([1.0]), np.array([1.0]))
    assert ap == pytest.approx(0.995, abs=1e-12)


def test_compute_ap_by_hand():
    # detections TP, FP, TP over 2 labels: recall .5 .5 1, precision 1 .5 2/3.
    # Envelope: precision 1 for recall < .5, 2/3 for .5 <= recall < 1, 0 at recall 1.
    # Trapezoids on 0, .01, .., 1: 49 x .01 x 1 + .01 x (1 + 2/3)/2 + 49 x .01 x 2/3 + .01 x (2/3)/2
    expected = 0.49 + 0.01 * (5 / 6) + 0.49 * (2 / 3) + 0.01 / 3
    ap, _, _ = compute_ap(np.array([0.5, 0.5, 1.0]), np.array([1.0, 0.5, 2 / 3]))
    assert ap == pytest.approx(expected, abs=1e-12)


def test_ap_per_class_perfect_class_and_class_with_false_positive():
    tp = np.array([[True] * 10, [True] * 10, [False] * 10, [True] * 10])
    conf = np.array([0.95, 0.9, 0.8, 0.7])
    pred_cls = np.array([0, 1, 1, 1])
    target_cls = np.array([0, 1, 1])
    r = ap_per_class(tp, conf, pred_cls, target_cls)
    assert r["classes"].tolist() == [0, 1]
    assert r["n_labels"].tolist() == [1, 2]
    np.testing.assert_allclose(r["ap"][0], 0.995)
    np.testing.assert_allclose(r["ap"][1], 0.49 + 0.01 * (5 / 6) + 0.49 * (2 / 3) + 0.01 / 3)
    # at confidences <= 0.7 class 1 has seen all three detections: P 2/3, R 1, F1 0.8; above,
    # its recall drops (linear interpolation towards R .5 at 0.8). Class 0 has F1 1 up to 0.95.
    # So the mean F1 peaks at (1 + 0.8) / 2 from conf 0 on, and argmax takes the first: conf 0.
    assert r["conf"] == 0.0
    np.testing.assert_allclose(r["p"], [1.0, 2 / 3])
    np.testing.assert_allclose(r["r"], [1.0, 1.0])
    np.testing.assert_allclose(r["f1"], [1.0, 0.8])
    p, rec, map50, map5095 = mean_results(r)
    assert map50 == pytest.approx(r["ap"][:, 0].mean()) and map5095 == pytest.approx(r["ap"].mean())
    assert p == pytest.approx(5 / 6) and rec == pytest.approx(1.0)


def test_ap_per_class_class_without_predictions_and_predictions_without_labels():
    tp = np.array([[True] * 10, [False] * 10])
    conf = np.array([0.9, 0.8])
    pred_cls = np.array([0, 7])  # class 7 has no labels: ignored
    target_cls = np.array([0, 3])  # class 3 has no detections: P = R = AP = 0
    r = ap_per_class(tp, conf, pred_cls, target_cls)
    assert r["classes"].tolist() == [0, 3]
    np.testing.assert_allclose(r["ap"][1], 0.0)
    assert r["p"][1] == 0 and r["r"][1] == 0
    np.testing.assert_allclose(r["ap"][0], 0.995)


def test_ap_per_class_iou_columns_differ():
    # one detection, correct at 0.50 .. 0.70 only
    tp = np.array([[True] * 5 + [False] * 5])
    r = ap_per_class(tp, np.array([0.9]), np.array([0]), np.array([0]))
    np.testing.assert_allclose(r["ap"][0], [0.995] * 5 + [0.0] * 5)
    assert mean_results(r)[3] == pytest.approx(0.995 / 2)


def test_ap_per_class_no_labels():
    r = ap_per_class(np.zeros((2, 10), bool), np.array([0.9, 0.8]), np.array([0, 1]), np.array([]))
    assert len(r["classes"]) == 0 and r["ap"].shape == (0, 10)
    assert mean_results(r) == (0.0, 0.0, 0.0, 0.0)


def test_ap_per_class_accepts_tensors():
    tp = torch.tensor([[True] * 10])
    r = ap_per_class(tp, torch.tensor([0.9]), torch.tensor([2.0]), torch.tensor([2.0]))
    np.testing.assert_allclose(r["ap"], [[0.995] * 10])
