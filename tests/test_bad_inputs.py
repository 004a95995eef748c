"""Fail well: every bad flag, file or fault a user can cause ends in one clear line, and nothing is lost.

Each case runs a lesson or run_all.py as a user would (a subprocess, ``--quick``, tiny budgets,
``--threads 1``) and asserts the exit status (2 for a user error, 130 for Ctrl-C, 0 where the run must
go on), exactly one ``error:`` line on stderr (none on success), no ``Traceback``, and that ``--out``
(and the data folder the case made) holds no half-written file, hidden temporary files included.
Malicious pickles try to create a marker file; the marker must stay absent.

This file is the list of cases the README promises; the data-folder cases (downloads, CIFAR pickles,
FashionMNIST causes) are in test_bad_data.py.
"""
import json
import os
import pickle
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
import types
from pathlib import Path

import pytest
import torch

from conftest import need

ROOT = Path(__file__).resolve().parents[1]
LESSON = {p.stem[:2]: p for p in (ROOT / "lessons").glob("0*.py")}
PY = sys.executable


# ---- running and checking -------------------------------------------------------------------------
def _closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# Every download goes to a local port where nothing listens: no case here may touch the network.
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1",
       "MTV_MIRROR": f"http://127.0.0.1:{_closed_port()}/"}


def run(args, data=None, timeout=300, prefix=(), **kw):
    """Run ``python args...`` from the repository root; ``data``: $MTV_DATA_DIR ('' = none)."""
    env = {**ENV, "MTV_DATA_DIR": str(data or "")}
    return subprocess.run([*prefix, PY, *map(str, args)], capture_output=True, text=True, cwd=ROOT, env=env,
                          timeout=timeout, **kw)


def lesson(num, *args, **kw):
    return run([LESSON[num], "--threads", "1", *args], **kw)


def temp_files(folder):
    """Half-written files: our hidden ``.<name>.<pid>.tmp*`` temporaries (and any ``*.tmp*``)."""
    folder = Path(folder)
    return [p for p in folder.rglob("*") if ".tmp" in p.name] if folder.is_dir() else []


def check(r, code, *folders, says=(), marker=None):
    """Exit status ``code``; one ``error:`` line (none when code is 0) containing every ``says``;
    no traceback; no temporary file under ``folders``; ``marker`` (a malicious pickle's) absent."""
    assert r.returncode == code, f"exit {r.returncode}, wanted {code}\n{r.stderr[-3000:]}"
    errors = [ln for ln in r.stderr.splitlines() if ln.startswith("error:")]
    assert len(errors) == (0 if code == 0 else 1), r.stderr[-3000:]
    assert "Traceback" not in r.stderr, r.stderr[-3000:]
    for s in says:
        assert s in errors[0], f"{s!r} not in {errors[0]!r}"
    if errors:
        assert "\x1b" not in errors[0] and "weights_only=False" not in errors[0] and " — " in errors[0], errors[0]
    for f in folders:
        assert not temp_files(f), temp_files(f)
    if marker is not None:
        time.sleep(0.1)
        assert not Path(marker).exists(), "a pickle ran its code"
    return errors[0] if errors else None


# ---- 1. flags: refused where they are parsed, naming the flag (nothing runs, nothing is written) --
FLAGS = [
    ("01", ["--epochs", "0"], "--epochs"), ("01", ["--threads", "0"], "--threads"), ("01", ["--seed", "-1"], "--seed"),
    ("02", ["--batch-size", "-1"], "--batch-size"), ("02", ["--lr", "nan"], "--lr"), ("02", ["--lr", "-1"], "--lr"),
    ("02", ["--hidden", "abc"], "--hidden"), ("02", ["--hidden", "-5"], "--hidden"),
    ("02", ["--dropout", "1.5"], "--dropout"),
    ("03", ["--kernel-size", "0"], "--kernel-size"), ("03", ["--width", "0"], "--width"),
    ("03", ["--conv-blocks", "6"], "--conv-blocks"),
    ("04", ["--shots", "0"], "--shots"), ("04", ["--shots", "abc"], "--shots"),
    ("04", ["--classes", ","], "--classes"), ("04", ["--classes", "cat,unicorn"], "unicorn"),
    ("04", ["--views", "0"], "--views"), ("04", ["--test-per-class", "0"], "--test-per-class"),
    ("05", ["--img-size", "0"], "--img-size"), ("05", ["--img-size", "100"], "multiple of 32"),
    ("05", ["--conf", "2"], "--conf"), ("05", ["--iou", "nan"], "--iou"), ("05", ["--iou", "-0.1"], "--iou"),
]


