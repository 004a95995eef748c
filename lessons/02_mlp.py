"""Lesson 02 - a multilayer perceptron on FashionMNIST: ReLU, cross-entropy, Adam, curves in TensorBoard.

What it teaches:
  * how mini-batches are made: the usual per-sample Dataset + DataLoader, and why this course
    slices tensors held in memory instead (same batches, a fraction of the time);
  * an MLP: Linear -> ReLU -> Dropout layers on the flattened 784 pixels, trained with
    cross-entropy (softmax + negative log-likelihood) and Adam (Kingma & Ba 2015);
  * a held-out validation split to watch over-fitting; train/validation loss and accuracy per
    epoch in TensorBoard (``tensorboard --logdir runs/02_mlp/tb``) and as a PNG;
  * error diagnostics: the confusion matrix, per-class accuracy and the most confident mistakes.

Run:  python lessons/02_mlp.py [--data-dir DIR] [--quick]
Writes runs/02_mlp/{results.json, *.png, tb/, checkpoint.pt}; --resume continues a stopped run.
"""
# %% Set-up: flags, seed, threads, device, output folder
import time

import torch  # noqa: E402

from minitorch_vision.plots.training import diagnostics_figures, learning_curves  # noqa: E402
from minitorch_vision.cli import dropout_rate, int_list, lesson_args, setup, write_results  # noqa: E402
from minitorch_vision.data.fashion_mnist import fashion_mnist_splits  # noqa: E402
from minitorch_vision.data.loader import Batches  # noqa: E402
from minitorch_vision.models.mlp import MLP, MLPConfig  # noqa: E402
from minitorch_vision.nnutil import count_params  # noqa: E402
from minitorch_vision.train import evaluate, fit, one_cycle, predict  # noqa: E402


def extra_flags(p):
    p.add_argument("--hidden", type=int_list, default="512,256", help="hidden layer widths, comma-separated")
    p.add_argument("--dropout", type=dropout_rate, default=0.2, help="dropout probability after each hidden layer")
    p.add_argument("--resume", action="store_true", help="continue from <out>/checkpoint.pt")


args = lesson_args(__doc__, epochs=20, batch_size=128, lr=2e-3, extra=extra_flags, quick_epochs=10)
ctx = setup(args, "02_mlp")
data = fashion_mnist_splits(ctx.data_dir, seed=args.seed, quick=args.quick, allow_download=not args.no_download)
classes = data["classes"]
x_train, y_train = data["train"]

# %% The DataLoader way, once: a Dataset returns one (image, label) pair per call
from torch.utils.data import DataLoader, Dataset  # noqa: E402


class OneByOne(Dataset):
    def __init__(self, x, y):
        self.x, self.y = x, y

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):            # one Python call per image...
        return self.x[i], self.y[i]


n = min(5000, len(x_train))
t = time.perf_counter()
for xb, yb in DataLoader(OneByOne(x_train[:n], y_train[:n]), batch_size=args.batch_size, shuffle=True):
    pass
t_loader = time.perf_counter() - t
t = time.perf_counter()
for xb, yb in Batches(x_train[:n], y_train[:n], args.batch_size, shuffle=True):  # ...vs one slice per batch
    pass
t_slices = time.perf_counter() - t
print(f"{n} images: DataLoader {t_loader * 1e3:.0f} ms, in-memory slices {t_slices * 1e3:.1f} ms "
      f"({t_loader / t_slices:.0f}x); benchmarks/data_pipeline.py measures a full epoch")

# %% The model: 784 -> 512 -> 256 -> 10, ReLU between, dropout against over-fitting
config = MLPConfig(hidden=args.hidden, dropout=args.dropout)
model = MLP(config).to(ctx.device)
print(model)
print(f"{count_params(model):,} parameters")

# %% Train with Adam and the 1cycle schedule; loss and accuracy go to TensorBoard every epoch
train = Batches(x_train, y_train, args.batch_size, shuffle=True, seed=args.seed)
val = Batches(*data["val"], batch_size=1000)
opt = torch.optim.Adam(model.parameters(), lr=args.lr)
history = fit(model, train, val, epochs=args.epochs, opt=opt, sched=one_cycle(opt, args.lr, args.epochs, len(train)),
              device=ctx.device, amp=ctx.amp, out=ctx.out, log_dir=ctx.tb_dir("mlp"), resume=args.resume)
learning_curves(history, f"MLP {config.hidden}", ctx.out / "learning_curves.png")

# %% Test once, at the end, on images the model and our choices never saw
test = evaluate(model, Batches(*data["test"], batch_size=1000), ctx.device)
print(f"MLP test accuracy {test['accuracy']:.4f} (published MLP baseline: 0.883)")

# %% Where is it wrong? Shirts vs T-shirts vs pullovers vs coats, as one would guess
probs = predict(model, data["test"][0], device=ctx.device).softmax(1)
diag = diagnostics_figures(probs, data["test"][1], data["test_images"], classes, ctx.out)
for p in diag["most_confused"]:
    print(f"  {p['true']:>12s} taken for {p['predicted']:<12s} {p['count']} times")

write_results(ctx, {
    "lesson": "02_mlp",
    "test_accuracy": test["accuracy"],
    "best_val_accuracy": max(r["val_accuracy"] for r in history),
    "epochs": len(history),
    "train_seconds": sum(r["seconds"] for r in history),
    "params": count_params(model),
    "hidden": list(config.hidden),
    "history": history,
    "diagnostics": diag,
    "figures": sorted(p.name for p in ctx.out.glob("*.png")),
})
