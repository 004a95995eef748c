"""One epoch of FashionMNIST batches: in-memory tensor slicing vs the usual per-sample pipeline.

The per-sample pipeline is what torchvision tutorials do: a ``Dataset`` whose ``__getitem__``
builds a PIL image from one row, converts it to a float tensor and normalises it, batched by a
``DataLoader``. The in-memory pipeline indexes a uint8 tensor with a permutation and normalises
the whole batch at once. Both start from the same uint8 array and yield the same float batches.

    python benchmarks/data_pipeline.py [--data-dir DIR] [--batch-size 128] [--threads 1]
"""
import argparse

import numpy as np
import torch
from PIL import Image

from _common import best_of, data_dir, import_torchvision
from minitorch_vision.data.fashion_mnist import load_fashion_mnist, standardize
from minitorch_vision.data.loader import Batches

MEAN, STD = 0.2860, 0.3530


class PerSample(torch.utils.data.Dataset):
    """One PIL image per item, then ToTensor + Normalize (torchvision's when available)."""

    def __init__(self, x, y, tv):
        self.x, self.y = x.numpy(), y
        if tv is not None:
            T = tv.transforms
            self.tf = T.Compose([T.ToTensor(), T.Normalize((MEAN,), (STD,))])
        else:
            self.tf = lambda im: (torch.from_numpy(np.asarray(im, dtype=np.float32) / 255.0).unsqueeze(0) - MEAN) / STD

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return self.tf(Image.fromarray(self.x[i], mode="L")), self.y[i]


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--repeat", type=int, default=3)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    d = load_fashion_mnist(data_dir(a.data_dir), allow_download=False)
    x, y = d["train_x"], d["train_y"]
    tv = import_torchvision()

    def in_memory():
        for xb, yb in Batches(x, y, a.batch_size, shuffle=True, transform=standardize):
            pass

    def per_sample():
        for xb, yb in torch.utils.data.DataLoader(PerSample(x, y, tv), batch_size=a.batch_size, shuffle=True):
            pass

    # the same numbers come out of both
    xb_mem = standardize(x[:4])
    xb_ps = torch.stack([PerSample(x[:4], y[:4], tv)[i][0] for i in range(4)])
    assert torch.allclose(xb_mem, xb_ps, atol=1e-5), "the two pipelines disagree"
    t_mem = best_of(in_memory, a.repeat)
    t_ps = best_of(per_sample, max(1, a.repeat - 1))
    n = len(x)
    print(f"one epoch of {n} images, batch {a.batch_size}, {a.threads} thread(s), "
          f"per-sample transforms from {'torchvision' if tv else 'hand-written ToTensor/Normalize'}")
    print(f"  in-memory slices   : {t_mem:7.3f} s  ({n / t_mem:,.0f} images/s)")
    print(f"  Dataset+DataLoader : {t_ps:7.3f} s  ({n / t_ps:,.0f} images/s)")
    print(f"ratio (DataLoader time / in-memory time): {t_ps / t_mem:.1f}x")


if __name__ == "__main__":
    main()
