"""Reading an image file into a tensor, whatever its mode.

Every reader in the course goes through ``read_image``: it returns RGB ``uint8`` (3, H, W)
whether the file is grayscale, palette, RGBA (alpha dropped, as OpenCV and the official YOLOv5
loader do), CMYK or 16-bit, and turns a missing, truncated or
non-image file into a one-line :class:`DataUnavailable` instead of a traceback.

Photos are returned upright: a camera stores the sensor's pixels as they came and writes how it
was held into the EXIF "Orientation" tag (1 = as stored, 6 = turn 90 degrees clockwise to view,
...). ``cv2.imread``, and so the official YOLOv5 scripts, apply it, as does Pillow's
``ImageOps.exif_transpose``; so do we (``upright=False`` keeps the stored pixels).
"""
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from ..errors import DataUnavailable

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp"}

ORIENTATION = 0x0112  # the EXIF tag
# EXIF orientation -> the transpose that shows the photo upright (the EXIF 2.3 table, as Pillow's
# ImageOps.exif_transpose and OpenCV apply it); 1 (or no tag) = already upright
UPRIGHT = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180,
           4: Image.Transpose.FLIP_TOP_BOTTOM, 5: Image.Transpose.TRANSPOSE,
           6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE, 8: Image.Transpose.ROTATE_90}


def exif_orientation(im):
    """The EXIF orientation (1..8) of an open ``PIL.Image``; 1 when absent or unreadable."""
    try:
        value = im.getexif().get(ORIENTATION, 1)
    except (OSError, ValueError, SyntaxError):  # a broken EXIF block: show the pixels as stored
        return 1
    return value if value in UPRIGHT else 1


def image_size(path, upright=True):
    """(height, width) of an image file as :func:`read_image` returns it, without decoding it."""
    try:
        with Image.open(path) as im:
            w, h = im.size
            turned = upright and exif_orientation(im) in (5, 6, 7, 8)   # a quarter turn swaps them
    except (OSError, ValueError) as e:
        raise DataUnavailable(f"cannot read image {path}: {e}") from None
    return (w, h) if turned else (h, w)


def open_rgb(path, upright=True):
    """Open ``path`` with Pillow and return an RGB ``PIL.Image`` (fully decoded).

    ``upright``: apply the EXIF orientation (default, as ``cv2.imread``); False: the stored pixels.
    """
    path = Path(path)
    if not path.is_file():
        raise DataUnavailable(f"image {path} does not exist")
    try:
        with Image.open(path) as im:
            im.load()
            turn = UPRIGHT.get(exif_orientation(im)) if upright else None
            if turn is not None:
                im = im.transpose(turn)
            if im.mode in ("I;16", "I;16B", "I;16L", "I"):  # 16/32-bit grayscale: scale to 8 bits
                a = np.asarray(im, dtype=np.float64)
                hi = 65535.0 if a.max() > 255 else 255.0
                im = Image.fromarray(np.clip(a / hi * 255.0 + 0.5, 0, 255).astype(np.uint8))
            return im.convert("RGB")
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        raise DataUnavailable(f"cannot read image {path}: {e}") from None


def read_image(path, upright=True):
    """Read an image file as a uint8 tensor (3, H, W), RGB, upright (see the module docstring).

    ``upright=False`` keeps the pixels as stored, ignoring the EXIF orientation.
    """
    return pil_to_tensor(open_rgb(path, upright))


def pil_to_tensor(im):
    """RGB PIL image -> uint8 tensor (3, H, W)."""
    return torch.from_numpy(np.asarray(im.convert("RGB"), dtype=np.uint8).copy()).permute(2, 0, 1).contiguous()


def tensor_to_pil(x):
    """uint8 (3, H, W) or (H, W) tensor -> PIL image."""
    a = x.detach().cpu()
    a = a.permute(1, 2, 0).numpy() if a.ndim == 3 else a.numpy()
    return Image.fromarray(a.astype(np.uint8))


def list_images(folder):
    """Image files directly inside ``folder``, sorted by name."""
    return sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
