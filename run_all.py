"""Run the whole course: every lesson in order, each in its own process, then one report.

    python run_all.py --quick --data-dir ../shared/data      # the whole course in a few minutes
    python run_all.py --data-dir ../shared/data              # full runs (about 10 minutes on a 2-core CPU)
    python run_all.py --only 02,03 --out runs/all            # just some lessons
    python run_all.py --fetch-only                           # only download the data the lessons use

Before the lessons run, every file they use that is missing is downloaded (checksum-verified, a bar per
file and a total; ``MTV_MIRROR`` replaces the official hosts): minitorch_vision/data/manifest.py.
What cannot be had is listed in one line; the lessons then skip (and report) the parts that need it.

Each lesson writes ``<out>/<lesson>/`` (results.json, figures, logs ``stdout.log``/``stderr.log``).
A lesson that fails is reported with its one-line reason (the last ``error:`` line it printed) and
the others still run; the exit status is 1 if any lesson failed. Finally ``<out>/report.html`` and
``<out>/report.md`` are written from the lessons' results.json files (minitorch_vision/report.py).

Ctrl-C stops the running lesson (it gets the interrupt, then is killed if it does not stop), writes
the report of the lessons that finished and exits with status 130. A problem of our own (``--out``
that cannot be written, another run_all using it) is one line ``error: ...`` and exit status 2.
"""
import argparse
import json
import os
import platform
import shlex
import signal
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))

from minitorch_vision.atomic import OutputLock, make_dirs, remove_stale_temps  # noqa: E402
from minitorch_vision.cli import Parser, save_json_atomic  # noqa: E402
from minitorch_vision.flags import nonnegative_float, positive_int  # noqa: E402
from minitorch_vision.data.prefetch import fetch_all, keys_for  # noqa: E402
from minitorch_vision.data.paths import data_dir as resolve_data_dir  # noqa: E402
from minitorch_vision.errors import DataUnavailable, MTVError  # noqa: E402
from minitorch_vision.report import LESSONS, write_report  # noqa: E402
from minitorch_vision.weights import RESNET18_FILE  # noqa: E402


def parse_args(argv=None):
    p = Parser(description=__doc__.strip().splitlines()[0])
    p.add_argument("--quick", action="store_true", help="each lesson's --quick slice")
    p.add_argument("--data-dir", default=None, help="data folder (default: $MTV_DATA_DIR, else ./data)")
    p.add_argument("--out", default="runs/all", help="output folder: one sub-folder per lesson plus the report")
    p.add_argument("--only", default=None, help="comma-separated lesson numbers, e.g. 02,03")
    p.add_argument("--threads", type=positive_int, default=None, help="passed to every lesson (default: each lesson's own)")
    p.add_argument("--timeout", type=nonnegative_float, default=0, help="seconds allowed per lesson (0: no limit)")
    p.add_argument("--fetch-only", action="store_true", help="download the data the (selected) lessons use, then stop")
    p.add_argument("--no-download", action="store_true",
                   help="never touch the network (lesson 04 then uses the YOLOv5n backbone unless the ResNet-18 "
                        "weights are already in <data>/weights/)")
    p.add_argument("--lessons-dir", default=str(ROOT / "lessons"), help=argparse.SUPPRESS)  # tests use fakes
    args = p.parse_args(argv)
    args.command = shlex.join([sys.executable, *sys.argv] if argv is None else [sys.executable, "run_all.py", *argv])
    return args


