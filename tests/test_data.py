"""IDX parser, FashionMNIST loading, the atomic downloader (through a local http.server), batching."""
import dataclasses
import gzip
import hashlib
import http.server
import struct
import threading

import pytest
import torch

from conftest import need
from helpers_http import dead_url, serve
from minitorch_vision.data import fashion_mnist as fm
from minitorch_vision.data import manifest
from minitorch_vision.data.download import fetch
from minitorch_vision.data.loader import Batches
from minitorch_vision.errors import DataUnavailable


def write_idx(path, arr, magic=None, truncate=0):
    arr = arr.to(torch.uint8)
    magic = magic if magic is not None else (2051 if arr.ndim == 3 else 2049)
    raw = struct.pack(">I", magic) + struct.pack(f">{arr.ndim}I", *arr.shape) + arr.numpy().tobytes()
    raw = raw[: len(raw) - truncate]
    (gzip.open if str(path).endswith(".gz") else open)(path, "wb").write(raw)
    return path


def test_idx_roundtrip_plain_and_gz(tmp_path):
    imgs = torch.randint(0, 256, (5, 28, 28), dtype=torch.uint8)
    labels = torch.tensor([3, 1, 4, 1, 5], dtype=torch.uint8)
    assert torch.equal(fm.read_idx(write_idx(tmp_path / "i.idx", imgs)), imgs)
    assert torch.equal(fm.read_idx(write_idx(tmp_path / "i.gz", imgs)), imgs)
    assert torch.equal(fm.read_idx(write_idx(tmp_path / "l.gz", labels)), labels)


@pytest.mark.parametrize("kind", ["truncated", "magic", "empty", "not-gzip"])
def test_idx_bad_files_name_the_file(tmp_path, kind):
    imgs = torch.zeros(4, 28, 28, dtype=torch.uint8)
    p = tmp_path / f"{kind}.gz"
    if kind == "truncated":
        write_idx(p, imgs, truncate=100)
    elif kind == "magic":
        write_idx(p, imgs, magic=1234)
    elif kind == "empty":
        gzip.open(p, "wb").write(b"")
    else:
        p.write_bytes(b"this is not gzip at all")
    with pytest.raises(DataUnavailable, match=str(p.name)):
        fm.read_idx(p)


def test_fetch_good_corrupt_and_offline(tmp_path):
    src = tmp_path / "server"
    src.mkdir()
    payload = b"hello minitorch-vision " * 1000
    (src / "good.bin").write_bytes(payload)
    (src / "bad.bin").write_bytes(payload[:-5])
    md5 = hashlib.md5(payload).hexdigest()
    dest_dir = tmp_path / "data"
    with serve(src) as url:
        got = fetch(url + "good.bin", dest_dir / "good.bin", md5=md5)
        assert got.read_bytes() == payload
        # wrong bytes on the server: md5 error, and nothing (not even a temporary file) left behind
        with pytest.raises(DataUnavailable, match="md5"):
            fetch(url + "bad.bin", dest_dir / "bad.bin", md5=md5)
        assert sorted(p.name for p in dest_dir.iterdir()) == ["good.bin"]
        # a corrupt local copy is fetched again
        (dest_dir / "good.bin").write_bytes(b"corrupt")
        assert fetch(url + "good.bin", dest_dir / "good.bin", md5=md5).read_bytes() == payload
        # first mirror down, second up
        assert fetch([dead_url() + "good.bin", url + "good.bin"], dest_dir / "mirror.bin", md5=md5).exists()
    with pytest.raises(DataUnavailable) as e:  # server down: the offline message says what to put where
        fetch(dead_url() + "good.bin", dest_dir / "new.bin", md5=md5)
    msg = str(e.value)
    assert "new.bin" in msg and str(dest_dir.resolve()) in msg and "\n" not in msg
    assert sorted(p.name for p in dest_dir.iterdir()) == ["good.bin", "mirror.bin"]  # no partial file


