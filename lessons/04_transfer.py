# %% [markdown]
# # Lesson 04 - Transfer learning: new classes from a few images, thanks to a pretrained backbone
#
# A network trained on a big dataset has learned features (edges, textures, object parts) useful far
# beyond its own classes. We reuse one for 5 CIFAR-10 classes with only k = 5, 10 or 50 images per class,
# three ways (Yosinski et al. 2014): **scratch** (the same architecture from random weights), **frozen**
# (the pretrained backbone fixed, a new linear head trained on its features) and **fine-tune** (the last
# stage trained too). Afterwards you can step through a residual block by hand, say what each stage does
# to the shape of a batch, count what a frozen backbone leaves to train, and read a transfer comparison.
#
# **Needs**: CIFAR-10 (downloaded if absent) and a pretrained backbone: `--backbone resnet18` (torchvision's
# ImageNet weights, 47 MB, downloaded once) or `--backbone yolov5n` (the COCO YOLOv5n checkpoint the data folder
# already holds). **Time** on a 2-core CPU: `--quick` under a minute; the full run about 2 minutes with YOLOv5n.

# %%
flags = ""  # in a notebook, e.g. "--quick --backbone yolov5n"; $MTV_ARGS wins; from the shell: the command line
import torch
from minitorch_vision.cli import lesson_args, setup, write_results
from minitorch_vision.lesson_flags import transfer_flags, transfer_quick_defaults
args = transfer_quick_defaults(lesson_args("Lesson 04 - transfer learning", flags, epochs=4, quick_epochs=3,
                                           batch_size=32, lr=1e-3, extra=transfer_flags))
ctx = setup(args, "04_transfer")

# %% [markdown]
# ## The pretrained backbone
# `load_backbone` reads the weights: `resnet18-f37072fd.pth` (downloaded and sha256-checked when absent) or
# `yolov5n.pt` (by a reader that runs no code from the file). Offline, the default falls back to YOLOv5n and says so.

# %%
from minitorch_vision.backbones import load_backbone
pre = load_backbone(args.backbone, args.weights, ctx.data_dir, allow_download=not args.no_download)
model, spec = pre.model, pre.spec
sizes = {mode: args.size or cpu_gpu[ctx.device.type == "cuda"] for mode, cpu_gpu in spec.sizes.items()}
weights = "random" if pre.weights == "random" else spec.pretrained_on
print(f"backbone: {spec.title}, {weights} weights ({pre.source}); input sizes {sizes}")

# %% [markdown]
# ## The key idea of a ResNet: a residual block
# A `BasicBlock` computes `relu(bn2(conv2(relu(bn1(conv1(x))))) + x)`: two 3x3 convolutions learn a *correction*
# that is added to the input (He et al. 2015). Gradients flow through the `+ x` unchanged, which is what lets 18 (or
# 152) layers train. We step through the first block of `layer1` by hand and check it against the block's own
# `forward`. (With the YOLOv5n backbone the ResNet-18 here has random weights: the arithmetic is the same.)

# %%
from minitorch_vision.models.resnet import resnet18
resnet = model if spec.name == "resnet18" else resnet18().eval()
block = resnet.layer1[0]
print(block)
x = torch.randn(1, 64, 16, 16)                      # (batch, channels, height, width) after the stem
with torch.no_grad():
    h = block.relu(block.bn1(block.conv1(x)))       # conv 3x3 -> BN -> ReLU: (1, 64, 16, 16)
    h = block.bn2(block.conv2(h))                   # conv 3x3 -> BN:          (1, 64, 16, 16)
    out = torch.relu(h + x)                         # plus the identity, then ReLU
    diff = (out - block(x)).abs().max().item()
print(f"x {tuple(x.shape)} -> residual {tuple(h.shape)} -> out {tuple(out.shape)}; max |by hand - forward| = {diff}")
assert diff == 0.0
print("layer2[0] halves the resolution, so its shortcut is a 1x1 conv + BN instead:", resnet.layer2[0].downsample)

# %% [markdown]
# ## What each stage does to the shape
# Every stage halves the resolution and widens the channels; global average pooling then turns the last
# map into one vector per image, whatever the input size. That vector is what the new head reads.

# %%
from minitorch_vision.backbones import stage_shapes
x = torch.rand(2, 3, sizes["frozen"], sizes["frozen"])
for name, shape in stage_shapes(model, x, spec):
    print(f"  {name:<18} {shape}")

