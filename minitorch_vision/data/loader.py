"""Batches from tensors held in memory.

FashionMNIST is 47 MB as uint8: it fits in memory many times over, so a batch is one fancy-index
into a tensor. A per-sample ``Dataset`` + ``DataLoader`` calls Python once per image; see
``benchmarks/data_pipeline.py`` for what that costs.
"""
import math

import torch


class Batches:
    """Iterate over ``(x[idx], y[idx])`` mini-batches of in-memory tensors.

    Args:
        x, y: tensors with the same first dimension N.
        batch_size: rows per batch (the last batch may be smaller unless ``drop_last``).
        shuffle: draw a new seeded permutation each epoch; epoch ``e`` uses seed ``seed + e``,
            so a resumed run sees exactly the batches an uninterrupted run would.
        transform: optional callable applied to each x batch (e.g. normalisation, augmentation).
        rank, world_size: take this process's shard of every epoch's permutation (for DDP):
            rank r gets positions r, r + world, r + 2*world, ... so shards never overlap.
    """

    def __init__(self, x, y, batch_size=128, shuffle=False, seed=0, transform=None,
                 drop_last=False, rank=0, world_size=1):
        assert len(x) == len(y), "x and y must have the same length"
        self.x, self.y = x, y
        self.batch_size, self.shuffle, self.seed = batch_size, shuffle, seed
        self.transform, self.drop_last = transform, drop_last
        self.rank, self.world_size = rank, world_size
        self.epoch = 0

    def set_epoch(self, epoch):
        self.epoch = epoch

    def indices(self):
        """This process's row indices for the current epoch, in batch order."""
        n = len(self.x)
        if self.shuffle:
            idx = torch.randperm(n, generator=torch.Generator().manual_seed(self.seed + self.epoch))
        else:
            idx = torch.arange(n)
        if self.world_size > 1:
            idx = idx[: n - n % self.world_size]  # equal shards keep DDP ranks in lockstep
            idx = idx[self.rank::self.world_size]
        return idx

    def __len__(self):
        n = len(self.x) // self.world_size
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def __iter__(self):
        idx = self.indices()
        for i in range(len(self)):
            b = idx[i * self.batch_size:(i + 1) * self.batch_size]
            xb = self.x[b]
            if self.transform is not None:
                xb = self.transform(xb)
            yield xb, self.y[b]
