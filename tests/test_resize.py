"""The OpenCV-exact resizers against ``cv2.resize`` (a test-only reference): 0 differing pixels on
every COCO128 image at several long sides and on random images of random sizes."""
import numpy as np
import pytest
import torch
from PIL import Image

from conftest import need
from minitorch_vision.data.images import list_images, read_image
from minitorch_vision.detection.resize import resize_area, resize_linear

LONG_SIDES = (256, 320, 416, 512, 640, 1280)


def _cv2():
    return pytest.importorskip("cv2", reason="skipped: opencv-python-headless (test extra) not installed")


def _differing(img, size_hw):
    """Pixels where our (linear, area) output differs from cv2.resize's, for a uint8 (C, H, W) image."""
    cv2 = _cv2()
    hwc = img.permute(1, 2, 0).numpy()
    h, w = size_hw
    counts = []
    for ours, flag in ((resize_linear, cv2.INTER_LINEAR), (resize_area, cv2.INTER_AREA)):
        ref = cv2.resize(hwc, (w, h), interpolation=flag).reshape(h, w, -1)
        counts.append(int((ours(img, size_hw).permute(1, 2, 0).numpy() != ref).sum()))
    return counts


def test_the_issues_minimal_cases():
    """Exact 2x shrink rounds half up; an enlargement truncates the two row products (112, not 113)."""
    _cv2()
    assert resize_area(torch.tensor([[[0, 1], [0, 1]]], dtype=torch.uint8), (1, 1)).item() == 1
    assert resize_linear(torch.tensor([[[0, 1], [0, 1]]], dtype=torch.uint8), (1, 1)).item() == 1
    up = resize_linear(torch.tensor([[[95, 130], [194, 217]]], dtype=torch.uint8), (3, 3))
    assert up[0].tolist() == [[95, 112, 130], [145, 159, 174], [194, 205, 217]]
    for img, size in (([[[0, 1], [0, 1]]], (1, 1)), ([[[95, 130], [194, 217]]], (3, 3))):
        assert _differing(torch.tensor(img, dtype=torch.uint8), size) == [0, 0]


@pytest.mark.parametrize("shape, size", [
    ((3, 2, 2), (3, 3)), ((3, 1, 1), (5, 7)), ((3, 60, 80), (30, 40)), ((3, 90, 120), (30, 40)),
    ((3, 60, 80), (20, 40)), ((3, 30, 40), (60, 80)), ((3, 30, 40), (90, 120)),
    ((3, 1000, 1000), (300, 300)), ((3, 500, 500), (300, 300)), ((3, 480, 640), (144, 192)),
    ((3, 480, 640), (288, 384)), ((3, 1, 500), (1, 64)), ((3, 500, 1), (64, 1)), ((3, 1, 7), (3, 2)),
    ((3, 5000, 3), (640, 1)), ((3, 3, 5000), (1, 640)), ((1, 37, 53), (20, 29)), ((4, 37, 53), (70, 11)),
])
def test_special_sizes_equal_opencv(shape, size):
    """Exact 2x / 3x shrinks and 2x / 3x enlargements, OpenCV's rational 10/3 and 5/3 ratios,
    1-pixel and very elongated images, one shrinking side with one enlarging side, 1 and 4 channels."""
    g = torch.Generator().manual_seed(sum(shape) + sum(size))
    img = torch.randint(0, 256, shape, dtype=torch.uint8, generator=g)
    assert _differing(img, size) == [0, 0]


def test_random_images_of_random_sizes_equal_opencv():
    cv2 = _cv2()
    rng = np.random.default_rng(0)
    for trial in range(150):
        H, W = (int(v) for v in rng.integers(1, 300, 2))
        if trial % 3 == 0:                                            # shrink both sides
            h, w = int(rng.integers(1, H + 1)), int(rng.integers(1, W + 1))
        else:
            h, w = (int(v) for v in rng.integers(1, 600, 2))
        hwc = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)
        if trial % 2:                                                 # smooth content: many ties
            hwc = cv2.GaussianBlur(hwc, (0, 0), 3)
        assert _differing(torch.from_numpy(hwc).permute(2, 0, 1), (h, w)) == [0, 0], ((H, W), (h, w))


@pytest.mark.parametrize("long_side", LONG_SIDES)
def test_every_coco128_image_equals_opencv(data_dir, long_side):
    """Every COCO128 image scaled to ``long_side`` the way val does it (sizes truncated): both
    resizers, shrinking and enlarging (COCO128's long sides are 640 or less)."""
    files = list_images(need(data_dir, "coco128", "images", "train2017"))
    assert len(files) == 128
    for f in files:
        img = read_image(f)
        r = long_side / max(img.shape[1:])
        size = (max(1, int(img.shape[1] * r)), max(1, int(img.shape[2] * r)))
        assert _differing(img, size) == [0, 0], (f.name, size)


def test_area_resize_is_a_block_mean_for_integer_factors():
    x = torch.randint(0, 256, (3, 60, 80), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    ours = resize_area(x, (30, 40)).permute(1, 2, 0).numpy().astype(int)
    pil = np.asarray(Image.fromarray(x.permute(1, 2, 0).numpy()).resize((40, 30), Image.BOX)).astype(int)
    assert np.abs(ours - pil).max() <= 1                      # Pillow rounds in its own fixed point
    exact = x.double().view(3, 30, 2, 40, 2).mean((2, 4))
    assert (ours - exact.permute(1, 2, 0).numpy()).max() <= 0.5
    assert torch.equal(resize_linear(x, (60, 80)), x) and resize_linear(x, (60, 80)) is not x


def test_bad_inputs_name_the_expected_shape():
    with pytest.raises(ValueError, match=r"uint8 image of shape \(C, H, W\)"):
        resize_linear(torch.zeros(3, 4, 4), (2, 2))
    with pytest.raises(ValueError, match=r"uint8 image of shape \(C, H, W\)"):
        resize_area(torch.zeros(4, 4, dtype=torch.uint8), (2, 2))
    with pytest.raises(ValueError, match="at least 1x1"):
        resize_area(torch.zeros(3, 4, 4, dtype=torch.uint8), (0, 2))
