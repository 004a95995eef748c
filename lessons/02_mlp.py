# %% [markdown]
# # Lesson 02 — A multilayer perceptron: softmax, cross-entropy, Adam, and where it goes wrong
#
# After this lesson you can:
# * make mini-batches from tensors in memory, and say why that beats a per-image `DataLoader` here;
# * compute softmax and cross-entropy by hand and match `F.cross_entropy`;
# * train an MLP (Linear -> ReLU -> Dropout layers) with Adam, watching train vs validation curves
#   in TensorBoard (`tensorboard --logdir runs/tb`);
# * read a confusion matrix, per-class accuracy and the most confident mistakes.
#
# **Needs:** FashionMNIST (downloaded on the first run). About a minute on a 2-core laptop CPU;
# `--quick` (5,000 training images) about 15 s. `--resume` continues a stopped run from its checkpoint.

# %%
flags = ""  # in a notebook, e.g. "--quick"; $MTV_ARGS wins; from the shell the command line is used
import torch
from minitorch_vision.cli import lesson_args, setup, write_results
from minitorch_vision.data.fashion_mnist import fashion_mnist_splits
from minitorch_vision.lesson_flags import mlp_flags

args = lesson_args("Lesson 02 - an MLP on FashionMNIST", flags, epochs=10, batch_size=256, lr=2e-3,
                   quick_epochs=10, extra=mlp_flags)
ctx = setup(args, "02_mlp")
data = fashion_mnist_splits(ctx.data_dir, seed=args.seed, quick=args.quick, allow_download=not args.no_download)
classes, (x_train, y_train) = data["classes"], data["train"]

# %% [markdown]
# ## Mini-batches
# The usual PyTorch pipeline is a `Dataset` that returns one (image, label) pair per call, stacked into
# batches by a `DataLoader`: one Python call per image. FashionMNIST fits in memory, so a batch can
# instead be one index into the whole tensor (`data.loader.Batches`). Same batches, far less Python:

# %%
import time
from torch.utils.data import DataLoader, TensorDataset
from minitorch_vision.data.loader import Batches

n = min(20 * args.batch_size, len(x_train))
x, y = x_train[:n], y_train[:n]
for name, batches in [("DataLoader, one image per call", DataLoader(TensorDataset(x, y), args.batch_size, True)),
                      ("Batches, one index per batch", Batches(x, y, args.batch_size, shuffle=True))]:
    t = time.perf_counter()
    for xb, yb in batches:
        pass
    ms = 1e3 * (time.perf_counter() - t)
    print(f"{name:32s} {n} images in {ms:6.1f} ms; a batch: {tuple(xb.shape)}, {tuple(yb.shape)}")

# %% [markdown]
# ## Softmax and cross-entropy, by hand
# A classifier outputs one *logit* per class. Softmax turns them into probabilities,
# `p_k = exp(z_k) / sum_j exp(z_j)` (subtracting the row's max first changes nothing and avoids
# overflow). Cross-entropy is the mean of `-log p[true class]`: small when the model is confident and right.

# %%
import torch.nn.functional as F
from minitorch_vision.models.mlp import MLP, MLPConfig

model = MLP(MLPConfig(hidden=args.hidden, dropout=args.dropout)).to(ctx.device)
xb, yb = x_train[:8].to(ctx.device), y_train[:8].to(ctx.device)
logits = model(xb)                                               # (8, 1, 28, 28) -> (8, 10)
z = logits - logits.max(dim=1, keepdim=True).values               # (8, 10), each row's max is 0
probs = z.exp() / z.exp().sum(dim=1, keepdim=True)                # (8, 10), rows sum to 1
loss = -probs[torch.arange(len(yb)), yb].log().mean()             # pick each row's true class: (8,) -> ()
print(f"logits {tuple(logits.shape)}, probs {tuple(probs.shape)}, row sums {probs.sum(1).tolist()[:4]} ...")
print(f"cross-entropy by hand {loss.item():.6f}  F.cross_entropy {F.cross_entropy(logits, yb).item():.6f}  "
      f"(an untrained model guesses: ln 10 = 2.303)")
assert torch.allclose(loss, F.cross_entropy(logits, yb), atol=1e-6)

# %% [markdown]
# ## The MLP, trained with Adam
# 784 -> 512 -> 256 -> 10 with ReLU between layers and dropout against over-fitting. `fit` runs the
# loop of lesson 01 once per epoch; the validation split (carved from the training set) tells us
# whether the model generalises. The model's graph goes to TensorBoard's GRAPHS tab.

# %%
from minitorch_vision import tblog
from minitorch_vision.nnutil import count_params
from minitorch_vision.plots.training import learning_curves
from minitorch_vision.train import evaluate, fit, one_cycle