# %% [markdown]
# ## Why a detector's backbone transfers to classification
# YOLOv5's backbone was trained on COCO to find 80 kinds of objects anywhere in an image: its stages must recognise
# edges, textures and object parts, and its last stage must say *what* is where, the knowledge a classifier needs,
# spread over a map. Average-pooling turns "a cat-like part somewhere" into one vector, and a linear head learns which
# directions of it mean which class. We pool P3, P4 and P5 (strides 8, 16, 32): P5 alone is very COCO-specific, the
# finer maps add generic texture (`benchmarks/RESULTS.md`). The same holds for ResNet-18's 1000 ImageNet classes.
#
# ## Freezing: what is left to train
# `freeze(stage)` switches gradients off for every stage before `stage` and keeps them in eval mode. Every
# BatchNorm, in the fine-tuned stage too, keeps normalising with its pretrained statistics (batches of a
# few small images give noisy ones); only its scale and shift train.

# %%
import copy
from minitorch_vision.nnutil import count_params
classes = list(args.classes)
probe = copy.deepcopy(model)
probe.replace_head(len(classes))
for mode, first in (("frozen", "fc"), ("finetune", model.LAST_STAGE), ("scratch", model.STAGES[0])):
    probe.freeze(first)
    print(f"  {mode:<9} trains from {first!r:<9}: {count_params(probe):>10,} trainable of "
          f"{count_params(probe, trainable_only=False):,} parameters")

# %% [markdown]
# ## The few-shot data
# k images per class, drawn with the seed; the test set is the same for every k. The frozen backbone
# gives the same features every epoch, so frozen runs compute them ONCE and train the head on the
# cached vectors (seconds instead of minutes on a CPU).

# %%
from minitorch_vision.data import cifar10
from minitorch_vision.transfer import Recipe
shots = sorted(set(args.shots))
xtr, ytr, xte, yte, names, where = cifar10.load_cifar10(ctx.data_dir, args.source, classes,
                                                       allow_download=not args.no_download)
sets = {k: cifar10.mini_dataset(xtr, ytr, names, classes, k, seed=args.seed, test=(xte, yte),
                                test_per_class=args.test_per_class) for k in shots}
