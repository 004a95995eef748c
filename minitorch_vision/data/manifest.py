"""Every file the course uses, in one table, and :func:`ensure`: the one call a lesson makes for its data.

Each :class:`Entry` has a key (``"fashion-mnist"``, ``"cifar-10"``, ``"coco128"``, ``"images/bus.jpg"``,
``"weights/yolov5n.pt"``), the lessons that use it, and its :class:`File` s: the path in the data folder,
the official URLs in the order they are tried, the size in bytes and the published (or, where none is
published, measured) checksum. Sources and how each checksum was obtained: ``shared/data/SOURCES.md``
of the course and the comments below.

    >>> from minitorch_vision.data.manifest import ensure
    >>> ensure("images/bus.jpg", data_dir)      # -> <data>/images/bus.jpg, downloaded if missing
    >>> ensure("coco128", data_dir)             # -> <data>/coco128/ (zip downloaded and extracted)
    >>> ensure("images", data_dir)              # a folder key: every entry under it -> <data>/images/

Archives (CIFAR-10's ``.tar.gz``, COCO128's ``.zip``) are downloaded from the official hosts,
checked, extracted with :func:`minitorch_vision.data.archive.safe_extract`, their extracted files
(``members``) checked against the table, and then deleted (the extracted folder is what a lesson reads).

**Mirror** (``MTV_MIRROR``): one base URL (or several, separated by spaces, tried in order) that
replaces every official host. A mirror has the layout of a complete data folder: ``<mirror>/images/bus.jpg``,
``<mirror>/weights/yolov5n.pt``, and for the archives their *extracted* files
(``<mirror>/coco128/images/train2017/000000000009.jpg``, ``<mirror>/cifar-10-batches-py/data_batch_1``),
each checked against its own checksum; the archives themselves are never fetched from a mirror. So
``python -m http.server`` in a complete data folder is a mirror. Downloading is
:func:`minitorch_vision.data.download.fetch`, the only code that touches the network; the whole
course at once (``python -m minitorch_vision.data fetch | check``, ``run_all.py``) is :mod:`.prefetch`.
"""
import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import DataUnavailable
from .archive import safe_extract
from .download import fetch, file_digest
from .paths import data_dir as resolve_data_dir

MIRROR_ENV = "MTV_MIRROR"
FETCH_HINT = "python -m minitorch_vision.data fetch"


@dataclass(frozen=True)
class File:
    """One file: ``path`` relative to the data folder (and to a mirror), official ``urls`` in order."""
    path: str
    urls: tuple = ()
    size: int = 0            # bytes; for the progress bar, the README's total and a quick "present" test
    md5: str = None          # published checksums; sha256 wins when both are given
    sha256: str = None
    exact_size: bool = True  # False: the size is approximate (the host publishes none and no digest is known)


@dataclass(frozen=True)
class Entry:
    """What a lesson asks for: one file, a set of files, or an archive and what it extracts to."""
    key: str
    lessons: tuple            # lesson numbers that use it, e.g. ("05", "06")
    files: tuple              # downloaded from the official hosts
    members: tuple = ()       # an archive's extracted files (what a mirror serves instead)
    result: str = ""          # what ensure() returns, relative to the data folder (default: the one file)
    optional: str = ""        # non-empty: why the lessons can run without it (their fallback)
    alternative: str = ""     # a folder that serves the lessons instead (a user's own image folder)

    @property
    def size(self):
        return sum(f.size for f in self.files)

    def target(self, root):
        return Path(root) / (self.result or self.files[0].path)


# ---- the table ---------------------------------------------------------------------------------------
_FASHION = ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
            "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/")


def _fashion(name, size, md5):  # md5: published by Zalando (also torchvision's FashionMNIST.resources)
    return File(f"fashion-mnist/{name}", tuple(m + name for m in _FASHION), size, md5=md5)


def _raw(repo, commit, path):  # a file of a GitHub repository: the pinned commit first, then the default branch
    return (f"https://raw.githubusercontent.com/{repo}/{commit}/{path}",
            f"https://raw.githubusercontent.com/{repo}/HEAD/{path}")


