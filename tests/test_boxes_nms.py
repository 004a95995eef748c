"""Box utilities and the hand-written NMS: edge cases, the plain-loop definition, torchvision
(when importable) and the stored torchvision outputs in reference/yolov5/nms_cases.pt."""
import pytest
import torch

from conftest import need
from torchvision_ref import torchvision
from minitorch_vision.detection import nms_sweep
from minitorch_vision.detection.boxes import box_area, box_iou, clip_boxes, xywh_to_xyxy, xyxy_to_xywh
from minitorch_vision.detection.nms import batched_nms, nms, nms_reference, non_max_suppression



def random_boxes(n, seed, integer=False):
    g = torch.Generator().manual_seed(seed)
    xy = torch.rand(n, 2, generator=g) * 200
    wh = torch.rand(n, 2, generator=g) * 60
    if integer:  # many exact ties in IoU and coordinates
        xy, wh = xy.round() / 4 * 4, (wh / 10).round() * 10
    return torch.cat([xy, xy + wh], 1), torch.rand(n, generator=g)


# --- boxes -----------------------------------------------------------------------------------

def test_box_format_conversions():
    xywh = torch.tensor([[5.0, 6.0, 4.0, 2.0]])
    xyxy = torch.tensor([[3.0, 5.0, 7.0, 7.0]])
    assert torch.equal(xywh_to_xyxy(xywh), xyxy)
    assert torch.equal(xyxy_to_xywh(xyxy), xywh)
    b, _ = random_boxes(50, 0)
    torch.testing.assert_close(xywh_to_xyxy(xyxy_to_xywh(b)), b)
    assert xywh_to_xyxy(torch.zeros(2, 3, 4)).shape == (2, 3, 4)  # any leading shape


def test_box_area_and_iou_by_hand():
    a = torch.tensor([[0.0, 0.0, 10.0, 10.0]])
    b = torch.tensor([[5.0, 0.0, 15.0, 10.0], [20.0, 20.0, 30.0, 30.0], [0.0, 0.0, 10.0, 10.0], [2.0, 2.0, 4.0, 4.0]])
    assert torch.equal(box_area(b), torch.tensor([100.0, 100.0, 100.0, 4.0]))
    iou = box_iou(a, b)
    assert iou.shape == (1, 4)
    torch.testing.assert_close(iou, torch.tensor([[50 / 150, 0.0, 1.0, 4 / 100]]))
    assert box_iou(torch.zeros(0, 4), b).shape == (0, 4)
    assert box_iou(a, torch.zeros(0, 4)).shape == (1, 0)


def test_box_iou_equalstorchvision():
    tv = torchvision()
    b1, _ = random_boxes(300, 1)
    b2, _ = random_boxes(200, 2, integer=True)
    assert torch.equal(box_iou(b1, b2), tv.ops.box_iou(b1, b2))


def test_clip_boxes_out_of_place():
    b = torch.tensor([[-5.0, -1.0, 50.0, 30.0], [1.0, 2.0, 3.0, 4.0]])
    before = b.clone()
    out = clip_boxes(b, (20, 40))  # (h, w)
    assert torch.equal(out, torch.tensor([[0.0, 0.0, 40.0, 20.0], [1.0, 2.0, 3.0, 4.0]]))
    assert torch.equal(b, before)


# --- nms edge cases ---------------------------------------------------------------------------

def test_nms_no_boxes_and_one_box():
    keep = nms(torch.zeros(0, 4), torch.zeros(0), 0.5)
    assert keep.dtype == torch.int64 and keep.shape == (0,)
    keep = nms(torch.tensor([[0.0, 0.0, 1.0, 1.0]]), torch.tensor([0.3]), 0.5)
    assert keep.tolist() == [0]


def test_nms_identical_boxes():
    boxes = torch.tensor([[0.0, 0.0, 10.0, 10.0]] * 3)
    scores = torch.tensor([0.2, 0.9, 0.5])
    assert nms(boxes, scores, 0.5).tolist() == [1]  # IoU 1 > 0.5: only the best survives
    assert nms(boxes, scores, 1.0).tolist() == [1, 2, 0]  # IoU 1 is not > 1: all kept, by score


def test_nms_iou_exactly_at_threshold_is_kept():
    # IoU = 50 / 100 = 0.5 exactly in float32
    boxes = torch.tensor([[0.0, 0.0, 10.0, 10.0], [0.0, 0.0, 10.0, 5.0]])
    scores = torch.tensor([0.9, 0.8])
    assert box_iou(boxes[:1], boxes[1:]).item() == 0.5
    assert nms(boxes, scores, 0.5).tolist() == [0, 1]  # equal: kept (strictly greater suppresses)
    assert nms(boxes, scores, 0.4999).tolist() == [0]
    assert nms_reference(boxes, scores, 0.5).tolist() == [0, 1]


