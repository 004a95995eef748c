"""Lessons 04 and 06: flags given with --quick keep their values, lesson 04's TensorBoard runs and backbone
choice under run_all, and lesson 06 runs without its photo."""
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import need

ROOT = Path(__file__).resolve().parents[1]
L04 = ROOT / "lessons" / "04_transfer.py"
L06 = ROOT / "lessons" / "06_interpretability.py"


def run(args, timeout=300):
    env = {**os.environ, "MTV_DATA_DIR": "", "PYTHONUNBUFFERED": "1"}
    return subprocess.run([sys.executable, *map(str, args), "--threads", "1"], capture_output=True, text=True,
                          cwd=ROOT, env=env, timeout=timeout)


def test_help_states_full_and_quick_defaults():
    r = run([L04, "--help"], timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    text = " ".join(r.stdout.split())  # argparse wraps lines
    assert "(default: 4; 3 with --quick)" in text           # --epochs
    assert "(default: 5,10,50; 5,10 with --quick)" in text  # --shots
    assert "(default: 300; 150 with --quick)" in text       # --head-steps
    r = run([L06, "--help"], timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "(default: 2; 1 with --quick)" in " ".join(r.stdout.split())


def small_data(data_dir, root, train=10, test=20, weights=("yolov5n.pt",), photo=True):
    """A data folder of symlinks: the 5 default CIFAR-10 classes as an image folder (``train``/``test``
    images each), the photo cat.png (unless ``photo=False``) and the named weights files."""
    need(data_dir, "cifar10-images", "train", "cat")
    for split, n in (("train", train), ("test", test)):
        for c in ("airplane", "automobile", "bird", "cat", "deer"):
            (root / "cifar10-images" / split / c).mkdir(parents=True)
            for f in sorted((data_dir / "cifar10-images" / split / c).iterdir())[:n]:
                (root / "cifar10-images" / split / c / f.name).symlink_to(f)
    if photo:
        (root / "images").mkdir()
        (root / "images" / "cat.png").symlink_to(need(data_dir, "images", "cat.png"))
    (root / "weights").mkdir()
    for w in weights:
        (root / "weights" / w).symlink_to(need(data_dir, "weights", w))
    return root


SMALL_04 = ["--backbone", "yolov5n", "--quick", "--no-download", "--classes", "cat,deer", "--shots", "4", "--epochs",
            "2", "--head-steps", "20", "--views", "2", "--test-per-class", "10", "--size", "32", "--batch-size", "8"]


def test_04_quick_keeps_the_flags_given(data_dir, tmp_path):
    """--quick fills in only what the user did not set; every configuration is trained once."""
    data = small_data(data_dir, tmp_path / "data", train=4, test=10)
    out = tmp_path / "04"
    r = run([L04, "--data-dir", data, "--out", out, *SMALL_04])
    assert r.returncode == 0, r.stderr[-3000:]
    res = json.loads((out / "results.json").read_text())
    assert res["epochs"] == 2 and res["backbone"] == "yolov5n" and res["weights"] == "coco"
    rec = res["recipe"]
    assert (rec["head_steps"], rec["views"], rec["sizes"]["frozen"]) == (20, 2, 32)
    assert rec["steps"] == 2 * 1  # epochs x ceil(4 shots * 2 classes / batch 8)
    assert {run["shots"] for run in res["runs"]} == {4}
    keys = [(run["mode"], run["augment"]) for run in res["runs"]]
    assert sorted(keys) == sorted((m, a) for m in ("scratch", "frozen", "finetune") for a in (False, True))
    assert (out / "classifier.pt").is_file() and {"transfer.png", "predictions.png", "top5.png"} <= {
        f["file"] for f in res["figures"]}
    assert res["photo"]["file"].endswith("cat.png") and [c for c, _ in res["photo"]["top"]] in (["cat", "deer"],
                                                                                              ["deer", "cat"])


def test_04_without_the_photo_records_the_part_as_skipped(data_dir, tmp_path):
    """No images/cat.png and no download: one line says the photo part is skipped, results.json records
    ``photo.skipped`` (so the course report lists it), the rest of the lesson runs."""
    from minitorch_vision.report import skipped_parts
    data = small_data(data_dir, tmp_path / "data", train=4, test=10, photo=False)
    out = tmp_path / "04"
    r = run([L04, "--data-dir", data, "--out", out, *SMALL_04])
    assert r.returncode == 0, r.stderr[-3000:]
    res = json.loads((out / "results.json").read_text())
    assert set(res["photo"]) == {"skipped"} and "cat.png" in skipped_parts(res)["photo"]
    assert r.stdout.count("skipped: the photo part") == 1 and "Traceback" not in r.stderr
    assert "top5.png" not in {f["file"] for f in res["figures"]} and (out / "classifier.pt").is_file()


def test_04_tensorboard_one_run_per_configuration(data_dir, tmp_path):
    """Lesson 04's TensorBoard folder, read back with TensorBoard's reader: one flat run per trained
    configuration (frozen heads included), each with a test accuracy curve."""
    ea = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")
    data = small_data(data_dir, tmp_path / "data", train=4, test=10)
    out = tmp_path / "runs" / "04"
    r = run([L04, "--data-dir", data, "--backbone", "yolov5n", "--quick", "--out", out, "--no-download",
             "--classes", "cat,deer", "--shots", "2,4", "--epochs", "1", "--head-steps", "10", "--views", "2",
             "--test-per-class", "10", "--size", "32"])
    assert r.returncode == 0, r.stderr[-3000:]
    tb = tmp_path / "runs" / "tb" / "04_transfer"
    runs = sorted(p.name for p in tb.iterdir())
    assert runs == sorted(f"yolov5n-{m}-k{k}-{a}" for m in ("scratch", "frozen", "finetune") for k in (2, 4)
                          for a in ("aug", "noaug"))
    for name in runs:
        acc = ea.EventAccumulator(str(tb / name))
        acc.Reload()
        assert {"accuracy/train", "accuracy/test", "loss/test"} <= set(acc.Tags()["scalars"]), name


def test_run_all_downloads_the_resnet18_weights_for_lesson_04(data_dir, tmp_path):
    """run_all never hands lesson 04 random weights: with a server standing in for the ResNet-18 URL
    (MTV_MIRROR; MTV_RESNET18_SHA256 names the stand-in file's digest) the lesson downloads the file,
    verifies it and runs the ResNet-18 with it."""
    from helpers_http import serve

    from minitorch_vision.models.resnet import resnet18
    from minitorch_vision.weights import RESNET18_FILE

    data = small_data(data_dir, tmp_path / "data", weights=())
    www = tmp_path / "www"
    (www / "weights").mkdir(parents=True)
    torch.manual_seed(0)
    torch.save(resnet18().state_dict(), www / "weights" / RESNET18_FILE)  # torchvision's keys and shapes
    sha = hashlib.sha256((www / "weights" / RESNET18_FILE).read_bytes()).hexdigest()
    with serve(www) as url:
        env = {**os.environ, "MTV_MIRROR": url, "MTV_RESNET18_SHA256": sha, "MTV_DATA_DIR": ""}
        r = subprocess.run([sys.executable, str(ROOT / "run_all.py"), "--quick", "--only", "04", "--threads", "1",
                            "--data-dir", str(data), "--out", str(tmp_path / "all")], capture_output=True, text=True,
                           cwd=ROOT, env=env, timeout=600)
    lesson = json.loads((tmp_path / "all" / "run_all.json").read_text())["lessons"]["04_transfer"]
    assert lesson["status"] == "ok", r.stdout[-2000:] + r.stderr[-2000:]  # (the report after it is not tested here)
    res = json.loads((tmp_path / "all" / "04_transfer" / "results.json").read_text())
    assert (res["backbone"], res["weights"]) == ("resnet18", "imagenet"), res
    got = data / "weights" / RESNET18_FILE
    assert got.is_file() and hashlib.sha256(got.read_bytes()).hexdigest() == sha
    assert "--weights" not in lesson["command"]


def test_run_all_no_download_runs_lesson_04_on_yolov5n(data_dir, tmp_path):
    """Offline (--no-download) and no ResNet-18 file: lesson 04 runs the YOLOv5n backbone, says so in one
    line, and results.json records the backbone and the weights file it used."""
    data = small_data(data_dir, tmp_path / "data")
    r = subprocess.run([sys.executable, str(ROOT / "run_all.py"), "--quick", "--only", "04", "--no-download",
                        "--threads", "1", "--data-dir", str(data), "--out", str(tmp_path / "all")],
                       capture_output=True, text=True, cwd=ROOT, env={**os.environ, "MTV_DATA_DIR": ""}, timeout=600)
    lesson = json.loads((tmp_path / "all" / "run_all.json").read_text())["lessons"]["04_transfer"]
    assert lesson["status"] == "ok" and "--no-download" in lesson["command"], r.stdout[-2000:] + r.stderr[-2000:]
    res = json.loads((tmp_path / "all" / "04_transfer" / "results.json").read_text())
    assert (res["backbone"], res["weights"]) == ("yolov5n", "coco")
    assert res["weights_source"].endswith("yolov5n.pt") and "ResNet-18" in res["backbone_note"]
    log = (tmp_path / "all" / "04_transfer" / "stdout.log").read_text()
    assert sum("using the yolov5n backbone" in line for line in log.splitlines()) == 1


def test_06_without_photo_skips_the_photo_part_and_keeps_epochs(data_dir, tmp_path):
    """A data folder with FashionMNIST only (no images/, no weights): the photo and YOLO parts are
    skipped with a one-line note and a results.json entry, never shown with an untrained network; the
    rest runs; --epochs 2 survives --quick (whose default is 1)."""
    need(data_dir, "fashion-mnist", "train-images-idx3-ubyte.gz")
    data = tmp_path / "data"
    data.mkdir()
    (data / "fashion-mnist").symlink_to(data_dir / "fashion-mnist", target_is_directory=True)
    out = tmp_path / "06"
    r = run([L06, "--data-dir", data, "--quick", "--epochs", "2", "--out", out, "--no-download",
             "--cnn-from", tmp_path / "no_lesson_03"])
    assert r.returncode == 0, r.stderr[-3000:]
    res = json.loads((out / "results.json").read_text())
    assert set(res["photo"]) == {"skipped"} and "both.png" in res["photo"]["skipped"]
    assert set(res["yolo"]) == {"skipped"}
    assert r.stdout.count("note: the photo part skipped") == 1 and "note: the YOLOv5 part skipped" in r.stdout
    assert res["cnn"]["source"].startswith("trained here (2 epoch(s)")
    files = [f["file"] for f in res["figures"]]
    assert res["sanity_check"]["steps"] and files == ["gradcam_right.png", "gradcam_mistakes.png", "sanity_check.png"]
    assert all(f["caption"] for f in res["figures"])
    assert res["by_hand_max_abs_diff"] < 1e-5 and res["sanity_check"]["unchanged"] == 1.0
    assert (out / "sanity_check.png").is_file() and not list(out.glob("*.tmp*"))
