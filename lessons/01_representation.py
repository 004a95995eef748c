"""Lesson 01 - representation: images are arrays of numbers, and a linear classifier on raw pixels.

What it teaches:
  * a grayscale image is a 2-D array of uint8 brightness values (28x28 for FashionMNIST);
  * a colour image is three such arrays (channels), stored here channel-first as (3, H, W);
  * pixel histograms show how the values are spread, per class and per channel;
  * flattening turns an image into a 784-vector, which a linear softmax classifier can score;
  * that classifier (multinomial logistic regression) already gets ~84% of FashionMNIST right,
    and its weights, drawn as images, look like blurry class templates.

Run:  python lessons/01_representation.py [--data-dir DIR] [--quick]
Writes runs/01_representation/{results.json, *.png, tb/}.
"""
# %% Set-up: flags, seed, threads, device, output folder

import torch  # noqa: E402

from minitorch_vision.plots.images import image_with_values, linear_weights, pixel_histograms, rgb_channels  # noqa: E402
from minitorch_vision.plots.training import learning_curves  # noqa: E402
from minitorch_vision.cli import lesson_args, setup, write_results  # noqa: E402
from minitorch_vision.data.fashion_mnist import fashion_mnist_splits  # noqa: E402
from minitorch_vision.data.images import list_images, read_image  # noqa: E402
from minitorch_vision.data.loader import Batches  # noqa: E402
from minitorch_vision.models.mlp import linear_classifier  # noqa: E402
from minitorch_vision.nnutil import count_params  # noqa: E402
from minitorch_vision.train import evaluate, fit, one_cycle  # noqa: E402


def extra_flags(p):
    p.add_argument("--image", default=None, help="an RGB image of your own for the channels demo")


args = lesson_args(__doc__, epochs=10, batch_size=128, lr=3e-3, extra=extra_flags)
ctx = setup(args, "01_representation")
data = fashion_mnist_splits(ctx.data_dir, seed=args.seed, quick=args.quick, allow_download=not args.no_download)
classes = data["classes"]

# %% A grayscale image is a 28x28 array of bytes
img = data["test_images"][0]                     # (28, 28) uint8, 0 = black, 255 = white
print(f"one FashionMNIST image: shape {tuple(img.shape)}, dtype {img.dtype}, "
      f"min {img.min().item()}, max {img.max().item()}, label '{classes[data['test'][1][0]]}'")
print("its top-left 8x12 corner:\n", img[:8, :12].numpy())
image_with_values(img.numpy(), f"'{classes[data['test'][1][0]]}': 28x28 uint8 pixels", ctx.out / "grayscale_values.png")

# %% A colour image is three arrays: red, green and blue
# Prefer a user image, then a CIFAR-10 sample from the data folder, else a generated test pattern.
cifar = ctx.data_dir / "cifar10-images" / "test" / "cat"
if args.image:
    rgb, source = read_image(args.image), args.image
elif cifar.is_dir() and list_images(cifar):
    rgb, source = read_image(list_images(cifar)[0]), "a CIFAR-10 test image"
else:
    yy, xx = torch.meshgrid(torch.linspace(0, 1, 64), torch.linspace(0, 1, 64), indexing="ij")
    rgb = (torch.stack([xx, yy, 1 - (xx - 0.5).abs() * 2]) * 255).round().to(torch.uint8)
    source = "a generated test pattern"
print(f"RGB image from {source}: shape {tuple(rgb.shape)} = (channels, height, width)")
hwc = rgb.permute(1, 2, 0).numpy()                # matplotlib wants (H, W, 3)
rgb_channels(hwc, f"{source} {tuple(rgb.shape)}", ctx.out / "rgb_channels.png")
pixel_histograms([hwc[..., i] for i in range(3)], ["red", "green", "blue"], ["r", "g", "b"],
                       "pixel values per channel", ctx.out / "rgb_histogram.png")

# %% Histograms per class: trousers are thin (many black pixels), bags and coats are not
x_img, y_test = data["test_images"], data["test"][1]
picks = [1, 4, 8]  # Trouser, Coat, Bag
pixel_histograms([x_img[y_test == c] for c in picks], [classes[c] for c in picks], ["C0", "C1", "C2"],
                       "FashionMNIST pixel values by class", ctx.out / "class_histograms.png")

# %% Flattening: an image becomes a vector of 784 numbers (the layout is lost, the values are not)
x_train, y_train = data["train"]                  # (N, 1, 28, 28), standardised (mean 0, std 1)
flat = x_train.flatten(1)                          # (N, 784)
print(f"flattened training set: {tuple(flat.shape)}")

# %% A linear softmax classifier on raw pixels: logits = W x + b, trained with cross-entropy and Adam
model = linear_classifier().to(ctx.device)
train = Batches(x_train, y_train, args.batch_size, shuffle=True, seed=args.seed)
val = Batches(*data["val"], batch_size=1000)
opt = torch.optim.Adam(model.parameters(), lr=args.lr)
history = fit(model, train, val, epochs=args.epochs, opt=opt,
              sched=one_cycle(opt, args.lr, args.epochs, len(train)), device=ctx.device, amp=ctx.amp, out=ctx.out,
              log_dir=ctx.tb_dir("linear"))
test = evaluate(model, Batches(*data["test"], batch_size=1000), ctx.device)
print(f"linear classifier: {count_params(model)} parameters, test accuracy {test['accuracy']:.4f}")

# %% What did it learn? Each row of W is a 28x28 template the image is compared against
linear_weights(model.net[-1].weight.detach().cpu(), classes, ctx.out / "linear_weights.png")
learning_curves(history, "linear classifier on raw pixels", ctx.out / "learning_curves.png")

write_results(ctx, {
    "lesson": "01_representation",
    "linear_test_accuracy": test["accuracy"],
    "best_val_accuracy": max(r["val_accuracy"] for r in history),
    "epochs": args.epochs,
    "train_seconds": sum(r["seconds"] for r in history),
    "params": count_params(model),
    "rgb_source": source,
    "figures": sorted(p.name for p in ctx.out.glob("*.png")),
})
