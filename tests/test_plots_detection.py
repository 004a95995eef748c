"""Lesson 05's figures render on small data at a readable size, and the PR curves reach TensorBoard."""
import numpy as np
import torch
from PIL import Image

from minitorch_vision.detection.coco_eval import coco_image_matches
from minitorch_vision.detection.metrics import ap_per_class
from minitorch_vision.plots.detection import detection_grid, pr_curves, tensorboard_pr_curves, val_pr_curves


def _curves():
    rng = np.random.default_rng(0)
    n = 60
    tp = rng.random((n, 10)) < np.linspace(0.8, 0.2, 10)
    return ap_per_class(tp, rng.random(n), rng.integers(0, 3, n), rng.integers(0, 3, 40))


def test_detection_grid_draws_every_photo(tmp_path):
    photos = [(torch.randint(0, 256, (3, h, w), dtype=torch.uint8), torch.tensor([[10.0, 10, 60, 50, 0.9, 0]]), f"p{k}")
              for k, (h, w) in enumerate([(100, 150), (300, 200), (64, 64), (1080, 810)])]
    path = detection_grid(photos, ["thing"], "four photos", tmp_path / "grid.png", caption="c")
    w, h = Image.open(path).size
    assert 900 <= w <= 1600 and 600 <= h <= 1200          # 3 columns x 2 rows of ~450 px panels
    one = detection_grid(photos[:1], ["thing"], path=tmp_path / "one.png")
    assert Image.open(one).size[0] < w


def test_pr_curves_legend_beside_the_plot(tmp_path):
    res = _curves()
    path = pr_curves(res["px"], res["pr_curve"], ["a (20)", "b (12)", "c (8)"], res["ap"][:, 0], "t", tmp_path / "pr.png")
    w, h = Image.open(path).size
    assert w > 1.3 * h                                      # the legend takes its own column on the right


def test_tensorboard_pr_curves_are_written(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    res = _curves()
    tensorboard_pr_curves(tmp_path, res, ["a", "b", "c"], res["n_labels"], top=2)
    acc = EventAccumulator(str(tmp_path), size_guidance={"tensors": 0})
    acc.Reload()
    assert sorted(acc.Tags()["tensors"]) == ["pr_iou0.5/a", "pr_iou0.5/b"]
    assert acc.Tensors("pr_iou0.5/a")[0].tensor_proto.tensor_shape.dim[0].size == 6   # the PR-curve plugin layout


def test_val_pr_curves_put_the_most_labelled_classes_first(tmp_path):
    from types import SimpleNamespace

    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    res = _curves()
    per_class = [{"name": n, "instances": i} for n, i in (("a", 8), ("b", 20), ("c", 12))]
    path = val_pr_curves(SimpleNamespace(per_class=per_class, curves=res), "t", tmp_path / "pr.png",
                         log_dir=tmp_path / "tb", top=2)
    assert path.exists()
    acc = EventAccumulator(str(tmp_path / "tb"), size_guidance={"tensors": 0})
    acc.Reload()
    assert sorted(acc.Tags()["tensors"]) == ["pr_iou0.5/b", "pr_iou0.5/c"]    # 20 and 12 boxes, not 8


def test_coco_image_matches_by_score_and_per_threshold():
    labels = torch.tensor([[0, 0.0, 0, 100, 100]])
    det = torch.tensor([[0.0, 0, 100, 110, 0.9, 0],     # IoU 0.91, most confident: takes the label
                        [0.0, 0, 100, 100, 0.5, 0],     # IoU 1.0: nothing left
                        [0.0, 0, 100, 100, 0.8, 1]])    # another class
    m = coco_image_matches(det, labels)
    assert m.shape == (3, 10) and m[0, :9].all() and not m[0, 9] and m[1, 9] and not m[2].any()
