"""Training for every lesson: ``train_one_epoch`` (the loop itself), ``fit`` around it, ``evaluate``.

``train_one_epoch`` is the bare loop: forward, loss, ``zero_grad``, ``backward``, ``step``. ``fit``
calls it once per epoch and adds only bookkeeping, and ``benchmarks/train_overhead.py`` shows that it costs almost nothing:
  * a tqdm progress bar (silent when stdout is not a terminal),
  * TensorBoard scalars per epoch in ``log_dir`` (one flat run per trained configuration),
  * a checkpoint per epoch written atomically (complete or absent, never half-written), ``resume``,
  * a clear stop when the loss explodes (NaN, inf, or above ``EXPLODED`` x the loss before
    training), instead of training on garbage.
Determinism: batches are shuffled with seed ``seed + epoch`` and the RNG state is checkpointed,
so an interrupted-and-resumed run ends with the same weights as an uninterrupted one.

Resume (``resume=True``, :mod:`minitorch_vision.checkpoint`) cannot surprise: a checkpoint that is
empty, truncated, of another model or optimizer, or already past ``epochs`` is one line
(:class:`~minitorch_vision.checkpoint.ResumeRefused`). With MORE epochs than the checkpoint's run,
training continues to the new count and a 1cycle schedule is rebuilt for the
new total: the remaining steps follow the new schedule from the current step (so the learning rate
rises again if the old run had annealed it); the result is then not that of one uninterrupted run.
"""
import contextlib
import math
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from . import distributed
from .checkpoint import CHECKPOINT, checkpoint_state, resume_from, save_atomic
from .errors import MTVError
from .nnutil import eval_mode

EXPLODED = 1e6  # a training loss above EXPLODED x max(its value before training, 1) has diverged


class TrainingDiverged(MTVError):
    """The loss became NaN or infinite, or exploded (see ``EXPLODED``)."""


def _to(device, *tensors):
    """Move a batch to ``device``. On CUDA the batch is first copied into pinned (page-locked)
    memory so the host-to-GPU copy can run asynchronously (``non_blocking``) while the GPU works."""
    if torch.device(device).type != "cuda":
        return [t.to(device) for t in tensors]
    return [t.pin_memory().to(device, non_blocking=True) for t in tensors]


def amp_dtype(device):
    """bf16 where supported (CPU, Ampere+ GPUs): same range as fp32, no loss scaling; else fp16."""
    device = torch.device(device)
    return torch.bfloat16 if device.type == "cpu" or torch.cuda.is_bf16_supported() else torch.float16


def autocast(device, amp):
    """Mixed precision context (Micikevicius et al. 2018); a no-op when ``amp`` is off."""
    if not amp:
        return contextlib.nullcontext()
    return torch.autocast(torch.device(device).type, dtype=amp_dtype(device))


@torch.no_grad()
def evaluate(model, batches, device="cpu", loss_fn=F.cross_entropy, amp=False):
    """Mean loss and accuracy of ``model`` over ``batches`` (eval mode, no gradients).

    Returns: ``{"loss": float, "accuracy": float in [0, 1], "n": int}``. The model's
    train/eval mode is restored afterwards.
    """
    loss_sum = torch.zeros((), device=device)
    correct = torch.zeros((), device=device, dtype=torch.long)
    n = 0
    with eval_mode(model):
        for xb, yb in batches:
            xb, yb = _to(device, xb, yb)
            with autocast(device, amp):
                logits = model(xb)
            loss_sum += loss_fn(logits.float(), yb, reduction="sum")
            correct += (logits.argmax(1) == yb).sum()
            n += len(yb)
    return {"loss": loss_sum.item() / max(n, 1), "accuracy": correct.item() / max(n, 1), "n": n}


@torch.no_grad()
def predict(model, x, batch_size=512, device="cpu"):
    """Logits for every row of ``x`` (N, ...), returned on the CPU as float32 (N, classes)."""
    with eval_mode(model):
        return torch.cat([model(xb.to(device)).float().cpu() for xb in x.split(batch_size)])


