# %% [markdown]
# # Lesson 03 — Convolution: a small matrix multiply slid over the image
#
# After this lesson you can: build a convolution (and max-pooling) from `im2col` and one matmul and
# check it against PyTorch; say why a conv layer needs hundreds of parameters where a dense layer needs
# millions; train a CNN past 92.5% test accuracy, beat the MLP on the same budget and look at its
# learned filters; run a kernel size x depth study and tell when a study is too short to conclude.
#
# **Needs:** FashionMNIST. About 6.5 minutes on a 2-core laptop CPU (the CNN about 4, the study about 2);
# `--quick` under a minute. `--resume` continues a stopped run; `torchrun` trains on several processes.

# %%
flags = ""  # in a notebook, e.g. "--quick"; $MTV_ARGS wins; from the shell the command line is used
import torch
from minitorch_vision import ops, studies, tblog
from minitorch_vision.cli import lesson_args, setup, write_results
from minitorch_vision.data.fashion_mnist import fashion_mnist_splits
from minitorch_vision.lesson_flags import cnn_flags, study_budget
args = lesson_args("Lesson 03 - a CNN on FashionMNIST", flags, epochs=8, batch_size=256, lr=3e-3, quick_epochs=2,
                   extra=cnn_flags)
ctx = setup(args, "03_cnn")
data = fashion_mnist_splits(ctx.data_dir, seed=args.seed, quick=args.quick, allow_download=not args.no_download)
classes, (x_train, y_train) = data["classes"], data["train"]

# %% [markdown]
# ## im2col: every k x k patch becomes a column
# A 3x3 convolution computes, at every pixel, the dot product of a 3x3 filter with the 3x3 patch
# around it. Copy every patch into one column of a matrix (padding 1 keeps 28x28 outputs): the
# image becomes a (9, 784) *patch matrix*, and the whole convolution one matrix multiply.

# %%
import torch.nn.functional as F
from minitorch_vision.plots import training as figs
x = data["test"][0][:1]                                           # (1, 1, 28, 28): one image
cols, (oh, ow) = ops.im2col(x, kernel_size=3, padding=1)          # (1, 1*3*3, 28*28)
print(f"image {tuple(x.shape)} -> patch matrix {tuple(cols.shape)}, output {oh}x{ow}")
figs.im2col_patch(x[0, 0], cols[0], (10, 14), 3, ctx.out / "im2col.png",
                  caption="The boxed 3x3 patch is one column of the patch matrix: one column per output pixel.")
weight = torch.randn(4, 1, 3, 3)                                  # 4 filters of 1x3x3
out = (weight.view(4, -1) @ cols).view(1, 4, oh, ow)              # (4, 9) @ (1, 9, 784) -> (1, 4, 784) -> 28x28
diff = (out - F.conv2d(x, weight, padding=1)).abs().max().item()
print(f"weight @ patches {tuple(out.shape)}; max |difference to F.conv2d| = {diff:.2g}; ops.conv2d is this matmul")
assert diff < 1e-5 and torch.allclose(ops.conv2d(x, weight, padding=1), out, atol=1e-6)

# %% [markdown]
# ## Max-pooling is the same trick with `max` instead of a dot product
# 2x2 windows with stride 2 do not overlap: each column holds 4 pixels, and the maximum of each column
# is one output pixel — the image shrinks to 14x14, keeping the strongest response of each window.

# %%
pcols, (ph, pw) = ops.im2col(x, kernel_size=2, stride=2)         # (1, 4, 196)
pooled = pcols.max(dim=1).values.view(1, 1, ph, pw)              # (1, 196) -> (1, 1, 14, 14)
print(f"pool patches {tuple(pcols.shape)} -> pooled {tuple(pooled.shape)}; "
      f"equal to F.max_pool2d: {torch.equal(pooled, F.max_pool2d(x, 2))}")
assert torch.equal(pooled, F.max_pool2d(x, 2)) and torch.equal(ops.max_pool2d(x, 2), pooled)

# %% [markdown]
# ## Why convolutions: weight sharing
# A conv layer uses the same small filters at every position. A dense layer producing the same
# 32 x 28 x 28 output from the same input needs one weight per (input pixel, output value) pair.

# %%
from minitorch_vision.nnutil import count_params, eval_mode
conv, dense = torch.nn.Conv2d(1, 32, 3, padding=1), torch.nn.Linear(28 * 28, 32 * 28 * 28)
print(f"conv 1->32, 3x3: {count_params(conv):,} parameters;  dense 784 -> {32 * 28 * 28:,}: "
      f"{count_params(dense):,} parameters ({count_params(dense) / count_params(conv):,.0f}x more)")