print(model)
print(f"{count_params(model):,} parameters")
train = Batches(x_train, y_train, args.batch_size, shuffle=True, seed=args.seed)
opt = torch.optim.Adam(model.parameters(), lr=args.lr)
history = fit(model, train, Batches(*data["val"], batch_size=1000), epochs=args.epochs, opt=opt,
              sched=one_cycle(opt, args.lr, args.epochs, len(train)), device=ctx.device, amp=ctx.amp, out=ctx.out,
              log_dir=ctx.tb_dir("mlp"), resume=args.resume)
tblog.add_graph(ctx.tb_dir("mlp"), model, xb)
learning_curves(history, f"MLP {args.hidden} on FashionMNIST", ctx.out / "learning_curves.png",
                caption="Training accuracy keeps climbing while validation flattens: the gap is what the MLP memorised.")

# %% [markdown]
# ## Test once, at the end
# The test set was used for no choice (architecture, epochs, learning rate), so its accuracy is an
# honest estimate of the accuracy on new images.

# %%
test = evaluate(model, Batches(*data["test"], batch_size=1000), ctx.device)
print(f"MLP test accuracy {test['accuracy']:.4f} (the FashionMNIST benchmark's MLP: 0.883)")

# %% [markdown]
# ## Where is it wrong?
# The confusion matrix counts (true class, predicted class) pairs. Look for the dark cells off the
# diagonal: shirts, T-shirts, pullovers and coats share a silhouette at 28x28 pixels.

# %%
from minitorch_vision.diagnostics import diagnose
from minitorch_vision.plots.training import diagnostics_figures
from minitorch_vision.train import predict

probs = predict(model, data["test"][0], device=ctx.device).softmax(1)   # (N_test, 10)
diag = diagnose(probs, data["test"][1], classes)
diagnostics_figures(diag, data["test_images"], classes, ctx.out, "MLP", captions={
    "confusion_matrix": "The largest off-diagonal counts are among Shirt, T-shirt/top, Pullover and Coat.",
    "per_class_accuracy": "Shirt is the hardest class by far; trousers, bags and sandals are almost always right.",
    "worst_mistakes": "Confident mistakes are often plausible: many would fool a person at this resolution."})
tblog.add_images(ctx.tb_dir("mlp"), "worst mistakes (test set)", data["test_images"][diag["mistakes"]["index"]])
for p in diag["summary"]["most_confused"]:
    print(f"  {p['true']:>12s} taken for {p['predicted']:<12s} {p['count']} times")

# %% [markdown]
# ## Summary
# Measured in this run, next to the published numbers (Xiao et al. 2017: an MLP 0.883 in the
# FashionMNIST benchmark; a human 0.835; the linear model of lesson 01 about 0.84).

# %%
print(f"MLP {args.hidden}, {len(history)} epochs on {len(x_train):,} images: test accuracy {test['accuracy']:.4f}, "
      f"best validation {max(r['val_accuracy'] for r in history):.4f}   published MLP 0.883, human 0.835")
write_results(ctx, {"test_accuracy": test["accuracy"], "best_val_accuracy": max(r["val_accuracy"] for r in history),
                    "epochs": len(history), "train_seconds": sum(r["seconds"] for r in history),
                    "params": count_params(model), "hidden": list(args.hidden), "history": history,
                    "budget": {"epochs": len(history), "train_images": len(x_train), "batch_size": args.batch_size},
                    "diagnostics": diag["summary"]})

# %% [markdown]
# ## Exercises
# 1. **Label smoothing by hand.** Cross-entropy with smoothing `eps` uses the target
#    `(1 - eps) * one_hot + eps / K`. Compute it for the batch above with `eps = 0.1` into `smoothed`,
#    then run the check (`--check-exercises`, or `args.check_exercises = True` in a notebook); it
#    compares with `F.cross_entropy(logits, yb, label_smoothing=0.1)`.
# 2. Train without dropout (`--dropout 0`) and with `--hidden 1024,1024`: which run over-fits, and
#    where do you see it in the learning curves?
# 3. Open TensorBoard and compare this run's curves with lesson 01's linear model.
# 4. The worst mistakes are very confident. Is the model *calibrated*? Bin the test predictions by
#    confidence and compare each bin's mean confidence with its accuracy.

# %%
smoothed = None  # exercise 1: label-smoothed cross-entropy of (logits, yb), eps = 0.1
if args.check_exercises:
    assert smoothed is not None, "exercise 1: compute the label-smoothed loss into `smoothed`"
    want = F.cross_entropy(logits, yb, label_smoothing=0.1)
    assert torch.allclose(torch.as_tensor(smoothed), want, atol=1e-5), f"{float(smoothed):.5f} != {want.item():.5f}"
    print("exercise 1: correct")
