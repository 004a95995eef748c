"""torchvision's own NMS and box tests (test/test_ops.py: TestNMS, TestBoxArea, TestBoxIou),
ported to our functions, plus the edge cases torchvision does not spell out. torchvision is a
test-only reference here: where it is importable, every case is also compared with it exactly."""
import pytest
import torch

from torchvision_ref import torchvision
from minitorch_vision.detection.boxes import box_area, box_iou
from minitorch_vision.detection.nms import batched_nms, nms, nms_reference

INT_BOXES = [[0, 0, 100, 100], [0, 0, 50, 50], [200, 200, 300, 300], [0, 0, 25, 25]]
INT_BOXES2 = [[0, 0, 100, 100], [0, 0, 50, 50], [200, 200, 300, 300]]
FLOAT_BOXES = [[285.3538, 185.5758, 1193.5110, 851.4551],
               [285.1472, 188.7374, 1192.4984, 851.0669],
               [279.2440, 197.9812, 1189.4746, 849.2019]]


# --- TestNMS --------------------------------------------------------------------------------

def greedy_by_box_iou(boxes, scores, iou_threshold):
    """torchvision's test reference: repeatedly take the best box, drop the rest with IoU > t."""
    picked, order = [], scores.sort(descending=True).indices
    while len(order):
        best, order = order[0], order[1:]
        picked.append(int(best))
        order = order[box_iou(boxes[order], boxes[best][None]).view(-1) <= iou_threshold]
    return torch.tensor(picked, dtype=torch.long)


def boxes_with_one_iou_just_above(n, iou_threshold):
    """n random boxes; the last is the first widened so that their IoU is just above the threshold."""
    boxes = torch.rand(n, 4) * 100
    boxes[:, 2:] += boxes[:, :2]
    boxes[-1] = boxes[0]
    x1, _, x2, _ = boxes[-1].tolist()
    t = iou_threshold + 1e-5
    boxes[-1, 2] += (x2 - x1) * (1 - t) / t
    return boxes, torch.rand(n)


@pytest.mark.parametrize("iou", (0.2, 0.5, 0.8))
@pytest.mark.parametrize("seed", range(10))
def test_nms_ref(iou, seed):
    torch.manual_seed(seed)
    boxes, scores = boxes_with_one_iou_just_above(1000, iou)
    keep = nms(boxes, scores, iou)
    assert torch.equal(keep, greedy_by_box_iou(boxes, scores, iou))
    assert torch.equal(keep, nms_reference(boxes, scores, iou))


def test_nms_input_errors_name_the_expected_shape():
    with pytest.raises(ValueError, match=r"boxes must be a tensor of shape \(N, 4\)"):
        nms(torch.rand(4), torch.rand(3), 0.5)
    with pytest.raises(ValueError, match=r"boxes must be a tensor of shape \(N, 4\).*got shape \(3, 5\)"):
        nms(torch.rand(3, 5), torch.rand(3), 0.5)
    with pytest.raises(ValueError, match=r"scores must be a tensor of shape \(N,\) = \(3,\).*got shape \(3, 2\)"):
        nms(torch.rand(3, 4), torch.rand(3, 2), 0.5)
    with pytest.raises(ValueError, match=r"scores must be a tensor of shape \(N,\) = \(3,\).*got shape \(4,\)"):
        nms(torch.rand(3, 4), torch.rand(4), 0.5)
    with pytest.raises(ValueError, match=r"idxs must be a tensor of shape \(N,\) = \(3,\)"):
        batched_nms(torch.rand(3, 4), torch.rand(3), torch.zeros(2), 0.5)
    with pytest.raises(ValueError, match=r"boxes1 must be a tensor of shape \(N, 4\)"):
        box_iou(torch.rand(2, 3), torch.rand(2, 4))
    with pytest.raises(ValueError, match=r"boxes2 must be a tensor of shape \(M, 4\)"):
        box_iou(torch.rand(2, 4), torch.rand(4))


def test_nms_float16():
    boxes = torch.tensor(FLOAT_BOXES)
    scores = torch.tensor([0.6370, 0.7569, 0.3966])
    keep32 = nms(boxes, scores, 0.2)
    keep16 = nms(boxes.to(torch.float16), scores.to(torch.float16), 0.2)
    assert keep32.tolist() == keep16.tolist() == [1]       # float16 areas overflow without up-casting
    assert nms_reference(boxes.half(), scores.half(), 0.2).tolist() == [1]
    assert nms(boxes.bfloat16(), scores, 0.2).tolist() == [1]


