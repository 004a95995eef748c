"""Lesson 04: transfer learning. A ResNet-18 trained on ImageNet, reused for CIFAR-10 with a few images per class.

What it teaches:
  (a) a hand-written ResNet-18 (minitorch_vision/models/resnet.py) loads torchvision's published
      ImageNet weights and classifies a photo (top-5 with probabilities);
  (b) freeze the backbone, replace the 1000-class head by a new one, train only the head on a
      mini-dataset of CIFAR-10 classes (default 5 classes, k images each);
  (c) scratch vs frozen features vs fine-tuning the last block, for k in {5, 10, 50} images per
      class, with and without augmentation: one table, one plot (transfer.png).
A frozen backbone computes the same features every epoch, so the frozen runs compute them ONCE and
train the head on the cached (N, 512) vectors: seconds instead of minutes on a CPU.

Input resolution (--size): CIFAR images are 32x32; they are upsampled to 64x64 on a CPU (default
without a GPU) or 224x224 with a GPU (the resolution the ImageNet weights were trained at). At 64
the network costs ~12x fewer FLOPs but objects look 3.5x smaller than what ImageNet filters expect
(layer4 is 2x2 instead of 7x7), so pretrained features transfer less well than at 224.

Run:  python lessons/04_transfer.py --data-dir ../shared/data [--weights PATH|random] [--quick]
Writes runs/04_transfer/{results.json, top5.png, transfer.png, tb/}.
"""
# %% Set-up: flags, seed, threads, device, output folder, input resolution
import argparse
import pathlib
import time
from dataclasses import asdict

import torch  # noqa: E402

from minitorch_vision.plots.transfer import topk_prediction, transfer_comparison  # noqa: E402
from minitorch_vision.cli import class_list, int_list, int_range, lesson_args, positive_int, setup, write_results  # noqa: E402
from minitorch_vision.data import cifar10  # noqa: E402
from minitorch_vision.data.imagenet import top_k  # noqa: E402
from minitorch_vision.data.images import read_image  # noqa: E402
from minitorch_vision.data.manifest import ensure  # noqa: E402
from minitorch_vision.data.transforms import imagenet_preprocess, resize  # noqa: E402
from minitorch_vision.errors import DataUnavailable  # noqa: E402
from minitorch_vision.transfer import Recipe, compare, format_table, train_one  # noqa: E402
from minitorch_vision.weights import load_resnet18  # noqa: E402


# The lesson's own size flags: (default, default with --quick). A flag given on the command line keeps
# its value, --quick or not; SUPPRESS leaves it out of `args` when not given, so we can tell.
SIZES = {"shots": ((5, 10, 50), (5, 10)), "test_per_class": (100, 20), "head_steps": (300, 150), "views": (8, 4)}


def _default(name):
    full, quick = (",".join(map(str, v)) if isinstance(v, tuple) else v for v in SIZES[name])
    return f" (default: {full}; {quick} with --quick)"


def extra_flags(p):
    p.add_argument("--weights", default=None,
                   help="ResNet-18 weights: a .pth path; default <data>/weights/resnet18-f37072fd.pth "
                        "(downloaded if absent); 'random' = untrained backbone (the lesson's point is then lost)")
    p.add_argument("--size", type=int_range(32), default=None,
                   help="input resolution fed to the network (default: 224 with a GPU, 64 on a CPU)")
    p.add_argument("--classes", type=class_list(cifar10.CLASSES), default="airplane,automobile,bird,cat,deer", help="CIFAR-10 classes, comma-separated")
    p.add_argument("--shots", type=int_list, default=argparse.SUPPRESS,
                   help="training images per class, comma-separated" + _default("shots"))
    p.add_argument("--test-per-class", type=positive_int, default=argparse.SUPPRESS,
                   help="held-out test images per class" + _default("test_per_class"))
    p.add_argument("--head-steps", type=positive_int, default=argparse.SUPPRESS,
                   help="optimizer steps of the head on cached features" + _default("head_steps"))
    p.add_argument("--views", type=positive_int, default=argparse.SUPPRESS,
                   help="augmented views cached per image for frozen + augmentation" + _default("views"))
    p.add_argument("--source", default="auto", choices=["auto", "pickles", "images"],
                   help="CIFAR-10 from the official pickles or from <data>/cifar10-images/<split>/<class>/")
    p.add_argument("--image", default=None, help="photo for part (a) (default: <data>/images/both.png)")


# `--epochs` is the number of passes over the LARGEST training set; smaller k get more passes so that
# every scratch/finetune run takes the same number of optimizer steps.
args = lesson_args(__doc__, epochs=4, quick_epochs=3, batch_size=32, lr=1e-3, extra=extra_flags)
for name, (full, quick) in SIZES.items():
    if not hasattr(args, name):
        setattr(args, name, quick if args.quick else full)
ctx = setup(args, "04_transfer")
t_start = time.perf_counter()
size = args.size or (224 if ctx.device.type == "cuda" else 64)
print(f"input resolution {size}x{size}" + ("" if size >= 224 else
      " (a CPU-sized compromise: ImageNet features were learned at 224, expect less transfer than at 224)"))

