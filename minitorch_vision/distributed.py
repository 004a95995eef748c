"""Data-parallel training across processes with PyTorch's own engine (DistributedDataParallel).

Launched by ``torchrun --nproc_per_node=N lessons/03_cnn.py``, every process runs the same
script. torchrun sets ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK``; :func:`init_from_env` joins the
process group (gloo on CPU, nccl on CUDA). Each rank trains on its own shard of every epoch's
permutation (``Batches(rank=, world_size=)``); DDP averages the gradients, so all ranks keep
identical weights. Only rank 0 logs, checkpoints and writes files. With plain ``python`` the
world has one process and every function here is a no-op.
"""
import os

import torch
import torch.distributed as dist


def init_from_env(device):
    """Join the process group if launched by torchrun. Returns ``(rank, world_size, device)``.

    On CUDA each process takes GPU ``LOCAL_RANK``.
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 0, 1, device
    if device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return dist.get_rank(), dist.get_world_size(), device


def is_main():
    """True in the single process, or on rank 0 of a distributed run."""
    return not dist.is_initialized() or dist.get_rank() == 0


def all_reduce_sum(*tensors):
    """Sum each tensor over all ranks, in place (no-op in a single process)."""
    if dist.is_initialized() and dist.get_world_size() > 1:
        for t in tensors:
            dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return tensors


def sync_buffers(model):
    """Copy rank 0's buffers (BatchNorm running statistics) to every rank.

    DDP averages gradients, so parameters agree, but each rank updates its BN running stats
    from its own shard; DDP re-broadcasts them at the start of every forward. Calling this at
    the end of an epoch makes evaluation and checkpoints identical on every rank."""
    if dist.is_initialized() and dist.get_world_size() > 1:
        for b in unwrap(model).buffers():
            dist.broadcast(b, src=0)


def wrap(model, device):
    """``DistributedDataParallel(model)`` in a distributed run; the model itself otherwise."""
    if not (dist.is_initialized() and dist.get_world_size() > 1):
        return model
    ids = [device.index] if device.type == "cuda" else None
    return torch.nn.parallel.DistributedDataParallel(model, device_ids=ids)


def unwrap(model):
    """The plain module inside a DDP wrapper (its state_dict has no ``module.`` prefix)."""
    return model.module if isinstance(model, torch.nn.parallel.DistributedDataParallel) else model


def shutdown():
    if dist.is_initialized():
        dist.destroy_process_group()
