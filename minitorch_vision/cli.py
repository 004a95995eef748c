"""What every lesson script shares: its flags, its set-up, its results file and its errors.

A lesson looks like::

    args = lesson_args(__doc__, epochs=10, batch_size=128, lr=1e-3)
    ctx = setup(args, "03_cnn")        # seeds, threads, device, output folder
    ...
    write_results(ctx.out, {...})      # <out>/results.json, written atomically

``lesson_args`` installs an exception hook that turns a :class:`MTVError` (missing data, a corrupt
file, weights that do not fit) into one line on stderr and exit status 2, never a traceback, so a
lesson can be plain top-level ``# %%`` cells.
"""
import argparse
import json
import os
import random
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from . import distributed
from .atomic import atomic_path
from .data.paths import data_dir as resolve_data_dir
from .errors import MTVError


def default_threads():
    """1 on machines with <= 2 cores: two busy torch threads there slow each other down."""
    return 1 if (os.cpu_count() or 1) <= 2 else min(8, os.cpu_count())


def _excepthook(etype, value, tb):
    if issubclass(etype, MTVError):
        print(f"error: {value}", file=sys.stderr)
        code = value.exit_code
    elif issubclass(etype, KeyboardInterrupt):
        print("interrupted", file=sys.stderr)
        code = 130
    else:
        sys.__excepthook__(etype, value, tb)
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)  # sys.exit is not allowed inside an excepthook


def install_error_handler():
    """Uncaught MTVError -> ``error: <message>`` and exit 2; Ctrl-C -> exit 130; others unchanged."""
    sys.excepthook = _excepthook


def lesson_args(doc, *, epochs, batch_size, lr, argv=None, extra=None, quick_epochs=None):
    """Parse the flags every lesson shares. ``extra(parser)`` may add lesson-specific flags.

    ``quick_epochs``: the epoch count under ``--quick`` when ``--epochs`` is not given.

    Also installs :func:`install_error_handler`, so a user-fixable problem is one line, not a traceback.
    """
    install_error_handler()
    first = (doc or "").strip().splitlines()[0] if doc else None
    p = argparse.ArgumentParser(description=first, formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--data-dir", default=None, help="data folder (default: $MTV_DATA_DIR, else ./data)")
    p.add_argument("--out", default=None, help="output folder (default: runs/<lesson>)")
    p.add_argument("--epochs", type=int, default=argparse.SUPPRESS,
                   help=f"training epochs (default: {epochs}" + (f"; {quick_epochs} with --quick)" if quick_epochs else ")"))
    p.add_argument("--batch-size", type=int, default=batch_size, help="mini-batch size")
    p.add_argument("--lr", type=float, default=lr, help="peak learning rate")
    p.add_argument("--seed", type=int, default=0, help="random seed (same seed, same numbers)")
    p.add_argument("--threads", type=int, default=default_threads(), help="torch CPU threads")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"],
                   help="auto picks CUDA, then MPS, then CPU")
    p.add_argument("--quick", action="store_true", help="a small slice that finishes in under a minute")
    p.add_argument("--no-download", action="store_true", help="never touch the network; fail if files are missing")
    p.add_argument("--amp", action=argparse.BooleanOptionalAction, default=None,
                   help="mixed precision (bf16, else fp16 with a grad scaler); default: on for CUDA, off on CPU")
    if extra is not None:
        extra(p)
    # In a notebook (``# %%`` cells) sys.argv belongs to the kernel: parse nothing there.
    if argv is None and "ipykernel" in sys.modules:
        argv = []
    args = p.parse_args(argv)
    if not hasattr(args, "epochs"):  # not given: the lesson's default, or its --quick default
        args.epochs = quick_epochs if (args.quick and quick_epochs) else epochs
    return args


def pick_device(name="auto"):
    """``auto`` -> CUDA if available, then MPS, then CPU. An explicit name must be available."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise MTVError("--device cuda was asked for but no CUDA device is available")
    if name == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise MTVError("--device mps was asked for but MPS is not available")
    return torch.device(name)


def seed_everything(seed):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


@dataclass
class Context:
    args: argparse.Namespace
    lesson: str
    out: Path
    data_dir: Path
    device: torch.device
    amp: bool = False
    rank: int = 0
    world_size: int = 1

    @property
    def is_main(self):
        """Only the main process (rank 0 under torchrun) prints, plots and writes files."""
        return self.rank == 0

    def parallel(self, model):
        """Wrap ``model`` in DistributedDataParallel when launched by torchrun (else unchanged)."""
        return distributed.wrap(model, self.device)


def setup(args, lesson):
    """Seed, set threads, pick the device (joining torchrun's process group if there is one)
    and create the output folder (default ``runs/<lesson>``)."""
    seed_everything(args.seed)  # the same seed on every rank: identical initial weights
    torch.set_num_threads(max(1, args.threads))
    rank, world, device = distributed.init_from_env(pick_device(args.device))
    amp = device.type == "cuda" if getattr(args, "amp", None) is None else args.amp
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # fixed input sizes: let cuDNN pick its fastest kernels
    out = Path(args.out) if args.out else Path("runs") / lesson
    if rank == 0:
        out.mkdir(parents=True, exist_ok=True)
    else:
        sys.stdout = open(os.devnull, "w")  # one log, rank 0's; errors still reach stderr
    ctx = Context(args, lesson, out, resolve_data_dir(args.data_dir), device, amp, rank, world)
    if ctx.is_main:
        print(f"[{lesson}] device={device} amp={amp} threads={torch.get_num_threads()} seed={args.seed} "
              f"processes={world} data={ctx.data_dir} out={out}{' (quick)' if args.quick else ''}")
    return ctx


def write_json_atomic(path, obj):
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, default=_jsonable))


def _jsonable(o):
    if isinstance(o, (torch.Tensor, np.ndarray, np.generic)):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def write_results(out, results):
    """Write ``<out>/results.json`` atomically (the keys are the lesson's contract with run_all).

    Under torchrun only rank 0 writes."""
    if not distributed.is_main():
        return
    write_json_atomic(Path(out) / "results.json", results)
    print(f"wrote {Path(out) / 'results.json'}")
