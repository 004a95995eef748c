"""Lesson 06's parts (minitorch_vision.explain): the photo part explains a *pretrained* classifier or
nothing, in the documented order; the fallback CNN; the YOLOv5 detection to explain."""
import argparse

import pytest
import torch

from conftest import need
from minitorch_vision import explain
from minitorch_vision.gradcam import grad_cam
from minitorch_vision.classifier import ClassifierInfo, save_classifier


def _args(tmp_path, **kw):
    base = dict(weights=None, no_download=True, image=None, classifier_from=str(tmp_path / "no_lesson_04"), seed=0,
                yolo_weights=None, detect_image=None)
    return argparse.Namespace(**{**base, **kw})


def test_targets_are_a_dog_and_a_cat():
    assert explain._targets(["airplane", "automobile", "bird", "cat", "dog"]) == [4, 3]
    from minitorch_vision.data.imagenet import imagenet_classes
    assert explain._targets(imagenet_classes()) == [243, 281]   # bull mastiff, tabby
    assert explain._targets(["airplane", "cat"]) == [1]


def test_random_weights_are_never_explained(tmp_path, capsys):
    clf, info = explain.photo_classifier(_args(tmp_path, weights="random"), tmp_path, "cpu")
    assert clf is None and "untrained" in info["skipped"]
    assert capsys.readouterr().out.count("\n") == 1  # one line


def test_missing_photo_skips_the_part_in_one_line(tmp_path, capsys):
    clf, info = explain.photo_classifier(_args(tmp_path), tmp_path / "empty", "cpu")
    assert clf is None and "both.png" in info["skipped"]
    assert capsys.readouterr().out.count("\n") == 1


def test_without_resnet_weights_a_yolov5n_head_is_trained_here(data_dir, tmp_path):
    """The shared data has no ResNet-18 file: offline, the photo part gets the COCO backbone with a
    head trained on the spot (5 CIFAR-10 classes with a dog and a cat), and it is pretrained (beats chance)."""
    need(data_dir, "weights", "yolov5n.pt")
    need(data_dir, "cifar10-images", "train", "dog")
    if (data_dir / "weights" / "resnet18-f37072fd.pth").is_file():
        pytest.skip("the ResNet-18 weights are present: the first choice applies")
    clf, info = explain.photo_classifier(_args(tmp_path), data_dir, "cpu")
    assert clf is not None and info["backbone"] == "yolov5n" and info["test_accuracy"] > 0.5  # 5 classes: 0.2
    assert [clf.names[t] for t in clf.targets] == ["dog", "cat"] and clf.layer == "backbone.sppf"
    x, shown = clf.prepare(clf.photos["cat.png"])
    assert x.shape == (1, 3, 224, 224) and shown.min() >= 0 and shown.max() <= 1
    with torch.no_grad():
        assert clf.names[int(clf.model(x).argmax())] == "cat"      # the cat photo reads as a cat
    res = grad_cam(clf.model, clf.layer, x, clf.targets[1])
    assert res.lowres.shape == (1, 7, 7) and res.heatmap.max() > 0

    # lesson 04's saved classifier, when there, comes before training a head here
    saved = tmp_path / "04"
    save_classifier(clf.model, ClassifierInfo("yolov5n", "coco", clf.names, 64, "frozen", 0.5), saved / "classifier.pt")
    clf2, info2 = explain.photo_classifier(_args(tmp_path, classifier_from=str(saved)), data_dir, "cpu")
    assert clf2.source.startswith("lesson 04's yolov5n classifier") and info2["classes"] == clf.names
    with torch.no_grad():
        assert torch.allclose(clf2.model(x), clf.model(x), atol=1e-5)


def test_an_explicit_resnet_file_that_is_missing_is_an_error(tmp_path, data_dir):
    need(data_dir, "images", "both.png")
    from minitorch_vision.errors import DataUnavailable
    with pytest.raises(DataUnavailable):
        explain.photo_classifier(_args(tmp_path, weights=str(tmp_path / "nope.pth")), data_dir, "cpu")


def test_yolo_detection_row_is_the_kept_box(data_dir, tmp_path):
    need(data_dir, "weights", "yolov5n.pt")
    need(data_dir, "images", "bus.jpg")
    d, info = explain.yolo_detection(_args(tmp_path), data_dir, "cpu", 320)
    assert info == {"weights": "yolov5n.pt", "image": "bus.jpg"} and d.count >= 1
    assert d.x.shape[-2:] == (320, 256) and d.pred.shape[1] == 85
    assert torch.allclose(d.pred[d.row, 4] * d.pred[d.row, 5 + int(d.det[5])], d.det[4], atol=1e-6)
    d2, info2 = explain.yolo_detection(_args(tmp_path, detect_image=str(tmp_path / "none.jpg")), data_dir, "cpu", 320)
    assert d2 is None and "none.jpg" in info2["skipped"]
