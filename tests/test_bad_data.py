"""Bad data files and download faults: each ends in one line naming the real cause, nothing runs from a
pickle, nothing half-written is left, and a corrupt local file is kept until a good copy arrives.

(Bad flags and lesson command lines: tests/test_bad_inputs.py.)
"""
import errno
import hashlib
import http.server
import os
import pickle
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import need
from helpers_http import dead_url
from minitorch_vision.data import cifar10, download, manifest
from minitorch_vision.data import fashion_mnist as fm
from minitorch_vision.atomic import remove_stale_temps
from minitorch_vision.data.download import fetch
from minitorch_vision.errors import DataUnavailable

ROOT = Path(__file__).resolve().parents[1]
PAYLOAD = b"minitorch-vision test payload " * 2000
MD5 = hashlib.md5(PAYLOAD).hexdigest()


def leftovers(folder):
    """Every file under ``folder`` (hidden temporary files included), as relative names."""
    return sorted(str(p.relative_to(folder)) for p in Path(folder).rglob("*") if p.is_file())


def one_line(err):
    msg = str(err)
    assert msg and "\n" not in msg and "Traceback" not in msg
    return msg


# ---- 1. no pickle from disk runs code ----------------------------------------------------------------

class _Evil:
    """Unpickling this calls ``func(*args)``: what a tampered data file would do."""

    def __init__(self, func, *args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


def _evil_pickle(path, marker, kind, protocol):
    cmd = f"touch {marker}"
    payload = {"os.system": _Evil(os.system, cmd),
               "subprocess.Popen": _Evil(subprocess.Popen, ["touch", str(marker)]),
               "builtins.eval": _Evil(eval, f"open({str(marker)!r}, 'w')")}[kind]
    with open(path, "wb") as f:
        pickle.dump({b"data": payload, b"labels": [0], b"label_names": [payload]}, f, protocol=protocol)


@pytest.mark.parametrize("reader", ["batch", "meta"])
@pytest.mark.parametrize("kind,protocol,named", [
    ("os.system", 2, "os.system"),               # pickled as posix.system on Linux: named as users know it
    ("subprocess.Popen", 0, "subprocess.Popen"),  # written as commands.Popen: named by its modern module
    ("subprocess.Popen", 4, "subprocess.Popen"),
    ("builtins.eval", 2, "builtins.eval"),
])
def test_malicious_cifar_pickle_is_refused_before_it_runs(tmp_path, reader, kind, protocol, named):
    marker = tmp_path / "PWNED"
    path = tmp_path / ("batches.meta" if reader == "meta" else "data_batch_1")
    _evil_pickle(path, marker, kind, protocol)
    with pytest.raises(DataUnavailable) as e:
        cifar10.read_meta(tmp_path) if reader == "meta" else cifar10.read_batch(path)
    msg = one_line(e.value)
    assert named in msg and "refused" in msg and str(path) in msg
    time.sleep(0.2)  # a Popen would have needed a moment
    assert not marker.exists()


def test_malicious_cifar_batch_through_lesson_04(tmp_path, data_dir):
    """The lesson's command line: exit 2, one error line naming the global, no marker file. The tampered
    batches have the official sizes (a pickle ignores what follows its STOP), so they pass as present."""
    meta = need(data_dir, "cifar-10-batches-py", "batches.meta")
    data, marker = tmp_path / "data", tmp_path / "PWNED"
    batches = data / "cifar-10-batches-py"
    batches.mkdir(parents=True)
    (batches / "batches.meta").write_bytes(meta.read_bytes())
    for f in manifest.ENTRIES["cifar-10"].members:
        if f.path.endswith("batches.meta"):
            continue
        path = data / f.path
        _evil_pickle(path, marker, "os.system", 2)
        with open(path, "ab") as out:
            out.write(b"\0" * max(0, f.size - path.stat().st_size))
    r = subprocess.run([sys.executable, str(ROOT / "lessons" / "04_transfer.py"), "--quick", "--no-download",
                        "--weights", "random", "--source", "pickles", "--threads", "1", "--data-dir", str(data),
                        "--out", str(tmp_path / "out")], capture_output=True, text=True, timeout=300,
                       env={**os.environ, "MTV_DATA_DIR": ""})
    err = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr[-2000:]
    assert len([ln for ln in err if ln.startswith("error:")]) == 1 and "os.system" in r.stderr
    assert not marker.exists()


def test_real_cifar_meta_still_reads(data_dir):
    assert cifar10.read_meta(need(data_dir, "cifar-10-batches-py", "batches.meta").parent) == cifar10.CLASSES


def test_official_layout_batch_reads_through_the_allow_list(tmp_path):
    """A protocol-2 batch with a numpy array (what the official files hold) passes the restricted unpickler."""
    data = np.arange(2 * 3072, dtype=np.uint8).reshape(2, 3072)
    with open(tmp_path / "b", "wb") as f:
        pickle.dump({b"data": data, b"labels": [1, 7], b"batch_label": b"x"}, f, protocol=2)
    x, y = cifar10.read_batch(tmp_path / "b")
    assert x.shape == (2, 3, 32, 32) and y.tolist() == [1, 7] and x.flatten()[5].item() == 5


# ---- 2. download faults, through a local mirror -------------------------------------------------------

class _Server(http.server.BaseHTTPRequestHandler):
    """Serves ``routes[path] = (status, body, declared_length)``; a body shorter than declared is cut short."""
    routes = {}

    def do_GET(self):
        status, body, length = self.routes.get(self.path, (404, b"", 0))
        self.send_response(status)
        self.send_header("Content-Length", str(length if length is not None else len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.close_connection = True

    def log_message(self, *a):
        pass


@pytest.fixture
def server():
    """A fault-injecting server: set ``routes`` and get ``base`` URLs."""
    routes = {}
    handler = type("H", (_Server,), {"routes": routes})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield routes, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


FAULTS = {  # name -> (status, body, declared length): what the first mirror does
    "wrong bytes": (200, PAYLOAD[:-1] + b"!", None),
    "cut short": (200, PAYLOAD[:1000], len(PAYLOAD)),
    "http 404": (404, b"", 0),
    "http 500": (500, b"", 0),
    "empty body": (200, b"", None),
}


@pytest.mark.parametrize("fault", FAULTS)
def test_a_bad_mirror_is_skipped_for_the_next(tmp_path, server, fault):
    routes, base = server
    routes["/bad/f.bin"], routes["/good/f.bin"] = FAULTS[fault], (200, PAYLOAD, None)
    dest = tmp_path / "data" / "f.bin"
    assert fetch([f"{base}/bad/f.bin", f"{base}/good/f.bin"], dest, md5=MD5).read_bytes() == PAYLOAD
    assert leftovers(tmp_path / "data") == ["f.bin"]


@pytest.mark.parametrize("fault,reason", [("wrong bytes", "wrong bytes (md5"), ("cut short", "closed after 1000 of"),
                                          ("http 404", "HTTP 404"), ("http 500", "HTTP 500")])
def test_every_mirror_bad_gives_each_reason_and_leaves_no_file(tmp_path, server, fault, reason):
    routes, base = server
    routes["/a/f.bin"] = FAULTS[fault]
    dest = tmp_path / "data" / "f.bin"
    with pytest.raises(DataUnavailable) as e:
        fetch([f"{base}/a/f.bin", dead_url() + "f.bin"], dest, md5=MD5, official="https://example.org/f.bin")
    msg = one_line(e.value)
    assert reason in msg and f"{base}/a/f.bin" in msg and "refused" in msg.lower()  # both mirrors' own reasons
    assert "https://example.org/f.bin" in msg and str(dest.parent.resolve()) in msg
    assert leftovers(tmp_path / "data") == []


def test_corrupt_local_file_is_kept_aside_until_a_good_copy_arrives(tmp_path, server):
    routes, base = server
    dest = tmp_path / "data" / "f.bin"
    dest.parent.mkdir()
    dest.write_bytes(b"corrupt bytes")
    with pytest.raises(DataUnavailable, match="corrupt") as e:  # --no-download: nothing moved
        fetch(f"{base}/f.bin", dest, md5=MD5, allow_download=False)
    assert dest.read_bytes() == b"corrupt bytes"
    with pytest.raises(DataUnavailable) as e:  # offline: the bytes are kept, and the line says where
        fetch(dead_url() + "f.bin", dest, md5=MD5)
    assert "f.bin.corrupt" in one_line(e.value) and (dest.parent / "f.bin.corrupt").read_bytes() == b"corrupt bytes"
    routes["/f.bin"] = (200, PAYLOAD, None)
    assert fetch(f"{base}/f.bin", dest, md5=MD5).read_bytes() == PAYLOAD
    assert leftovers(tmp_path / "data") == ["f.bin"]  # the corrupt copy goes once replaced


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores permissions: needs a non-root user")
@pytest.mark.parametrize("case", ["missing file", "corrupt file"])
def test_read_only_data_folder_is_one_line_naming_the_path(tmp_path, server, case):
    routes, base = server
    routes["/f.bin"] = (200, PAYLOAD, None)
    folder = tmp_path / "data"
    folder.mkdir()
    if case == "corrupt file":
        (folder / "f.bin").write_bytes(b"corrupt")
    folder.chmod(0o555)
    try:
        with pytest.raises(DataUnavailable) as e:
            fetch(f"{base}/f.bin", folder / "f.bin", md5=MD5)
    finally:
        folder.chmod(0o755)
    msg = one_line(e.value)
    assert "permission denied" in msg and str(folder) in msg
    assert leftovers(folder) == (["f.bin"] if case == "corrupt file" else [])


@pytest.mark.parametrize("case", ["missing file", "corrupt file"])
def test_permission_denied_simulated(tmp_path, server, monkeypatch, case):
    """The same two cases for root (who ignores permissions): EACCES injected where the disk would raise it."""
    routes, base = server
    routes["/f.bin"] = (200, PAYLOAD, None)
    folder = tmp_path / "data"
    folder.mkdir()
    denied = OSError(errno.EACCES, "Permission denied")
    if case == "corrupt file":
        (folder / "f.bin").write_bytes(b"corrupt")
        monkeypatch.setattr(download.os, "replace", lambda *a: (_ for _ in ()).throw(denied))
    else:
        monkeypatch.setattr(download, "open", lambda *a: (_ for _ in ()).throw(denied), raising=False)
    with pytest.raises(DataUnavailable) as e:
        fetch(f"{base}/f.bin", folder / "f.bin", md5=MD5)
    msg = one_line(e.value)
    assert "permission denied" in msg and str(folder) in msg
    assert leftovers(folder) == (["f.bin"] if case == "corrupt file" else [])


def test_data_folder_that_is_a_file(tmp_path, server):
    routes, base = server
    routes["/f.bin"] = (200, PAYLOAD, None)
    (tmp_path / "data").write_text("I am a file")
    with pytest.raises(DataUnavailable) as e:
        fetch(f"{base}/f.bin", tmp_path / "data" / "sub" / "f.bin", md5=MD5)
    assert "a file is in the way" in one_line(e.value) and str(tmp_path / "data") in str(e.value)


def test_disk_full_is_one_line_naming_the_path(tmp_path, server, monkeypatch):
    """ENOSPC while writing (simulated: mounting a small tmpfs needs root): stops at once, no other mirror."""
    routes, base = server
    routes["/f.bin"] = (200, PAYLOAD, None)

    class Full:
        def __init__(self, path, mode):
            self.f = open(path, mode)

        def write(self, b):
            raise OSError(errno.ENOSPC, "No space left on device")

        def __enter__(self):
            return self

        def __exit__(self, *a):
            self.f.close()

    monkeypatch.setattr(download, "open", Full, raising=False)
    with pytest.raises(DataUnavailable) as e:
        fetch([f"{base}/f.bin", f"{base}/f.bin"], tmp_path / "data" / "f.bin", md5=MD5)
    msg = one_line(e.value)
    assert "no space left" in msg and str(tmp_path / "data") in msg and msg.count("HTTP") == 0
    assert leftovers(tmp_path / "data") == []


# ---- 3. FashionMNIST keeps the real cause ---------------------------------------------------------------

@pytest.mark.parametrize("fault,expect", [
    ("checksum", "wrong bytes (md5"), ("404", "HTTP 404"), ("cut short", "closed after"),
    ("offline", "missing data"), ("folder is a file", "in the way"),
])
def test_fashion_mnist_says_the_real_cause(tmp_path, server, monkeypatch, fault, expect):
    routes, base = server
    entry = manifest.ENTRIES["fashion-mnist"]
    for f in entry.files:
        routes[f"/{f.path}"] = {"checksum": (200, b"not the file", None), "404": (404, b"", 0),
                                "cut short": (200, b"x" * 10, 5000)}.get(fault, (200, b"", None))
    monkeypatch.setenv(manifest.MIRROR_ENV, base)
    data = tmp_path / "data"
    if fault == "folder is a file":
        data.write_text("a file")
    with pytest.raises(DataUnavailable) as e:
        fm.ensure_files(data, allow_download=fault != "offline")
    assert expect in one_line(e.value)
    if data.is_dir():
        assert leftovers(data) == []


# ---- 4. a download killed with SIGKILL leaves a temporary file that the next start removes -------------------

class _Slow(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", str(len(PAYLOAD)))
        self.end_headers()
        for i in range(0, len(PAYLOAD), 1000):  # ~60 chunks, 0.1 s apart: plenty of time to kill it mid-way
            self.wfile.write(PAYLOAD[i:i + 1000])
            self.wfile.flush()
            time.sleep(0.1)

    def log_message(self, *a):
        pass


def test_sigkill_during_download_then_a_normal_start_leaves_no_temp(tmp_path):
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Slow)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{httpd.server_address[1]}/f.gz"
    dest = tmp_path / "data" / "f.gz"
    code = (f"from minitorch_vision.data.download import fetch; fetch({url!r}, {str(dest)!r}, md5={MD5!r})")
    p = subprocess.Popen([sys.executable, "-c", code], env={**os.environ, "PYTHONPATH": str(ROOT)},
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 60
        while time.time() < deadline and not any(dest.parent.glob(f".f.{p.pid}.tmp*")):
            time.sleep(0.05)
        temps = list(dest.parent.glob(f".f.{p.pid}.tmp*"))
        assert temps and temps[0].name == f".f.{p.pid}.tmp.gz", "the download never started"
        time.sleep(0.3)
        p.send_signal(signal.SIGKILL)
        p.wait(timeout=30)
        assert temps[0].exists() and not dest.exists()  # what a kill leaves: a hidden temp, no file
        # a live process's temporary file is never touched
        live = dest.parent / f".other.{os.getpid()}.tmp"
        live.write_bytes(b"mine")
        assert remove_stale_temps(dest.parent) == [temps[0]] and live.exists()
        live.unlink()
        temps[0].write_bytes(b"again")  # and the normal start of a fetch removes it by itself
        assert fetch(url, dest, md5=MD5).read_bytes() == PAYLOAD
        assert leftovers(tmp_path / "data") == ["f.gz"]
    finally:
        if p.poll() is None:
            p.kill()
        httpd.shutdown()
        httpd.server_close()
