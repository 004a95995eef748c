"""Is the kernel study trained long enough? Its best configuration on several seeds, per budget.

    python benchmarks/kernel_study_seeds.py --data-dir ../shared/data --seeds 0 1 2 3 --epochs 4 --train 10000

Runs lesson 03's study (:func:`studies.kernel_study`, the lesson's width, learning rate and batch size, one
thread) on each seed's own split and prints, per seed, the best configuration, its lead over the runner-up
in validation images, the paired test's two standard errors for that lead, and the verdict; then the nine
accuracies side by side. Seed 0 with the lesson's default budget reproduces the lesson's own study.
About 100 s per seed at 4 epochs x 10,000 images on one 2-core laptop thread.
"""
import argparse

import torch

from _common import data_dir
from minitorch_vision import studies
from minitorch_vision.data.fashion_mnist import fashion_mnist_splits
from minitorch_vision.lesson_flags import STUDY


def name(r):
    return f"{r['kernel_size']}x{r['kernel_size']}/{r['conv_blocks']}"


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    p.add_argument("--epochs", type=int, default=STUDY[0], help="epochs per configuration (default: the lesson's)")
    p.add_argument("--train", type=int, default=STUDY[1], help="training images per configuration")
    p.add_argument("--width", type=int, default=16)
    args = p.parse_args()
    torch.set_num_threads(1)
    root, table = data_dir(args.data_dir), {}
    for seed in args.seeds:
        data = fashion_mnist_splits(root, seed=seed, quick=False, allow_download=False)
        (x, y), (xv, yv) = data["train"], data["val"]
        study = studies.kernel_study(x[:args.train], y[:args.train], xv, yv, width=args.width, epochs=args.epochs,
                                     lr=3e-3, batch_size=256, seed=seed, verbose=False)   # lesson 03's lr, batch
        rows, right = study["rows"], study["predictions"] == yv
        order = sorted(range(len(rows)), key=lambda i: -rows[i]["val_accuracy"])
        gap, se = studies.paired_gap(right[order[0]], right[order[1]])
        seconds = sum(r["train_seconds"] for r in rows)
        print(f"seed {seed}: best {name(rows[order[0]])}, ahead of {name(rows[order[1]])} by {round(gap * len(yv))} "
              f"of {len(yv)} images ({gap:.4f}; two standard errors {2 * se:.4f}); training {seconds:.0f} s")
        print("  verdict:", studies.study_verdict(study, yv)["text"])
        table[seed] = {name(r): r["val_accuracy"] for r in rows}
    print(f"\nvalidation accuracy, {args.epochs} epoch(s) x {args.train:,} images per configuration")
    print("config   " + "".join(f"  seed {s:<3}" for s in args.seeds) + "   mean")
    for c in table[args.seeds[0]]:
        accs = [table[s][c] for s in args.seeds]
        print(f"{c:8} " + "".join(f"  {a:.4f}  " for a in accs) + f"  {sum(accs) / len(accs):.4f}")


if __name__ == "__main__":
    main()
