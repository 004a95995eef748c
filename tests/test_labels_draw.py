"""YOLO label files (good, missing, bad lines, duplicates, polygons, the real COCO128) and
drawing/saving detections."""
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import need
from minitorch_vision.detection.draw import class_color, draw_detections, save_image
from minitorch_vision.detection.labels import label_path_for, read_yolo_labels


def _read(path, **kw):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        labels = read_yolo_labels(path, **kw)
    return labels, [str(w.message) for w in caught]


def test_label_path_for():
    assert label_path_for("/d/coco128/images/train2017/000000000009.jpg") == \
        Path("/d/coco128/labels/train2017/000000000009.txt")
    assert label_path_for("/images/x/images/val/a.PNG") == Path("/images/x/labels/val/a.txt")  # last one
    assert label_path_for("pics/a.jpg") == Path("pics/a.txt")


def test_read_good_file(tmp_path):
    f = tmp_path / "a.txt"
    f.write_text("0 0.5 0.5 0.2 0.4\n17 0.1 0.2 0.05 0.1\n\n")
    labels, msgs = _read(f)
    assert msgs == []
    assert labels.dtype == torch.float32 and labels.shape == (2, 5)
    torch.testing.assert_close(labels, torch.tensor([[0, 0.5, 0.5, 0.2, 0.4], [17, 0.1, 0.2, 0.05, 0.1]]))


def test_missing_file_is_background(tmp_path):
    labels, msgs = _read(tmp_path / "nothing.txt")
    assert labels.shape == (0, 5) and msgs == []
    (tmp_path / "empty.txt").write_text("")
    assert _read(tmp_path / "empty.txt")[0].shape == (0, 5)


def test_bad_lines_skipped_with_file_and_line(tmp_path):
    f = tmp_path / "bad.txt"
    f.write_text("\n".join([
        "0 0.5 0.5 0.2 0.2",  # 1 ok
        "80 0.5 0.5 0.1 0.1",  # 2 class out of range
        "-1 0.5 0.5 0.1 0.1",  # 3 negative class
        "1.5 0.5 0.5 0.1 0.1",  # 4 fractional class
        "1 0.5 1.5 0.1 0.1",  # 5 coordinate > 1
        "1 -0.1 0.5 0.1 0.1",  # 6 coordinate < 0
        "1 nan 0.5 0.1 0.1",  # 7 nan
        "cat 0.5 0.5 0.1 0.1",  # 8 not a number
        "2 0.1 0.1 0.1",  # 9 too few values
        "2 0.1 0.1 0.1 0.1 0.1",  # 10 six values
        "3 0.25 0.25 0.1 0.1",  # 11 ok
    ]) + "\n")
    labels, msgs = _read(f)
    assert labels[:, 0].tolist() == [0.0, 3.0]
    assert len(msgs) == 9
    for line, msg in zip([2, 3, 4, 5, 6, 7, 8, 9, 10], msgs):
        assert msg.startswith(f"{f}:{line}: skipped label line"), msg
    assert _read(f, num_classes=81)[0][:, 0].tolist() == [0.0, 80.0, 3.0]


def test_duplicates_removed_keeping_order(tmp_path):
    f = tmp_path / "dup.txt"
    f.write_text("5 0.5 0.5 0.2 0.2\n1 0.1 0.1 0.1 0.1\n5 0.5 0.5 0.2 0.2\n5 0.5 0.5 0.2 0.2\n")
    labels, msgs = _read(f)
    assert labels[:, 0].tolist() == [5.0, 1.0]
    assert msgs == [f"{f}: 2 duplicate label rows removed"]


def test_polygon_line_becomes_its_bounding_box(tmp_path):
    f = tmp_path / "poly.txt"
    f.write_text("4 0.1 0.2 0.5 0.2 0.3 0.6\n")
    labels, msgs = _read(f)
    assert msgs == []
    torch.testing.assert_close(labels, torch.tensor([[4, 0.3, 0.4, 0.4, 0.4]]))


def test_unreadable_file_warns_not_raises(tmp_path):
    f = tmp_path / "bin.txt"
    f.write_bytes(b"\xff\xfe\x00garbage\x80")
    labels, msgs = _read(f)
    assert labels.shape == (0, 5) and len(msgs) == 1 and "unreadable" in msgs[0]
    d = tmp_path / "dir.txt"
    d.mkdir()
    assert _read(d)[0].shape == (0, 5)


def test_coco128_labels(data_dir):
    """The numbers the official dataset scan reports: 126 label files for 128 images, 929 boxes
    over 71 classes, 2 background images (reference/yolov5/README.md)."""
    images = sorted(need(data_dir, "coco128", "images", "train2017").glob("*.jpg"))
    assert len(images) == 128
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the real data has no bad lines
        labels = [read_yolo_labels(label_path_for(p)) for p in images]
    assert sum(len(lab) == 0 for lab in labels) == 2
    allc = torch.cat(labels)
    assert len(allc) == 929
    assert len(torch.unique(allc[:, 0])) == 71


# --- drawing ---------------------------------------------------------------------------------

def test_draw_detections_colours_and_leaves_input_alone():
    img = torch.zeros(3, 120, 160, dtype=torch.uint8)
    dets = torch.tensor([[20.0, 40.0, 100.0, 110.0, 0.87, 2.0], [0.0, 0.0, 30.0, 30.0, 0.5, 7.0]])
    out = draw_detections(img, dets, ["a", "b", "car"], line_width=2)
    assert isinstance(out, Image.Image) and out.size == (160, 120) and out.mode == "RGB"
    assert int(img.sum()) == 0  # the input tensor is untouched
    a = np.asarray(out)
    assert tuple(a[80, 20]) == class_color(2)  # left edge of the car box
    assert tuple(a[110, 60]) == class_color(2)  # bottom edge
    assert tuple(a[80, 60]) == (0, 0, 0)  # inside the box: not painted
    assert (a[25:40, 20:60] != 0).any()  # label background above the box
    assert (a[0:15, 0:40] != 0).any()  # second box at the top edge: label drawn inside it
    assert class_color(2) != class_color(7)


def test_draw_detections_pil_input_names_dict_and_no_detections():
    im = Image.new("RGB", (64, 48), (10, 20, 30))
    out = draw_detections(im, torch.zeros(0, 6), {0: "x"})
    assert np.array_equal(np.asarray(out), np.asarray(im)) and out is not im
    out = draw_detections(im, [[5, 5, 40, 40, 0.9, 3]], {0: "x"})  # unknown class: prints "3"
    assert np.asarray(out).any()
    assert np.asarray(im)[5, 5].tolist() == [10, 20, 30]


def test_save_image_png_and_jpg_atomic(tmp_path):
    im = Image.new("RGB", (32, 24), (200, 10, 10))
    p = save_image(im, tmp_path / "sub" / "a.png")
    assert np.array_equal(np.asarray(Image.open(p)), np.asarray(im))
    save_image(torch.full((3, 24, 32), 128, dtype=torch.uint8), tmp_path / "b.jpg", quality=90)
    with Image.open(tmp_path / "b.jpg") as j:
        assert j.format == "JPEG" and j.size == (32, 24)
    save_image(Image.new("RGB", (8, 8)), tmp_path / "sub" / "a.png")  # replaces
    assert Image.open(tmp_path / "sub" / "a.png").size == (8, 8)
    assert not [p for p in tmp_path.rglob("*") if ".tmp" in p.name]  # no temporary file left
    with pytest.raises(ValueError):
        save_image(im, tmp_path / "c.unknown")
