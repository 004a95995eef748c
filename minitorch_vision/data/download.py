"""The only module that touches the network.

:func:`fetch` downloads one file from the first of its URLs that works into the data folder, checks
its published checksum, and only then moves it into place (download to a hidden temporary name
``.<name>.<pid>.tmp<suffix>``, verify, ``os.replace``; see :mod:`minitorch_vision.atomic`): an
interrupted, cut-short or corrupt download never leaves a half-written file behind. What to fetch
(every file of the course, its URLs and checksums) is :mod:`minitorch_vision.data.manifest`.

Failure rules, each ending in one :class:`DataUnavailable` line:

- every URL is tried in order; a refused connection, an HTTP error, a cut-short body or wrong bytes
  (checksum) moves on to the next one, and the final message gives each URL's own reason;
- a local file with the wrong checksum is moved aside to ``<name>.corrupt`` (never deleted) and
  removed only once a good download has replaced it, so offline the user keeps the bytes;
- a problem on the local disk (read-only or non-writable folder, disk full, the data folder is a
  file) stops at once with a line naming the path: another URL would not help;
- hidden temporary files of a download that was killed (``SIGKILL``, power cut) are removed the next
  time a file is fetched into that folder (:func:`minitorch_vision.atomic.remove_stale_temps`), only
  when their process is gone.
"""
import errno
import hashlib
import http.client
import os
import urllib.error
import urllib.request
from pathlib import Path

from tqdm.auto import tqdm

from ..atomic import atomic_path, remove_stale_temps
from ..errors import DataUnavailable

_CHUNK = 1 << 20


def file_digest(path, algo="md5"):
    """Hex digest of a file, read in 1 MiB chunks."""
    h = hashlib.new(algo)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(_CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def expected_digest(md5=None, sha256=None):
    """``(algo, hex)`` of the checksum to verify (sha256 wins over md5), or ``(None, None)``."""
    if sha256:
        return "sha256", sha256.lower()
    if md5:
        return "md5", md5.lower()
    return None, None


class _LocalError(Exception):
    """Writing to the local disk failed (no space, no permission): no other URL can fix that."""

    def __init__(self, path, err):
        super().__init__(path, err)
        self.path, self.err = path, err


def disk_error(path, err):
    """One line for a local OSError on ``path``, with what to do about it."""
    if err.errno == errno.ENOSPC:
        return f"no space left on the device to write {path} — free some space and run again"
    if err.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return (f"cannot write {path}: permission denied (read-only or not your folder) — make it writable "
                f"or choose another folder with --data-dir")
    if err.errno in (errno.ENOTDIR, errno.EEXIST):
        return f"cannot create the folder {path}: a file is in the way on that path — move it or use --data-dir"
    return f"cannot write {path}: {err.strerror or err} — check the data folder"


def _download(url, tmp, timeout, name, progress):
    """Stream ``url`` into ``tmp``; a short body raises ConnectionError, a local write _LocalError."""
    with urllib.request.urlopen(url, timeout=timeout) as r:
        total = int(r.headers.get("Content-Length") or 0) or None
        try:
            f = open(tmp, "wb")
        except OSError as e:
            raise _LocalError(tmp.parent, e) from None
        got = 0
        with f, tqdm(total=total, unit="B", unit_scale=True, desc=name, leave=False, disable=None) as bar:
            for block in iter(lambda: r.read(_CHUNK), b""):
                try:
                    f.write(block)
                except OSError as e:
                    raise _LocalError(tmp, e) from None
                got += len(block)
                bar.update(len(block))
                if progress is not None:
                    progress(len(block))
    if total is not None and got != total:  # the server hung up early: caught even without a checksum
        raise ConnectionError(f"connection closed after {got} of {total} bytes")


def _reason(e):
    """A URL's failure in a few words (no traceback, no cut sentence)."""
    if isinstance(e, urllib.error.HTTPError):
        return f"HTTP {e.code} {e.reason}"
    if isinstance(e, urllib.error.URLError):
        r = e.reason
        return getattr(r, "strerror", None) or str(r)
    return str(e) or type(e).__name__


def _prepare(folder):
    """Create ``folder`` (and its parents) or stop with one line naming what is in the way."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise DataUnavailable(disk_error(folder, e)) from None
    if not folder.is_dir():
        raise DataUnavailable(disk_error(folder, OSError(errno.ENOTDIR, "not a directory")))


def fetch(urls, dest, *, md5=None, sha256=None, allow_download=True, timeout=30, progress=None, official=None):
    """Make sure ``dest`` exists with the right checksum, downloading it if needed.

    Args:
        urls: one URL or a list of mirrors, tried in order.
        dest: final path of the file (its folder is created).
        md5 / sha256: the published checksum (sha256 wins when both are given; None: not verified).
        allow_download: if False, a missing or corrupt file is an error instead of a download.
        progress: optional callable receiving the number of bytes of each block (a total bar).
        official: the URL to name in messages (default ``urls[0]``; differs when a mirror is used).

    Returns:
        ``dest`` as a Path.

    Raises:
        DataUnavailable (one line): every URL failed (each URL's reason is listed), a local disk
            problem (named path), or with ``allow_download=False`` a missing or corrupt file.
    """
    urls = [urls] if isinstance(urls, str) else list(urls)
    dest = Path(dest)
    algo, want = expected_digest(md5, sha256)
    where = f"{official or urls[0]} into {dest.parent.resolve()}/"
    if dest.is_file():
        if algo is None or (got := file_digest(dest, algo)) == want:
            return dest
        if not allow_download:
            raise DataUnavailable(f"{dest} is corrupt ({algo} {got}, expected {want}) — download {where} again")
    elif dest.exists():
        raise DataUnavailable(f"{dest} is a folder where a file belongs — move it away")
    elif not allow_download:
        raise DataUnavailable(f"missing {dest} — download {where}")
    _prepare(dest.parent)
    remove_stale_temps(dest.parent)
    aside = dest.with_name(dest.name + ".corrupt")
    if dest.is_file():  # corrupt: keep its bytes beside it until a good copy has arrived
        try:
            os.replace(dest, aside)
        except OSError as e:
            raise DataUnavailable(f"{dest} is corrupt ({algo} mismatch) and cannot be moved aside: "
                                  f"{disk_error(dest.parent, e)}") from None
    reasons = []
    for url in urls:
        try:
            with atomic_path(dest) as tmp:  # moved into place only when complete and verified
                _download(url, tmp, timeout, dest.name, progress)
                if algo is not None and (got := file_digest(tmp, algo)) != want:
                    raise ValueError(f"wrong bytes ({algo} {got[:12]}..., expected {want[:12]}...)")
            aside.unlink(missing_ok=True)
            return dest
        except _LocalError as e:
            raise DataUnavailable(disk_error(e.path, e.err)) from None
        except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as e:
            reasons.append(f"{url}: {_reason(e)}")  # (atomic_path turns a failed rename into OutputError)
    kept = f"; the corrupt copy was kept as {aside}" if aside.exists() else ""
    raise DataUnavailable(f"cannot download {dest.name} ({'; '.join(reasons) or 'no URL'}) — put the file "
                          f"from {where}{kept}")