def train_one_epoch(model, batches, opt, sched=None, loss_fn=F.cross_entropy, device="cpu", amp=False, scaler=None):
    """One pass over ``batches``: forward, loss, ``zero_grad``, backward, step. The whole of training.

    Returns the summed loss, the number of correct predictions (0-d tensors on ``device``: reading
    them back every step would stall a GPU) and the number of examples seen.
    """
    model.train()
    loss_sum = torch.zeros((), device=device)
    correct = torch.zeros((), device=device, dtype=torch.long)
    seen = 0
    for xb, yb in batches:
        xb, yb = _to(device, xb, yb)              # (B, C, H, W), (B,)
        with autocast(device, amp):
            logits = model(xb)                    # (B, K)
            loss = loss_fn(logits.float(), yb)    # mean over the batch
        opt.zero_grad(set_to_none=True)
        if scaler is None:
            loss.backward()                       # d loss / d every parameter
            opt.step()                            # parameters -= lr * (Adam's rescaled) gradient
        else:                                     # fp16: scale the loss so small gradients do not underflow
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
        if sched is not None:
            sched.step()
        loss_sum += loss.detach() * len(yb)
        correct += (logits.detach().argmax(1) == yb).sum()
        seen += len(yb)
    return loss_sum, correct, seen


# About 40 lines of code under a 30-line docstring (every argument's contract); the bookkeeping around
# train_one_epoch is in the small helpers below it.
def fit(model, train, val=None, *, epochs, opt, sched=None, loss_fn=F.cross_entropy,
        device="cpu", out=None, log_dir=None, resume=False, progress=True, amp=False,
        on_epoch_end=None, checkpoint=True, verbose=True):
    """Train ``model`` for ``epochs`` passes over ``train`` and return the per-epoch history.

    Args:
        model: already on ``device``; under torchrun, wrapped by ``ctx.parallel`` (DDP).
        train: a :class:`~minitorch_vision.data.loader.Batches` (anything iterable with
            ``set_epoch``) of ``(x, y)``; ``val``: the same, or None.
        opt, sched: optimizer and an optional LR scheduler stepped once per batch.
        out: run folder for ``checkpoint.pt``; None: no checkpoint.
        log_dir: TensorBoard run folder (``ctx.tb_dir(run)``); None: no TensorBoard.
        resume: continue from ``<out>/checkpoint.pt`` if it exists.
        amp: mixed precision (see :func:`autocast`); fp16 gets a gradient scaler.
        verbose: print one line per epoch (on the main process).
        on_epoch_end: ``callback(epoch, record)``; it may add keys to ``record`` (e.g. test
            accuracy) before they are logged.

    Returns:
        list of per-epoch dicts: ``epoch`` (1-based), ``train_loss``, ``train_accuracy``,
        ``val_loss``, ``val_accuracy`` (if ``val``), ``lr``, ``seconds`` (training time of the
        epoch) and ``elapsed`` (wall time since the start of training, evaluation included).

    Raises:
        TrainingDiverged: the training loss became NaN or infinite, or above ``EXPLODED`` x its value
            before training.
        ResumeRefused: ``resume`` with a checkpoint that is unreadable, of another model, or past ``epochs``.
    """
    is_main = distributed.is_main()  # under DDP only rank 0 logs, checkpoints and shows progress
    plain = distributed.unwrap(model)  # checkpoints hold the plain module's state_dict
    scaler = torch.amp.GradScaler("cuda") if amp and amp_dtype(device) == torch.float16 else None
    ckpt_path = Path(out) / CHECKPOINT if out is not None else None
    if out is not None and is_main:
        Path(out).mkdir(parents=True, exist_ok=True)
    history, start, first_loss = [], 0, None
    if resume and ckpt_path is not None and ckpt_path.exists():
        history, start, first_loss = resume_from(ckpt_path, plain, opt, sched, scaler, epochs, device, is_main)
    if first_loss is None and start < epochs:
        first_loss = initial_loss(plain, train, loss_fn, device, amp)
    writer = _tensorboard(log_dir, start) if is_main else None
    t0 = time.perf_counter() - (history[-1]["elapsed"] if history else 0.0)
    try:
        for epoch in range(start, epochs):
            train.set_epoch(epoch)
            te = time.perf_counter()
            bar = tqdm(train, desc=f"epoch {epoch + 1}/{epochs}", leave=False,
                       disable=None if (progress and is_main) else True)
            loss_sum, correct, seen = train_one_epoch(model, bar, opt, sched, loss_fn, device, amp, scaler)
            bar.close()
            train_loss, train_accuracy = _reduce(model, loss_sum, correct, seen, device)
            _check_diverged(train_loss, first_loss, epoch)
            rec = {"epoch": epoch + 1, "train_loss": train_loss, "train_accuracy": train_accuracy,
                   "lr": opt.param_groups[0]["lr"], "seconds": time.perf_counter() - te}
            if val is not None:
                v = evaluate(plain, val, device, loss_fn, amp)  # the plain module: no DDP collectives
                rec["val_loss"], rec["val_accuracy"] = v["loss"], v["accuracy"]
            if on_epoch_end is not None:
                on_epoch_end(epoch + 1, rec)
            rec["elapsed"] = time.perf_counter() - t0
            history.append(rec)
            if is_main:
                _log_scalars(writer, rec)
                if ckpt_path is not None and checkpoint:
                    save_atomic(checkpoint_state(plain, opt, sched, scaler, epochs, first_loss, history), ckpt_path)
                if verbose:
                    print(format_record(rec))
    finally:
        if writer is not None:
            writer.close()
    return history