_SKIMAGE = "https://raw.githubusercontent.com/scikit-image/scikit-image/{}/skimage/data/{}"
# CIFAR-10's extracted files: md5s as published with the dataset (torchvision's CIFAR10 train_list/meta)
_CIFAR_MEMBERS = tuple(File(f"cifar-10-batches-py/{n}", (), s, md5=m, exact_size=s > 0) for n, s, m in [
    ("data_batch_1", 31035704, "c99cafc152244af753f735de768cd75f"),
    ("data_batch_2", 0, "d4bba439e000b95fd0a9bffe97cbabec"),  # sizes not known here: md5 only
    ("data_batch_3", 0, "54ebc095f3ab1f0389bbae665268c751"),
    ("data_batch_4", 0, "634d18415352ddfa80567beed471001a"),
    ("data_batch_5", 0, "482c414d41f54cd18b22e5b47cb7c3cb"),
    ("test_batch", 31035526, "40351d587109b95175f43aff81a1287e"),
    ("batches.meta", 158, "5ff9c542aee3614f3951f8cda6e48888"),
])


def _coco128_members():
    """COCO128's 257 extracted files with sha256 and size (``coco128_sha256.txt``, measured on the copy
    described in SOURCES.md: every image equals the Git LFS oid of an independent copy)."""
    lines = Path(__file__).with_name("coco128_sha256.txt").read_text().splitlines()
    return tuple(File(f"coco128/{p}", (), int(s), sha256=h)
                 for h, s, p in (ln.split() for ln in lines if ln and not ln.startswith("#")))


YOLOV5_URL = "https://github.com/ultralytics/yolov5/releases/download/{tag}/yolov5{size}.pt"

