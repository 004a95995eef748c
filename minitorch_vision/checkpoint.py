"""The checkpoint of :func:`minitorch_vision.train.fit`: what it writes after every epoch, and ``resume``.

A checkpoint (``<out>/checkpoint.pt``, written atomically: complete or absent) holds the plain module's
``state_dict``, the optimizer's and the schedule's state, the epoch reached, the history, the first loss
(the yardstick for "the loss exploded") and the RNG states, so an interrupted-and-resumed run ends with
the same weights as an uninterrupted one. It loads with ``torch.load(weights_only=True)``.
"""
import torch

from .atomic import atomic_path
from .errors import MTVError, summarize
from .weights import check_fits  # the one place that explains keys and shapes that do not fit

CHECKPOINT = "checkpoint.pt"


class ResumeRefused(MTVError):
    """``--resume`` with a checkpoint that cannot be continued as asked."""


def save_atomic(obj, path):
    """``torch.save`` through :func:`~minitorch_vision.atomic.atomic_path`: complete or absent."""
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


def checkpoint_state(model, opt, sched, scaler, epochs, first_loss, history):
    """What ``resume`` needs to continue exactly: weights, optimizer, schedule, RNG states, scaler."""
    return {"model": model.state_dict(), "opt": opt.state_dict(),
            "sched": sched.state_dict() if sched is not None else None,
            "epoch": history[-1]["epoch"], "epochs": epochs, "first_loss": first_loss,
            "history": history, "rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
            "scaler": scaler.state_dict() if scaler is not None else None}


def resume_from(path, model, opt, sched, scaler, epochs, device, is_main):
    """Load ``path`` into model, optimizer, scheduler, RNG and scaler; one line when it cannot be done.

    Returns ``(history, epochs done, first loss)`` of the checkpointed run."""
    def refuse(what, todo="delete it (or pass another --out) to start afresh"):
        return ResumeRefused(f"cannot resume from {path}: {what} — {todo}")
    try:
        ck = torch.load(path, map_location=device, weights_only=True)
    except Exception as e:  # noqa: BLE001  empty, truncated, not ours: torch raises many types
        raise refuse(summarize(e)) from None
    if not (isinstance(ck, dict) and all(k in ck for k in ("model", "opt", "epoch", "history", "rng"))):
        raise refuse("it is not a checkpoint written by fit")
    if ck["epoch"] > epochs:
        raise refuse(f"it is after epoch {ck['epoch']}, more than --epochs {epochs}",
                     f"pass --epochs {ck['epoch']} or more, or another --out")
    try:
        check_fits(model, ck["model"], path)
        opt.load_state_dict(ck["opt"])
    except (MTVError, ValueError, KeyError) as e:
        raise refuse(f"it holds another model ({str(e).split(': ', 1)[-1]})",
                     "resume with the flags it was trained with, or pass another --out") from None
    model.load_state_dict(ck["model"])
    if sched is not None and ck.get("sched") is not None:
        state = ck["sched"]
        if state.get("total_steps", None) != getattr(sched, "total_steps", None):
            # another --epochs: keep the new schedule (built for the new total), continue from the current step
            state = {**sched.state_dict(), "last_epoch": state["last_epoch"], "_step_count": state["_step_count"]}
        sched.load_state_dict(state)
    torch.set_rng_state(ck["rng"].cpu())
    if ck.get("cuda_rng") is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(ck["cuda_rng"])  # dropout masks on the GPU
    if scaler is not None and ck.get("scaler") is not None:
        scaler.load_state_dict(ck["scaler"])
    if is_main:
        print(f"resumed from {path} after epoch {ck['epoch']}"
              + (f" (of {ck['epochs']}); continuing to {epochs}" if ck.get("epochs", epochs) != epochs else ""))
    return ck["history"], ck["epoch"], ck.get("first_loss")
