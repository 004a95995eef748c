"""Example inputs a lesson shows when the learner gives none (lesson 01's colour image)."""
from pathlib import Path

import torch

from .data.images import list_images, read_image


def example_rgb_image(data_dir, image=None):
    """A colour image for the channels demo: ``image`` (a path) if given, else the first CIFAR-10
    test 'cat' in ``<data_dir>/cifar10-images``, else a generated 64x64 colour ramp (no file needed).

    Returns: ``(uint8 (3, H, W), short description)``.
    """
    if image:
        return read_image(image), Path(image).name
    cats = Path(data_dir) / "cifar10-images" / "test" / "cat"
    if cats.is_dir() and list_images(cats):
        return read_image(list_images(cats)[0]), "CIFAR-10 test image, class 'cat'"
    yy, xx = torch.meshgrid(torch.linspace(0, 1, 64), torch.linspace(0, 1, 64), indexing="ij")
    ramp = torch.stack([xx, yy, 1 - (xx - 0.5).abs() * 2])  # red grows rightwards, green downwards
    return (ramp * 255).round().to(torch.uint8), "a generated colour ramp"