ENTRIES = {e.key: e for e in [
    Entry("fashion-mnist", ("01", "02", "03", "06"), (
        _fashion("train-images-idx3-ubyte.gz", 26421880, "8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
        _fashion("train-labels-idx1-ubyte.gz", 29515, "25c81989df183df01b3e8a0aad5dffbe"),
        _fashion("t10k-images-idx3-ubyte.gz", 4422102, "bef4ecab320f06d8554ea6380940ec79"),
        _fashion("t10k-labels-idx1-ubyte.gz", 5148, "bb300cfdad3c16e7a12a480ee83cd310"),
    ), result="fashion-mnist"),
    # md5 published on the CIFAR page (also torchvision's CIFAR10.tgz_md5)
    Entry("cifar-10", ("04",), (File("cifar-10-python.tar.gz", ("https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",),
                                     170498071, md5="c58f30108f718f92721af3b95e74349a"),),
          members=_CIFAR_MEMBERS, result="cifar-10-batches-py", alternative="cifar10-images/train"),
    # The official zip of the YOLOv5 project (its data/coco128.yaml). Ultralytics publishes no digest for
    # it, so the zip is not checked; its 257 extracted files are, one by one.
    Entry("coco128", ("05",), (File("coco128.zip", ("https://github.com/ultralytics/assets/releases/download/v0.0.0/coco128.zip",
                                                    "https://ultralytics.com/assets/coco128.zip"),
                                    6_700_000, exact_size=False),),
          members=_coco128_members(), result="coco128"),
    # torchvision's IMAGENET1K_V1; the file name carries the first 8 hex digits of its sha256
    Entry("weights/resnet18-f37072fd.pth", ("04", "06"), (File(
        "weights/resnet18-f37072fd.pth", ("https://download.pytorch.org/models/resnet18-f37072fd.pth",), 46830571,
        sha256="f37072fd47e89c5e827621c5baffa7500819f7896bbacec160b1a16c560e07ec"),),
          optional="without it lesson 04 uses another pretrained backbone and lesson 06 an untrained ResNet-18"),
    # Ultralytics publishes no digests for release assets. yolov5n.pt v6.1: sha256 measured on the file the
    # ultralytics/yolov5 repository itself committed (981548a, 2022-07-29), byte-identical to an independent
    # copy; the course's reference outputs were made with it.
    Entry("weights/yolov5n.pt", ("05", "06"), (File(
        "weights/yolov5n.pt", (YOLOV5_URL.format(tag="v6.1", size="n"),), 4062133,
        sha256="4f180cf23ba0717ada0badd6c685026d73d48f184d00fc159c2641284b2ac0a3"),)),
    # v7.0 yolov5s.pt: no known digest (downloaded with a printed warning); size approximate
    Entry("weights/yolov5s.pt", ("05",), (File(
        "weights/yolov5s.pt", (YOLOV5_URL.format(tag="v7.0", size="s"),), 14_800_000, exact_size=False),),
          optional="without it lesson 05 uses yolov5n.pt"),
    # sample photos: exact sources in SOURCES.md
    Entry("images/bus.jpg", ("05", "06"), (File("images/bus.jpg", _raw(
        "ultralytics/yolov5", "5081342f04fb287fc2e5f2b5a4e06752b7937b1c", "data/images/bus.jpg"), 487438,
        sha256="33b198a1d2839bb9ac4c65d61f9e852196793cae9a0781360859425f6022b69c"),)),
    Entry("images/zidane.jpg", ("05",), (File("images/zidane.jpg", _raw(
        "ultralytics/yolov5", "5081342f04fb287fc2e5f2b5a4e06752b7937b1c", "data/images/zidane.jpg"), 168949,
        sha256="356dad2107bb0254e4e4a81bc1d9c7140043e88569d546e5b404b19bffa77d0a"),)),
    Entry("images/both.png", ("04", "05", "06"), (File("images/both.png", _raw(
        "jacobgil/pytorch-grad-cam", "084273b3f30b54ad0c64cf8020a4337d979a66e0", "examples/both.png"), 90226,
        sha256="8d30785a513e22a2f574c839c7e1751db943d0b5399347e7bb37736f6c5a95c2"),)),
    Entry("images/cat.png", ("04", "05", "06"), (File("images/cat.png", tuple(
        _SKIMAGE.format(t, "chelsea.png") for t in ("v0.26.0", "main")), 240512,
        sha256="596aa1e7cb875eb79f437e310381d26b338a81c2da23439704a73c4651e8c4bb"),)),
    Entry("images/coffee.png", ("05",), (File("images/coffee.png", tuple(
        _SKIMAGE.format(t, "coffee.png") for t in ("v0.26.0", "main")), 466706,
        sha256="cc02f8ca188b167c775a7101b5d767d1e71792cf762c33d6fa15a4599b5a8de7"),)),
    Entry("images/astronaut.png", ("05",), (File("images/astronaut.png", tuple(
        _SKIMAGE.format(t, "astronaut.png") for t in ("v0.26.0", "main")), 791555,
        sha256="88431cd9653ccd539741b555fb0a46b61558b301d4110412b5bc28b5e3ea6cb5"),)),
]}


# ---- which files, from where -------------------------------------------------------------------------

def mirrors():
    """Base URLs from ``$MTV_MIRROR`` (space-separated, each ending in ``/``), or [] for the official hosts."""
    return [m if m.endswith("/") else m + "/" for m in os.environ.get(MIRROR_ENV, "").split()]


def lesson_keys(lesson):
    """Keys of the entries lesson ``lesson`` uses (``"05"``, ``5`` or ``"05_detection"``), in table order."""
    n = str(lesson)[:2].zfill(2) if str(lesson)[:2].isdigit() else str(lesson).zfill(2)
    return [k for k, e in ENTRIES.items() if n in e.lessons]


def entries_for(key):
    """The entries of ``key``: itself, or for a folder key (``"images"``, ``"weights"``) every entry under it."""
    if key in ENTRIES:
        return [ENTRIES[key]]
    group = [e for k, e in ENTRIES.items() if k.startswith(key.rstrip("/") + "/")]
    if not group:
        raise KeyError(f"{key!r} is not in the data manifest (known: {', '.join(ENTRIES)})")
    return group


def _quick_present(f, root):
    p = Path(root) / f.path
    return p.is_file() and (not f.exact_size or p.stat().st_size == f.size)


def is_present(entry, root):
    """Every file of ``entry`` is in place with its size (fast: no checksum; :func:`verify` does those)."""
    return all(_quick_present(f, root) for f in (entry.members or entry.files))


def verify(entry, root):
    """``("present" | "missing" | "corrupt", detail)`` for ``entry`` in data folder ``root``, checksums included."""
    files = entry.members or entry.files
    missing = [f for f in files if not (Path(root) / f.path).is_file()]
    if missing:
        part = f"{len(missing)} of {len(files)} files missing" if len(files) > 1 else "missing"
        return "missing", part
    bad = [f for f in files if not _matches(f, Path(root) / f.path)]
    if bad:
        return "corrupt", f"wrong checksum or size: {', '.join(f.path for f in bad[:3])}" + (
            f" (+{len(bad) - 3} more)" if len(bad) > 3 else "")
    return "present", f"{len(files)} files" if len(files) > 1 else ""


def _matches(f, p):
    if f.sha256 or f.md5:
        algo = "sha256" if f.sha256 else "md5"
        return file_digest(p, algo) == (f.sha256 or f.md5)
    return not f.exact_size or p.stat().st_size == f.size


def where_to_get(entry, root):
    """``"<official URL> -> <folder>/"`` for each file a user must get by hand (one line's worth)."""
    root = Path(root).resolve()
    unpack = " (and extract it there)" if entry.members else ""
    return "; ".join(f"{f.urls[0]} -> {(root / f.path).parent}/{unpack}" for f in entry.files)


def missing_message(entries, root, reasons=None):
    """One line naming every missing entry with its official URL and target folder (the offline message)."""
    parts = [f"{e.key} ({where_to_get(e, root)})" for e in entries]
    why = f" [{'; '.join(reasons)}]" if reasons else ""
    return (f"missing data: {', '.join(parts)}{why} — put them there by hand, or run `{FETCH_HINT} --data-dir "
            f"{root}` with internet access (or {MIRROR_ENV} set to a mirror)")


# ---- getting them ----------------------------------------------------------------------------------

def _sources(f, entry):
    """(URLs to try, official URL for messages) of file ``f``: the mirrors when set, else its official URLs."""
    official = f.urls[0] if f.urls else f"{entry.files[0].urls[0]} (extracted)"  # a member comes from its archive
    bases = mirrors()
    return ([b + f.path for b in bases] if bases else list(f.urls)), official


def _fetch_files(files, entry, root, allow_download, progress):
    """fetch() each file (it returns at once for a file in place with its checksum); one error for all."""
    reasons = []
    for f in files:
        urls, official = _sources(f, entry)
        try:
            fetch(urls, root / f.path, md5=f.md5, sha256=f.sha256, allow_download=allow_download,
                  progress=progress, official=official)
        except DataUnavailable as e:
            reasons.append(str(e))
    if len(reasons) == 1:
        raise DataUnavailable(reasons[0])
    if reasons:  # many files of one entry (a mirror's COCO128): the count and the first reason
        raise DataUnavailable(f"{len(reasons)} of {len(files)} files of {entry.key} unavailable, the first: {reasons[0]}")


def fetch_entry(entry, root, allow_download=True, progress=None):
    """Make ``entry`` present in data folder ``root`` (mirror or official hosts); DataUnavailable says why not.

    A single-file entry is checksum-verified on every call; an archive entry counts as present when its
    extracted files are in place with their sizes (:func:`is_present`; ``check`` verifies their checksums).
    """
    root = Path(root)
    if not entry.members:
        return _fetch_files(entry.files, entry, root, allow_download, progress)
    if is_present(entry, root):
        return None
    if not allow_download:
        raise DataUnavailable(missing_message([entry], root))
    if mirrors():  # a mirror holds the extracted files, each checked against its own checksum
        return _fetch_files(entry.members, entry, root, True, progress)
    archive = entry.files[0]
    path = fetch(list(archive.urls), root / archive.path, md5=archive.md5, sha256=archive.sha256, progress=progress)
    safe_extract(path, root)
    state, detail = verify(entry, root)
    if state != "present":
        raise DataUnavailable(f"{archive.path} from {archive.urls[0]} extracted, but {entry.result}/ does not match "
                              f"the manifest ({detail}) — delete {root / entry.result} and report it")
    path.unlink()  # the extracted, verified folder is what lessons read; the archive is not needed again
    return None


def ensure(key, data_dir=None, allow_download=True):
    """Path of the file or folder ``key`` in the data folder, downloading it first when missing.

    Args:
        key: an entry of :data:`ENTRIES` (``"coco128"``, ``"fashion-mnist"``, ``"images/bus.jpg"``,
            ``"weights/yolov5n.pt"``) or a folder of entries (``"images"``).
        data_dir: the data folder (``--data-dir``; None: ``$MTV_DATA_DIR``, else ``./data``).
        allow_download: False (``--no-download``) turns a missing file into the error below.
    Returns:
        the file, or the extracted folder (``<data>/coco128``, ``<data>/images``).
    Raises:
        DataUnavailable: one line: every missing file with its official URL and the folder to put it
            in (offline, ``--no-download``), or each URL's own reason when a download failed.
        KeyError: a key that is not in the manifest (a programming error).
    """
    root = resolve_data_dir(data_dir)
    entries = entries_for(key)
    if not allow_download:  # offline: every missing file in one line, not one lesson part at a time
        absent = [e for e in entries if not any((root / f.path).is_file() for f in (e.members or e.files))]
        if absent:
            raise DataUnavailable(missing_message(absent, root))
    reasons = []
    for e in entries:
        try:
            fetch_entry(e, root, allow_download)
        except DataUnavailable as err:
            reasons.append(str(err))
    if reasons:
        raise DataUnavailable(reasons[0] if len(reasons) == 1 else " | ".join(reasons))
    return ENTRIES[key].target(root) if key in ENTRIES else root / key
