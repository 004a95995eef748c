"""The whole course, full mode, against the course as it stood at a reference commit: same
machine, same data, back to back. Prints both wall times, the ratio and the headline numbers.

    python benchmarks/course_time.py --ref fbd2cb3 --data-dir ../shared/data

The reference is checked out into a temporary git worktree (removed at the end). Its run goes
first, then this checkout's; nothing else should run on the machine meanwhile (machines here
differ ~3x in speed, so only the ratio of two runs on one machine means something).
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import ROOT, data_dir


def run_course(repo, data, out, threads):
    """Wall seconds of ``run_all.py`` (full mode) in ``repo``, and its exit status."""
    cmd = [sys.executable, str(repo / "run_all.py"), "--data-dir", str(data), "--out", str(out)]
    if threads:
        cmd += ["--threads", str(threads)]
    env = {**os.environ, "PYTHONPATH": str(repo)}  # each checkout imports its own package
    print("+", " ".join(cmd), flush=True)
    t = time.perf_counter()
    rc = subprocess.run(cmd, cwd=repo, env=env).returncode
    return time.perf_counter() - t, rc


def headlines(out):
    """The course's headline numbers from the lessons' results.json files (None where absent)."""
    def load(name):
        try:
            return json.loads((out / name / "results.json").read_text())
        except (OSError, ValueError):
            return {}
    r1, r2, r3 = load("01_representation"), load("02_mlp"), load("03_cnn")
    study = r3.get("kernel_study") or []
    key = "val_accuracy" if study and "val_accuracy" in study[0] else "test_accuracy"  # the study scores on val now
    best = max(study, key=lambda r: r[key]) if study else None
    pick = (r3.get("kernel_study_verdict") or {}).get("pick")
    return {"linear": r1.get("linear_test_accuracy"), "mlp": r2.get("test_accuracy"),
            "cnn": r3.get("test_accuracy"), "kernel_study_configs": len(study),
            "kernel_study_best": best and (best["kernel_size"], best["conv_blocks"]),
            "kernel_study_pick": pick and (pick["kernel_size"], pick["conv_blocks"])}


def main():
    p = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    p.add_argument("--ref", default="fbd2cb3", help="reference commit (the course before the change)")
    p.add_argument("--data-dir", default=None, help="data folder (default: $MTV_DATA_DIR, else ../shared/data)")
    p.add_argument("--threads", type=int, default=None, help="passed to run_all (default: the lessons' own)")
    a = p.parse_args()
    data = data_dir(a.data_dir).resolve()
    with tempfile.TemporaryDirectory(prefix="course_time_") as tmp:
        tmp = Path(tmp)
        ref = tmp / "ref"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "-q", str(ref), a.ref], check=True)
        try:
            t_ref, rc_ref = run_course(ref, data, tmp / "out_ref", a.threads)
            t_new, rc_new = run_course(ROOT, data, tmp / "out_new", a.threads)
            h_ref, h_new = headlines(tmp / "out_ref"), headlines(tmp / "out_new")
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(ref)])
    print(f"\nreference {a.ref}: {t_ref / 60:.1f} min (exit {rc_ref})  {h_ref}")
    print(f"this checkout : {t_new / 60:.1f} min (exit {rc_new})  {h_new}")
    print(f"ratio this / reference = {t_new / t_ref:.2f}")


if __name__ == "__main__":
    main()
