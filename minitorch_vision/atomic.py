"""Writing a file so that it is either complete or absent: never half-written.

Every file the course writes (downloads, checkpoints, figures, results.json, the report) goes
through :func:`atomic_path`: the bytes go to a temporary name beside the target, and only a
complete file is renamed into place. ``os.replace`` is atomic on one file system, so a crash,
a full disk or Ctrl-C leaves the old file (or nothing), and the temporary file is removed.
"""
import contextlib
import os
from pathlib import Path


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path beside ``path``; rename it to ``path`` when the block succeeds.

    The temporary name keeps the suffix (so tools that infer the format from it still work) and
    contains the process id, so two processes writing the same file never share a temporary file.
    On any exception (KeyboardInterrupt included) the temporary file is deleted and the
    exception propagates.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp{path.suffix}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
