"""run_all.py and the course report, on fake lessons that write known results.json files
(one of them fails the way a lesson with missing data does), and the HTML in headless Chromium."""
import base64
import io
import json
import re
import sys
import textwrap
from pathlib import Path

import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
import run_all  # noqa: E402
from minitorch_vision import report  # noqa: E402

RESULTS = {
    "01_representation": {"linear_test_accuracy": 0.8421, "best_val_accuracy": 0.8507, "epochs": 10,
                          "train_seconds": 12.5, "params": 7850},
    "02_mlp": {"test_accuracy": 0.8934, "best_val_accuracy": 0.8990, "epochs": 20, "train_seconds": 80.25,
               "params": 235146},
    "03_cnn": {"test_accuracy": 0.9312, "best_val_accuracy": 0.9350, "epochs": 10, "train_seconds": 250.0,
               "params": 421642,
               "kernel_study": [{"kernel_size": 3, "conv_blocks": 1, "test_accuracy": 0.9011, "params": 1111,
                                 "train_seconds": 10.0},
                                {"kernel_size": 7, "conv_blocks": 3, "test_accuracy": 0.9187, "params": 2222,
                                 "train_seconds": 30.0}]},
    "04_transfer": {"weights": "random", "classes": ["cat", "dog"],
                    "runs": [{"mode": "frozen", "shots": 5, "augment": False, "test_accuracy": 0.3141,
                              "train_seconds": 1.5},
                             {"mode": "finetune", "shots": 50, "augment": True, "test_accuracy": 0.5926,
                              "train_seconds": 9.0}]},
    # 05_detection fails (below)
    "06_interpretability": {"figures": ["sanity_check.png"],
                            "sanity_check": {"layer": "features.1", "images": 24, "after_cam_layer": 0.1234,
                                             "steps": [{"randomized": None, "rank_correlation": 1.0},
                                                       {"randomized": "head.5", "rank_correlation": 0.2718}]}},
}
FAIL_REASON = "error: COCO128 not found in /nowhere/coco128: put it there"


def _fake_lesson(folder, name):
    if name == "05_detection":
        body = f"""
            import sys
            print("loading...")
            print("Traceback-free failure", file=sys.stderr)
            print({FAIL_REASON!r}, file=sys.stderr)
            sys.exit(2)
        """
    else:
        body = f"""
            import json, sys
            from pathlib import Path
            from PIL import Image
            out = Path(sys.argv[sys.argv.index("--out") + 1]); out.mkdir(parents=True, exist_ok=True)
            assert ("--quick" in sys.argv) and sys.argv[sys.argv.index("--data-dir") + 1] == "DATA"
            Image.new("RGB", (40, 30), (200, 30, 30)).save(out / "sanity_check.png")
            Image.new("RGB", (20, 20), (30, 30, 200)).save(out / "curve.png")
            (out / "results.json").write_text({json.dumps(RESULTS[name])!r})
        """
    (folder / f"{name}.py").write_text(textwrap.dedent(body))


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("course")
    lessons = tmp / "lessons"
    lessons.mkdir()
    for name in report.LESSONS:
        _fake_lesson(lessons, name)
    out = tmp / "out"
    (out / "05_detection").mkdir(parents=True)
    (out / "05_detection" / "results.json").write_text('{"map50": 0.99}')  # stale: must not be reported
    rc = run_all.main(["--quick", "--data-dir", "DATA", "--out", str(out), "--lessons-dir", str(lessons)])
    return out, rc


def test_run_all_reports_the_failure_and_runs_the_rest(course):
    out, rc = course
    assert rc == 1
    state = json.loads((out / "run_all.json").read_text())["lessons"]
    assert state["05_detection"]["status"] == "failed"
    assert state["05_detection"]["reason"] == FAIL_REASON
    assert state["05_detection"]["returncode"] == 2
    assert not (out / "05_detection" / "results.json").exists()
    for name in RESULTS:
        assert state[name]["status"] == "ok", state[name]
        assert json.loads((out / name / "results.json").read_text()) == RESULTS[name]


def test_markdown_holds_every_table(course):
    out, _ = course
    md = (out / "report.md").read_text()
    for needle in ["| linear (01) | 0.8421 |", "| MLP (02) | 0.8934 | 0.8990 | 20 | 80.2 | 235,146 |",
                   "| CNN (03) | 0.9312 |", "| 3 | 1 | 0.9011 | 1,111 | 10.0 |", "| 7 | 3 | 0.9187 |",
                   "| frozen | 5 | no | 0.3141 |", "| finetune | 50 | yes | 0.5926 |", "RANDOM weights",
                   "| head.5 | 0.272 |", "0.123", FAIL_REASON,
                   "![sanity_check](06_interpretability/sanity_check.png)"]:
        assert needle in md, needle
    assert "0.99" not in md.split("## Detection")[1].split("##")[0]  # the stale result is not shown
    status = md.split("## Lessons: status and run time")[1].split("##")[0]
    assert re.search(r"\| 05 Detection \(YOLOv5\) \| failed \| [0-9.]+ \| " + re.escape(FAIL_REASON), status)
    assert status.count("| ok |") == 5


def test_html_is_self_contained_and_images_decode(course):
    out, _ = course
    page = (out / "report.html").read_text()
    for needle in ["0.8934", "0.9187", "0.5926", FAIL_REASON, "0.272"]:
        assert needle in page
    srcs = re.findall(r'<img [^>]*src="([^"]+)"', page)
    assert len(srcs) == 9  # 06 lists 1 figure; 01-04 list none, so all their PNGs (2 each); 05 failed
    for src in srcs:
        assert src.startswith("data:image/png;base64,")
        Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1]))).verify()


def test_report_can_be_rebuilt_alone_and_without_run_all(tmp_path):
    (tmp_path / "02_mlp").mkdir()
    (tmp_path / "02_mlp" / "results.json").write_text(json.dumps(RESULTS["02_mlp"]))
    page, md = report.write_report(tmp_path)
    text = md.read_text()
    assert "| MLP (02) | 0.8934 |" in text and "| 01 Representation and a linear classifier | not run |" in text
    assert page.is_file()


def test_failure_reason():
    assert run_all.failure_reason("warn\nerror: a\nmore\nerror: b\n", 2) == "error: b"
    assert run_all.failure_reason("Traceback...\nValueError: bad\n", 1) == "ValueError: bad"
    assert run_all.failure_reason("", 3) == "exit status 3"


def test_only_selects_lessons(tmp_path, course):
    _, _ = course
    lessons = tmp_path / "lessons"
    lessons.mkdir()
    for name in report.LESSONS:
        _fake_lesson(lessons, name)
    out = tmp_path / "out"
    rc = run_all.main(["--quick", "--data-dir", "DATA", "--out", str(out), "--lessons-dir", str(lessons),
                       "--only", "02,3"])
    assert rc == 0
    assert set(json.loads((out / "run_all.json").read_text())["lessons"]) == {"02_mlp", "03_cnn"}


def test_report_renders_in_headless_chromium(course, tmp_path):
    if report.find_chromium() is None:
        pytest.skip("skipped: chromium is not installed (Debian: apt-get install -y chromium)")
    out, _ = course
    shot = tmp_path / "shot.png"
    res = report.check_in_browser(out / "report.html", screenshot=shot, height=1600)
    assert res["images_broken"] == 0 and res["images_ok"] == 9, res
    im = Image.open(shot).convert("L")
    lo, hi = im.getextrema()
    assert hi - lo > 100  # text and tables drawn, not a blank page