def _reduce(model, loss_sum, correct, seen, device):
    """``(mean loss, accuracy)`` of an epoch over every rank's shard (DDP), BatchNorm buffers synced."""
    distributed.sync_buffers(model)
    seen = torch.tensor(seen, device=device)
    distributed.all_reduce_sum(loss_sum, correct, seen)
    seen = seen.item()
    return loss_sum.item() / max(seen, 1), correct.item() / max(seen, 1)


def _check_diverged(train_loss, first_loss, epoch):
    """Raise :class:`TrainingDiverged` when ``train_loss`` is not finite or above ``EXPLODED`` x the first loss."""
    limit = EXPLODED * max(first_loss, 1.0) if first_loss is not None and math.isfinite(first_loss) else math.inf
    if not math.isfinite(train_loss) or train_loss > limit:
        before = f" (it was {first_loss:.3g} before training)" if first_loss is not None else ""
        raise TrainingDiverged(f"the training loss exploded to {train_loss:.3g} in epoch {epoch + 1}{before} "
                               f"— lower the learning rate (--lr) and run again")


def _tensorboard(log_dir, start):
    """A TensorBoard writer for ``log_dir`` (None: none); on resume, steps after ``start`` are purged."""
    if log_dir is None:
        return None
    from torch.utils.tensorboard import SummaryWriter  # imported lazily: it is slow to import
    return SummaryWriter(log_dir, purge_step=start + 1 if start else None)


def _log_scalars(writer, rec):
    """One epoch record as TensorBoard scalars: ``"val_accuracy"`` is logged as ``accuracy/val``."""
    if writer is None:
        return
    for k, v in rec.items():
        if k not in ("epoch", "elapsed", "seconds"):
            split, _, metric = k.partition("_")
            writer.add_scalar(f"{metric}/{split}" if metric else k, v, rec["epoch"])
    writer.flush()


@torch.no_grad()
def initial_loss(model, batches, loss_fn=F.cross_entropy, device="cpu", amp=False):
    """The loss on the first batch before training: the yardstick for "the loss exploded".

    Eval mode (no BatchNorm statistics updated, no dropout) and a forked RNG (an augmenting
    ``transform`` draws random numbers): training afterwards is exactly what it would have been."""
    with torch.random.fork_rng(devices=[]), eval_mode(model):
        first = next(iter(batches), None)
        if first is None:
            return None
        xb, yb = _to(device, *first)
        with autocast(device, amp):
            return loss_fn(model(xb).float(), yb).item()


def format_record(rec):
    """One log line for an epoch record, e.g. ``epoch 3  train_loss 0.31  val_accuracy 0.884  12.3s``."""
    parts = [f"epoch {rec['epoch']}"]
    for k, v in rec.items():
        if k in ("epoch", "seconds", "elapsed", "lr"):
            continue
        parts.append(f"{k} {v:.4f}")
    parts.append(f"{rec['seconds']:.1f}s")
    return "  ".join(parts)


def one_cycle(opt, max_lr, epochs, steps_per_epoch):
    """The 1cycle schedule (Smith & Topin 2018): warm up to ``max_lr``, then anneal to ~0.

    It lets a small net converge in few epochs; stepped once per batch by ``fit``."""
    return torch.optim.lr_scheduler.OneCycleLR(opt, max_lr, total_steps=max(1, epochs * steps_per_epoch))
