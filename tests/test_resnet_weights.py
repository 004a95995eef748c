"""The ResNet-18 weights loader: download through a local http.server, checksum, offline message,
weights that do not fit, ``random``. Servers listen on 127.0.0.1 only and are stopped in teardown."""
import functools
import hashlib
import http.server
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import torch

from minitorch_vision.errors import DataUnavailable, MTVError
from minitorch_vision.models.resnet import resnet18
from minitorch_vision.weights import RESNET18_FILE, RESNET18_SHA256, RESNET18_URL, load_resnet18, resolve_weights

ROOT = Path(__file__).resolve().parents[1]


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *a):
        pass


@pytest.fixture()
def server(tmp_path):
    """Serve ``tmp_path/www`` on 127.0.0.1 (random free port); shut down in teardown."""
    www = tmp_path / "www"
    www.mkdir()
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(www)))
    t = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    t.start()
    try:
        yield www, f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        t.join(timeout=5)


@pytest.fixture(scope="module")
def weights_file(tmp_path_factory):
    """A torchvision-layout state dict with recognisable values, saved like the official file."""
    torch.manual_seed(0)
    sd = resnet18().state_dict()
    path = tmp_path_factory.mktemp("w") / RESNET18_FILE
    torch.save(sd, path)
    return path, hashlib.sha256(path.read_bytes()).hexdigest(), sd


def test_official_constants():
    assert RESNET18_URL == "https://download.pytorch.org/models/resnet18-f37072fd.pth"
    assert RESNET18_SHA256.startswith("f37072fd") and len(RESNET18_SHA256) == 64
    assert RESNET18_FILE == "resnet18-f37072fd.pth"


def test_download_good_file(server, weights_file, tmp_path):
    www, base = server
    path, sha, sd = weights_file
    (www / RESNET18_FILE).write_bytes(path.read_bytes())
    data = tmp_path / "data"
    model, kind = load_resnet18(None, data, url=f"{base}/{RESNET18_FILE}", sha256=sha, num_classes=5, verbose=False)
    assert kind == "imagenet"
    dest = data / "weights" / RESNET18_FILE
    assert dest.is_file() and hashlib.sha256(dest.read_bytes()).hexdigest() == sha
    assert [p.name for p in dest.parent.iterdir()] == [RESNET18_FILE]  # no temporary file left
    assert torch.equal(model.layer3[1].conv2.weight, sd["layer3.1.conv2.weight"])
    assert model.fc.out_features == 5  # head replaced after the strict load
    # second call: found in <data>/weights/, no server needed
    m2, _ = load_resnet18(None, data, url="http://127.0.0.1:9/none", sha256=sha, verbose=False)
    assert torch.equal(m2.fc.weight, sd["fc.weight"])


def test_wrong_sha256_is_refused_and_removed(server, weights_file, tmp_path):
    www, base = server
    path, sha, _ = weights_file
    (www / RESNET18_FILE).write_bytes(path.read_bytes())
    data = tmp_path / "data"
    with pytest.raises(DataUnavailable, match="sha256") as e:
        load_resnet18(None, data, url=f"{base}/{RESNET18_FILE}", sha256="0" * 64, verbose=False)
    assert "\n" not in str(e.value)
    assert not (data / "weights" / RESNET18_FILE).exists()
    assert not list((data / "weights").glob("*"))  # no .part left behind


def test_download_without_a_known_sha256_says_so_once(server, weights_file, tmp_path, capsys):
    """No published digest (YOLOv5 v7.0): the download goes ahead but is never silent; one line says
    it was not verified and gives the digest it got. A file already in place is used without a word."""
    www, base = server
    path, sha, _ = weights_file
    (www / "w.pt").write_bytes(path.read_bytes())
    data = tmp_path / "data"
    got = resolve_weights(None, "w.pt", f"{base}/w.pt", sha256=None, data_dir=data)
    assert got == data / "weights" / "w.pt" and got.read_bytes() == path.read_bytes()
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and "WITHOUT checksum verification" in out[0] and sha in out[0] and base in out[0]
    resolve_weights(None, "w.pt", "http://127.0.0.1:9/none", sha256=None, data_dir=data)
    assert capsys.readouterr().out == ""
    resolve_weights(None, "v.pt", f"{base}/w.pt", sha256=sha, data_dir=data)   # verified: nothing to say
    assert capsys.readouterr().out == ""


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed on exit: nothing listens there


def test_unreachable_gives_the_offline_message(tmp_path):
    data = tmp_path / "data"
    url = f"http://127.0.0.1:{_free_port()}/{RESNET18_FILE}"
    with pytest.raises(DataUnavailable) as e:
        load_resnet18(None, data, url=url, verbose=False)
    msg = str(e.value)
    assert "\n" not in msg and "cannot be downloaded" in msg and url in msg
    assert str((data / "weights" / RESNET18_FILE).resolve()) in msg and "--weights" in msg
    assert not (data / "weights" / RESNET18_FILE).exists()


def test_no_download_flag_is_respected(tmp_path):
    with pytest.raises(DataUnavailable):
        load_resnet18(None, tmp_path, allow_download=False, verbose=False)


def test_weights_that_do_not_fit_name_the_keys(tmp_path):
    sd = resnet18(num_classes=10).state_dict()
    del sd["layer1.0.bn1.running_var"]
    sd["extra.weight"] = torch.zeros(1)
    p = tmp_path / "bad.pth"
    torch.save(sd, p)
    with pytest.raises(MTVError) as e:
        load_resnet18(str(p), verbose=False)
    msg = str(e.value)
    assert "\n" not in msg
    assert "layer1.0.bn1.running_var" in msg and "extra.weight" in msg and "fc.weight (10, 512) vs (1000, 512)" in msg


def test_not_a_weights_file(tmp_path):
    p = tmp_path / "junk.pth"
    p.write_bytes(b"this is not a torch file")
    with pytest.raises(DataUnavailable, match="weights_only=True"):
        load_resnet18(str(p), verbose=False)


def test_random_says_so_loudly(capsys):
    model, kind = load_resnet18("random")
    assert kind == "random" and model.fc.out_features == 1000
    assert "UNTRAINED" in capsys.readouterr().out


def test_lesson_exits_2_with_one_line_on_bad_weights(tmp_path):
    sd = resnet18(num_classes=10).state_dict()
    p = tmp_path / "bad.pth"
    torch.save(sd, p)
    r = subprocess.run([sys.executable, str(ROOT / "lessons" / "04_transfer.py"), "--weights", str(p),
                        "--data-dir", str(tmp_path), "--out", str(tmp_path / "out"), "--no-download"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2, r.stderr
    err = r.stderr.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "fc.weight" in err[0], r.stderr
