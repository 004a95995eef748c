"""CIFAR-10: the official pickle format, safe tar and zip extraction, the image-folder reader, mini-datasets."""
import io
import pickle
import stat
import tarfile
import zipfile

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import need
from minitorch_vision.data import cifar10
from minitorch_vision.data.archive import safe_extract
from minitorch_vision.errors import DataUnavailable


def _images(n, seed=0):
    return np.random.default_rng(seed).integers(0, 256, size=(n, 32, 32, 3), dtype=np.uint8)  # HWC, like PIL


def _write_batch(path, imgs, labels):
    """Write a batch exactly as the official files are laid out: a protocol-2 pickle (Python 2 era) of
    a dict with byte-string keys, data (N, 3072) uint8 = R plane, G plane, B plane, each row-major."""
    d = {b"batch_label": b"training batch 1 of 5",
         b"labels": list(map(int, labels)),
         b"data": np.ascontiguousarray(imgs.transpose(0, 3, 1, 2).reshape(len(imgs), 3072)),
         b"filenames": [f"img_{i}.png".encode() for i in range(len(imgs))]}
    with open(path, "wb") as f:
        pickle.dump(d, f, protocol=2)


def test_read_batch_official_layout(tmp_path):
    imgs, labels = _images(7), [3, 1, 4, 1, 5, 9, 2]
    imgs[0, 2, 5] = (10, 20, 30)  # pixel (row 2, col 5) of image 0: R=10 G=20 B=30
    _write_batch(tmp_path / "data_batch_1", imgs, labels)
    x, y = cifar10.read_batch(tmp_path / "data_batch_1")
    assert x.dtype == torch.uint8 and x.shape == (7, 3, 32, 32)
    assert y.tolist() == labels and y.dtype == torch.int64
    assert x[0, :, 2, 5].tolist() == [10, 20, 30]
    assert torch.equal(x, torch.from_numpy(imgs).permute(0, 3, 1, 2))


