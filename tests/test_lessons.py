"""Every lesson: --help works, missing data is one line + exit 2, and --quick writes results.json."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import need

ROOT = Path(__file__).resolve().parents[1]
LESSONS = sorted((ROOT / "lessons").glob("0*.py"))


def run(args, **kw):
    env = {**os.environ, "MTV_DATA_DIR": "", "PYTHONUNBUFFERED": "1"}
    return subprocess.run([sys.executable, *map(str, args)], capture_output=True, text=True, cwd=kw.pop("cwd", ROOT),
                          env=env, timeout=kw.pop("timeout", 300), **kw)


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda p: p.stem)
def test_help(lesson):
    r = run([lesson, "--help"], timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "--data-dir" in r.stdout and "--quick" in r.stdout and "--threads" in r.stdout


@pytest.mark.parametrize("lesson", [p for p in LESSONS if p.stem[:2] in ("01", "02", "03")], ids=lambda p: p.stem)
def test_missing_data_is_one_line_exit_2(lesson, tmp_path):
    r = run([lesson, "--data-dir", tmp_path / "nothing", "--no-download", "--out", tmp_path / "out"], timeout=120)
    assert r.returncode == 2
    err = r.stderr.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "Traceback" not in r.stderr
    assert "fashion-mnist" in err[0]


EXPECTED = {
    "01": ["linear_test_accuracy", "hand_loop_max_diff"],
    "02": ["test_accuracy", "best_val_accuracy", "epochs", "train_seconds", "params"],
    "03": ["test_accuracy", "best_val_accuracy", "epochs", "train_seconds", "params", "kernel_study",
           "kernel_study_verdict", "mlp_test_accuracy", "budget"],
}


@pytest.mark.parametrize("num", ["01", "02", "03"])
def test_quick_run_writes_results(num, data_dir, tmp_path):
    need(data_dir, "fashion-mnist", "train-images-idx3-ubyte.gz")
    lesson = next(p for p in LESSONS if p.stem.startswith(num))
    out = tmp_path / "out"
    r = run([lesson, "--data-dir", data_dir, "--quick", "--out", out])
    assert r.returncode == 0, r.stderr[-3000:]
    res = json.loads((out / "results.json").read_text())
    for key in EXPECTED[num]:
        assert key in res, key
    for key in ("linear_test_accuracy", "test_accuracy", "best_val_accuracy"):
        if key in res:
            assert 0.5 < res[key] <= 1.0
    assert res["quick"] is True and all(f["caption"] for f in res["figures"]), "every figure needs a caption"
    if num == "01":
        assert res["hand_loop_max_diff"] < 1e-6, "the hand-written epoch must equal train_one_epoch"
    if num == "03":
        assert len(res["kernel_study"]) == 9
        assert {"kernel_size", "conv_blocks", "val_accuracy", "params", "multiply_adds",
                "train_seconds"} <= set(res["kernel_study"][0])
        # quick keeps the conclusions: equal budgets, the CNN ahead; the 4-step study says it is too short
        assert res["mlp"]["budget"] == res["budget"] and res["test_accuracy"] > res["mlp_test_accuracy"]
        assert res["kernel_study_verdict"]["text"].startswith("too short to conclude")
    assert list((tmp_path / "tb").glob("*/*/events.out.tfevents.*")) and list(out.glob("*.png"))
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    tb_run = {"01": "linear", "02": "mlp", "03": "cnn"}[num]
    acc = EventAccumulator(str(tmp_path / "tb" / lesson.stem / tb_run))
    acc.Reload()
    tags = acc.Tags()
    assert {"loss/train", "accuracy/val"} <= set(tags["scalars"]) and tags["images"], tags
    assert tags["graph"] or num == "01", "the MLP's and the CNN's graphs belong in TensorBoard"
    assert not list(out.glob("*.tmp*"))


def test_detection_quick_run_writes_results(data_dir, tmp_path):
    weights = need(data_dir, "weights", "yolov5n.pt")
    need(data_dir, "coco128", "images", "train2017")
    lesson = next(p for p in LESSONS if p.stem.startswith("05"))
    out = tmp_path / "out"
    r = run([lesson, "--data-dir", data_dir, "--weights", weights, "--quick", "--out", out])
    assert r.returncode == 0, r.stderr[-3000:]
    res = json.loads((out / "results.json").read_text())
    assert {"model", "img_size", "precision", "recall", "map50", "map50_95", "per_class",
            "detections_per_image"} <= set(res)
    assert res["model"] == "yolov5n" and 0 < res["map50_95"] < res["map50"] < 1
    assert {"name", "images", "instances", "precision", "recall", "map50", "map50_95"} <= set(res["per_class"][0])
    assert any(d["name"] == "bus" for d in next(v for k, v in res["detections_per_image"].items() if "bus" in k))
    assert (out / "pr_curves.png").exists() and list((out / "detections").glob("*.jpg"))
