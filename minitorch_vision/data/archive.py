"""Extracting a downloaded archive (CIFAR-10's ``.tar.gz``, COCO128's ``.zip``) without trusting it.

An archive names its own member paths, so a tampered one can write anywhere: ``../../.bashrc``, an
absolute path, or a symlink that points outside and is then written through ("zip slip",
CVE-2007-4559 for tarfile). :func:`safe_extract` checks every member first and refuses the whole
archive if one would land outside the destination (Python 3.12's ``tarfile`` ``data`` filter has the
same rules; this works on 3.10+ and for zip files too). Extraction goes to a hidden temporary folder
``<dest>/.<archive>.<pid>.extracting`` and each top-level entry is renamed into place only when
everything succeeded, so an interrupted extraction never leaves half a dataset; the folder of an
extraction that was killed is removed by the next one (:func:`remove_stale_extractions`).
"""
import os
import re
import shutil
import stat
import tarfile
import zipfile
from pathlib import Path

from ..atomic import pid_alive
from ..errors import DataUnavailable

_BLOCK = 1 << 20
_EXTRACTING = re.compile(r"^\..+\.(\d+)\.extracting$")


def remove_stale_extractions(folder):
    """Delete ``folder/.<archive>.<pid>.extracting`` folders whose process is gone; return them."""
    stale = [p for p in Path(folder).glob(".*.extracting")
             if (m := _EXTRACTING.match(p.name)) and p.is_dir() and not pid_alive(int(m.group(1)))]
    for p in stale:
        shutil.rmtree(p, ignore_errors=True)
    return stale


def check_member(name, dest, *, link=None, special=False):
    """Refuse (DataUnavailable) a member ``name`` that would land outside ``dest`` (a resolved folder).

    ``link``: the target of a symlink member (relative to the member's folder), else None.
    ``special``: a device file, FIFO or similar, which no dataset needs.
    """
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        raise DataUnavailable(f"refusing to extract {name!r}: absolute path in archive")
    target = (dest / name).resolve()
    if target != dest and dest not in target.parents:
        raise DataUnavailable(f"refusing to extract {name!r}: it would land outside {dest}")
    if link is not None:
        to = (target.parent / link).resolve()
        if link.startswith("/") or (to != dest and dest not in to.parents):
            raise DataUnavailable(f"refusing to extract {name!r}: link to {link!r} points outside {dest}")
    elif special:
        raise DataUnavailable(f"refusing to extract {name!r}: device or special file")


def _tar_members(archive, dest):
    """(name, is_dir, open_fn) for each regular member of a tar file, after checking all of them."""
    tar = tarfile.open(archive, "r:*")
    out = []
    for m in tar.getmembers():
        link = m.linkname if m.issym() else None
        if m.islnk():  # a hard link names another member, relative to the archive root
            link = m.linkname if m.linkname.startswith("/") else os.path.relpath(m.linkname, os.path.dirname(m.name) or ".")
        check_member(m.name, dest, link=link, special=not (m.isfile() or m.isdir() or m.issym() or m.islnk()))
        if m.isdir() or m.isfile():  # links passed the check but no dataset here needs them: skipped
            out.append((m.name, m.isdir(), lambda m=m: tar.extractfile(m)))
    return tar, out


def _zip_members(archive, dest):
    """The same for a zip file; a member whose Unix mode says symlink is checked as a link."""
    z = zipfile.ZipFile(archive)
    out = []
    for info in z.infolist():
        kind = stat.S_IFMT(info.external_attr >> 16)  # 0: no Unix file type recorded (a plain file or folder)
        link = z.read(info).decode("utf-8", "replace") if kind == stat.S_IFLNK else None
        check_member(info.filename, dest, link=link, special=kind not in (0, stat.S_IFREG, stat.S_IFDIR, stat.S_IFLNK))
        if link is None:
            out.append((info.filename, info.is_dir(), lambda info=info: z.open(info)))
    return z, out


def safe_extract(archive, dest):
    """Extract a ``.tar[.gz]`` or ``.zip`` archive into folder ``dest``; return ``dest`` (resolved).

    Every member is checked before anything is written (:func:`check_member`); symlinks and hard
    links are checked and then skipped (no dataset here needs them). Each top-level entry of the
    archive replaces the one of the same name in ``dest`` whole.

    Raises DataUnavailable naming the offending member, or the archive when it cannot be read.
    """
    dest = Path(dest).resolve()
    remove_stale_extractions(dest)
    tmp = dest / f".{Path(archive).name}.{os.getpid()}.extracting"  # per process: torchrun ranks never share it
    opener = _zip_members if zipfile.is_zipfile(archive) else _tar_members
    try:
        handle, members = opener(archive, dest)
        with handle:
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir(parents=True)
            for name, is_dir, open_member in members:  # names checked above
                target = tmp / name
                if is_dir:
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                with open_member() as src, open(target, "wb") as out:
                    shutil.copyfileobj(src, out, _BLOCK)
        dest.mkdir(parents=True, exist_ok=True)
        for child in tmp.iterdir():  # each top-level entry replaced whole, so none is half-extracted
            target = dest / child.name
            if target.is_dir():
                shutil.rmtree(target)
            elif target.exists():
                target.unlink()
            os.replace(child, target)
    except (tarfile.TarError, zipfile.BadZipFile, OSError, EOFError) as e:
        raise DataUnavailable(f"cannot extract {archive}: {e} — delete it and download it again") from None
    finally:  # success, a refused member, a bad archive or Ctrl-C: the temporary folder goes
        shutil.rmtree(tmp, ignore_errors=True)
    return dest