@pytest.mark.parametrize("seed", range(10))
def test_batched_nms_implementations(seed):
    """Per-class NMS equals the coordinate-offset shortcut where that shortcut is valid."""
    torch.manual_seed(seed)
    boxes = torch.cat((torch.rand(1000, 2), torch.rand(1000, 2) + 10), dim=1)
    assert max(boxes[:, 0]) < min(boxes[:, 2]) and max(boxes[:, 1]) < min(boxes[:, 3])
    scores, idxs = torch.rand(1000), torch.randint(0, 4, size=(1000,))
    shifted = boxes + (idxs.to(boxes) * (boxes.max() + 1))[:, None]
    assert torch.equal(batched_nms(boxes, scores, idxs, 0.9), nms(shifted, scores, 0.9))
    empty = torch.empty((0, 4))
    assert batched_nms(empty, torch.empty(0), torch.empty(0, dtype=torch.long), 0.5).shape == (0,)


# --- TestBoxArea, TestBoxIou -------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [torch.int8, torch.int16, torch.int32, torch.int64])
def test_int_box_area(dtype):
    area = box_area(torch.tensor([[0, 0, 100, 100], [0, 0, 0, 0]], dtype=dtype))
    assert area.tolist() == [10000, 0]                     # int8 would wrap to 16 without up-casting
    assert area.dtype == (torch.int64 if dtype == torch.int64 else torch.int32)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_float_box_area(dtype):
    expected = torch.tensor([604723.0806, 600965.4666, 592761.0085], dtype=dtype)
    torch.testing.assert_close(box_area(torch.tensor(FLOAT_BOXES, dtype=dtype)), expected, rtol=0, atol=1e-4)


def test_float16_box_area():
    boxes = torch.tensor([[2.825, 1.8625, 3.90, 4.85], [2.825, 4.875, 19.20, 5.10], [2.925, 1.80, 8.90, 4.90]],
                         dtype=torch.float16)
    area = box_area(boxes)
    assert area.dtype == torch.float32
    torch.testing.assert_close(area, torch.tensor([3.2170, 3.7108, 18.5071]), rtol=0, atol=0.01)


@pytest.mark.parametrize("boxes1, boxes2, dtypes, atol, expected", [
    (INT_BOXES, INT_BOXES2, [torch.int16, torch.int32, torch.int64], 1e-4,
     [[1.0, 0.25, 0.0], [0.25, 1.0, 0.0], [0.0, 0.0, 1.0], [0.0625, 0.25, 0.0]]),
    (FLOAT_BOXES, FLOAT_BOXES, [torch.float16], 0.002,
     [[1.0, 0.9933, 0.9673], [0.9933, 1.0, 0.9737], [0.9673, 0.9737, 1.0]]),
    (FLOAT_BOXES, FLOAT_BOXES, [torch.float32, torch.float64], 1e-3,
     [[1.0, 0.9933, 0.9673], [0.9933, 1.0, 0.9737], [0.9673, 0.9737, 1.0]]),
])
def test_box_iou(boxes1, boxes2, dtypes, atol, expected):
    for dtype in dtypes:
        out = box_iou(torch.tensor(boxes1, dtype=dtype), torch.tensor(boxes2, dtype=dtype))
        torch.testing.assert_close(out, torch.tensor(expected), rtol=0, atol=atol, check_dtype=False)


def test_box_iou_cartesian():
    def gen_box(n):
        xy1 = torch.rand(n, 2)
        return torch.cat([xy1, xy1 + torch.rand(n, 2)], -1)
    a, b = gen_box(5), gen_box(7)
    pairwise = torch.tensor([[box_iou(a[i:i + 1], b[j:j + 1]).item() for j in range(7)] for i in range(5)])
    torch.testing.assert_close(pairwise, box_iou(a, b))


@pytest.mark.parametrize("dtype", [torch.int8, torch.uint8, torch.int16, torch.int32, torch.int64,
                                   torch.float16, torch.bfloat16, torch.float32, torch.float64])
