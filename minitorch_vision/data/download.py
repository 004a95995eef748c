"""The only module that touches the network.

``fetch`` downloads a file from one of its official URLs into the data folder, checks its
published checksum, and only then moves it into place (download to ``<name>.part``, verify,
``os.replace``): an interrupted or corrupt download never leaves a half-written file behind.
Offline, it raises :class:`DataUnavailable` whose one-line message says which file to put where.
"""
import hashlib
import os
import urllib.error
import urllib.request
from pathlib import Path

from tqdm.auto import tqdm

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


def _download(url, tmp, timeout):
    with urllib.request.urlopen(url, timeout=timeout) as r, open(tmp, "wb") as f:
        total = int(r.headers.get("Content-Length") or 0) or None
        with tqdm(total=total, unit="B", unit_scale=True, desc=f"download {tmp.name[:-5]}",
                  leave=False, disable=None) as bar:
            for block in iter(lambda: r.read(_CHUNK), b""):
                f.write(block)
                bar.update(len(block))


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
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".part")
    errors = []
    for url in urls:
        try:
            _download(url, tmp, timeout)
        except (urllib.error.URLError, OSError, ValueError) as e:
            errors.append(f"{url}: {getattr(e, 'reason', e)}")
            tmp.unlink(missing_ok=True)
            continue
        except BaseException:  # Ctrl-C mid-download: leave nothing half-written
            tmp.unlink(missing_ok=True)
            raise
        if algo is not None and (got := file_digest(tmp, algo)) != want:
            tmp.unlink(missing_ok=True)
            raise DataUnavailable(f"downloaded {dest.name} from {url} has {algo} {got}, expected {want}; file removed")
        os.replace(tmp, dest)
        return dest
    raise DataUnavailable(f"cannot download {dest.name} (offline?): put the file from {urls[0]} "
                          f"into {dest.parent.resolve()}/ (tried {len(urls)} URL(s))")