@pytest.mark.parametrize("num,flags,says", FLAGS, ids=lambda v: " ".join(v) if isinstance(v, list) else v)
def test_bad_flag_is_one_line_naming_it(num, flags, says, tmp_path):
    out = tmp_path / "out"
    check(lesson(num, "--out", out, "--quick", *flags, data=tmp_path / "nodata"), 2, says=[says])
    assert not out.exists()


@pytest.mark.parametrize("flags,says", [(["--threads", "0"], "--threads"), (["--timeout", "-1"], "--timeout"),
                                        (["--only", "99"], "--only")], ids=["threads", "timeout", "only"])
def test_run_all_bad_flag(flags, says, tmp_path):
    check(run([ROOT / "run_all.py", "--out", tmp_path / "out", *flags]), 2, tmp_path, says=[says])


# ---- 2. training: divergence and resume -----------------------------------------------------------
def test_exploding_loss_stops_and_names_lr(data_dir, tmp_path):
    need(data_dir, "fashion-mnist", "train-images-idx3-ubyte.gz")
    out = tmp_path / "out"
    check(lesson("01", "--quick", "--epochs", "1", "--lr", "1e9", "--out", out, data=data_dir), 2, out,
          says=["--lr", "exploded"])
    assert not (out / "results.json").exists()


@pytest.fixture(scope="module")
def trained02(tmp_path_factory):
    """Lesson 02 --quick, 2 epochs of a small MLP: a folder with checkpoint.pt to resume from."""
    from conftest import _find_data
    data = _find_data()
    if data is None or not (data / "fashion-mnist" / "train-images-idx3-ubyte.gz").exists():
        pytest.skip("skipped: no data (fashion-mnist)")
    out = tmp_path_factory.mktemp("trained02") / "out"
    r = lesson("02", "--quick", "--epochs", "2", "--hidden", "16", "--out", out, data=data)
    assert r.returncode == 0, r.stderr[-3000:]
    return data, out


def _copy(src, tmp_path):
    dst = tmp_path / "out"
    shutil.copytree(src, dst)
    return dst


def _truncate(ck):
    ck.write_bytes(ck.read_bytes()[:2000])


RESUME = [  # (case, flags, change to the checkpoint, expected words)
    ("fewer epochs", ["--epochs", "1"], None, "--epochs 2 or more"),
    ("another model", ["--epochs", "3", "--hidden", "32"], None, "another model"),
    ("truncated", ["--epochs", "3", "--hidden", "16"], _truncate, "truncated"),
    ("empty", ["--epochs", "3", "--hidden", "16"], lambda ck: ck.write_bytes(b""), "empty"),
]


@pytest.mark.parametrize("case,flags,change,says", RESUME, ids=[c[0] for c in RESUME])
def test_resume_that_cannot_be_done_is_one_line(trained02, tmp_path, case, flags, change, says):
    data, src = trained02
    out = _copy(src, tmp_path)
    if change is not None:
        change(out / "checkpoint.pt")
    check(lesson("02", "--quick", "--resume", *flags, "--out", out, data=data), 2, out, says=[says, "checkpoint.pt"])


def test_resume_with_more_epochs_continues_to_the_new_count(trained02, tmp_path):
    data, src = trained02
    out = _copy(src, tmp_path)
    r = lesson("02", "--quick", "--resume", "--epochs", "3", "--hidden", "16", "--out", out, data=data)
    check(r, 0, out)
    assert "after epoch 2 (of 2); continuing to 3" in r.stdout
    assert json.loads((out / "results.json").read_text())["epochs"] == 3


# ---- 3. nothing lost: --out, locks, stale temporaries, full disk, permissions, kill ---------------
def test_out_is_an_existing_file(tmp_path):
    f = tmp_path / "afile"
    f.write_text("mine")
    check(lesson("02", "--out", f, data=tmp_path), 2, tmp_path, says=[str(f)])
    assert f.read_text() == "mine"
    check(run([ROOT / "run_all.py", "--out", f]), 2, tmp_path, says=[str(f)])