def test_box_area_and_iou_equal_torchvision_in_every_dtype(dtype):
    tv = torchvision()
    small = [[0, 0, 100, 100], [0, 0, 50, 50], [20, 30, 120, 110], [0, 0, 25, 25]]   # fits int8
    b1 = torch.tensor(FLOAT_BOXES if dtype.is_floating_point else small, dtype=dtype)
    b2 = b1.flip(0)
    for ours, theirs in ((box_area(b1), tv.ops.box_area(b1)), (box_iou(b1, b2), tv.ops.box_iou(b1, b2))):
        assert ours.dtype == theirs.dtype
        assert torch.equal(ours, theirs)


# --- edge cases: every answer equal to the definition and to torchvision ------------------------

def _all_equal(boxes, scores, t):
    keep = nms(boxes, scores, t)
    assert torch.equal(keep, nms_reference(boxes, scores, t))
    tv = torchvision()
    assert torch.equal(keep, tv.ops.nms(boxes, scores, t))
    return keep.tolist()


def test_edge_cases_equal_torchvision():
    one = torch.tensor([[1.0, 2.0, 3.0, 4.0]])
    same = torch.tensor([[0.0, 0.0, 10.0, 10.0]] * 4)
    assert _all_equal(torch.zeros(0, 4), torch.zeros(0), 0.5) == []
    assert _all_equal(one, torch.tensor([0.5]), 0.5) == [0]
    assert _all_equal(same, torch.tensor([0.1, 0.9, 0.9, 0.3]), 0.5) == [1]              # identical boxes
    assert _all_equal(same, torch.tensor([0.1, 0.9, 0.9, 0.3]), 1.0) == [1, 2, 3, 0]     # tied scores
    zero_area = torch.tensor([[5.0, 5, 5, 5], [5.0, 5, 5, 5], [0.0, 0, 10, 0], [0.0, 0, 10, 10]])
    assert _all_equal(zero_area, torch.tensor([0.9, 0.8, 0.7, 0.6]), 0.0) == [0, 1, 2, 3]  # 0/0 = nan IoU
    nan_scores = torch.tensor([0.3, float("nan"), 0.9, float("nan")])
    assert _all_equal(same, nan_scores, 0.5) == [1]                                      # nan sorts first
    huge = torch.tensor([[0.0, 0, 1e30, 1e30], [0.0, 0, 1e30, 1e30], [1e20, 1e20, 3e20, 3e20]])
    assert _all_equal(huge, torch.tensor([0.9, 0.8, 0.7]), 0.5) == [0, 1, 2]             # inf/inf = nan
    big = torch.tensor([[1e6, 1e6, 1e6 + 50, 1e6 + 50], [1e6 + 1, 1e6, 1e6 + 51, 1e6 + 50]])
    assert _all_equal(big, torch.tensor([0.9, 0.8]), 0.5) == [0]
    g = torch.Generator().manual_seed(0)
    for t in (0.0, 1.0):                                    # thresholds 0 and 1 on random boxes
        xy = torch.rand(300, 2, generator=g) * 100
        boxes = torch.cat([xy, xy + torch.rand(300, 2, generator=g) * 30], 1)
        kept = _all_equal(boxes, torch.rand(300, generator=g), t)
        assert (len(kept) == 300) == (t == 1.0)


def test_batched_nms_any_coordinates():
    """The issue's case: identical boxes left of the origin, in different classes, both kept."""
    boxes = torch.tensor([[-100.0, -100, -1, -1]] * 2)
    assert batched_nms(boxes, torch.tensor([0.9, 0.8]), torch.tensor([0, 1]), 0.5).tolist() == [0, 1]
    tv = torchvision()
    for n in (200, 3000):                                   # below and above torchvision's loop switch
        g = torch.Generator().manual_seed(n)
        xy = torch.rand(n, 2, generator=g) * 2000 - 1000
        boxes = torch.cat([xy, xy + 10 + torch.rand(n, 2, generator=g) * 100], 1)
        scores, idxs = torch.rand(n, generator=g), torch.randint(0, 20, (n,), generator=g)
        ours = batched_nms(boxes, scores, idxs, 0.5)
        assert torch.equal(ours, tv.ops.boxes._batched_nms_vanilla(boxes, scores, idxs, 0.5))
        for c in idxs.unique():                             # the definition: NMS class by class
            mine = torch.nonzero(idxs == c).view(-1)
            assert set(ours[idxs[ours] == c].tolist()) == set(mine[nms_reference(boxes[mine], scores[mine], 0.5)].tolist())
