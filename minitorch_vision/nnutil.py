"""Two small helpers on any ``nn.Module``, used by every layer above the models."""
import contextlib


def count_params(model, trainable_only=True):
    """Number of parameters of ``model``: the trainable ones (``requires_grad``), or all of them."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


@contextlib.contextmanager
def eval_mode(model):
    """Run the block with ``model`` in eval mode, then give every submodule back its own mode.

    Per-module restore (not ``model.train(was)``) keeps a partly frozen model as it was: a frozen
    backbone stays in eval mode (its BatchNorm statistics untouched) while its head trains.
    """
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        yield model
    finally:
        for m, mode in modes:
            m.training = mode
