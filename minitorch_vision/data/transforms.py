"""Image preprocessing and augmentation as batched tensor ops (no PIL, no per-image Python loop).

Two families:
  * deterministic preprocessing: ``to_float``, ``resize``, ``center_crop``, ``normalize`` and
    ``imagenet_preprocess`` (resize the short side to 256, center-crop 224, ImageNet mean/std: the
    evaluation transform torchvision documents for its ImageNet weights);
  * seeded random augmentation for training: ``random_crop`` (pad then crop, per-image offsets),
    ``random_hflip``; :class:`Augment` chains them with a resize and normalisation and is called once
    per batch, e.g. ``Batches(x_uint8, y, transform=Augment(size=64, seed=0))``.

Images are (B, 3, H, W). uint8 batches are turned into float in [0, 1] first; every function keeps
the batch dimension, so a whole batch is augmented by a handful of tensor ops.
"""
import torch
import torch.nn.functional as F

# Per-channel mean / std of ImageNet's training images, in RGB order (0-1 scale), as used to
# train torchvision's weights: the network only works on inputs normalised the same way.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def to_float(x):
    """uint8 in [0, 255] -> float32 in [0, 1]; a float tensor is returned unchanged."""
    return x.float().div(255.0) if x.dtype == torch.uint8 else x


def _batched(x):
    return (x.unsqueeze(0), True) if x.ndim == 3 else (x, False)


def resize(x, size):
    """Bilinear resize of (B, C, H, W) or (C, H, W) to ``size`` (int: square, or (h, w)).

    ``antialias=True`` low-pass filters when shrinking (as PIL does) so stripes do not alias.
    uint8 input gives float output in [0, 1].
    """
    size = (size, size) if isinstance(size, int) else tuple(size)
    x, added = _batched(to_float(x))
    if tuple(x.shape[-2:]) != size:
        x = F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=True)
    return x[0] if added else x


def resize_short_side(x, short):
    """Resize so that the shorter side is ``short`` pixels, keeping the aspect ratio."""
    h, w = x.shape[-2:]
    if h <= w:
        return resize(x, (short, max(1, round(w * short / h))))
    return resize(x, (max(1, round(h * short / w)), short))


def center_crop(x, size):
    """The central ``size`` x ``size`` window (int) or (h, w) of the last two dims."""
    th, tw = (size, size) if isinstance(size, int) else size
    h, w = x.shape[-2:]
    if th > h or tw > w:
        raise ValueError(f"center_crop: crop {th}x{tw} is larger than the image {h}x{w}")
    top, left = int(round((h - th) / 2.0)), int(round((w - tw) / 2.0))  # torchvision's rounding
    return x[..., top:top + th, left:left + tw]


def normalize(x, mean=IMAGENET_MEAN, std=IMAGENET_STD):
    """``(x - mean) / std`` per channel; uint8 input is scaled to [0, 1] first."""
    x = to_float(x)
    m = torch.as_tensor(mean, dtype=x.dtype, device=x.device).view(-1, 1, 1)
    s = torch.as_tensor(std, dtype=x.dtype, device=x.device).view(-1, 1, 1)
    return (x - m) / s


def imagenet_preprocess(img, resize_to=256, crop=224):
    """uint8 (3, H, W) image -> (1, 3, crop, crop) float, ready for an ImageNet classifier."""
    return normalize(center_crop(resize_short_side(img, resize_to), crop)).unsqueeze(0)


def random_crop(x, size, padding=0, generator=None, fill=0.0):
    """A random ``size`` x ``size`` window per image, after padding each side by ``padding`` pixels.

    Args:
        x: (B, C, H, W). size: int, the output side. padding: zero (``fill``) border added first.
        generator: a ``torch.Generator`` for reproducible offsets.
    Returns: (B, C, size, size); image i is ``pad(x)[i, :, t_i:t_i+size, l_i:l_i+size]``.
    """
    x = to_float(x)
    if padding:
        x = F.pad(x, (padding,) * 4, value=fill)
    b, c, h, w = x.shape
    if size > h or size > w:
        raise ValueError(f"random_crop: size {size} larger than padded image {h}x{w}")
    top = torch.randint(0, h - size + 1, (b,), generator=generator)
    left = torch.randint(0, w - size + 1, (b,), generator=generator)
    ar = torch.arange(size)
    rows = (top[:, None] + ar).to(x.device)             # (B, size)
    cols = (left[:, None] + ar).to(x.device)            # (B, size)
    bi = torch.arange(b, device=x.device)[:, None, None, None]
    ci = torch.arange(c, device=x.device)[None, :, None, None]
    return x[bi, ci, rows[:, None, :, None], cols[:, None, None, :]]  # one gather for the whole batch


def random_hflip(x, p=0.5, generator=None):
    """Mirror each image left-right with probability ``p`` (independently per image)."""
    flip = torch.rand(x.shape[0], generator=generator) < p
    return torch.where(flip.to(x.device)[:, None, None, None], x.flip(-1), x)


class Augment:
    """Batch transform for training and evaluation: [crop + flip] -> resize -> normalise.

    Args:
        size: output side in pixels (the network's input resolution).
        train: apply the random ops (random crop with ``padding`` at the input's own size, then a
            horizontal flip); ``train=False`` only resizes and normalises (for test batches).
        seed: seeds this transform's own ``torch.Generator``: the same seed gives the same
            sequence of augmented batches, independent of any other random numbers drawn.
    Call it on a uint8 (B, 3, H, W) batch; returns float (B, 3, size, size).
    """

    def __init__(self, size, train=True, padding=4, flip_p=0.5, mean=IMAGENET_MEAN, std=IMAGENET_STD, seed=0):
        self.size, self.train, self.padding, self.flip_p = size, train, padding, flip_p
        self.mean, self.std = mean, std
        self.generator = torch.Generator().manual_seed(seed)

    def __call__(self, x):
        x = to_float(x)
        if self.train:
            x = random_crop(x, x.shape[-1], padding=self.padding, generator=self.generator)
            x = random_hflip(x, self.flip_p, generator=self.generator)
        return normalize(resize(x, self.size), self.mean, self.std)

    def __repr__(self):
        return f"Augment(size={self.size}, train={self.train}, padding={self.padding}, flip_p={self.flip_p})"
