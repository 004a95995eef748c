"""Library helpers the lessons call: CNN config from weights, lesson-03 checkpoint reuse,
confused-pair examples, drawing a box on a tensor, finding the raw YOLO row of a detection."""
import json

import pytest
import torch

from minitorch_vision.detection.boxes import xyxy_to_xywh
from minitorch_vision.detection.draw import draw_box
from minitorch_vision.diagnostics import confusion_matrix, most_confused_pairs
from minitorch_vision.gradcam import detection_row
from minitorch_vision.models.cnn import CNN, CNNConfig, config_from_state_dict
from minitorch_vision.checkpoint import save_atomic
from minitorch_vision.weights import load_cnn_checkpoint


@pytest.mark.parametrize("config", [CNNConfig(), CNNConfig(conv_blocks=3, kernel_size=5, width=8),
                                 CNNConfig(conv_blocks=1, kernel_size=7, hidden=0),
                                 CNNConfig(convs_per_block=2, width=4, hidden=16)])
def test_config_from_state_dict_round_trips(config):
    got = config_from_state_dict(CNN(config).state_dict())
    for field in ("conv_blocks", "kernel_size", "width", "convs_per_block", "hidden", "num_classes", "in_channels"):
        assert getattr(got, field) == getattr(config, field), field
    CNN(got).load_state_dict(CNN(config).state_dict(), strict=True)


def test_load_cnn_checkpoint(tmp_path):
    assert load_cnn_checkpoint(tmp_path) is None                      # nothing there
    torch.manual_seed(0)
    m = CNN(CNNConfig(width=4, hidden=8)).eval()
    save_atomic({"model": m.state_dict()}, tmp_path / "checkpoint.pt")
    assert load_cnn_checkpoint(tmp_path) is None                      # lesson 03 did not finish
    (tmp_path / "results.json").write_text(json.dumps({"test_accuracy": 0.5}))
    loaded, source = load_cnn_checkpoint(tmp_path)
    x = torch.randn(3, 1, 28, 28)
    assert torch.equal(loaded.eval()(x), m(x)) and "checkpoint.pt" in source


def test_most_confused_pairs():
    y_true = torch.tensor([0, 0, 0, 1, 1, 2, 0])
    y_pred = torch.tensor([1, 1, 0, 0, 1, 2, 1])
    pairs = most_confused_pairs(confusion_matrix(y_true, y_pred, 3), k=2)
    assert pairs == [(0, 1, 3), (1, 0, 1)]


def test_draw_box_outline_only():
    img = torch.zeros(3, 20, 30)
    out = draw_box(img, (5, 4, 24, 15), width=2)
    assert torch.equal(img, torch.zeros(3, 20, 30))                   # a copy, input untouched
    assert out[:, 4, 10].tolist() == [1, 0, 0] and out[:, 15, 10].tolist() == [1, 0, 0]
    assert out[:, 10, 5].tolist() == [1, 0, 0] and out[:, 10, 24].tolist() == [1, 0, 0]
    assert out[:, 10, 12].tolist() == [0, 0, 0]                       # inside stays
    assert draw_box(img, (-10, -10, 100, 100)).shape == img.shape     # clipped, no error


def test_detection_row_finds_the_raw_prediction():
    g = torch.Generator().manual_seed(0)
    raw = torch.rand(50, 5 + 3, generator=g)
    raw[:, :4] = xyxy_to_xywh(torch.sort(torch.rand(50, 4, generator=g) * 100, dim=1).values)  # x1<=y1<=x2<=y2: valid
    row = 17
    box = torch.cat([raw[row, :2] - raw[row, 2:4] / 2, raw[row, :2] + raw[row, 2:4] / 2])
    det = torch.cat([box, (raw[row, 4] * raw[row, 5 + 2]).view(1), torch.tensor([2.0])])
    assert detection_row(raw, det) == row
