"""Frozen-backbone training: cached features vs recomputing the backbone every epoch (same run, same result).

A frozen ResNet-18 maps each training image to the same 512-vector in every epoch. Path A computes
those vectors once (``backbones.cached_features``) and trains the head on them; path B feeds the images
through the whole frozen network every epoch (what a naive loop does). Both train the same head from
the same init on the same batches; the script checks that they end with the same head weights, then
prints both times and the ratio.

    flock /tmp/mtv-cpu.lock python benchmarks/feature_cache.py --threads 1 [--data-dir ../shared/data]
"""
import argparse
import copy
import sys
import time

import torch
from _common import data_dir  # also puts the repository on the import path

from minitorch_vision.data import cifar10
from minitorch_vision.data.loader import Batches
from minitorch_vision.data.transforms import Augment
from minitorch_vision.models.resnet import resnet18
from minitorch_vision.train import fit
from minitorch_vision.backbones import cached_features, pooled


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", default=None, help="uses <data>/cifar10-images if present, else random pixels")
    p.add_argument("--classes", type=int, default=5)
    p.add_argument("--shots", type=int, default=50, help="training images per class")
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--epochs", type=int, default=30, help="head epochs (lesson 04 trains the head ~40 epochs at k=50)")
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)

    names = cifar10.CLASSES[:a.classes]
    try:
        xtr, ytr, xte, yte, all_names, where = cifar10.load_cifar10(data_dir(a.data_dir), "images", names, allow_download=False)
        data = cifar10.mini_dataset(xtr, ytr, all_names, names, a.shots, seed=0, test=(xte, yte), test_per_class=1)
        x, y = data.x_train, data.y_train
    except Exception as e:  # noqa: BLE001  (no data: the timing does not depend on the pixels)
        print(f"({e}; using random pixels)")
        where = "random pixels"
        x = torch.randint(0, 256, (a.classes * a.shots, 3, 32, 32), dtype=torch.uint8)
        y = torch.arange(a.classes).repeat_interleave(a.shots)
    print(f"{len(x)} images ({where}), {a.size}x{a.size}, {a.epochs} epochs, threads={torch.get_num_threads()}")

    base = resnet18()
    base.replace_head(a.classes)
    plain = Augment(a.size, train=False)

    with torch.no_grad():  # warm-up: first calls pay for kernel selection and allocation, in neither path
        base.eval()(plain(x[:32]))
        base.eval()(plain(x[:64]))

    # A: backbone once, head on cached (N, 512) features
    ma = copy.deepcopy(base)
    head = ma.freeze("fc")
    t0 = time.perf_counter()
    feats = cached_features(pooled, ma, x, plain)
    t_feat = time.perf_counter() - t0
    fit(ma.fc, Batches(feats, y, 32, shuffle=True, seed=0), epochs=a.epochs,
        opt=torch.optim.SGD(head, lr=0.01, momentum=0.9), progress=False)
    t_a = time.perf_counter() - t0

    # B: the frozen backbone recomputed for every batch of every epoch
    mb = copy.deepcopy(base)
    head = mb.freeze("fc")
    t0 = time.perf_counter()
    fit(mb, Batches(x, y, 32, shuffle=True, seed=0, transform=plain), epochs=a.epochs,
        opt=torch.optim.SGD(head, lr=0.01, momentum=0.9), progress=False)
    t_b = time.perf_counter() - t0

    same = torch.allclose(ma.fc.weight, mb.fc.weight, atol=1e-4) and torch.allclose(ma.fc.bias, mb.fc.bias, atol=1e-4)
    print(f"A cached features : {t_a:7.2f} s  (of which feature extraction {t_feat:.2f} s)")
    print(f"B recompute       : {t_b:7.2f} s")
    print(f"same head weights : {same}  (max |diff| {(ma.fc.weight - mb.fc.weight).abs().max().item():.2e})")
    print(f"ratio B/A         : {t_b / t_a:.1f}x")
    if not same:
        sys.exit(1)


if __name__ == "__main__":
    main()
