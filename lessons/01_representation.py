# %% [markdown]
# # Lesson 01 — Images are numbers, and a linear classifier on raw pixels
#
# After this lesson you can:
# * read an image as an array: a grayscale image is an (H, W) grid of bytes, a colour image three of them;
# * describe pixel values with histograms, per class and per channel;
# * write the training loop yourself — forward, cross-entropy, `zero_grad`, `backward`, `step` — and
#   recognise it inside the library's `fit`;
# * train a linear softmax classifier that gets about 84% of FashionMNIST right, and read its weights.
#
# **Needs:** FashionMNIST (30 MB, downloaded into the data folder on the first run), optionally
# CIFAR-10 images for the colour example. About 20 s on a 2-core laptop CPU; `--quick` about 10 s.

# %%
flags = ""  # in a notebook, e.g. "--quick"; $MTV_ARGS wins; from the shell the command line is used
import torch
from minitorch_vision.cli import lesson_args, setup, write_results
from minitorch_vision.data.fashion_mnist import fashion_mnist_splits
from minitorch_vision.lesson_flags import representation_flags

args = lesson_args("Lesson 01 - images as numbers, a linear classifier", flags, epochs=10, batch_size=128,
                   lr=3e-3, extra=representation_flags)
ctx = setup(args, "01_representation")
data = fashion_mnist_splits(ctx.data_dir, seed=args.seed, quick=args.quick, allow_download=not args.no_download)
classes = data["classes"]

# %% [markdown]
# ## A grayscale image is a grid of bytes
# A FashionMNIST image is 28 x 28 unsigned bytes: 0 is black, 255 is white. Nothing else is stored —
# no edges, no "shoe". Everything a model learns, it learns from these 784 numbers.

# %%
from minitorch_vision.plots import images as figs

img, label = data["test_images"][0], classes[data["test"][1][0]]
print(f"one image: shape {tuple(img.shape)}, dtype {img.dtype}, min {img.min()}, max {img.max()}, class '{label}'")
figs.image_with_values(img.numpy(), f"FashionMNIST test image 0: '{label}'", ctx.out / "grayscale_values.png",
                       caption="Zoom into the boxed corner: every pixel is one number, 0 black to 255 white.")

# %% [markdown]
# ## A colour image is three grids: red, green and blue
# Stored channel-first as (3, H, W) — PyTorch's layout — while matplotlib wants (H, W, 3). Each channel
# alone is a grayscale image: bright where much of that colour's light is.

# %%
from minitorch_vision.examples import example_rgb_image

rgb, source = example_rgb_image(ctx.data_dir, args.image)
hwc = rgb.permute(1, 2, 0).numpy()                     # (3, H, W) -> (H, W, 3)
print(f"{source}: shape {tuple(rgb.shape)} = (channels, height, width); for matplotlib {hwc.shape}")
figs.rgb_channels(hwc, source, ctx.out / "rgb_channels.png",
                  caption="The same scale in every panel (0 = black): where the image is reddish, the red channel is brighter.")
figs.pixel_histograms([hwc[..., i] for i in range(3)], ["red", "green", "blue"], ["tab:red", "tab:green", "tab:blue"],
                      f"{source}: pixel values per channel", ctx.out / "rgb_histogram.png",
                      caption="How the pixel values of each channel are spread; a colour cast shifts one curve to the right.")

# %% [markdown]
# ## Histograms per class
# Pixel statistics already separate some classes: trousers are thin, so most of their pixels are
# black background; coats and bags cover the frame. (The y axis is logarithmic: the black pixels dwarf the rest.)

# %%
from minitorch_vision import tblog

x_img, y_test = data["test_images"], data["test"][1]
picks = [classes.index(c) for c in ("Trouser", "Coat", "Bag")]
figs.pixel_histograms([x_img[y_test == c] for c in picks], [classes[c] for c in picks], ["C0", "C1", "C2"],
                      "FashionMNIST test images: pixel values by class", ctx.out / "class_histograms.png", log=True,
                      caption="Trousers have the most black (0) pixels and the fewest mid-gray ones: thin objects on a dark background.")
tblog.add_images(ctx.tb_dir("linear"), "samples (test set)", x_img[:32])

# %% [markdown]
# ## The training loop, written out
# Flatten each image into a 784-vector and score each class with one linear layer: `logits = W x + b`,
# `W` of shape (10, 784). Cross-entropy turns the 10 logits into a loss; `backward` fills every
# parameter's `.grad`; the optimizer takes a step. One pass over the training set is one *epoch*.

# %%
import torch.nn.functional as F
from minitorch_vision.data.loader import Batches
from minitorch_vision.models.mlp import linear_classifier

