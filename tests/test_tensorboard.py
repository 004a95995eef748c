"""TensorBoard logs read back with TensorBoard's own reader (EventAccumulator): lesson 04 writes one
flat run per trained configuration, ``<out>/../tb/04_transfer/<run>``, each with its training loss
and a validation or test accuracy per epoch, so ``tensorboard --logdir runs/tb`` can compare
scratch, frozen and fine-tuned side by side."""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from conftest import need

ROOT = Path(__file__).resolve().parents[1]
EVAL_ACCURACY = re.compile(r"accuracy/(val|test)")


def read_runs(tb_lesson):
    """``{run name: {scalar tag: [(step, value)]}}`` for every run folder under ``tb_lesson``."""
    runs = {}
    for run in sorted(p for p in tb_lesson.iterdir() if p.is_dir()):
        acc = EventAccumulator(str(run))
        acc.Reload()
        runs[run.name] = {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}
    return runs


def test_04_one_run_per_trained_configuration(data_dir, tmp_path):
    if not (data_dir / "cifar-10-batches-py" / "data_batch_1").is_file():
        need(data_dir, "cifar10-images", "train", "cat")
    need(data_dir, "weights", "yolov5n.pt")  # the COCO backbone: no download needed
    out = tmp_path / "runs" / "04_transfer"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    r = subprocess.run([sys.executable, str(ROOT / "lessons" / "04_transfer.py"), "--data-dir", str(data_dir),
                        "--backbone", "yolov5n", "--quick", "--out", str(out), "--no-download", "--threads", "1",
                        "--classes", "cat,deer", "--shots", "4", "--epochs", "2", "--head-steps", "20",
                        "--views", "2", "--test-per-class", "10", "--size", "32", "--batch-size", "8"],
                       capture_output=True, text=True, cwd=ROOT, env=env, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    trained = json.loads((out / "results.json").read_text())["runs"]
    tb = tmp_path / "runs" / "tb" / "04_transfer"
    assert tb.is_dir(), f"no TensorBoard folder {tb}"
    runs = read_runs(tb)
    # flat: each configuration's events sit directly in its run folder, nothing nested below it
    assert [p for p in tb.rglob("*") if p.is_dir() and p.parent != tb] == []
    assert len(runs) == len(trained), (sorted(runs), trained)
    for name, tags in runs.items():
        evals = [t for t in tags if EVAL_ACCURACY.fullmatch(t)]
        assert evals, f"{name}: no validation or test accuracy among {sorted(tags)}"
        assert "loss/train" in tags, f"{name}: no training loss among {sorted(tags)}"
        for t in evals + ["loss/train"]:
            steps = [s for s, _ in tags[t]]
            assert steps == sorted(set(steps)) and steps, (name, t, steps)
            assert all(v == v for _, v in tags[t]), (name, t)  # no NaN
        assert all(0.0 <= v <= 1.0 for t in evals for _, v in tags[t])
    # the last logged accuracy of each run is the one results.json reports for that configuration
    last = sorted(round(tags[[t for t in tags if EVAL_ACCURACY.fullmatch(t)][-1]][-1][1], 4)
                  for tags in runs.values())
    assert last == sorted(round(x["test_accuracy"], 4) for x in trained)
