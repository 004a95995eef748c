"""What every lesson shares: its flags, its set-up, its results file and its errors.

A lesson is a script of ``# %%`` cells that runs the same way from the shell and as a notebook
(Jupyter via jupytext, VS Code). Its set-up cell looks like::

    flags = ""                          # in a notebook, e.g. "--quick --epochs 2"
    args = lesson_args("Lesson 03 - a CNN", flags, epochs=8, batch_size=128, lr=3e-3)
    ctx = setup(args, "03_cnn")        # seeds, threads, device, output folder runs/03_cnn
    ...
    write_results(ctx, {...})          # <out>/results.json, written atomically

Where the flags come from: from the shell, the command line (``python lessons/03_cnn.py --quick``);
in a notebook, the environment variable ``MTV_ARGS`` (``MTV_ARGS="--quick" jupyter lab``) when it
is set, else the lesson's ``flags`` string.

A :class:`MTVError` (missing data, a corrupt file, a bad flag) becomes one line
``error: <what> — <what to do>``, never a traceback: exit status 2 from the shell, the cell's only
output in a notebook. Outputs go to ``runs/<lesson>/`` at the repository root, whatever the working
directory.
"""
import argparse
import json
import os
import random
import shlex
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from . import distributed
from .atomic import OutputError, OutputLock, atomic_path, make_dirs, release_locks, remove_stale_temps, write_error
from .data.loader import Batches
from .data.paths import data_dir as resolve_data_dir
from .errors import MTVError
from .flags import finite_positive_float, int_range, positive_int
from .plots import saved_figures


def default_threads():
    """1 on machines with <= 2 cores: two busy torch threads there slow each other down."""
    return 1 if (os.cpu_count() or 1) <= 2 else min(8, os.cpu_count())


def user_error(exc):
    """The :class:`MTVError` a user should see for ``exc``, or None for a bug (which keeps its traceback).

    Besides our own errors: a full disk or a permission refusal anywhere (TensorBoard's writer, a log
    file) is the user's to fix, so it is one line naming the path too."""
    if isinstance(exc, MTVError):
        return exc
    if isinstance(exc, OSError) and exc.errno is not None:
        err = write_error(exc, exc.filename or "a file")
        if err is not None and not isinstance(exc, (FileExistsError, NotADirectoryError)):
            return err
    return None


def _excepthook(etype, value, tb):
    release_locks()  # os._exit below skips atexit
    err = user_error(value)
    if err is not None:
        print(f"error: {err}", file=sys.stderr)
        code = err.exit_code
    elif issubclass(etype, KeyboardInterrupt):
        print("interrupted", file=sys.stderr)
        code = 130
    else:
        sys.__excepthook__(etype, value, tb)
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)  # sys.exit is not allowed inside an excepthook


def _show_in_notebook(shell, etype, value, tb, tb_offset=None):
    err = user_error(value)
    if err is None:  # a bug: IPython's usual traceback
        return shell.showtraceback((etype, value, tb), tb_offset=tb_offset)
    print(f"error: {err}", file=sys.stderr)  # the message is the whole output: no traceback


def install_error_handler():
    """Uncaught MTVError -> ``error: <message>`` and exit 2; Ctrl-C -> exit 130; others unchanged.

    In a notebook the kernel must live on: the cell stops and shows the one line instead."""
    shell = _ipython()
    if shell is not None:
        shell.set_custom_exc((MTVError, OSError), _show_in_notebook)
    else:
        sys.excepthook = _excepthook


def _ipython():
    """The running IPython kernel's shell, or None from the shell."""
    ip = sys.modules.get("IPython")
    return ip.get_ipython() if ip is not None and "ipykernel" in sys.modules else None


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """``--help`` states each default once: ``(default: X)`` only where X says something (not
    None or False, and not where the help text already gives it)."""

    def _get_help_string(self, action):
        if action.default is None or action.default is False or "default" in (action.help or ""):
            return action.help
        return super()._get_help_string(action)


class Parser(argparse.ArgumentParser):
    """argparse whose errors are one ``error:`` line (exit 2 / the cell's message), not usage + exit."""

    def __init__(self, *args, formatter_class=HelpFormatter, **kw):
        super().__init__(*args, formatter_class=formatter_class, **kw)

    def error(self, message):
        raise MTVError(f"{message} — see {self.prog} --help")


def lesson_argv(flags=""):
    """The lesson's flags: the command line from the shell; in a notebook ``$MTV_ARGS``, else ``flags``."""
    if _ipython() is None:
        return sys.argv[1:]
    return shlex.split(os.environ.get("MTV_ARGS") or flags or "")


