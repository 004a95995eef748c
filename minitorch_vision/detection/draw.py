"""Drawing detections on an image with Pillow, and saving it atomically."""
import colorsys
from pathlib import Path

import torch
from PIL import Image, ImageDraw, ImageFont

from ..atomic import atomic_path
from ..data.images import tensor_to_pil


def class_color(cls):
    """A distinct, saturated RGB colour for class ``cls`` (hues spaced by the golden ratio)."""
    h = (int(cls) * 0.618033988749895) % 1.0
    r, g, b = colorsys.hsv_to_rgb(h, 0.85, 0.95)
    return int(r * 255), int(g * 255), int(b * 255)


def _font(size):
    try:
        return ImageFont.load_default(size=size)  # scalable default font (Pillow >= 10.1)
    except TypeError:
        return ImageFont.load_default()


def _text_color(rgb):
    """Black or white, whichever reads better on ``rgb``."""
    r, g, b = rgb
    return (0, 0, 0) if 0.299 * r + 0.587 * g + 0.114 * b > 150 else (255, 255, 255)


def draw_detections(image, dets, names=None, line_width=None):
    """Draw boxes with "name conf" labels.

    Args:
        image (PIL.Image | Tensor[3, H, W] uint8): the image (not modified).
        dets (Tensor[n, 6] | array): (x1, y1, x2, y2, conf, cls) in this image's pixels.
        names (sequence | dict | None): class index -> name; unknown indices print the number.
        line_width (int | None): box outline width; default scales with the image size.

    Returns:
        PIL.Image (RGB): a new image with one coloured rectangle per detection (colour by class)
        and its label on a filled background above the box (inside it at the top edge).
    """
    im = tensor_to_pil(image) if isinstance(image, torch.Tensor) else image
    im = im.convert("RGB")  # always a copy: the caller's image stays untouched
    if isinstance(dets, torch.Tensor):
        dets = dets.detach().cpu().tolist()
    # the outline is 0.4% of the short side (at least 2 px), so boxes stay visible when a large
    # photo is shown scaled down; the label text grows with it (at least 11 px, readable in a report)
    lw = line_width or max(2, round(min(im.size) / 250))
    font = _font(max(11, 5 * lw + 2))
    draw = ImageDraw.Draw(im)
    for x1, y1, x2, y2, conf, cls in (list(d)[:6] for d in dets):
        c = int(cls)
        if isinstance(names, dict):
            name = names.get(c, str(c))
        else:
            name = names[c] if names is not None and 0 <= c < len(names) else str(c)
        color = class_color(c)
        draw.rectangle((x1, y1, x2, y2), outline=color, width=lw)
        text = f"{name} {conf:.2f}"
        left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
        tw, th = right - left, bottom - top
        pad = max(1, lw // 2)
        ty = y1 - th - 2 * pad if y1 - th - 2 * pad >= 0 else y1  # above the box if it fits
        tx = max(0, min(x1, im.width - tw - 2 * pad))  # shifted left rather than cut off at the right edge
        draw.rectangle((tx, ty, tx + tw + 2 * pad, ty + th + 2 * pad), fill=color)
        draw.text((tx + pad - left, ty + pad - top), text, fill=_text_color(color), font=font)
    return im



def draw_box(img, box, width=3):
    """A copy of ``img`` (3, H, W) float in [0, 1] with a red rectangle ``width`` pixels thick at
    ``box`` (x1, y1, x2, y2) in pixels, clipped to the image. For figures drawn on tensors."""
    img = img.clone()
    h, w = img.shape[-2:]
    x1, y1, x2, y2 = [int(round(float(v))) for v in box]
    x1, x2 = max(0, min(x1, w - 1)), max(0, min(x2, w - 1))
    y1, y2 = max(0, min(y1, h - 1)), max(0, min(y2, h - 1))
    red = torch.tensor([1.0, 0.0, 0.0])[:, None, None]
    img[:, y1:y1 + width, x1:x2 + 1] = red
    img[:, max(y2 - width + 1, 0):y2 + 1, x1:x2 + 1] = red
    img[:, y1:y2 + 1, x1:x1 + width] = red
    img[:, y1:y2 + 1, max(x2 - width + 1, 0):x2 + 1] = red
    return img

def save_image(img, path, **kwargs):
    """Save a PIL image (or uint8 (3, H, W) tensor) atomically; the format follows the suffix.

    Written through :func:`~minitorch_vision.atomic.atomic_path`: no half-written file is left behind.
    Extra keyword arguments go to ``PIL.Image.save`` (e.g. ``quality=90`` for JPEG).
    """
    path = Path(path)
    im = tensor_to_pil(img) if isinstance(img, torch.Tensor) else img
    fmt = Image.registered_extensions().get(path.suffix.lower())
    if fmt is None:
        raise ValueError(f"cannot tell the image format from {path.name!r} (use .png or .jpg)")
    if fmt == "JPEG":
        im = im.convert("RGB")
    with atomic_path(path) as tmp:
        im.save(tmp, format=fmt, **kwargs)
    return path