# %% (a) The pretrained network, and a photo to show it
model, kind = load_resnet18(args.weights, ctx.data_dir, allow_download=not args.no_download)
skipped = {}  # part -> reason, in results.json: a skipped part is never shown as done
try:
    photo = pathlib.Path(args.image) if args.image else ensure("images/both.png", ctx.data_dir,
                                                               allow_download=not args.no_download)
except DataUnavailable as e:  # no sample photo: a CIFAR test image stands in below (blurry at 32x32)
    print(f"skipped: the sample photo ({e}); a CIFAR-10 test image stands in")
    photo, skipped["sample photo"] = None, str(e)
img = read_image(photo) if photo is not None else None  # (3, H, W) uint8

# %% CIFAR-10 for (b) and (c): the pickles, or the image folder (a learner's own photos look like it)
classes = args.classes
shots = sorted(set(args.shots))
xtr, ytr, xte, yte, names, where = cifar10.load_cifar10(ctx.data_dir, args.source, classes,
                                                       allow_download=not args.no_download)
print(f"CIFAR-10 from {where}: {len(xtr)} train / {len(xte)} test images read")

# %% (a) Top-5 of ImageNet's 1000 classes for the photo
if img is None:
    img = (resize(xte[0], 224) * 255).round().to(torch.uint8)
with torch.no_grad():
    logits = model(imagenet_preprocess(img))[0]  # resize short side 256, centre crop 224, ImageNet mean/std
top = top_k(logits, 5)
print(f"(a) top-5 for {photo.name if photo.is_file() else 'a CIFAR test image'} ({kind} weights):")
for name, p in top:
    print(f"    {p:6.1%}  {name}")
topk_prediction(img, top, title=f"ResNet-18 ({kind} weights): top-5", path=ctx.out / "top5.png")

# %% Mini-datasets: k images per class with a seed; the test set is the same for every k
sets = {k: cifar10.mini_dataset(xtr, ytr, names, classes, k, seed=args.seed, test=(xte, yte),
                                test_per_class=args.test_per_class) for k in shots}
print(f"classes {classes}; k = {shots} per class; {len(sets[shots[0]].y_test)} held-out test images")

# %% (b) Freeze the backbone, put a new 5-way head on it, train only the head
# train_one(..., "frozen") copies the model, calls replace_head(5) and freeze("fc"): gradients off for
# conv1..layer4 (whose BatchNorm statistics stay ImageNet's); the optimizer gets only fc's 512*5+5
# numbers. Since the backbone never changes, its 512-vector for each image is computed ONCE
# (transfer.cached_features) and the head trains on those cached vectors.
steps = args.epochs * -(-max(shots) * len(classes) // args.batch_size)
recipe = Recipe(size=size, steps=steps, head_steps=args.head_steps, batch_size=args.batch_size, lr=args.lr,
                views=args.views, seed=args.seed)
n_head = model.fc.in_features * len(classes) + len(classes)      # the new head: weight (5, 512) + bias (5)
n_backbone = sum(p.numel() for name, p in model.named_parameters() if not name.startswith("fc."))
print(f"(b) frozen backbone: {n_head:,} trainable of {n_backbone + n_head:,} parameters")
test_cache = {}                                  # the test set's features, shared with (c)
head_run = train_one(model, "frozen", sets[max(shots)], recipe, augment=False, device=ctx.device,
                     test_cache=test_cache)
print(f"(b) head on cached features, k={max(shots)}: test accuracy {head_run.test_accuracy:.1%} "
      f"after {head_run.train_seconds:.1f}s ({head_run.steps} head steps, features computed once)")

# %% (c) Scratch vs frozen vs finetune (layer4 + head), for each k, with and without augmentation
# (random crop with 4-pixel padding + horizontal flip, applied per batch on the fly). Scratch and
# finetune get the same number of optimizer steps; fewer images means more passes over them.
print(f"(c) {recipe}")
# (b)'s run is one of these (frozen, k=max, no augmentation): `done` reuses it instead of training it twice.
runs = compare(model, sets, recipe, device=ctx.device, out=ctx.out / "tb", amp=ctx.amp, done=[head_run],
               test_cache=test_cache)
print(format_table(runs))
transfer_comparison(runs, title=f"5-way CIFAR-10, ResNet-18 ({kind} weights), {size}px"
                          if len(classes) == 5 else f"{len(classes)}-way CIFAR-10 ({kind} weights)",
                          path=ctx.out / "transfer.png")
if kind == "random":
    print("NOTE: random weights: 'frozen' and 'finetune' start from an untrained network, so they show the "
          "mechanics only. Run with the ImageNet weights to see transfer beat scratch.")

# %% Results
write_results(ctx, {"weights": kind, "classes": classes, "size": size, "top5": top,
                        "epochs": args.epochs, "recipe": asdict(recipe),
                        "runs": [{k: r[k] for k in ("mode", "shots", "augment", "test_accuracy", "train_seconds")}
                                 for r in runs],
                        "skipped": skipped, "seconds": time.perf_counter() - t_start})
