"""Reading an image file into a tensor, whatever its mode.

Every reader in the course goes through ``read_image``: it returns RGB ``uint8`` (3, H, W)
whether the file is grayscale, palette, RGBA (alpha dropped, as OpenCV and the official YOLOv5
loader do), CMYK or 16-bit, and turns a missing, truncated or
non-image file into a one-line :class:`DataUnavailable` instead of a traceback.
"""
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from ..errors import DataUnavailable

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp"}


def open_rgb(path):
    """Open ``path`` with Pillow and return an RGB ``PIL.Image`` (fully decoded)."""
    path = Path(path)
    if not path.is_file():
        raise DataUnavailable(f"image {path} does not exist")
    try:
        with Image.open(path) as im:
            im.load()
            if im.mode in ("I;16", "I;16B", "I;16L", "I"):  # 16/32-bit grayscale: scale to 8 bits
                a = np.asarray(im, dtype=np.float64)
                hi = 65535.0 if a.max() > 255 else 255.0
                im = Image.fromarray(np.clip(a / hi * 255.0 + 0.5, 0, 255).astype(np.uint8))
            return im.convert("RGB")
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        raise DataUnavailable(f"cannot read image {path}: {e}") from None


def read_image(path):
    """Read an image file as a uint8 tensor (3, H, W), RGB."""
    return pil_to_tensor(open_rgb(path))


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
