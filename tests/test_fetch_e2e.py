"""The first run on a fresh machine, proven against a local mirror: `check`, `fetch`, archives, run_all.

The mirror is ``python -m http.server``'s handler serving the shared data folder on 127.0.0.1 with
``MTV_MIRROR`` pointing at it. Two files are not on it (not obtainable here): the official CIFAR-10
archive (a copy of ``cifar10-images/`` stands in, as a user's own image folder) and the ResNet-18
ImageNet weights (run_all.py then runs lesson 04 with its fallback).
"""
import dataclasses
import hashlib
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from conftest import need
from helpers_http import dead_url, serve
from minitorch_vision.data import manifest
from minitorch_vision.errors import DataUnavailable

ROOT = Path(__file__).resolve().parents[1]


def run(args, mirror=None, timeout=300):
    env = {**os.environ, "MTV_DATA_DIR": "", "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(ROOT)}
    env.pop(manifest.MIRROR_ENV, None)
    if mirror:
        env[manifest.MIRROR_ENV] = mirror
    return subprocess.run([sys.executable, *map(str, args)], capture_output=True, text=True, cwd=ROOT, env=env,
                          timeout=timeout)


def data_cmd(*args):
    return ["-m", "minitorch_vision.data", *args]


def test_check_on_the_shared_data_lists_everything_present(data_dir):
    need(data_dir, "coco128")
    r = run(data_cmd("check", "--data-dir", data_dir))
    assert r.returncode == 0, r.stdout + r.stderr
    lines = r.stdout.splitlines()[:-1]
    assert len(lines) == len(manifest.ENTRIES)
    for line in lines:
        state, key = line.split()[:2]
        e = manifest.ENTRIES[key]
        # not present only where a lesson has a fallback: optional weights, CIFAR's image folder
        assert state == "present" or e.optional or "serves instead" in line, line
    assert "every file the lessons need is in" in r.stdout


def test_check_on_an_empty_folder_lists_everything_missing_exit_1(tmp_path):
    r = run(data_cmd("check", "--data-dir", tmp_path / "empty"))
    assert r.returncode == 1
    lines = r.stdout.splitlines()
    assert len(lines) == len(manifest.ENTRIES) and all(ln.startswith("missing") for ln in lines)
    assert "fetch" in r.stderr and "Traceback" not in r.stderr
    r = run(data_cmd("check", "--lesson", "05", "--data-dir", tmp_path / "empty"))
    assert len(r.stdout.splitlines()) == len(manifest.lesson_keys("05")) and r.returncode == 1


def test_fetch_offline_is_one_message_listing_every_missing_file(tmp_path):
    r = run(data_cmd("fetch", "--lesson", "05", "--data-dir", tmp_path / "d"), mirror=dead_url())
    err = [ln for ln in r.stderr.splitlines() if ln.startswith("error:")]
    assert r.returncode == 2 and len(err) == 1 and "Traceback" not in r.stderr
    for key in manifest.lesson_keys("05"):
        e = manifest.ENTRIES[key]
        if not e.optional:  # each required file: its official URL and the folder to put it in
            assert e.files[0].urls[0] in err[0] and str((tmp_path / "d" / e.files[0].path).parent.resolve()) in err[0]
    assert not [p for p in (tmp_path / "d").rglob("*") if p.is_file()]


def _tiny_archive_entry(tmp_path, monkeypatch, evil=False):
    """A COCO128-like entry whose 'official' zip is served locally: two members with their sha256."""
    members = {"coco128/labels/train2017/a.txt": b"0 0.5 0.5 0.2 0.2\n", "coco128/LICENSE": b"licence\n"}
    www = tmp_path / "www"
    www.mkdir()
    with zipfile.ZipFile(www / "coco128.zip", "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
        if evil:
            z.writestr("../evil.txt", b"escaped")
    entry = dataclasses.replace(manifest.ENTRIES["coco128"], members=tuple(
        manifest.File(n, (), len(b), sha256=hashlib.sha256(b).hexdigest()) for n, b in members.items()))
    monkeypatch.setitem(manifest.ENTRIES, "coco128", entry)
    monkeypatch.delenv(manifest.MIRROR_ENV, raising=False)
    return www, entry


@pytest.mark.parametrize("evil", [False, True], ids=["good zip", "zip slip"])
def test_archive_from_the_official_host_is_extracted_safely_and_checked(tmp_path, monkeypatch, evil):
    www, entry = _tiny_archive_entry(tmp_path, monkeypatch, evil)
    data = tmp_path / "data"
    with serve(www) as url:
        monkeypatch.setitem(manifest.ENTRIES, "coco128", dataclasses.replace(entry, files=(
            dataclasses.replace(entry.files[0], urls=(dead_url() + "coco128.zip", url + "coco128.zip")),)))
        if evil:
            with pytest.raises(DataUnavailable, match="refusing to extract '../evil.txt'"):
                manifest.ensure("coco128", data)
            assert not (tmp_path / "evil.txt").exists() and not (data / "coco128").exists()
            return
        got = manifest.ensure("coco128", data)
    assert got == data / "coco128" and (got / "labels" / "train2017" / "a.txt").is_file()
    assert sorted(p.name for p in data.iterdir()) == ["coco128"]  # the zip is deleted once verified
    assert manifest.verify(manifest.ENTRIES["coco128"], data) == ("present", "2 files")
    assert manifest.ensure("coco128", data, allow_download=False) == got  # present: nothing to fetch


def test_first_run_end_to_end_through_a_mirror(data_dir, tmp_path):
    """run_all.py --quick from an empty data folder: every file comes through the mirror, 6/6 lessons ok,
    lesson 05 draws and evaluates COCO128, lesson 06 runs its photo parts; a second run downloads nothing."""
    for rel in ("coco128", "images", "weights/yolov5n.pt", "fashion-mnist", "cifar10-images"):
        need(data_dir, rel)
    data, out = tmp_path / "data", tmp_path / "runs"
    data.mkdir()
    shutil.copytree(data_dir / "cifar10-images", data / "cifar10-images")  # the user's own image folder
    got = []
    with serve(data_dir, requests=got) as url:
        r = run(["run_all.py", "--quick", "--threads", "1", "--data-dir", data, "--out", out], mirror=url, timeout=1800)
        assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
        assert "6/6 lessons ok" in r.stdout
        for key, e in manifest.ENTRIES.items():  # everything on the mirror came through it, verified
            if key == "cifar-10" or e.optional:
                continue
            assert manifest.verify(e, data)[0] == "present", key
        assert {f"/{f.path}" for f in manifest.ENTRIES["coco128"].members} <= set(got)
        res5 = json.loads((out / "05_detection" / "results.json").read_text())
        assert res5["map50"] is not None and len(res5["per_class"]) > 0 and not res5.get("skipped")
        assert len(res5["detections_per_image"]) == 6 and len(list((out / "05_detection" / "detections").glob("*.jpg"))) == 6
        res6 = json.loads((out / "06_interpretability" / "results.json").read_text())
        assert "skipped" not in json.dumps(res6), res6
        assert (out / "06_interpretability" / "gradcam_yolo_detection.png").is_file()
        assert (out / "06_interpretability" / "gradcam_photo_both.png").is_file()  # a pretrained classifier: yolov5n backbone here
        n = len(got)
        r2 = run(["run_all.py", "--fetch-only", "--data-dir", data, "--out", out], mirror=url)
        assert r2.returncode == 0 and "nothing to download" in r2.stdout, r2.stdout + r2.stderr
        # the second run asks the mirror only for what it does not have (the optional ResNet-18 / yolov5s)
        assert all(p in ("/weights/resnet18-f37072fd.pth", "/weights/yolov5s.pt") for p in got[n:]), got[n:]
    assert not [p for p in data.rglob(".*.tmp*")]
