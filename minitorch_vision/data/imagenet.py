"""The 1000 ImageNet-1k class names, in the index order of torchvision's classifiers.

``imagenet_classes.txt`` (one name per line) was generated once from torchvision's
``torchvision.models._meta._IMAGENET_CATEGORIES`` (BSD-3-Clause); nothing imports torchvision here.
"""
from functools import lru_cache
from pathlib import Path

_FILE = Path(__file__).with_name("imagenet_classes.txt")


@lru_cache(maxsize=1)
def imagenet_classes():
    """List of 1000 class names; index i is the name of logit i."""
    names = _FILE.read_text(encoding="utf-8").splitlines()
    assert len(names) == 1000, f"{_FILE} should have 1000 lines, has {len(names)}"
    return names
