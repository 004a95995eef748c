"""Batched preprocessing and augmentation: shapes, value ranges, determinism, ImageNet preprocessing."""
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from conftest import need
from minitorch_vision.data.images import read_image
from minitorch_vision.data.imagenet import imagenet_classes
from minitorch_vision.data.loader import Batches
from minitorch_vision.data.transforms import (IMAGENET_MEAN, IMAGENET_STD, Augment, center_crop, imagenet_preprocess,
                                              normalize, random_crop, random_hflip, resize, resize_short_side)

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


def _batch(n=6, size=32, seed=0):
    return torch.randint(0, 256, (n, 3, size, size), dtype=torch.uint8, generator=torch.Generator().manual_seed(seed))


def test_random_crop_is_a_window_of_the_padded_image():
    x = _batch()
    out = random_crop(x, 32, padding=4, generator=torch.Generator().manual_seed(0))
    assert out.shape == (6, 3, 32, 32) and out.dtype == torch.float32
    padded = F.pad(x.float() / 255, (4, 4, 4, 4))
    for i in range(len(x)):  # brute force: exactly one of the 9x9 offsets reproduces the crop
        hits = [(t, l) for t in range(9) for l in range(9) if torch.equal(padded[i, :, t:t + 32, l:l + 32], out[i])]
        assert len(hits) >= 1
    offsets = set()
    for s in range(20):
        o = random_crop(x[:1], 32, padding=4, generator=torch.Generator().manual_seed(s))
        offsets.add(o.sum().item())
    assert len(offsets) > 3  # the offset really is random
    assert torch.equal(random_crop(x, 32, padding=0), x.float() / 255)  # no padding, same size: identity
    with pytest.raises(ValueError):
        random_crop(x, 40, padding=2)


def test_random_hflip():
    x = _batch(64).float()
    assert torch.equal(random_hflip(x, p=1.0), x.flip(-1)) and torch.equal(random_hflip(x, p=0.0), x)
    out = random_hflip(x, p=0.5, generator=torch.Generator().manual_seed(3))
    flipped = [torch.equal(out[i], x[i].flip(-1)) for i in range(len(x))]
    kept = [torch.equal(out[i], x[i]) for i in range(len(x))]
    assert all(f or k for f, k in zip(flipped, kept)) and any(flipped) and any(kept)


def test_augment_shapes_ranges_and_determinism():
    x = _batch(16)
    a, b = Augment(64, seed=7), Augment(64, seed=7)
    o1, o2 = a(x), b(x)
    assert o1.shape == (16, 3, 64, 64) and o1.dtype == torch.float32
    assert torch.equal(o1, o2)  # same seed, same augmented batch
    assert not torch.equal(a(x), o1)  # the next batch gets new random draws
    assert not torch.equal(Augment(64, seed=8)(x), o1)
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    pixels = o1 * std + mean  # undo normalisation: back in [0, 1]
    assert pixels.min() >= -1e-5 and pixels.max() <= 1 + 1e-5
    plain = Augment(64, train=False)(x)
    assert torch.equal(plain, Augment(64, train=False)(x))  # evaluation transform has no randomness
    assert torch.allclose(plain, normalize(resize(x, 64)))


def test_augment_in_batches_is_reproducible():
    x, y = _batch(10), torch.arange(10)
    run = lambda: [xb for xb, _ in Batches(x, y, 4, shuffle=True, seed=1, transform=Augment(48, seed=2))]  # noqa: E731
    first, second = run(), run()
    assert [t.shape for t in first] == [(4, 3, 48, 48), (4, 3, 48, 48), (2, 3, 48, 48)]
    assert all(torch.equal(p, q) for p, q in zip(first, second))


def test_resize_and_center_crop():
    x = _batch(2, 32)
    assert resize(x, 64).shape == (2, 3, 64, 64) and resize(x[0], (10, 20)).shape == (3, 10, 20)
    assert resize(x, 32).dtype == torch.float32 and torch.equal(resize(x, 32), x.float() / 255)
    assert resize_short_side(torch.zeros(3, 300, 400), 256).shape == (3, 256, 341)
    img = torch.arange(100.).view(1, 10, 10)
    assert torch.equal(center_crop(img, 4), img[:, 3:7, 3:7])


def test_normalize_matches_the_stored_reference_input(data_dir):
    """cases.pt's both_png input was made with PIL + numpy: (x/255 - mean) / std."""
    cases = torch.load(need(data_dir, "reference", "resnet18", "cases.pt"), weights_only=True)
    img = read_image(need(data_dir, "images", "both.png"))
    assert torch.allclose(normalize(img).unsqueeze(0), cases["both_png"]["x"], atol=1e-6)
    assert torch.allclose(imagenet_preprocess(img, resize_to=224), cases["both_png"]["x"], atol=1e-6)


def test_imagenet_preprocess_matches_torchvision_tensor_transforms(data_dir):
    sys.path.insert(0, str(SHARED / "tools"))
    try:
        import torchvision_cpu_compat  # noqa: F401
        from torchvision.transforms import v2
    except Exception as e:  # noqa: BLE001
        pytest.skip(f"torchvision not importable here ({type(e).__name__})")
    img = read_image(need(data_dir, "images", "zidane.jpg"))  # 1280x720: a real shrink + crop
    ours = imagenet_preprocess(img)
    ref = v2.Compose([v2.Resize(256, antialias=True), v2.CenterCrop(224), v2.ToDtype(torch.float32, scale=True),
                      v2.Normalize(IMAGENET_MEAN, IMAGENET_STD)])(img).unsqueeze(0)
    assert ours.shape == (1, 3, 224, 224)
    # torchvision resizes uint8 in uint8 (rounds); we resize in float: differences up to 1/255 before /std
    assert (ours - ref).abs().max() < 0.03


def test_imagenet_class_names():
    names = imagenet_classes()
    assert len(names) == 1000 and names[0] == "tench" and names[281] == "tabby" and names[999] == "toilet tissue"
