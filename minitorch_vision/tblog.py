"""TensorBoard beyond the scalars ``train.fit`` logs: image grids and the model graph.

Each call writes into a run folder (``ctx.tb_dir(run)``, the same folder ``fit`` logs that run's
curves to; TensorBoard merges the event files of one folder), so ``tensorboard --logdir runs/tb``
shows a run's curves, its sample images, its worst mistakes and its graph side by side
(the IMAGES and GRAPHS tabs).
"""
import warnings

import torch

from .nnutil import eval_mode


def _writer(log_dir):
    from torch.utils.tensorboard import SummaryWriter  # imported lazily: it is slow to import
    return SummaryWriter(log_dir)


def as_image_batch(images):
    """uint8 (N, H, W) or (N, C, H, W), or float in [0, 1] -> float (N, C, H, W) in [0, 1], C in {1, 3}."""
    x = torch.as_tensor(images)
    if x.ndim == 3:
        x = x.unsqueeze(1)
    return x.float().div(255.0) if x.dtype == torch.uint8 else x.float().clamp(0, 1)


def add_images(log_dir, tag, images, step=0):
    """A grid of ``images`` (see :func:`as_image_batch`) under ``tag`` in the run ``log_dir``."""
    with _writer(log_dir) as w:
        w.add_images(tag, as_image_batch(images), step, dataformats="NCHW")


def add_graph(log_dir, model, example):
    """The model's graph, traced on ``example`` (one input batch), in the run ``log_dir``.
    Traced in eval mode (dropout and batch norm then have one fixed behaviour); the mode is restored."""
    with _writer(log_dir) as w, eval_mode(model), torch.no_grad(), warnings.catch_warnings():
        # TensorBoard's graph writer still traces with torch.jit, which warns that it is deprecated
        warnings.simplefilter("ignore", DeprecationWarning)
        w.add_graph(model, example)