@pytest.fixture
def live_pid():
    p = subprocess.Popen([PY, "-c", "import time; time.sleep(120)"])
    yield p.pid
    p.kill()
    p.wait()


def _dead_pid():
    p = subprocess.Popen([PY, "-c", "pass"])
    p.wait()
    return p.pid


def test_second_run_into_one_out_stops_while_the_first_runs(tmp_path, live_pid):
    out = tmp_path / "out"
    out.mkdir()
    (out / ".lock").write_text(f"{live_pid}\n")  # as the first run wrote it
    check(lesson("02", "--out", out, data=tmp_path), 2, out, says=["another run", str(live_pid)])
    check(run([ROOT / "run_all.py", "--out", out]), 2, out, says=["another run"])
    assert (out / ".lock").read_text().strip() == str(live_pid)  # the first run's lock is untouched


def test_stale_lock_and_temp_files_of_a_killed_run_are_cleaned(trained02, tmp_path, live_pid):
    data, src = trained02
    out = _copy(src, tmp_path)
    dead = _dead_pid()
    (out / ".lock").write_text(f"{dead}\n")
    (out / "sub").mkdir()
    stale = [out / f".checkpoint.{dead}.tmp.pt", out / f".results.{dead}.tmp.json", out / "sub" / f".x.{dead}.tmp"]
    kept = [out / f".other.{live_pid}.tmp.pt", out / ".notes.tmp", out / "mine.txt"]  # a live pid's; not ours
    for p in stale + kept:
        p.write_text("x")
    r = lesson("02", "--quick", "--resume", "--epochs", "2", "--hidden", "16", "--out", out, data=data)
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr[-3000:]
    assert not any(p.exists() for p in stale) and all(p.exists() for p in kept)
    assert not (out / ".lock").exists()  # released at exit


@pytest.fixture
def tmpfs(tmp_path):
    """A mounted tmpfs factory (size in KiB); skips with the reason where mounting is not allowed."""
    mounted = []

    def make(kib):
        d = tmp_path / f"tmpfs{len(mounted)}"
        d.mkdir()
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={kib}k", "tmpfs", str(d)], capture_output=True,
                           text=True)
        if r.returncode != 0:
            pytest.skip(f"cannot mount a small tmpfs to fill ({(r.stderr or 'mount failed').strip()[:120]})")
        mounted.append(d)
        return d
    yield make
    for d in mounted:
        subprocess.run(["umount", "-l", str(d)], capture_output=True)


def test_disk_full_during_a_checkpoint_names_the_path(data_dir, tmpfs):
    need(data_dir, "fashion-mnist", "train-images-idx3-ubyte.gz")
    out = tmpfs(1024)  # the default MLP's checkpoint (weights + Adam state) is ~2.7 MB
    check(lesson("02", "--quick", "--epochs", "1", "--out", out, data=data_dir), 2, out,
          says=["no space left", str(out / "checkpoint.pt")])
    assert not (out / "checkpoint.pt").exists() and not (out / "results.json").exists()


def test_disk_full_during_a_figure_names_the_path(data_dir, tmpfs):
    need(data_dir, "fashion-mnist", "train-images-idx3-ubyte.gz")
    out = tmpfs(8)  # lesson 03 writes filters.png first: more than 8 KiB
    check(lesson("03", "--quick", "--skip-study", "--epochs", "1", "--out", out, data=data_dir), 2, out,
          says=["no space left", ".png"])


def _unprivileged():
    """A command prefix that runs Python without the right to ignore file permissions, or skip.

    As root: ``setpriv`` dropping every capability (uid 0 without CAP_DAC_OVERRIDE obeys the permission
    bits like anyone), else ``runuser -u nobody`` when nobody can run this interpreter."""
    if os.geteuid() != 0:
        return []
    for prefix in (["setpriv", "--inh-caps=-all", "--bounding-set=-all", "--"], ["runuser", "-u", "nobody", "--"]):
        if shutil.which(prefix[0]) and subprocess.run([*prefix, PY, "-c", f"import torch; open({str(ROOT / 'README.md')!r})"],
                                                      capture_output=True).returncode == 0:
            return prefix
    pytest.skip("no way to run Python without root's permission override here (no usable runuser/setpriv)")


