"""Photos come out upright: ``read_image`` applies the EXIF orientation like ``cv2.imread`` and
Pillow's ``ImageOps.exif_transpose`` (all 8 values), and ``upright=False`` keeps the raw pixels."""
import numpy as np
import pytest
import torch
from PIL import Image, ImageOps

from minitorch_vision.data.images import image_size, read_image
from minitorch_vision.errors import DataUnavailable


def _photo(tmp_path, orientation, suffix=".jpg"):
    """A 20x30 photo with an asymmetric pattern (no flip or turn of it looks the same)."""
    a = np.zeros((20, 30, 3), np.uint8)
    a[:5, :10] = 255                                   # a white block in the top-left corner
    a[:, :, 1] = np.arange(30, dtype=np.uint8) * 8     # green ramp left to right
    a[:, :, 2] = np.arange(20, dtype=np.uint8)[:, None] * 12
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = tmp_path / f"o{orientation}{suffix}"
    Image.fromarray(a).save(path, exif=exif, **({"quality": 100} if suffix == ".jpg" else {}))
    return path


@pytest.mark.parametrize("orientation", range(1, 9))
@pytest.mark.parametrize("suffix", [".jpg", ".png"])
def test_read_image_applies_every_exif_orientation(tmp_path, orientation, suffix):
    path = _photo(tmp_path, orientation, suffix)
    with Image.open(path) as im:
        expected = np.asarray(ImageOps.exif_transpose(im).convert("RGB"))
        raw = np.asarray(im.convert("RGB"))
    ours = read_image(path)
    assert torch.equal(ours, torch.from_numpy(expected.copy()).permute(2, 0, 1))
    assert image_size(path) == tuple(ours.shape[1:])
    assert torch.equal(read_image(path, upright=False), torch.from_numpy(raw.copy()).permute(2, 0, 1))
    assert image_size(path, upright=False) == raw.shape[:2]
    quarter_turn = orientation in (5, 6, 7, 8)
    assert ours.shape[1:] == ((30, 20) if quarter_turn else (20, 30))


@pytest.mark.parametrize("orientation", range(1, 9))
def test_read_image_equals_cv2_imread(tmp_path, orientation):
    cv2 = pytest.importorskip("cv2", reason="skipped: opencv-python-headless (test extra) not installed")
    path = _photo(tmp_path, orientation)
    official = cv2.imread(str(path))[:, :, ::-1]      # BGR -> RGB, rotated by OpenCV
    assert torch.equal(read_image(path), torch.from_numpy(official.copy()).permute(2, 0, 1))


def test_broken_or_odd_orientation_values_leave_pixels_alone(tmp_path):
    path = _photo(tmp_path, 1)
    for value in (0, 9, 65535):                        # not an orientation: shown as stored
        exif = Image.Exif()
        exif[0x0112] = value
        with Image.open(path) as im:
            im.load()
            im.save(tmp_path / "odd.png", exif=exif)
        assert torch.equal(read_image(tmp_path / "odd.png"), read_image(path))
    with pytest.raises(DataUnavailable, match="cannot read image"):
        (tmp_path / "not.jpg").write_bytes(b"not an image")
        image_size(tmp_path / "not.jpg")
