"""The only module that touches the network.

``fetch`` downloads a file from one of its official URLs into the data folder, checks its
published checksum, and only then moves it into place (download to a temporary name, verify,
``os.replace``; see :mod:`minitorch_vision.atomic`): an interrupted, truncated or corrupt download
never leaves a half-written file behind.
Offline, it raises :class:`DataUnavailable` whose one-line message says which file to put where.
"""
import hashlib
import http.client
import urllib.error
import urllib.request
from pathlib import Path

from tqdm.auto import tqdm

from ..atomic import atomic_path
from ..errors import DataUnavailable

_CHUNK = 1 << 20


def file_digest(path, algo="md5"):
    """Hex digest of a file, read in 1 MiB chunks."""
    h = hashlib.new(algo)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(_CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def _expected(md5, sha256):
    if sha256:
        return "sha256", sha256.lower()
    if md5:
        return "md5", md5.lower()
    return None, None


def verify(path, md5=None, sha256=None):
    """True when ``path`` matches the given checksum (or when none is given)."""
    algo, want = _expected(md5, sha256)
    return algo is None or file_digest(path, algo) == want


def _download(url, tmp, timeout, name):
    with urllib.request.urlopen(url, timeout=timeout) as r, open(tmp, "wb") as f:
        total = int(r.headers.get("Content-Length") or 0) or None
        got = 0
        with tqdm(total=total, unit="B", unit_scale=True, desc=f"download {name}", leave=False, disable=None) as bar:
            for block in iter(lambda: r.read(_CHUNK), b""):
                f.write(block)
                got += len(block)
                bar.update(len(block))
    if total is not None and got != total:  # the server hung up early: catch it even without a checksum
        raise ConnectionError(f"connection closed after {got} of {total} bytes")


def fetch(urls, dest, *, md5=None, sha256=None, allow_download=True, timeout=30):
    """Make sure ``dest`` exists with the right checksum, downloading it if needed.

    Args:
        urls: one URL or a list of mirrors, tried in order.
        dest: final path of the file (its folder is created).
        md5 / sha256: the published checksum (sha256 wins when both are given).
        allow_download: if False, a missing or corrupt file is an error instead of a download.

    Returns:
        ``dest`` as a Path.

    Raises:
        DataUnavailable: every mirror failed (offline), or the downloaded bytes have the wrong
            checksum, or (with ``allow_download=False``) the file is missing or corrupt.
            The partial file is always removed.
    """
    urls = [urls] if isinstance(urls, str) else list(urls)
    dest = Path(dest)
    algo, want = _expected(md5, sha256)
    if dest.exists():
        if algo is None or file_digest(dest, algo) == want:
            return dest
        if not allow_download:
            raise DataUnavailable(f"{dest} is corrupt ({algo} mismatch); delete it and download it again from {urls[0]}")
        dest.unlink()  # corrupt or truncated: fetch it again
    if not allow_download:
        raise DataUnavailable(f"missing {dest}: download {urls[0]} and put it in {dest.parent}/")
    errors = []
    for url in urls:
        try:
            with atomic_path(dest) as tmp:  # moved into place only when complete and verified
                _download(url, tmp, timeout, dest.name)
                if algo is not None and (got := file_digest(tmp, algo)) != want:
                    raise DataUnavailable(f"downloaded {dest.name} from {url} has {algo} {got}, expected {want}; "
                                          f"file removed")
            return dest
        except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as e:
            errors.append(f"{getattr(e, 'reason', e) or type(e).__name__}")  # unreachable, refused, cut off
    raise DataUnavailable(f"cannot download {dest.name} ({errors[-1]}): put the file from {urls[0]} "
                          f"into {dest.parent.resolve()}/ (tried {len(urls)} URL(s))")
