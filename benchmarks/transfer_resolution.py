"""Lesson 04's input resolution, chosen by measurement: frozen-feature test accuracy and feature cost per size.

For the YOLOv5n backbone (COCO weights, from the data folder): a linear head on cached frozen features
(``transfer.train_one(..., "frozen")``, the lesson's recipe) at 32/64/128/224 pixels, for k = 10 and 50
images per class, P5 alone vs the pooled P3+P4+P5, on the default 5 classes and test set (100 per class).
For the ResNet-18 the ImageNet weights cannot be had offline, so only its cost is measured (random
weights: the same arithmetic). Cost = milliseconds per image to compute features, after a warm-up.

    python benchmarks/transfer_resolution.py --threads 1 [--data-dir ../shared/data] [--seeds 0,1]
"""
import argparse
import time

import torch
from _common import data_dir  # also puts the repository on the import path

from minitorch_vision.data import cifar10
from minitorch_vision.models.resnet import resnet18
from minitorch_vision.backbones import BACKBONES, cached_features, pooled
from minitorch_vision.transfer import DEFAULT_CLASSES, MODES, Recipe, train_one
from minitorch_vision.weights import load_yolov5_backbone


def ms_per_image(model, x, recipe):
    cached_features(pooled, model, x[:16], recipe.transform("frozen"))  # warm-up
    t0 = time.perf_counter()
    cached_features(pooled, model, x, recipe.transform("frozen"))
    return 1000 * (time.perf_counter() - t0) / len(x)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", default=None)
    p.add_argument("--sizes", default="32,64,128,224")
    p.add_argument("--seeds", default="0,1")
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    classes = list(DEFAULT_CLASSES)
    xtr, ytr, xte, yte, names, where = cifar10.load_cifar10(data_dir(a.data_dir), "auto", classes, allow_download=False)
    print(f"CIFAR-10 from {where}; threads={torch.get_num_threads()}")
    print("| backbone | pooled | size | k=10 acc (seeds) | k=50 acc (seeds) | features ms/img |")
    print("|---|---|---:|---|---|---:|")
    yolo = {pyr: load_yolov5_backbone(None, data_dir(a.data_dir), allow_download=False, pyramid=pyr, verbose=False)[0]
            for pyr in (False, True)}
    seeds = [int(s) for s in a.seeds.split(",")]
    for size in [int(s) for s in a.sizes.split(",")]:
        for pyr, model in yolo.items():
            spec = BACKBONES["yolov5n"]
            accs = {}
            for seed in seeds:
                recipe = Recipe(sizes={m: size for m in MODES}, mean=spec.mean, std=spec.std, seed=seed)
                for k in (10, 50):
                    data = cifar10.mini_dataset(xtr, ytr, names, classes, k, seed=seed, test=(xte, yte))
                    accs.setdefault(k, []).append(train_one(model, "frozen", data, recipe, False, log=False).test_accuracy)
            ms = ms_per_image(model, xte[:256], recipe)
            cells = [" / ".join(f"{v:.3f}" for v in accs[k]) + f" (mean {sum(accs[k]) / len(accs[k]):.3f})" for k in (10, 50)]
            print(f"| yolov5n | {'P3+P4+P5' if pyr else 'P5'} | {size} | {cells[0]} | {cells[1]} | {ms:.2f} |", flush=True)
        spec = BACKBONES["resnet18"]
        recipe = Recipe(sizes={m: size for m in MODES}, mean=spec.mean, std=spec.std)
        ms = ms_per_image(resnet18().eval(), xte[:64 if size >= 128 else 256], recipe)
        print(f"| resnet18 (random, cost only) | layer4 | {size} | - | - | {ms:.2f} |", flush=True)


if __name__ == "__main__":
    main()