# %% [markdown]
# ## The CNN
# Blocks of conv -> 2x2 max-pool -> batch norm -> ReLU, each doubling the channels and halving the resolution, then
# dropout and a small dense head; training uses `nn.Conv2d`, the maths above in a tuned kernel. The shapes:

# %%
from minitorch_vision.models.cnn import CNN, CNNConfig
config = CNNConfig(kernel_size=args.kernel_size, conv_blocks=args.conv_blocks, width=args.width)
torch.manual_seed(args.seed)  # the same initial weights whether or not the cells above ran
model = CNN(config).to(ctx.device, memory_format=torch.channels_last)  # NHWC: oneDNN's fast CPU layout
h = x.to(ctx.device)
with eval_mode(model), torch.no_grad():  # eval: one image must not move batch norm's running statistics
    for i, block in enumerate(model.features):
        h = block(h)
        print(f"after block {i + 1}: {tuple(h.shape)}")
    print(f"head -> {tuple(model.head(h).shape)}; {count_params(model):,} parameters")

# %% [markdown]
# ## Training, timed DAWNBench-style
# The test accuracy after each epoch only times the run to 92.5%; every choice was made on validation data.

# %%
from minitorch_vision.data.loader import Batches
from minitorch_vision.train import evaluate, fit, one_cycle, predict
test_batches = Batches(*data["test"], batch_size=1000)
train = ctx.train_batches(x_train, y_train, args.batch_size, seed=args.seed)  # under torchrun: 1/N per process
opt = torch.optim.Adam(model.parameters(), lr=args.lr)
history = fit(ctx.parallel(model), train, Batches(*data["val"], batch_size=1000), epochs=args.epochs, opt=opt,
              sched=one_cycle(opt, args.lr, args.epochs, len(train)), device=ctx.device, amp=ctx.amp, out=ctx.out,
              log_dir=ctx.tb_dir("cnn"), resume=args.resume, on_epoch_end=lambda epoch, rec: rec.update(
                  test_accuracy=evaluate(model, test_batches, ctx.device)["accuracy"]))
ctx.end_parallel()  # under torchrun, rank 0 alone goes on to evaluate, plot and write
test_acc = history[-1]["test_accuracy"]
time_to_target = next((r["elapsed"] for r in history if r["test_accuracy"] >= args.target), None)
tblog.add_graph(ctx.tb_dir("cnn"), model, x.to(ctx.device))
figs.learning_curves(history, f"CNN k={args.kernel_size}, {args.conv_blocks} blocks on FashionMNIST",
                     ctx.out / "learning_curves.png", caption="Validation and test climb together to about 0.925; "
                     "training accuracy runs ahead (memorisation).")

# %% [markdown]
# ## What did the first layer learn?
# Its filters start random; trained, many are edge and blob detectors (compare lesson 01's templates).
# Their feature maps on one image show where each pattern occurs.

# %%
first = model.features[0][0]                                      # nn.Conv2d(1, width, k)
maps = first(x.to(ctx.device))[0].detach().cpu()                  # (width, 28, 28)
print(f"first-layer weight {tuple(first.weight.shape)}, feature maps {tuple(maps.shape)}")
figs.conv_filters(first.weight.detach().cpu(), f"CNN on FashionMNIST: the {first.weight.shape[0]} learned "
                  f"{args.kernel_size}x{args.kernel_size} first-layer filters", ctx.out / "filters.png",
                  caption="Learned filters: several are oriented edge detectors, a red side next to a blue side.")
figs.feature_maps(data["test_images"][0], maps, "CNN on FashionMNIST: first-layer feature maps of one test image",
                  ctx.out / "feature_maps.png", caption="Each map lights up where its filter's pattern is: edges on "
                  "one side, the whole shape, the background.")

# %% [markdown]
# ## Where is it still wrong? And is it really better than the MLP?
# A fair comparison gives both the same budget: lesson 02's MLP trains on the same batches for the same
# epochs (its result is read back when lesson 02 ran with this very budget).

# %%
from minitorch_vision.diagnostics import diagnose
diag = diagnose(predict(model, data["test"][0], device=ctx.device).softmax(1), data["test"][1], classes)
figs.diagnostics_figures(diag, data["test_images"], classes, ctx.out, "CNN on FashionMNIST", captions={
    "confusion_matrix": "Compare with lesson 02: fewer off-diagonal counts; the upper-body classes still mix.",
    "per_class_accuracy": "Compare with lesson 02's bars: Shirt is still the hardest class.",
    "worst_mistakes": "The CNN's confident mistakes: several look mislabelled or ambiguous."})
