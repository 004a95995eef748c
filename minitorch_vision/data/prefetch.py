"""The whole course's data at once: what ``python -m minitorch_vision.data fetch | check`` and
``run_all.py`` do, built on the table and :func:`~minitorch_vision.data.manifest.fetch_entry`.
"""
from pathlib import Path

from tqdm.auto import tqdm

from ..errors import DataUnavailable
from ..atomic import remove_stale_temps
from .archive import remove_stale_extractions
from .download import file_digest
from .manifest import ENTRIES, fetch_entry, is_present, lesson_keys, missing_message, verify
from .paths import data_dir as resolve_data_dir


def keys_for(lessons=None):
    """Entry keys used by ``lessons`` (numbers like ``"05"``), or every key when None, in table order."""
    if not lessons:
        return list(ENTRIES)
    wanted = {k for lesson in lessons for k in lesson_keys(lesson)}
    return [k for k in ENTRIES if k in wanted]


def _alternative(entry, root):
    return entry.alternative and (Path(root) / entry.alternative).is_dir()


def _mb(n):
    return f"{n / 1e6:.1f} MB"


def fetch_all(keys, data_dir=None, log=print):
    """Download every entry of ``keys`` that is missing, with a bar per file and a total bar.

    Entries already in place are checked and skipped (a second run downloads nothing); an entry whose
    ``alternative`` folder exists (a user's own CIFAR-10 image folder) is skipped; an optional entry
    that cannot be had is one note line (its lessons have a fallback). Hidden temporary files of
    killed downloads are removed first.

    Returns the list of keys downloaded. Raises DataUnavailable, one line listing every required entry
    that is still missing with its official URL and folder (each one's reason was logged above it).
    """
    root = resolve_data_dir(data_dir)
    remove_stale_temps(root)  # what killed downloads and extractions left
    if root.is_dir():
        remove_stale_extractions(root)
    entries = [ENTRIES[k] for k in keys]
    elsewhere = [e for e in entries if _alternative(e, root) and not is_present(e, root)]
    for e in elsewhere:
        log(f"  {e.key}: using your folder {root / e.alternative} instead (not downloaded)")
    todo = [e for e in entries if e not in elsewhere and not is_present(e, root)]
    failed, done = [], []
    with tqdm(total=sum(e.size for e in todo), unit="B", unit_scale=True, desc="total", disable=None if todo else True) as bar:
        for e in (e for e in entries if e not in elsewhere):  # present ones too: fetch() verifies their checksums
            try:
                fetch_entry(e, root, progress=bar.update)
                if e in todo:
                    done.append(e.key)
                    files = e.members or e.files
                    checked = "verified" if all(f.md5 or f.sha256 for f in files) else (
                        "NOT verified: no published checksum; its sha256 is "
                        + file_digest(root / files[0].path, "sha256"))
                    log(f"  {e.key}: downloaded, {checked} ({_mb(e.size)})")
            except DataUnavailable as err:
                log(f"  {e.key}: {'optional, not available' if e.optional else 'FAILED'}: {err}"
                    + (f" ({e.optional})" if e.optional else ""))
                if not e.optional:
                    failed.append(e)
    if failed:
        raise DataUnavailable(missing_message(failed, root))
    log(f"  {len(done)} entr{'y' if len(done) == 1 else 'ies'} downloaded" if done else
        f"  nothing to download: what the lessons use is in {root}")
    return done


def check_rows(keys, data_dir=None):
    """``(state, key, detail, needed)`` per entry: state present/missing/corrupt; needed False when the
    lessons can run without it (optional, or its alternative folder is there)."""
    root = resolve_data_dir(data_dir)
    rows = []
    for k in keys:
        e = ENTRIES[k]
        state, detail = verify(e, root)
        detail = "" if detail == state else detail
        needed = not e.optional
        if state != "present" and _alternative(e, root):
            detail += f"; your folder {e.alternative.split('/')[0]}/ serves instead"
            needed = False
        elif state != "present" and e.optional:
            detail += f"; optional: {e.optional}"
        if state != "present":
            detail += f"; from {e.files[0].urls[0]}"
        rows.append((state, k, f"{_mb(e.size)}, lessons {' '.join(e.lessons)}" + (f"; {detail}" if detail else ""),
                     needed))
    return rows