def lesson_command(name, script, args, out, data):
    """The command line of one lesson, with the flags this data folder needs."""
    cmd = [sys.executable, str(script), "--out", str(out / name)]
    if args.quick:
        cmd.append("--quick")
    if args.data_dir:
        cmd += ["--data-dir", str(args.data_dir)]
    if args.threads:
        cmd += ["--threads", str(args.threads)]
    if args.no_download:
        cmd.append("--no-download")
    if name == "04_transfer" and not (data / "weights" / RESNET18_FILE).is_file():
        # never random weights: the lesson downloads the ResNet-18 itself, or falls back to YOLOv5n's backbone
        how = "uses the YOLOv5n backbone (COCO)" if args.no_download else \
            "downloads them, or uses the YOLOv5n backbone (COCO) when it cannot"
        print(f"NOTE: lesson 04: the ResNet-18 ImageNet weights are not in {data / 'weights'}: the lesson {how}")
    if name == "06_interpretability":
        cmd += ["--cnn-from", str(out / "03_cnn"),   # reuse the CNN lesson 03 just trained
                "--classifier-from", str(out / "04_transfer")]  # and lesson 04's classifier (classifier.pt)
    return cmd


def git_commit():
    """The checkout's commit, marked when tracked files differ from it; "unknown" outside git."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=ROOT, capture_output=True,
                              text=True, timeout=10)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown (git not available)"
    if head.returncode != 0:
        return "unknown (not a git checkout)"
    return head.stdout.strip() + (" with uncommitted changes" if dirty.stdout.strip() else "")


def run_info(args):
    """How this run is made, for the report's header (``run`` in run_all.json)."""
    import torch  # already imported by the package; only its version is read here
    return {"command": args.command, "started": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "commit": git_commit(), "python": platform.python_version(), "torch": torch.__version__,
            "platform": f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPU cores"}


def failure_reason(stderr, returncode):
    """The last ``error: ...`` line (what a lesson prints for a user-fixable problem), else the last line, else the code."""
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("error:")]
    if errors:
        return errors[-1]
    if lines:
        return lines[-1][:300]
    return f"exit status {returncode}"


class Interrupted(Exception):
    """Ctrl-C during a lesson; ``record`` is that lesson's run_all.json entry."""

    def __init__(self, record):
        super().__init__("interrupted")
        self.record = record