def test_nms_compares_float_iou_in_double_liketorchvision():
    # IoU = 600 / 2000: the float32 quotient 0.3f = 0.30000001 is > the double 0.3, so torchvision
    # (C++ float-vs-double comparison) suppresses; a plain float32 comparison would keep it
    boxes = torch.tensor([[86.0, 108.0, 136.0, 148.0], [96.0, 116.0, 116.0, 146.0]])
    scores = torch.tensor([0.9, 0.8])
    assert box_iou(boxes[:1], boxes[1:]).item() == torch.tensor(0.3).item()
    assert nms(boxes, scores, 0.3).tolist() == nms_reference(boxes, scores, 0.3).tolist() == [0]
    assert nms(boxes.double(), scores, 0.3).tolist() == [0, 1]  # in float64 the IoU is 0.3 exactly


def test_nms_equal_scores_keep_input_order():
    boxes = torch.tensor([[0.0, 0.0, 10.0, 10.0], [100.0, 0.0, 110.0, 10.0], [1.0, 0.0, 11.0, 10.0]])
    scores = torch.tensor([0.5, 0.5, 0.5])
    assert nms(boxes, scores, 0.5).tolist() == [0, 1]  # box 2 loses to the earlier box 0


def test_nms_chain_needs_several_rounds():
    # A suppresses B, B would suppress C, but B is gone so C survives: greedy, not "any overlap"
    boxes = torch.tensor([[0.0, 0, 10, 10], [4.0, 0, 14, 10], [8.0, 0, 18, 10], [12.0, 0, 22, 10]])
    scores = torch.tensor([0.9, 0.8, 0.7, 0.6])
    assert nms(boxes, scores, 0.3).tolist() == nms_reference(boxes, scores, 0.3).tolist() == [0, 2]
    # a long alternating chain: kept, suppressed, kept, ...
    n = 41
    x = torch.arange(n, dtype=torch.float32) * 4
    boxes = torch.stack([x, torch.zeros(n), x + 10, torch.full((n,), 10.0)], 1)
    scores = torch.linspace(1, 0.1, n)
    assert nms(boxes, scores, 0.3).tolist() == nms_reference(boxes, scores, 0.3).tolist()


def test_nms_degenerate_boxes_match_reference():
    boxes = torch.tensor([[0.0, 0, 0, 0], [0.0, 0, 0, 0], [5.0, 5, 5, 9], [0.0, 0, 3, 3], [1.0, 1, 2, 2]])
    scores = torch.tensor([0.9, 0.8, 0.7, 0.6, 0.5])
    for t in (0.0, 0.1, 0.5):
        assert nms(boxes, scores, t).tolist() == nms_reference(boxes, scores, t).tolist()


@pytest.mark.parametrize("seed", range(6))
def test_nms_equals_reference_loop(seed):
    boxes, scores = random_boxes(300, seed, integer=seed % 2 == 1)
    if seed == 4:
        scores = (scores * 5).round()  # many equal scores
    for t in (0.0, 0.3, 0.5, 0.7, 1.0, -0.1):
        assert torch.equal(nms(boxes, scores, t), nms_reference(boxes, scores, t)), t


def test_nms_small_blocks_same_answer(monkeypatch):
    """The band is processed in blocks bounded by _PAIR_CHUNK; tiny blocks give the same result."""
    boxes, scores = random_boxes(400, 7)
    full = nms(boxes, scores, 0.4)
    monkeypatch.setattr(nms_sweep, "_PAIR_CHUNK", 50)
    assert torch.equal(nms(boxes, scores, 0.4), full)


@pytest.mark.parametrize("seed", range(4))
def test_nms_and_batched_nms_equal_torchvision(seed):
    tv = torchvision()
    boxes, scores = random_boxes(500, 10 + seed, integer=seed % 2 == 1)
    for t in (0.3, 0.5, 0.7):
        assert torch.equal(nms(boxes, scores, t), tv.ops.nms(boxes, scores, t))
    idxs = torch.randint(0, 5, (500,), generator=torch.Generator().manual_seed(seed))
    assert torch.equal(batched_nms(boxes, scores, idxs, 0.5), tv.ops.batched_nms(boxes, scores, idxs, 0.5))


def test_nms_parity_with_stored_torchvision_cases(data_dir):
    cases = torch.load(need(data_dir, "reference", "yolov5", "nms_cases.pt"), weights_only=True)["cases"]
    assert len(cases) == 3
    for c in cases:
        b, s = c["boxes"], c["scores"]
        assert torch.equal(nms(b, s, 0.45), c["nms_keep_iou045"])
        assert torch.equal(nms(b, s, 0.65), c["nms_keep_iou065"])
        assert torch.equal(batched_nms(b, s, c["classes"], 0.45), c["batched_nms_keep_iou045"])