def test_read_pickles_and_meta(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    for i, name in enumerate(cifar10.TRAIN_FILES + cifar10.TEST_FILES):
        _write_batch(folder / name, _images(3, seed=i), [i, i, 9 - i])
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump({b"label_names": [c.encode() for c in cifar10.CLASSES], b"num_cases_per_batch": 3, b"num_vis": 3072},
                    f, protocol=2)
    assert cifar10.has_pickles(tmp_path)
    x, y, names = cifar10.read_pickles(folder, "train")
    assert x.shape == (15, 3, 32, 32) and y.tolist()[:3] == [0, 0, 9] and names == cifar10.CLASSES
    xt, yt, _ = cifar10.read_pickles(folder, "test")
    assert xt.shape == (3, 3, 32, 32) and yt.tolist() == [5, 5, 4]


def test_real_meta_file(data_dir):
    assert cifar10.read_meta(need(data_dir, "cifar-10-batches-py", "batches.meta").parent) == cifar10.CLASSES


def test_corrupt_batch_is_one_line(tmp_path):
    (tmp_path / "data_batch_1").write_bytes(b"\x80\x02garbage")
    with pytest.raises(DataUnavailable) as e:
        cifar10.read_batch(tmp_path / "data_batch_1")
    assert "\n" not in str(e.value)
    with pytest.raises(DataUnavailable, match="does not exist"):
        cifar10.read_batch(tmp_path / "nope")


def _tar(path, members):
    """members: list of (TarInfo-configuring callable or name, bytes|None)."""
    with tarfile.open(path, "w:gz") as tar:
        for info, payload in members:
            tar.addfile(info, io.BytesIO(payload) if payload is not None else None)


def _file(name, payload=b"x"):
    ti = tarfile.TarInfo(name)
    ti.size = len(payload)
    return ti, payload


def _link(name, target, sym=True):
    ti = tarfile.TarInfo(name)
    ti.type = tarfile.SYMTYPE if sym else tarfile.LNKTYPE
    ti.linkname = target
    return ti, None


def test_safe_extract_good_archive(tmp_path):
    arc = tmp_path / "a.tar.gz"
    _tar(arc, [_file("cifar-10-batches-py/readme.html", b"hello"), _link("cifar-10-batches-py/l", "readme.html")])
    dest = tmp_path / "data"
    safe_extract(arc, dest)
    assert (dest / "cifar-10-batches-py" / "readme.html").read_bytes() == b"hello"
    assert [p.name for p in tmp_path.iterdir()] == ["a.tar.gz", "data"]  # no temporary folder left


@pytest.mark.parametrize("member", [
    _file("../evil.txt"),
    _file("cifar-10-batches-py/../../evil.txt"),
    _file("/tmp/mtv_evil_absolute.txt"),
    _link("cifar-10-batches-py/link", "../../evil.txt"),
    _link("cifar-10-batches-py/abs", "/etc/passwd"),
    _link("cifar-10-batches-py/hard", "../evil.txt", sym=False),
], ids=["dotdot", "nested-dotdot", "absolute", "symlink-out", "symlink-abs", "hardlink-out"])
def test_safe_extract_refuses_members_escaping_the_folder(tmp_path, member):
    arc = tmp_path / "bad.tar.gz"
    _tar(arc, [_file("cifar-10-batches-py/ok.txt"), member])
    dest = tmp_path / "inner" / "data"
    dest.mkdir(parents=True)
    with pytest.raises(DataUnavailable, match="refusing to extract") as e:
        safe_extract(arc, dest)
    assert "\n" not in str(e.value)
    assert not (tmp_path / "evil.txt").exists() and not (tmp_path / "inner" / "evil.txt").exists()
    assert not (dest / "cifar-10-batches-py").exists()  # nothing extracted at all: checked before writing
    assert [p.name for p in (tmp_path / "inner").iterdir()] == ["data"]  # no temporary folder left


def _write_folder(root, split, per_class, size=32, suffixes=(".png", ".jpg")):
    for c, name in enumerate(["cat", "dog", "ship"]):
        d = root / split / name
        d.mkdir(parents=True)
        for i in range(per_class):
            a = np.full((size, size, 3), 40 * c + i, dtype=np.uint8)
            Image.fromarray(a).save(d / f"{i:04d}{suffixes[i % len(suffixes)]}")


def test_image_folder_reader(tmp_path):
    _write_folder(tmp_path, "train", 4)
    (tmp_path / "train" / "cat" / "notes.txt").write_text("not an image")  # ignored
    x, y, classes = cifar10.read_image_folder(tmp_path, "train")
    assert classes == ["cat", "dog", "ship"] and x.shape == (12, 3, 32, 32) and x.dtype == torch.uint8
    assert y.tolist() == [0] * 4 + [1] * 4 + [2] * 4
    assert x[0].float().mean().item() == pytest.approx(0, abs=1) and x[4].float().mean().item() == pytest.approx(40, abs=2)
    x2, y2, c2 = cifar10.read_image_folder(tmp_path, "train", classes=["ship", "cat"], size=16, limit_per_class=2)
    assert c2 == ["ship", "cat"] and x2.shape == (4, 3, 16, 16) and y2.tolist() == [0, 0, 1, 1]
    with pytest.raises(DataUnavailable, match="does not exist"):
        cifar10.read_image_folder(tmp_path, "test")
    with pytest.raises(DataUnavailable, match="no images"):
        cifar10.read_image_folder(tmp_path, "train", classes=["cat", "horse"])


def test_image_folder_mixed_sizes_need_size(tmp_path):
    _write_folder(tmp_path, "train", 1)
    Image.fromarray(np.zeros((20, 30, 3), np.uint8)).save(tmp_path / "train" / "dog" / "big.png")
    with pytest.raises(DataUnavailable, match="resize the images"):
        cifar10.read_image_folder(tmp_path, "train")
    x, _, _ = cifar10.read_image_folder(tmp_path, "train", size=24)
    assert x.shape == (4, 3, 24, 24)


def test_real_image_folder(data_dir):
    root = need(data_dir, "cifar10-images")
    xtr, ytr, xte, yte, names, _ = cifar10.load_cifar10(data_dir, "images", classes=["cat", "ship"])
    assert names == cifar10.CLASSES and xtr.shape[1:] == (3, 32, 32)
    assert (ytr == 3).sum() == len(list((root / "train" / "cat").glob("*.jpg")))
    assert set(yte.tolist()) == {3, 8}


def _pool(n_per_class=30, n_cls=4):
    # every image unique: pixel [0,0,0] and [0,0,1] encode its row number
    n = n_per_class * n_cls
    x = torch.zeros(n, 3, 8, 8, dtype=torch.uint8)
    x[:, 0, 0, 0] = torch.arange(n) % 256
    x[:, 0, 0, 1] = torch.arange(n) // 256
    y = torch.arange(n) % n_cls
    return x, y, [f"c{i}" for i in range(n_cls)]


def test_mini_dataset_balanced_seeded_no_leak_single_pool():
    x, y, names = _pool()
    m = cifar10.mini_dataset(x, y, names, ["c3", "c1"], k=5, seed=1, test_per_class=10)
    assert m.classes == ["c3", "c1"]
    assert torch.bincount(m.y_train).tolist() == [5, 5] and torch.bincount(m.y_test).tolist() == [10, 10]
    assert torch.equal(y[m.train_index], torch.tensor([3] * 5 + [1] * 5))  # labels remapped in class order
    assert not set(m.train_index.tolist()) & set(m.test_index.tolist())
    key = lambda t: {(int(a), int(b)) for a, b in zip(t[:, 0, 0, 0], t[:, 0, 0, 1])}  # noqa: E731
    assert not key(m.x_train) & key(m.x_test)  # by content too
    again = cifar10.mini_dataset(x, y, names, ["c3", "c1"], k=5, seed=1, test_per_class=10)
    assert torch.equal(again.train_index, m.train_index) and torch.equal(again.test_index, m.test_index)
    other = cifar10.mini_dataset(x, y, names, ["c3", "c1"], k=5, seed=2, test_per_class=10)
    assert not torch.equal(other.train_index, m.train_index)
    big = cifar10.mini_dataset(x, y, names, ["c3", "c1"], k=15, seed=1, test_per_class=10)
    assert torch.equal(big.test_index, m.test_index)  # the test set does not depend on k
    assert set(m.train_index.tolist()) <= set(big.train_index.tolist())  # k=5 within k=15
    assert not set(big.train_index.tolist()) & set(big.test_index.tolist())
    with pytest.raises(DataUnavailable, match="need"):
        cifar10.mini_dataset(x, y, names, ["c0"], k=25, seed=0, test_per_class=10)


def test_mini_dataset_with_a_separate_test_pool():
    x, y, names = _pool(20)
    xt, yt, _ = _pool(8)
    xt = xt.clone()
    xt[:, 1] = 255  # test images are recognisably different
    m = cifar10.mini_dataset(x, y, names, ["c0", "c2"], k=7, seed=0, test=(xt, yt), test_per_class=8)
    assert torch.bincount(m.y_train).tolist() == [7, 7] and torch.bincount(m.y_test).tolist() == [8, 8]
    assert (m.x_test[:, 1] == 255).all() and (m.x_train[:, 1] == 0).all()
    assert torch.equal(yt[m.test_index], torch.tensor([0] * 8 + [2] * 8))


def test_unknown_class_is_one_line():
    x, y = torch.zeros(20, 3, 4, 4, dtype=torch.uint8), torch.arange(20) % 2
    with pytest.raises(DataUnavailable, match="unknown class 'foo'; choose from cat, dog"):
        cifar10.mini_dataset(x, y, ["cat", "dog"], ["cat", "foo"], k=2)


def _zip_symlink(z, name, target):
    info = zipfile.ZipInfo(name)
    info.external_attr = (stat.S_IFLNK | 0o777) << 16  # how Info-ZIP stores a symlink: its target as the data
    z.writestr(info, target)


@pytest.mark.parametrize("member", ["../evil.txt", "/tmp/mtv_evil_absolute.txt", "link-out", "fifo"])
def test_safe_extract_refuses_zip_members_escaping_the_folder(tmp_path, member):
    arc = tmp_path / "bad.zip"
    with zipfile.ZipFile(arc, "w") as z:
        z.writestr("coco128/ok.txt", b"x")
        if member == "link-out":
            _zip_symlink(z, "coco128/link", "../../evil.txt")
        elif member == "fifo":
            info = zipfile.ZipInfo("coco128/fifo")
            info.external_attr = (stat.S_IFIFO | 0o644) << 16
            z.writestr(info, b"")
        else:
            z.writestr(member, b"evil")
    dest = tmp_path / "inner" / "data"
    dest.mkdir(parents=True)
    with pytest.raises(DataUnavailable, match="refusing to extract") as e:
        safe_extract(arc, dest)
    assert "\n" not in str(e.value) and not (dest / "coco128").exists()
    assert [p.name for p in (tmp_path / "inner").iterdir()] == ["data"]