def _stop(proc, grace=10):
    """Ctrl-C for a lesson: SIGINT first (it cleans up and exits 130), SIGKILL if it is still running."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
    try:
        return proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait()


def run_lesson(name, cmd, folder, timeout):
    """Run one lesson; returns its record for run_all.json. Ctrl-C raises :class:`Interrupted`."""
    make_dirs(folder)
    (folder / "results.json").unlink(missing_ok=True)  # a failed run must not show stale results
    t0 = time.perf_counter()
    with open(folder / "stdout.log", "w") as out, open(folder / "stderr.log", "w") as err:
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, cwd=ROOT, env={**os.environ, "PYTHONUNBUFFERED": "1"})
        try:
            rc = proc.wait(timeout or None)
        except subprocess.TimeoutExpired:
            _stop(proc)
            rc = None
        except KeyboardInterrupt:
            rc = _stop(proc)
            raise Interrupted({"status": "interrupted", "returncode": rc, "reason": "interrupted by Ctrl-C",
                               "seconds": round(time.perf_counter() - t0, 2), "command": " ".join(cmd)}) from None
    seconds = time.perf_counter() - t0
    stderr = (folder / "stderr.log").read_text(errors="replace")
    if rc is None:
        status, reason = "failed", f"timed out after {timeout:.0f} s"
    elif rc != 0:
        status, reason = "failed", failure_reason(stderr, rc)
    elif not (folder / "results.json").is_file():
        status, reason = "failed", "exited 0 but wrote no results.json"
    else:
        status, reason = "ok", ""
    return {"status": status, "returncode": rc, "seconds": round(seconds, 2), "reason": reason,
            "command": " ".join(cmd)}


def main(argv=None):
    """Run the lessons; returns the exit status (0 all ok, 1 a lesson failed, 2 our error, 130 Ctrl-C)."""
    try:
        args = parse_args(argv)
        with OutputLock(args.out):  # one run_all per --out (each lesson also locks its own folder)
            remove_stale_temps(args.out, recursive=True)
            return run_course(args)
    except MTVError as e:
        print(f"error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:  # between lessons or while writing the report
        print("error: interrupted (Ctrl-C) — run again to finish", file=sys.stderr)
        return 130


def run_course(args):
    out = Path(args.out).resolve()  # the lessons run from the repository root: a relative --out must mean ours
    data = resolve_data_dir(args.data_dir)
    lessons_dir = Path(args.lessons_dir)
    wanted = None if not args.only else {s.strip().zfill(2) for s in args.only.split(",") if s.strip()}
    names = [n for n in LESSONS if wanted is None or n[:2] in wanted]
    if wanted and not names:
        raise MTVError(f"--only {args.only} matches no lesson — choose from {', '.join(n[:2] for n in LESSONS)}")
    try:  # the whole course's data up front, once, instead of one lesson part at a time
        print(f"[data] checking {data} ...", flush=True)
        if args.no_download:
            print("[data] --no-download: nothing is downloaded; the lessons use what is there", flush=True)
        else:
            fetch_all(keys_for([n[:2] for n in names]), data)
    except DataUnavailable as e:
        if args.fetch_only:
            print(f"error: {e}", file=sys.stderr)
            return 2
        print(f"WARNING: {e}", flush=True)  # the lessons skip (and report) the parts that need it
    if args.fetch_only:
        return 0
    state_path = out / "run_all.json"
    try:  # keep the records of lessons not run this time (e.g. with --only)
        state = json.loads(state_path.read_text())
    except (OSError, ValueError):
        state = None
    if not (isinstance(state, dict) and isinstance(state.get("lessons"), dict)):  # absent or not ours: afresh
        state = {"lessons": {}}
    t_all = time.perf_counter()
    state.update(mode="quick" if args.quick else "full", data_dir=str(data))
    state["run"] = run_info(args)  # the report's header: command, date, commit, versions
    for i, name in enumerate(names):
        script = lessons_dir / f"{name}.py"
        if not script.is_file():
            rec = {"status": "failed", "returncode": None, "seconds": 0.0, "reason": f"{script} does not exist",
                   "command": ""}
        else:
            print(f"[{name}] running ...", flush=True)
            try:
                rec = run_lesson(name, lesson_command(name, script, args, out, data), out / name, args.timeout)
            except (Interrupted, KeyboardInterrupt) as e:
                return interrupted(out, state, names[i:], getattr(e, "record", None))
        state["lessons"][name] = rec
        save_json_atomic(state, state_path)
        mark = "ok" if rec["status"] == "ok" else f"FAILED: {rec['reason']}"
        print(f"[{name}] {mark}  ({rec['seconds']:.1f} s; logs in {out / name})", flush=True)
    total = time.perf_counter() - t_all
    page, md = write_report(out)
    failed = [n for n in names if state["lessons"][n]["status"] != "ok"]
    print(f"\n{len(names) - len(failed)}/{len(names)} lessons ok in {total:.1f} s; report: {page} and {md}")
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


def interrupted(out, state, left, record):
    """Ctrl-C: record the stopped lesson and those not reached, write the report, return 130.

    A second Ctrl-C while the report is written is ignored: the report is what the first one asked for."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for name in left:
        state["lessons"][name] = {"status": "not run", "returncode": None, "seconds": 0.0,
                                  "reason": "interrupted (Ctrl-C) before it started", "command": ""}
    if record is not None:
        state["lessons"][left[0]] = record
    save_json_atomic(state, out / "run_all.json")
    page, _ = write_report(out)
    done = [n for n, r in state["lessons"].items() if r["status"] == "ok"]
    print(f"error: interrupted (Ctrl-C) during {left[0]} — the report {page} covers the {len(done)} lesson(s) "
          f"that finished; run again (e.g. --only {','.join(n[:2] for n in left)}) to finish", file=sys.stderr)
    return 130


if __name__ == "__main__":
    sys.exit(main())