def tiny_fashion_mirror(root):
    """A mirror folder ``root/fashion-mnist/*.gz`` of tiny IDX files, and the manifest entry that matches it."""
    (root / "fashion-mnist").mkdir(parents=True)
    files = []
    for f in manifest.ENTRIES["fashion-mnist"].files:
        n = 6 if "train" in f.path else 2
        arr = torch.randint(0, 10, (n, 28, 28) if "images" in f.path else (n,), dtype=torch.uint8)
        raw = write_idx(root / f.path, arr).read_bytes()
        files.append(dataclasses.replace(f, size=len(raw), md5=hashlib.md5(raw).hexdigest()))
    return dataclasses.replace(manifest.ENTRIES["fashion-mnist"], files=tuple(files))


def test_fashion_mnist_download_through_local_mirror(tmp_path, monkeypatch):
    """The real ensure_files() against MTV_MIRROR (a dead mirror first) holding tiny IDX files."""
    monkeypatch.setitem(manifest.ENTRIES, "fashion-mnist", tiny_fashion_mirror(tmp_path / "mirror"))
    with serve(tmp_path / "mirror") as url:
        monkeypatch.setenv(manifest.MIRROR_ENV, f"{dead_url()} {url}")
        d = fm.load_fashion_mnist(tmp_path / "data")
    assert d["train_x"].shape == (6, 28, 28) and d["test_y"].shape == (2,)
    # offline with nothing on disk: one line naming the files, their official URLs and the folder
    monkeypatch.setenv(manifest.MIRROR_ENV, dead_url())
    with pytest.raises(DataUnavailable) as e:
        fm.load_fashion_mnist(tmp_path / "empty")
    msg = str(e.value)
    assert "train-images-idx3-ubyte.gz" in msg and "fashion-mnist" in msg and "\n" not in msg
    assert "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/" in msg  # the official URL, not the mirror
    assert not [p for p in (tmp_path / "empty").rglob("*") if p.is_file()]  # not even a temporary file


def test_real_fashion_mnist(data_dir):
    need(data_dir, "fashion-mnist", "train-images-idx3-ubyte.gz")
    d = fm.load_fashion_mnist(data_dir, allow_download=False)
    assert d["train_x"].shape == (60000, 28, 28) and d["train_x"].dtype == torch.uint8
    assert d["test_x"].shape == (10000, 28, 28)
    assert torch.bincount(d["train_y"]).tolist() == [6000] * 10
    tr, va = fm.train_val_split(60000, 5000, seed=0)
    assert len(set(tr.tolist()) | set(va.tolist())) == 60000 and len(va) == 5000


def test_batches_seeded_shuffle_and_shards():
    x, y = torch.arange(103).float().unsqueeze(1), torch.arange(103)
    b = Batches(x, y, batch_size=10, shuffle=True, seed=7)
    first = torch.cat([yb for _, yb in b])
    assert sorted(first.tolist()) == list(range(103)) and len(b) == 11
    assert torch.equal(first, torch.cat([yb for _, yb in Batches(x, y, 10, shuffle=True, seed=7)]))
    b.set_epoch(1)
    assert not torch.equal(first, torch.cat([yb for _, yb in b]))
    shards = [Batches(x, y, 10, shuffle=True, seed=7, rank=r, world_size=3) for r in range(3)]
    got = [torch.cat([yb for _, yb in s]) for s in shards]
    union = torch.cat(got)
    assert len(union) == len(set(union.tolist())) == 102       # no overlap, equal shards
    assert all(len(g) == 34 for g in got)


class _CutOff(http.server.BaseHTTPRequestHandler):
    """Promises 100 kB, sends 1 kB, hangs up: a connection that drops mid-download."""

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "100000")
        self.end_headers()
        self.wfile.write(b"x" * 1000)
        self.wfile.flush()
        self.close_connection = True

    def log_message(self, *a):
        pass


def test_fetch_connection_cut_mid_download(tmp_path):
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _CutOff)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        with pytest.raises(DataUnavailable) as e:
            fetch(f"http://127.0.0.1:{httpd.server_address[1]}/f.bin", tmp_path / "f.bin")  # no checksum to catch it
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert "f.bin" in str(e.value) and "closed after 1000 of 100000 bytes" in str(e.value) and "\n" not in str(e.value)
    assert list(tmp_path.iterdir()) == []  # nothing half-written
