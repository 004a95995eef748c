"""Images/second of the package's ``fit`` vs a bare training loop, same model and optimizer.

``fit`` adds a progress bar, per-epoch validation-free TensorBoard scalars, an atomic checkpoint
per epoch and NaN checks. This measures what they cost. Both loops train the lesson-03 CNN from
the same initial weights on the same batches; the runs alternate so that other load on the
machine hits both alike, and the best of ``--repeat`` is kept.

    python benchmarks/train_overhead.py [--data-dir DIR] [--images 15360] [--epochs 2] [--threads 1]
"""
import argparse
import copy
import tempfile
import time

import torch
import torch.nn.functional as F

from _common import data_dir
from minitorch_vision.data.fashion_mnist import load_fashion_mnist, standardize
from minitorch_vision.data.loader import Batches
from minitorch_vision.models.cnn import CNN, CNNConfig
from minitorch_vision.train import fit


def bare(model, batches, opt, epochs):
    model.train()
    for epoch in range(epochs):
        batches.set_epoch(epoch)
        for xb, yb in batches:
            loss = F.cross_entropy(model(xb), yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir")
    p.add_argument("--images", type=int, default=15360)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--repeat", type=int, default=3)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    d = load_fashion_mnist(data_dir(a.data_dir), allow_download=False)
    x = standardize(d["train_x"][: a.images]).contiguous(memory_format=torch.channels_last)
    y = d["train_y"][: a.images]
    torch.manual_seed(0)
    init = CNN(CNNConfig()).to(memory_format=torch.channels_last)

    def fresh():
        m = copy.deepcopy(init)
        return m, torch.optim.Adam(m.parameters(), lr=1e-3), Batches(x, y, a.batch_size, shuffle=True)

    t_bare, t_fit = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(a.repeat):
            m, opt, b = fresh()
            t = time.perf_counter()
            bare(m, b, opt, a.epochs)
            t_bare.append(time.perf_counter() - t)
            m, opt, b = fresh()
            t = time.perf_counter()
            fit(m, b, None, epochs=a.epochs, opt=opt, out=f"{tmp}/run{r}", log_dir=f"{tmp}/run{r}/tb")  # TensorBoard + checkpoints on
            t_fit.append(time.perf_counter() - t)
    n = a.images * a.epochs
    ips_bare, ips_fit = n / min(t_bare), n / min(t_fit)
    print(f"lesson-03 CNN, {a.images} images x {a.epochs} epochs, batch {a.batch_size}, {a.threads} thread(s), best of {a.repeat}")
    print(f"  bare loop : {ips_bare:8.0f} images/s")
    print(f"  fit()     : {ips_fit:8.0f} images/s  (progress bar, TensorBoard, checkpoint per epoch, NaN checks)")
    print(f"ratio (fit / bare): {ips_fit / ips_bare:.3f}")


if __name__ == "__main__":
    main()