@pytest.mark.parametrize("who", ["lesson", "run_all"])
def test_out_not_writable_is_one_line(tmp_path, who):
    prefix = _unprivileged()
    ro = tmp_path / "readonly"
    ro.mkdir()
    ro.chmod(0o555)
    tmp_path.chmod(0o755)
    args = [LESSON["02"], "--threads", "1"] if who == "lesson" else [ROOT / "run_all.py"]
    try:
        check(run([*args, "--out", ro / "out"], data=tmp_path, prefix=prefix), 2, ro, says=["permission", str(ro)])
        check(run([*args, "--out", ro], data=tmp_path, prefix=prefix), 2, ro, says=["permission", str(ro)])
    finally:
        ro.chmod(0o755)


SLOW_SECOND_SAVE = textwrap.dedent("""
    import runpy, sys, time, torch
    _save, calls = torch.save, []
    def save(obj, f, *a, **k):  # the second checkpoint: written to its temporary name, then a long pause
        _save(obj, f, *a, **k)
        calls.append(f)
        if len(calls) == 2:
            print("TEMP", f, flush=True)
            time.sleep(300)
    torch.save = save
    sys.argv = sys.argv[1:]
    runpy.run_path(sys.argv[0], run_name="__main__")
""")


def test_sigkill_during_a_checkpoint_write_then_resume(data_dir, tmp_path):
    need(data_dir, "fashion-mnist", "train-images-idx3-ubyte.gz")
    out = tmp_path / "out"
    flags = ["--threads", "1", "--quick", "--epochs", "3", "--hidden", "16", "--out", out]
    env = {**ENV, "MTV_DATA_DIR": str(data_dir)}
    p = subprocess.Popen([PY, "-c", SLOW_SECOND_SAVE, LESSON["02"], *flags], stdout=subprocess.PIPE, text=True,
                         env=env, cwd=ROOT)
    try:
        for line in p.stdout:
            if line.startswith("TEMP"):
                break
        tmp = Path(line.split(None, 1)[1].strip())
        assert tmp.exists() and tmp.name.startswith(".checkpoint.") and ".tmp" in tmp.name
    finally:
        p.send_signal(signal.SIGKILL)
        p.wait()
    assert temp_files(out)  # what SIGKILL leaves behind ...
    r = lesson("02", "--resume", *flags[2:], data=data_dir)
    check(r, 0, out)  # ... is removed by the next start, which resumes from the last complete checkpoint
    assert "after epoch 1" in r.stdout and f"removed {tmp}" in r.stdout
    assert json.loads((out / "results.json").read_text())["epochs"] == 3


# ---- 4. lesson 05: every readable image drawn, outputs keyed by a unique name ----------------------
def _detect(data_dir, tmp_path, *images):
    weights = need(data_dir, "weights", "yolov5n.pt")
    need(data_dir, "coco128", "images", "train2017")  # the lesson evaluates on it after drawing
    out = tmp_path / "out"
    return out, lesson("05", "--quick", "--weights", weights, "--img-size", "320", "--out", out, "--images", *images,
                       data=data_dir)


def test_same_file_name_in_two_folders_keeps_both(data_dir, tmp_path):
    bus = need(data_dir, "images", "bus.jpg")
    for sub in ("a", "b"):
        (tmp_path / "imgs" / sub).mkdir(parents=True)
        shutil.copy(bus, tmp_path / "imgs" / sub / "bus.jpg")
    out, r = _detect(data_dir, tmp_path, tmp_path / "imgs" / "a", tmp_path / "imgs" / "b")
    check(r, 0, out)
    assert (out / "detections" / "a" / "bus.jpg").is_file() and (out / "detections" / "b" / "bus.jpg").is_file()
    assert set(json.loads((out / "results.json").read_text())["detections_per_image"]) == {"a/bus.jpg", "b/bus.jpg"}


