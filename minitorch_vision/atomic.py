"""Writing files so that nothing is ever half-written, lost or mixed.

Every file the course writes (downloads, checkpoints, figures, results.json, the report) goes
through :func:`atomic_path`: the bytes go to a temporary name beside the target, and only a
complete file is renamed into place. ``os.replace`` is atomic on one file system, so a crash,
a full disk or Ctrl-C leaves the old file (or nothing), and the temporary file is removed.
A full disk or a folder we may not write is one line naming the path (:class:`OutputError`).

Two more guards for an output folder (``--out``):
  * :func:`remove_stale_temps`: a process killed with SIGKILL cannot remove its temporary file; the
    next start removes ours (the ``.<name>.<pid>.tmp*`` pattern) whose process is gone;
  * :class:`OutputLock`: one run per folder; a second run into it stops in one line while the first
    runs, and the lock of a process that is gone is taken over.
"""
import atexit
import contextlib
import errno
import os
import re
import shutil
from pathlib import Path

from .errors import MTVError

# what temp_name makes (".checkpoint.1234.tmp.pt" for checkpoint.pt) and data.archive.safe_extract's
# folder (".cifar-10-batches-py.1234.extracting")
_TEMP = re.compile(r"^\..+\.(\d+)\.(tmp(\..*)?|extracting)$")
_NO_SPACE = (errno.ENOSPC, errno.EDQUOT)
_NO_ACCESS = (errno.EACCES, errno.EPERM, errno.EROFS)


class OutputError(MTVError):
    """A file or folder cannot be written: full disk, no permission, read-only, not a folder."""


def write_error(err, path):
    """An :class:`OutputError` naming ``path`` for an ``OSError`` (or torch's ``RuntimeError`` from a
    failed write), or None when ``err`` is not about writing (then it is a bug: let it propagate)."""
    path = Path(path)
    code = getattr(err, "errno", None)
    if code in _NO_SPACE or (isinstance(err, RuntimeError) and _disk_nearly_full(path)):
        return OutputError(f"no space left on the device while writing {path} — free some space, "
                           f"or pass --out on another disk")
    if code in _NO_ACCESS:
        return OutputError(f"no permission to write {path} — pass --out to a folder you can write")
    if code in (errno.ENOTDIR, errno.EEXIST) or isinstance(err, (NotADirectoryError, FileExistsError)):
        return OutputError(f"cannot create {path}: a file is in the way of a folder — move it, or pass "
                           f"another --out")
    if isinstance(err, RuntimeError) and ("write" in str(err).lower() or "unexpected pos" in str(err)):
        return OutputError(f"writing {path} failed ({str(err).strip().splitlines()[0]}) — check the disk "
                           f"and run again")
    return None


def _disk_nearly_full(path):
    """torch's writer raises RuntimeError without an errno on a full disk: ask the file system."""
    for p in (path.parent, *path.parents):
        if p.exists():
            try:
                return shutil.disk_usage(p).free < (1 << 20)
            except OSError:
                return False
    return False


def temp_name(path):
    """``dir/name.ext`` -> ``dir/.name.<pid>.tmp.ext``: hidden, ours (the pid), format-preserving suffix."""
    path = Path(path)
    return path.with_name(f".{path.stem}.{os.getpid()}.tmp{path.suffix}")


def make_dirs(folder):
    """``mkdir -p`` whose failure (a file in the way, no permission, full disk) is one line."""
    try:
        Path(folder).mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise (write_error(e, folder) or e) from None


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path beside ``path``; rename it to ``path`` when the block succeeds.

    The temporary name keeps the suffix (so tools that infer the format from it still work) and
    contains the process id, so two processes writing the same file never share a temporary file.
    On any exception (KeyboardInterrupt included) the temporary file is deleted and the exception
    propagates; a full disk or a permission error becomes an :class:`OutputError` naming ``path``.
    """
    path = Path(path)
    make_dirs(path.parent)
    tmp = temp_name(path)
    try:
        yield tmp
        os.replace(tmp, path)
    except (OSError, RuntimeError) as e:
        err = write_error(e, path)
        if err is None:
            raise
        raise err from None
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)


def pid_alive(pid):
    """True when process ``pid`` exists (on this machine); ours counts as alive."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def remove_stale_temps(folder, recursive=False):
    """Delete the temporary files (and extraction folders) that killed runs left in ``folder``.

    Only ours: names matching ``.<name>.<pid>.tmp*`` (see :func:`temp_name`) or ``.<name>.<pid>.extracting``
    whose process is gone; a live process's (a concurrent run's) is left alone. ``recursive``: in every
    sub-folder too. A folder we may not write is left as it is. Returns the paths removed.
    """
    removed = []
    try:
        entries = list(Path(folder).rglob(".*") if recursive else Path(folder).iterdir())
    except OSError:
        return removed
    for p in entries:
        m = _TEMP.match(p.name)
        if not m or pid_alive(int(m.group(1))):
            continue
        try:
            shutil.rmtree(p) if p.is_dir() and not p.is_symlink() else p.unlink()
            removed.append(p)
        except OSError:
            pass  # read-only folder: the next writable run removes it
    return removed


_held = {}  # lock path -> OutputLock, released at exit (and by the lessons' error handler)


class OutputLock:
    """``<folder>/.lock`` holding our pid: one run at a time writes into ``folder``.

    Taken atomically (``os.link`` of a complete file fails when the lock exists). A lock whose pid is
    gone (a killed run) is taken over; a live one is an :class:`OutputError`. Taking it twice in one
    process (a notebook cell run again) is fine. Released by :meth:`release`, at interpreter exit,
    or by :func:`release_locks`.
    """

    NAME = ".lock"

    def __init__(self, folder):
        self.path = Path(folder) / self.NAME

    def acquire(self):
        make_dirs(self.path.parent)
        for _ in range(3):
            tmp = temp_name(self.path)
            try:
                tmp.write_text(f"{os.getpid()}\n")
                try:
                    os.link(tmp, self.path)
                    break
                except FileExistsError:
                    pass
            except OSError as e:
                raise (write_error(e, self.path) or e) from None
            finally:
                tmp.unlink(missing_ok=True)
            owner = self.owner()
            if owner == os.getpid():
                break
            if owner is not None and pid_alive(owner):
                raise OutputError(f"another run (process {owner}) is writing into {self.path.parent} — wait for "
                                  f"it to finish, or pass another --out")
            with contextlib.suppress(FileNotFoundError):  # its process is gone: take it over
                self.path.unlink()
        else:
            raise OutputError(f"cannot take the lock {self.path} — remove it if no other run uses that folder")
        _held[self.path] = self
        return self

    def owner(self):
        """The pid in the lock file, or None (absent, empty or unreadable)."""
        try:
            return int(self.path.read_text().strip())
        except (OSError, ValueError):
            return None

    def release(self):
        if self.owner() == os.getpid():
            with contextlib.suppress(OSError):
                self.path.unlink()
        _held.pop(self.path, None)

    __enter__ = acquire

    def __exit__(self, *exc):
        self.release()


def release_locks():
    """Release every lock this process holds (``os._exit`` skips ``atexit``: call this before it)."""
    for lock in list(_held.values()):
        lock.release()


atexit.register(release_locks)
