"""Lessons 04 and 06: flags given with --quick keep their values, and lesson 06 runs without its photo."""
import json
import os
import subprocess
import sys
from pathlib import Path

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


def test_04_quick_keeps_the_flags_given(data_dir, tmp_path):
    """--quick fills in only what the user did not set; (b)'s frozen run is reused by (c), not retrained."""
    if not (data_dir / "cifar-10-batches-py" / "data_batch_1").is_file():
        need(data_dir, "cifar10-images", "train", "cat")
    out = tmp_path / "04"
    r = run([L04, "--data-dir", data_dir, "--weights", "random", "--quick", "--out", out, "--no-download",
             "--classes", "cat,dog", "--shots", "4", "--epochs", "2", "--head-steps", "20", "--views", "2",
             "--test-per-class", "10", "--size", "32", "--batch-size", "8"])
    assert r.returncode == 0, r.stderr[-3000:]
    res = json.loads((out / "results.json").read_text())
    assert res["epochs"] == 2
    rec = res["recipe"]
    assert (rec["head_steps"], rec["views"], rec["size"]) == (20, 2, 32)
    assert rec["steps"] == 2 * 1  # epochs x ceil(4 shots * 2 classes / batch 8)
    assert {run["shots"] for run in res["runs"]} == {4}
    keys = [(run["mode"], run["augment"]) for run in res["runs"]]
    assert sorted(keys) == sorted((m, a) for m in ("scratch", "frozen", "finetune") for a in (False, True))
    assert r.stdout.count("frozen_k4_noaug") == 1 and "trained earlier" in r.stdout


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