def test_unreadable_images_are_listed_after_the_others_are_drawn(data_dir, tmp_path):
    imgs = tmp_path / "imgs"
    imgs.mkdir()
    shutil.copy(need(data_dir, "images", "bus.jpg"), imgs / "bus.jpg")
    shutil.copy(need(data_dir, "images", "zidane.jpg"), imgs / "zidane.jpg")
    (imgs / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    (imgs / "empty.png").write_bytes(b"")
    out, r = _detect(data_dir, tmp_path, imgs)
    check(r, 2, out, says=["2 of 4 images", "broken.jpg", "empty.png"])
    assert sorted(p.name for p in (out / "detections").iterdir()) == ["bus.jpg", "zidane.jpg"]
    assert json.loads((out / "results.json").read_text())["unreadable_images"] == ["broken.jpg", "empty.png"]


def test_empty_images_folder_says_it_is_empty(data_dir, tmp_path):
    (tmp_path / "none").mkdir()
    out, r = _detect(data_dir, tmp_path, tmp_path / "none")
    check(r, 2, out, says=["empty", str(tmp_path / "none")])


# ---- 5. files that are not what they claim: one line, and never any of their code run -------------
class _Evil:
    def __init__(self, fn, *args):
        self.fn, self.args = fn, args

    def __reduce__(self):
        return self.fn, self.args


def _evil(kind, marker):
    if kind == "popen":
        return _Evil(subprocess.Popen, ["touch", str(marker)])
    return _Evil(os.system, f"touch {marker}")


def _fake_yolov5(path, drop=()):
    """An allow-listed YOLOv5-like pickle (a models.yolo.Model stand-in) with attributes missing."""
    mods = {n: types.ModuleType(n) for n in ("models", "models.yolo")}
    model_cls = type("Model", (), {"__module__": "models.yolo"})
    mods["models.yolo"].Model = model_cls
    sys.modules.update(mods)
    try:
        m = model_cls()
        attrs = {"yaml": {"nc": 80, "depth_multiple": 0.33, "width_multiple": 0.25}, "names": ["person"],
                 "stride": torch.tensor([8.0, 16.0, 32.0]), "_modules": {}, "_parameters": {}, "_buffers": {}}
        m.__dict__.update({k: v for k, v in attrs.items() if k not in drop})
        torch.save({"model": m}, path)
    finally:
        for n in mods:
            sys.modules.pop(n)


def _yolo_file(case, path, marker, data_dir):
    if case in ("os.system", "subprocess.Popen"):
        torch.save({"model": _evil("popen" if "Popen" in case else "system", marker), "epoch": -1}, path)
    elif case == "0 bytes":
        path.write_bytes(b"")
    elif case == "truncated":
        path.write_bytes(need(data_dir, "weights", "yolov5n.pt").read_bytes()[:100_000])
    elif case == "no names":
        _fake_yolov5(path, drop=("names",))
    elif case == "no model":
        _fake_yolov5(path)
    elif case == "own format, no config":
        torch.save({"format": "minitorch-vision/yolov5/1", "state_dict": {}}, path)
    elif case == "plain pickle":
        path.write_bytes(pickle.dumps({"model": None}))


YOLO = [("os.system", "allow-list"), ("subprocess.Popen", "subprocess.Popen"), ("0 bytes", "empty"),
        ("truncated", "truncated"), ("no names", "'names'"), ("no model", "'model'"),
        ("own format, no config", "'config'"), ("plain pickle", "not a PyTorch file")]


@pytest.mark.parametrize("case,says", YOLO, ids=[c for c, _ in YOLO])
def test_bad_yolov5_weights(case, says, data_dir, tmp_path):
    marker, path = tmp_path / "pwned", tmp_path / "w" / "yolov5x.pt"
    path.parent.mkdir()
    _yolo_file(case, path, marker, data_dir)
    out = tmp_path / "out"
    r = lesson("05", "--weights", path, "--out", out, "--img-size", "320", data=tmp_path / "nodata")
    check(r, 2, out, path.parent, says=[says, str(path)], marker=marker)
    assert "commands.Popen" not in r.stderr


@pytest.mark.parametrize("case,says", [("os.system", "os.system"), ("subprocess.Popen", "subprocess.Popen"),
                                       ("0 bytes", "empty"), ("truncated", "truncated")],
                         ids=["os.system", "Popen", "0 bytes", "truncated"])
def test_bad_resnet_weights(case, says, tmp_path):
    marker, path = tmp_path / "pwned", tmp_path / "w" / "resnet18.pth"
    path.parent.mkdir()
    if case == "truncated":
        torch.save({"fc.weight": torch.zeros(1000, 512)}, path)
        path.write_bytes(path.read_bytes()[:5000])
    elif case == "0 bytes":
        path.write_bytes(b"")
    else:
        torch.save({"fc.weight": _evil("popen" if "Popen" in case else "system", marker)}, path)
    out = tmp_path / "out"
    r = lesson("04", "--quick", "--weights", path, "--out", out, data=tmp_path / "nodata")
    check(r, 2, out, path.parent, says=[says, str(path)], marker=marker)


def test_malicious_cnn_checkpoint_given_to_lesson_06(data_dir, tmp_path):
    need(data_dir, "fashion-mnist", "train-images-idx3-ubyte.gz")
    marker, cnn = tmp_path / "pwned", tmp_path / "03_cnn"
    cnn.mkdir()
    torch.save({"model": _evil("system", marker)}, cnn / "checkpoint.pt")
    (cnn / "results.json").write_text("{}")
    out = tmp_path / "out"
    r = lesson("06", "--quick", "--cnn-from", cnn, "--out", out, data=data_dir)
    check(r, 2, out, cnn, says=["os.system", str(cnn / "checkpoint.pt")], marker=marker)


def test_cifar_image_folder_of_mixed_sizes_names_what_to_do(tmp_path):
    from PIL import Image
    data = tmp_path / "data"
    for split in ("train", "test"):
        for cls in ("cat", "dog"):
            d = data / "cifar10-images" / split / cls
            d.mkdir(parents=True)
            Image.new("RGB", (32, 32)).save(d / "a.png")
            Image.new("RGB", (40, 30)).save(d / "b.png")
    out = tmp_path / "out"
    r = lesson("04", "--quick", "--weights", "random", "--source", "images", "--classes", "cat,dog",
               "--out", out, data=data)
    check(r, 2, out, data, says=["--source", "b.png"])


# ---- 6. run_all.py: Ctrl-C ------------------------------------------------------------------------
FAKE_DONE = """
import json, sys
from pathlib import Path
out = Path(sys.argv[sys.argv.index("--out") + 1]); out.mkdir(parents=True, exist_ok=True)
(out / "results.json").write_text(json.dumps({"linear_test_accuracy": 0.84, "best_val_accuracy": 0.85,
                                               "epochs": 1, "train_seconds": 1.0, "params": 7850}))
"""
FAKE_SLOW = """
import sys, time
try:
    time.sleep(120)
except KeyboardInterrupt:
    print("interrupted", file=sys.stderr)
    sys.exit(130)
"""


def test_ctrl_c_in_run_all_stops_the_lesson_and_reports_the_finished_ones(tmp_path):
    lessons = tmp_path / "lessons"
    lessons.mkdir()
    (lessons / "01_representation.py").write_text(FAKE_DONE)
    (lessons / "02_mlp.py").write_text(FAKE_SLOW)
    out = tmp_path / "out"
    env = ENV
    # Ctrl-C as a terminal delivers it: SIGINT handled by default even when this test runs where it is
    # ignored (a job started with `&` by a non-interactive shell inherits SIGINT ignored, and so would run_all).
    p = subprocess.Popen([PY, ROOT / "run_all.py", "--out", out, "--lessons-dir", lessons, "--data-dir", tmp_path],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT,
                         preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    for line in p.stdout:
        if line.startswith("[02_mlp] running"):
            break
    time.sleep(1.0)  # let the lesson start
    p.send_signal(signal.SIGINT)
    stdout, stderr = p.communicate(timeout=60)
    r = subprocess.CompletedProcess(p.args, p.returncode, stdout, stderr)
    check(r, 130, out, says=["interrupted", "02_mlp", "report.html"])
    state = json.loads((out / "run_all.json").read_text())["lessons"]
    assert state["01_representation"]["status"] == "ok" and state["02_mlp"]["status"] == "interrupted"
    assert state["03_cnn"]["status"] == "not run"
    assert (out / "report.html").is_file() and "0.84" in (out / "report.md").read_text()
    assert "interrupted" in (out / "02_mlp" / "stderr.log").read_text()  # the lesson got the Ctrl-C itself
    assert not (out / ".lock").exists()