def lesson_args(description, flags="", *, epochs=None, batch_size=None, lr=None, argv=None, extra=None,
                quick_epochs=None):
    """Parse the flags every lesson shares; ``extra(parser)`` adds the lesson's own.

    ``epochs``/``batch_size``/``lr``: the lesson's defaults; a lesson that does not train passes None
    and gets no such flag. ``quick_epochs``: the epoch count under ``--quick`` when ``--epochs`` is
    not given. ``flags``/``argv``: see :func:`lesson_argv` (``argv`` wins, for tests).

    Also installs :func:`install_error_handler`, so a user-fixable problem is one line, not a traceback.
    """
    install_error_handler()
    first = (description or "").strip().splitlines()[0] if description else None
    p = Parser(description=first)
    p.add_argument("--data-dir", default=None, help="data folder (default: $MTV_DATA_DIR, else ./data)")
    p.add_argument("--out", default=None, help="output folder (default: runs/<lesson> at the repository root)")
    if epochs is not None:
        p.add_argument("--epochs", type=positive_int, default=argparse.SUPPRESS,
                       help=f"training epochs (default: {epochs}" + (f"; {quick_epochs} with --quick)" if quick_epochs else ")"))
    if batch_size is not None:
        p.add_argument("--batch-size", type=positive_int, default=batch_size, help="mini-batch size")
    if lr is not None:
        p.add_argument("--lr", type=finite_positive_float, default=lr, help="peak learning rate")
    p.add_argument("--seed", type=int_range(0, 2**32 - 1), default=0, help="random seed (same seed, same numbers)")
    p.add_argument("--threads", type=positive_int, default=default_threads(), help="torch CPU threads")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"],
                   help="auto picks CUDA, then MPS, then CPU")
    p.add_argument("--quick", action="store_true", help="a small slice that finishes in about a minute")
    p.add_argument("--no-download", action="store_true", help="never touch the network; fail if files are missing")
    p.add_argument("--amp", action=argparse.BooleanOptionalAction, default=None,
                   help="mixed precision (bf16, else fp16 with a grad scaler); default: on for CUDA, off on CPU")
    if extra is not None:
        extra(p)
    args = p.parse_args(lesson_argv(flags) if argv is None else argv)
    if epochs is not None and not hasattr(args, "epochs"):  # not given: the lesson's default, or its --quick one
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
    started: float = 0.0  # time.time() at set-up, for the wall time in results.json

    @property
    def is_main(self):
        """Only the main process (rank 0 under torchrun) prints, plots and writes files."""
        return self.rank == 0

    def tb_dir(self, run):
        """TensorBoard folder of one trained configuration: ``<out>/../tb/<lesson>/<run>``, so that
        ``tensorboard --logdir runs/tb`` (or ``runs/all/tb`` after run_all) shows every lesson's runs."""
        return self.out.parent / "tb" / self.lesson / run

    def parallel(self, model):
        """Wrap ``model`` in DistributedDataParallel when launched by torchrun (else unchanged)."""
        return distributed.wrap(model, self.device)

    def train_batches(self, x, y, batch_size, seed):
        """Shuffled training batches: under torchrun each of the N processes trains on its 1/N shard of
        every epoch with ``batch_size // N`` rows, so a step still sees ``batch_size`` images in all."""
        return Batches(x, y, batch_size // self.world_size, shuffle=True, seed=seed, rank=self.rank,
                       world_size=self.world_size)

    def end_parallel(self):
        """After parallel training: leave torchrun's process group and end every process but the main
        one (exit status 0), which alone goes on to evaluate, plot and write."""
        distributed.shutdown()
        if not self.is_main:
            raise SystemExit(0)


def runs_root():
    """``<repository>/runs`` when the package lives in a checkout (``pip install -e .``), else ``./runs``."""
    repo = Path(__file__).resolve().parents[1]
    return repo / "runs" if (repo / "lessons").is_dir() else Path("runs").resolve()


def prepare_out(out):
    """Create the output folder, make sure we may write there, lock it for this run and remove the
    temporary files killed runs left in it (see :mod:`minitorch_vision.atomic`). One line if it cannot."""
    out = Path(out)
    make_dirs(out)
    if not os.access(out, os.W_OK | os.X_OK):
        raise OutputError(f"no permission to write into {out} — pass --out to a folder you can write")
    OutputLock(out).acquire()
    for p in remove_stale_temps(out, recursive=True):
        print(f"removed {p} (left by a run that was killed)")
    return out


def setup(args, lesson):
    """Seed, set threads, pick the device (joining torchrun's process group if there is one)
    and prepare the output folder (default ``runs/<lesson>``): created, locked for this run
    (a second run into it stops in one line), stale temporary files of killed runs removed."""
    seed_everything(args.seed)  # the same seed on every rank: identical initial weights
    torch.set_num_threads(max(1, args.threads))
    rank, world, device = distributed.init_from_env(pick_device(args.device))
    amp = device.type == "cuda" if getattr(args, "amp", None) is None else args.amp
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # fixed input sizes: let cuDNN pick its fastest kernels
    out = Path(args.out) if args.out else runs_root() / lesson
    if rank == 0:
        prepare_out(out)
    else:
        sys.stdout = open(os.devnull, "w")  # one log, rank 0's; errors still reach stderr
    ctx = Context(args, lesson, out, resolve_data_dir(args.data_dir), device, amp, rank, world, time.time())
    if ctx.is_main:
        print(f"[{lesson}] device={device} amp={amp} threads={torch.get_num_threads()} seed={args.seed} "
              f"processes={world} data={ctx.data_dir} out={out}{' (quick)' if args.quick else ''}")
    return ctx


def save_json_atomic(obj, path):
    """``obj`` as indented JSON at ``path``, complete or absent (the argument order of ``checkpoint.save_atomic``)."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, default=_jsonable))


def _jsonable(o):
    if isinstance(o, (torch.Tensor, np.ndarray, np.generic)):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def write_results(ctx, results):
    """Write ``<out>/results.json`` atomically: the lesson's ``results`` (its contract with run_all and
    the report) plus what every lesson records: ``lesson``, ``quick``, the flags, the device and
    threads, ``wall_seconds`` since set-up, and ``figures`` (file and caption of every figure saved
    under ``<out>``, in order). Under torchrun only rank 0 writes."""
    if not distributed.is_main():
        return
    args = ctx.args
    record = {"lesson": ctx.lesson, "quick": bool(args.quick),
              "flags": {k: v for k, v in vars(args).items() if k not in ("data_dir", "out")},
              "device": str(ctx.device), "threads": torch.get_num_threads(),
              "wall_seconds": round(time.time() - ctx.started, 2)}
    record.update(results)
    record["figures"] = saved_figures(ctx.out)
    save_json_atomic(record, Path(ctx.out) / "results.json")
    print(f"wrote {Path(ctx.out) / 'results.json'}")