steps = args.epochs * -(-max(shots) * len(classes) // args.batch_size)  # --epochs: passes over the largest k
recipe = Recipe(sizes=sizes, mean=spec.mean, std=spec.std, steps=steps, head_steps=args.head_steps,
                batch_size=args.batch_size, lr=args.lr, views=args.views, seed=args.seed)
print(f"CIFAR-10 from {where}; classes {classes}; k = {shots}; {len(sets[shots[0]].y_test)} test images")

# %% [markdown]
# ## Scratch vs frozen vs fine-tune, with and without augmentation
# Scratch and fine-tune get the same number of optimizer steps for every k. Augmentation = a random crop
# (4-pixel padding) and a horizontal flip. Each run is one TensorBoard run (`tensorboard --logdir runs/tb`)
# with its train and test loss/accuracy.

# %%
from minitorch_vision.plots.transfer import transfer_comparison
from minitorch_vision.transfer import accuracy_table, compare
runs, best = compare(model, sets, recipe, device=ctx.device, tb_dir=ctx.tb_dir, amp=ctx.amp, backbone=spec.name)
print(accuracy_table(runs))
transfer_comparison(runs, f"{len(classes)}-way CIFAR-10, {spec.title} ({weights} weights)",
                    ctx.out / "transfer.png", chance=1 / len(classes), caption="The pretrained modes (blue, green) "
                    "start far above scratch (red) at every k; the gap shrinks as k grows.")

# %% [markdown]
# What to look at: at k = 5 or 10 the frozen head already beats scratch by 30 to 40 points: the pretrained features do
# most of the work, and scratch barely leaves chance (dotted line) in as many steps. Fine-tuning the last stage lands
# within a few points of the frozen head (~200x more weights to fit from the same few images), and crop + flip
# augmentation does not help: the pretrained features are already robust to such small shifts. With `--weights random`
# the "pretrained" modes lose their lead; with `--quick` scratch gets only 6 steps and stays at chance.
#
# ## The best classifier on test images and on a photo
# We keep the best non-scratch classifier at the largest k and look at what it predicts.

# %%
from minitorch_vision.data.images import read_image
from minitorch_vision.data.manifest import ensure
from minitorch_vision.errors import DataUnavailable
from minitorch_vision.plots.transfer import predictions_grid, topk_prediction
from minitorch_vision.train import predict
from minitorch_vision.classifier import ClassifierInfo, save_classifier
info = ClassifierInfo(spec.name, pre.weights, classes, sizes[best.mode], best.mode, best.test_accuracy)
test = sets[max(shots)]
pick = torch.linspace(0, len(test.y_test) - 1, 18).long()  # evenly spread: every class appears
conf, guess = torch.softmax(predict(best.model, info.preprocess(test.x_test[pick]), device=ctx.device), 1).max(1)
predictions_grid(test.x_test[pick], [classes[i] for i in test.y_test[pick]], [classes[i] for i in guess], conf,
                 title=f"{spec.title} {best.mode}, k={best.shots}: test images", path=ctx.out / "predictions.png",
                 caption="Green: right, red: wrong (true class in brackets); the mistakes are often similar classes.")
try:  # the sample photo: from the data folder, downloaded (checksummed) if absent
    photo = args.image or ensure("images/cat.png", ctx.data_dir, not args.no_download)
except DataUnavailable as e:
    photo, photo_info = None, {"skipped": f"the photo part ({e})"}  # the report lists it as skipped
    print("skipped:", photo_info["skipped"])
if photo is not None:
    img = read_image(photo)                      # (3, H, W) uint8, any size: preprocess crops and shrinks it
    p = torch.softmax(predict(best.model, info.preprocess(img), device=ctx.device)[0], 0)
    top = sorted(zip(classes, p.tolist()), key=lambda t: -t[1])
    photo_info = {"file": str(photo), "top": top}
    topk_prediction(img, top, title=f"{spec.title} {best.mode} head on a photo ({len(classes)} classes)",
                    path=ctx.out / "top5.png", caption="A real photo through the classifier trained on 32x32 images.")
save_classifier(best.model, info, ctx.out / "classifier.pt")  # lesson 06 reuses it (classifier.load_classifier)

# %% [markdown]
# ## Summary
# A pretrained backbone turns 10 images per class into a usable classifier; the same architecture from
# random weights cannot learn from so few. Below: this run's numbers beside the course's reference run.

# %%
acc = {(r["mode"], r["shots"], r["augment"]): r["test_accuracy"] for r in runs}
k0 = 10 if 10 in shots else shots[0]
print(f"{spec.title} ({weights} weights)")
print(f"k={k0}: scratch {acc['scratch', k0, False]:.1%}, frozen {acc['frozen', k0, False]:.1%}, "
      f"fine-tune {acc['finetune', k0, False]:.1%}; best at k={max(shots)}: {best.mode} {best.test_accuracy:.1%}")
print("reference (benchmarks/RESULTS.md; yolov5n, 64 px, full run, seeds 0 / 1): scratch k=10 0.184 / 0.328, "
      "frozen k=10 0.610 / 0.686, best k=50 0.722 / 0.722")
write_results(ctx, {**pre.record(), "classes": classes, "sizes": sizes, "epochs": args.epochs, "recipe": vars(recipe),
                    "runs": runs, "best": best.record(), "photo": photo_info,
                    "classifier": str(ctx.out / "classifier.pt")})

# %% [markdown]
# ## Exercises
# 1. Run with `--weights random`. Which mode loses the most, and why does fine-tuning an untrained
#    backbone still beat scratch (or not)?
# 2. Change the input size with `--size 32` and `--size 128`: how does frozen accuracy move, and how
#    long does a run take? (Compare with the resolution table in `benchmarks/RESULTS.md`.)
# 3. **With a check**: a nearest-class-mean classifier needs no training at all. Compute the mean frozen
#    feature of each class on the k=10 training images, classify each test image by its closest mean,
#    and store the accuracy in `ncm_accuracy` below. Then run the lesson with `--check-exercises`.
# 4. Open: fine-tune two stages instead of one (train from `layer3` for the ResNet, `stage4` for YOLOv5n:
#    `LAST_STAGE` in `minitorch_vision/models/`) and compare at k = 50. Where does it start to overfit?

# %%
ncm_accuracy = None  # exercise 3: your code here (cached_features(pooled, model, ...) gives the features)
if args.check_exercises:
    assert ncm_accuracy is not None, "exercise 3: set ncm_accuracy to your nearest-class-mean test accuracy"
    assert 1 / len(classes) < ncm_accuracy <= 1, f"ncm_accuracy={ncm_accuracy}: expected above chance"
    print(f"exercise 3 passed: nearest class mean {ncm_accuracy:.1%} vs frozen head {acc['frozen', k0, False]:.1%}")