def test_batched_nms_separates_classes():
    boxes = torch.tensor([[0.0, 0, 10, 10], [0.0, 0, 10, 10], [0.0, 0, 10, 10]])
    scores = torch.tensor([0.9, 0.8, 0.7])
    assert batched_nms(boxes, scores, torch.tensor([0, 1, 0]), 0.5).tolist() == [0, 1]
    assert batched_nms(torch.zeros(0, 4), torch.zeros(0), torch.zeros(0, dtype=torch.long), 0.5).shape == (0,)


# --- YOLOv5 post-processing -------------------------------------------------------------------

def _row(cx, cy, w, h, obj, cls_probs):
    return [cx, cy, w, h, obj, *cls_probs]


def test_non_max_suppression_hand_made():
    # nc = 3. Image 0: two overlapping class-0 boxes, one class-1 box on top of them, one box with
    # low objectness, one box whose obj*cls is below conf. Image 1: nothing above threshold.
    img0 = [
        _row(50, 50, 20, 20, 0.9, [0.9, 0.05, 0.05]),  # conf 0.81, class 0
        _row(52, 50, 20, 20, 0.8, [0.9, 0.05, 0.05]),  # conf 0.72, class 0, IoU ~0.82 -> suppressed
        _row(51, 50, 20, 20, 0.7, [0.1, 0.8, 0.4]),  # conf 0.56, class 1 (0.28 for class 2)
        _row(10, 10, 5, 5, 0.2, [1.0, 0.0, 0.0]),  # objectness 0.2 < 0.25
        _row(90, 90, 5, 5, 0.5, [0.4, 0.3, 0.3]),  # conf 0.2 < 0.25
    ]
    img1 = [_row(10, 10, 5, 5, 0.1, [1.0, 0.0, 0.0])] * 5
    pred = torch.tensor([img0, img1])
    out = non_max_suppression(pred, conf_thres=0.25, iou_thres=0.45)
    assert len(out) == 2 and out[1].shape == (0, 6)
    torch.testing.assert_close(out[0], torch.tensor([[40.0, 40, 60, 60, 0.81, 0], [41.0, 40, 61, 60, 0.56, 1]]))
    # agnostic: the class-1 box overlaps the class-0 box and is suppressed too
    assert non_max_suppression(pred, agnostic=True)[0][:, 5].tolist() == [0.0]
    # multi_label: the third box also appears as class 2 (0.28 > 0.25), and survives (other class)
    out = non_max_suppression(pred, multi_label=True)[0]
    assert out[:, 5].tolist() == [0.0, 1.0, 2.0]
    torch.testing.assert_close(out[:, 4], torch.tensor([0.81, 0.56, 0.28]))
    assert non_max_suppression(pred, classes=[1])[0][:, 5].tolist() == [1.0]
    assert len(non_max_suppression(pred, max_det=1)[0]) == 1
    with pytest.raises(ValueError):
        non_max_suppression(pred, conf_thres=1.5)


def test_non_max_suppression_refuses_anything_but_decoded_predictions():
    """A YOLOv5 left in training mode returns a list of undecoded (N, na, H, W, 5+nc) maps: NMS on
    any of them would score garbage, so it is an error that says what to do, not a silent guess."""
    from minitorch_vision.models.yolov5 import yolov5
    torch.manual_seed(0)
    model = yolov5("n", nc=3)                           # fresh model: training mode
    maps = model(torch.rand(1, 3, 64, 64))
    assert isinstance(maps, list) and maps[0].ndim == 5
    for bad in (maps, tuple(maps), maps[0], (torch.rand(1, 10, 8), None), torch.rand(10, 8)):
        with pytest.raises(ValueError, match=r"decoded predictions \(B, A, 5 \+ nc\).*model.eval\(\)"):
            non_max_suppression(bad)
    assert len(non_max_suppression(model.eval()(torch.rand(1, 3, 64, 64)))) == 1


def test_non_max_suppression_max_nms_keeps_best():
    n = 50
    rows = [_row(10 + 30 * i, 10, 10, 10, 0.5 + i / 200, [1.0]) for i in range(n)]  # disjoint, nc = 1
    out = non_max_suppression(torch.tensor([rows]), conf_thres=0.1, max_nms=10)[0]
    assert len(out) == 10
    assert out[:, 0].tolist() == [5.0 + 30 * i for i in range(n - 1, n - 11, -1)]


def test_non_max_suppression_bus_parity(data_dir):
    ref = torch.load(need(data_dir, "reference", "yolov5", "bus.pt"), weights_only=False)
    s = ref["settings"]
    out = non_max_suppression(ref["pred_raw"], s["conf_thres"], s["iou_thres"], max_det=s["max_det"])
    assert len(out) == 1
    assert out[0].shape == ref["nms"].shape
    assert torch.equal(out[0][:, 5], ref["nms"][:, 5])
    torch.testing.assert_close(out[0], ref["nms"], atol=1e-4, rtol=0)