tblog.add_images(ctx.tb_dir("cnn"), "worst mistakes (test set)", data["test_images"][diag["mistakes"]["index"]])
mlp = studies.mlp_baseline(Batches(x_train, y_train, args.batch_size, shuffle=True, seed=args.seed), test_batches,
                           epochs=args.epochs, seed=args.seed, quick=args.quick, device=ctx.device,
                           log_dir=ctx.tb_dir("mlp-same-budget"), reuse=ctx.out.parent / "02_mlp" / "results.json")
cnn_budget = studies.budget(args.epochs, len(x_train), args.batch_size)
print(f"MLP {mlp['test_accuracy']:.4f} ({mlp['params']:,} params, {mlp['source']}) vs CNN {test_acc:.4f} "
      f"({count_params(model):,} params), both {cnn_budget}")
figs.model_comparison(["MLP", "CNN"], [mlp["test_accuracy"], test_acc], [mlp["budget"], cnn_budget],
                      "FashionMNIST test set: MLP vs CNN, same training budget", ctx.out / "mlp_vs_cnn.png",
                      caption="Same data, same epochs: the CNN's error rate (right) is clearly lower.")

# %% [markdown]
# ## A study: kernel size x depth
# Nine narrow CNNs (kernel 3, 5, 7 x 1, 2, 3 blocks), same slice, seed and budget, scored on validation
# data. A lead below the noise is no ranking: a paired test says which configurations are really worse
# than the best, and among the rest we pick the cheapest (the one-standard-error rule). A study whose best
# CNN is not clearly above a linear classifier on raw pixels (0.842) is too short to conclude. Look at the
# spread: all nine land within about 0.01, and the best (3x3 with 2 blocks on seeds 0, 1 and 2 in our runs)
# leads by less than the noise, so the cheap pick is as good a choice as the winner.

# %%
study_rows, verdict = [], None
if not args.skip_study:
    s_epochs, n = study_budget(args)
    n = min(n, len(x_train))
    study = studies.kernel_study(x_train[:n], y_train[:n], *data["val"], width=args.study_width, epochs=s_epochs,
                                 lr=args.lr, batch_size=args.batch_size, seed=args.seed, device=ctx.device,
                                 log_root=ctx.tb_dir("study"))
    verdict = studies.study_verdict(study, data["val"][1])           # reads the (9, N_val) predictions
    print(verdict["text"])
    study_rows = study["rows"]                                      # one dict per configuration
    figs.kernel_study(study_rows, f"CNN kernel study on FashionMNIST, width {args.study_width}: {s_epochs} epoch(s) x "
                      f"{n:,} images each{'' if verdict['conclusive'] else ' - too short to conclude'}",
                      ctx.out / "kernel_study.png", caption=verdict["text"],
                      pick=verdict["pick"] if verdict["conclusive"] else None, noise=verdict["noise"])

# %% [markdown]
# ## Summary
# This run beside published numbers (Xiao et al. 2017); small CNNs like this one are reported at 0.91-0.93.

# %%
print(f"CNN {test_acc:.4f} (time to {args.target}: {'-' if time_to_target is None else round(time_to_target)} s)  "
      f"MLP same budget {mlp['test_accuracy']:.4f}   published MLP 0.883, human 0.835")
write_results(ctx, {"test_accuracy": test_acc, "best_val_accuracy": max(r["val_accuracy"] for r in history),
                    "epochs": len(history), "train_seconds": sum(r["seconds"] for r in history),
                    "params": count_params(model), "time_to_target_seconds": time_to_target,
                    "target_accuracy": args.target, "config": vars(config), "budget": cnn_budget,
                    "mlp_test_accuracy": mlp["test_accuracy"], "mlp": mlp, "kernel_study": study_rows,
                    "kernel_study_verdict": verdict, "history": history, "diagnostics": diag["summary"]})

# %% [markdown]
# ## Exercises
# 1. **Stride by hand.** Compute the stride-2 convolution of `x` with `weight` (padding 1) as `weight @ patches`, below.
# 2. Parameters of a 5x5 conv layer from 32 to 64 channels vs a dense layer computing the same output from 14x14x32?
# 3. Is one block enough? Train the main model with `--conv-blocks 1` at the full budget; compare with the study.
# 4. Rerun the study with `--seed 3`: the same winner? What budget (`--study-epochs`, `--study-train`) makes it clear?

# %%
strided = None  # exercise 1, shape (1, 4, 14, 14); check: --check-exercises (notebook: args.check_exercises = True)
if args.check_exercises:
    assert strided is not None, "exercise 1: compute the stride-2 convolution into `strided`"
    want = F.conv2d(x, weight, padding=1, stride=2)
    assert strided.shape == want.shape, f"shape {tuple(strided.shape)}, expected {tuple(want.shape)}"
    assert torch.allclose(strided, want, atol=1e-5), "values differ from F.conv2d(..., stride=2)"
    print("exercise 1: correct")