x_train, y_train = data["train"]                       # (N, 1, 28, 28) float, standardised
torch.manual_seed(args.seed)
model = linear_classifier().to(ctx.device)
start = {k: v.clone() for k, v in model.state_dict().items()}
opt = torch.optim.Adam(model.parameters(), lr=args.lr)
train = Batches(x_train, y_train, args.batch_size, shuffle=True, seed=args.seed)
losses = []
for xb, yb in train:                                   # one epoch, batch by batch
    xb, yb = xb.to(ctx.device), yb.to(ctx.device)
    logits = model(xb)                                 # (B, 1, 28, 28) -> flatten -> (B, 784) @ W.T -> (B, 10)
    loss = F.cross_entropy(logits, yb)                 # scalar: mean -log softmax(logits)[true class]
    opt.zero_grad()                                    # forget the previous batch's gradients
    loss.backward()                                    # d loss / d W (10, 784) and d loss / d b (10,)
    opt.step()                                         # move W and b against their gradients (Adam)
    if not losses:
        print(f"batch {tuple(xb.shape)} -> logits {tuple(logits.shape)}; W {tuple(model.net[-1].weight.shape)}")
    losses.append(loss.item())
print(f"one epoch by hand: {len(losses)} steps, loss {losses[0]:.3f} -> {losses[-1]:.3f}")

# %% [markdown]
# The library's `train.train_one_epoch` is this same loop (plus mixed precision, a learning-rate schedule and
# the running loss and accuracy). Started from the same weights on the same batches, it must end at the same weights:

# %%
from minitorch_vision.train import train_one_epoch

hand = {k: v.clone() for k, v in model.state_dict().items()}
model.load_state_dict(start)
opt = torch.optim.Adam(model.parameters(), lr=args.lr)
train_one_epoch(model, train, opt, device=ctx.device)
diff = max((hand[k] - v).abs().max().item() for k, v in model.state_dict().items())
print(f"max |hand loop - train_one_epoch| over all weights: {diff:.2g}")
assert diff < 1e-6

# %% [markdown]
# ## `fit` takes over
# `fit` runs `train_one_epoch` once per epoch and adds only bookkeeping: validation accuracy, a
# learning-rate schedule (1cycle), TensorBoard curves (`tensorboard --logdir runs/tb`), a checkpoint.

# %%
from minitorch_vision.nnutil import count_params
from minitorch_vision.plots.training import learning_curves
from minitorch_vision.train import evaluate, fit, one_cycle

torch.manual_seed(args.seed)
model = linear_classifier().to(ctx.device)
opt = torch.optim.Adam(model.parameters(), lr=args.lr)
history = fit(model, train, Batches(*data["val"], batch_size=1000), epochs=args.epochs, opt=opt,
              sched=one_cycle(opt, args.lr, args.epochs, len(train)), device=ctx.device, amp=ctx.amp, out=ctx.out,
              log_dir=ctx.tb_dir("linear"))
test = evaluate(model, Batches(*data["test"], batch_size=1000), ctx.device)
print(f"linear classifier: {count_params(model):,} parameters, test accuracy {test['accuracy']:.4f}")
learning_curves(history, "linear classifier on FashionMNIST pixels", ctx.out / "learning_curves.png",
                caption="Validation accuracy levels off near 0.85 while training creeps up: a linear model has little to over-fit with.")

# %% [markdown]
# ## What did it learn?
# Each row of `W` is a 28x28 template; a class's score is the dot product of the image with its
# template. Red pixels add to the score when bright, blue ones subtract.

# %%
figs.linear_weights(model.net[-1].weight.detach().cpu(), classes, ctx.out / "linear_weights.png",
                    title="linear classifier on FashionMNIST: one weight template per class",
                    caption="Blurry class outlines: Trouser punishes (blue) the gap between the legs, Bag rewards a wide body.")

# %% [markdown]
# ## Summary
# The measured numbers of this run, next to the published ones (Xiao et al. 2017, the FashionMNIST
# benchmark: logistic regression 0.842; a human 0.835 on the same task).

# %%
print(f"linear classifier, {args.epochs} epochs{' (quick: 5,000 images)' if args.quick else ''}: "
      f"test accuracy {test['accuracy']:.4f}   published logistic regression 0.842, human 0.835")
write_results(ctx, {"linear_test_accuracy": test["accuracy"],
                    "best_val_accuracy": max(r["val_accuracy"] for r in history), "epochs": args.epochs,
                    "train_seconds": sum(r["seconds"] for r in history), "params": count_params(model),
                    "hand_loop_max_diff": diff, "rgb_source": source})

# %% [markdown]
# ## Exercises
# 1. **Evaluate by hand.** Write the evaluation loop yourself: for each batch of `data["test"]`, take the
#    `argmax` of the logits under `torch.no_grad()` and count the correct ones. Store the accuracy in
#    `my_accuracy` below, then run the check (`--check-exercises`, or `args.check_exercises = True` in a notebook).
# 2. Train on unstandardised pixels (`x * 0.353 + 0.286` undoes the standardisation) with the same
#    learning rate. What happens to the loss of the first epoch, and why?
# 3. Replace `torch.optim.Adam` by `torch.optim.SGD(..., lr=0.1)` in the hand-written loop. How many
#    epochs does SGD need to match one epoch of Adam?
# 4. Which two classes' templates look most alike? Check your guess against lesson 02's confusion matrix.

# %%
my_accuracy = None  # exercise 1: your hand-computed test accuracy
if args.check_exercises:
    assert my_accuracy is not None, "exercise 1: compute the test accuracy by hand and store it in my_accuracy"
    assert abs(my_accuracy - test["accuracy"]) < 1e-6, f"{my_accuracy} != evaluate's {test['accuracy']:.4f}"
    print("exercise 1: correct")
