"""run_all.py and the course report, on fake lessons that write known results.json files
(one of them fails the way a lesson with missing data does), reports built directly from fake
results folders, and the HTML in headless Chromium (benchmarks/_browser.py)."""
import base64
import html
import io
import json
import re
import shlex
import sys
import textwrap
from pathlib import Path

import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
import run_all  # noqa: E402
from benchmarks._browser import check_in_browser, find_chromium, screenshot_section  # noqa: E402
from minitorch_vision import report, report_tables  # noqa: E402


def _figs(*names):
    return [{"file": n, "caption": f"look at {n}"} for n in names]


PER_CLASS = [{"name": "person", "images": 60, "instances": 254, "precision": 0.7, "recall": 0.6, "map50": 0.7,
              "map50_95": 0.45},
             {"name": "car", "images": 10, "instances": 5, "precision": 0.5, "recall": 0.4, "map50": 0.5,
              "map50_95": 0.3},
             {"name": "zebra", "images": 1, "instances": 4, "precision": 1.0, "recall": 1.0, "map50": 0.9,
              "map50_95": 0.8},
             {"name": "toaster", "images": 1, "instances": 1, "precision": 0.0, "recall": 0.0, "map50": 0.1,
              "map50_95": 0.0}]
RESULTS = {
    "01_representation": {"linear_test_accuracy": 0.8421, "best_val_accuracy": 0.8507, "epochs": 10,
                          "train_seconds": 12.5, "params": 7850, "figures": _figs("pixels.png", "curve.png")},
    "02_mlp": {"test_accuracy": 0.8934, "best_val_accuracy": 0.8990, "epochs": 20, "train_seconds": 80.25,
               "params": 235146, "hidden": [512, 256], "figures": _figs("curve.png", "pixels.png")},
    "03_cnn": {"test_accuracy": 0.9312, "best_val_accuracy": 0.9350, "epochs": 10, "train_seconds": 250.0,
               "params": 421642, "mlp_test_accuracy": 0.9001,
               "kernel_study": [{"kernel_size": 3, "conv_blocks": 1, "test_accuracy": 0.9011, "params": 1111,
                                 "train_seconds": 10.0},
                                {"kernel_size": 7, "conv_blocks": 3, "test_accuracy": 0.9187, "params": 2222,
                                 "train_seconds": 30.0}],
               "figures": _figs("pixels.png")},
    "04_transfer": {"weights": "random", "classes": ["cat", "dog"],
                    "runs": [{"mode": "scratch", "shots": 5, "augment": False, "test_accuracy": 0.30,
                              "train_seconds": 1.0},
                             {"mode": "frozen", "shots": 5, "augment": False, "test_accuracy": 0.3141,
                              "train_seconds": 1.5},
                             {"mode": "finetune", "shots": 50, "augment": True, "test_accuracy": 0.5926,
                              "train_seconds": 9.0}],
                    "skipped": {"sample photo": "images/both.png is absent — run_all.py --fetch-only"},
                    "figures": _figs("pixels.png")},
    "05_detection": {"model": "yolov5n", "img_size": 640, "n_images": 128, "n_labels": 264, "precision": 0.6163,
                     "recall": 0.4952, "map50": 0.5460, "map50_95": 0.3410, "per_class": PER_CLASS,
                     "figures": _figs("detections/bus.jpg", "pr_curves.png")},
    "06_interpretability": {"sanity_check": {"layer": "features.1", "images": 24, "unchanged": 1.0,
                                             "after_cam_layer": 0.1234,
                                             "steps": [{"randomized": None, "rank_correlation": 1.0},
                                                       {"randomized": "head.5", "rank_correlation": 0.2718}]},
                            "figures": _figs("sanity_check.png", "gradcam.png")},
}
FAIL_REASON = "error: COCO128 not found in /nowhere/coco128: put it there"


def _write_images(folder, res):
    for i, f in enumerate(res.get("figures", [])):
        path = folder / f["file"]
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (40 + 10 * i, 30), (200, 30 * i, 30)).save(path)


def fake_results(out, quick=True, **changes):
    """Lesson folders with results.json and their figures, as the lessons write them."""
    for name, res in RESULTS.items():
        res = {"lesson": name, "quick": quick, "device": "cpu", "threads": 1, **res, **changes.get(name, {})}
        folder = out / name
        folder.mkdir(parents=True, exist_ok=True)
        _write_images(folder, res)
        (folder / "results.json").write_text(json.dumps(res))
    return out


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
            res = {json.dumps({"quick": True, "device": "cpu", "threads": 1, **RESULTS[name]})!r}
            for f in json.loads(res)["figures"]:
                Image.new("RGB", (40, 30), (200, 30, 30)).save(out / f["file"])
            (out / "results.json").write_text(res)
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


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A report built directly from fake results folders (no run_all.json), all six lessons ok."""
    out = fake_results(tmp_path_factory.mktemp("built"))
    report.write_report(out)
    return out, (out / "report.html").read_text(), (out / "report.md").read_text()


def test_run_all_reports_the_failure_and_runs_the_rest(course):
    out, rc = course
    assert rc == 1
    state = json.loads((out / "run_all.json").read_text())
    assert state["lessons"]["05_detection"]["status"] == "failed"
    assert state["lessons"]["05_detection"]["reason"] == FAIL_REASON
    assert state["lessons"]["05_detection"]["returncode"] == 2
    assert not (out / "05_detection" / "results.json").exists()
    for name in RESULTS:
        if name != "05_detection":
            assert state["lessons"][name]["status"] == "ok", state["lessons"][name]
    run = state["run"]
    assert run["command"] == shlex.join([sys.executable, "run_all.py", "--quick", "--data-dir", "DATA", "--out",
                                         str(out), "--lessons-dir", str(out.parent / "lessons")])
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC", run["started"])
    assert run["python"].count(".") == 2 and run["torch"] and run["commit"]


def test_header_says_how_the_run_was_made(course):
    out, _ = course
    md = (out / "report.md").read_text()
    state = json.loads((out / "run_all.json").read_text())
    header = md.split("### Results highlights")[0]
    for needle in ["| mode | quick", state["run"]["command"], state["run"]["started"], state["run"]["commit"],
                   f"| versions | Python {state['run']['python']}, torch {state['run']['torch']} |", "| threads | 1 |", "| device | cpu |"]:
        assert needle in header, needle
    total = sum(r["seconds"] for r in state["lessons"].values())
    assert f"| wall time | {total:.1f} s for 6 lesson(s)" in header
    status = md.split("### Lessons: status and wall time")[1].split("###")[0]
    assert re.search(r"\| 05 Object detection with YOLOv5 \| failed \| [0-9.]+ \| - \| - \| "
                     + re.escape(FAIL_REASON), status)
    assert status.count("| ok |") == 5


def test_header_points_to_tensorboard(tmp_path):
    out = fake_results(tmp_path)
    report.write_report(out)
    assert "TensorBoard" not in (out / "report.md").read_text()
    (out / "tb" / "02_mlp" / "mlp").mkdir(parents=True)
    report.write_report(out)
    assert f"| TensorBoard | tensorboard --logdir {out / 'tb'} |" in (out / "report.md").read_text()


def test_quick_caveat_on_top_only_for_quick_runs(built, tmp_path):
    _, page, md = built
    assert md.index(report.QUICK_CAVEAT) < md.index("How this report was made")
    assert '<p class="caveat">' in page.split("<table")[0]
    full = fake_results(tmp_path, quick=False)
    report.write_report(full)
    assert report.QUICK_CAVEAT not in (full / "report.md").read_text()
    assert "| mode | full |" in (full / "report.md").read_text()


def test_lessons_in_order_with_title_and_purpose(built):
    _, page, md = built
    heads = re.findall(r'<h2 id="([^"]+)">(.*?)</h2>', page)
    assert [h[0] for h in heads] == list(report.LESSONS)
    for (name, text), (title, purpose) in zip(heads, report.LESSONS.values()):
        assert text == f"{name[:2]} {title}"
        assert page.index(f"<h2 id=\"{name}\"") < page.index(html.escape(purpose))
        assert f"## {name[:2]} {title}\n\n{purpose}" in md
    assert "[01 Images as numbers, and a linear classifier](#01-images-as-numbers-and-a-linear-classifier)" in md


def test_every_figure_has_its_caption_in_the_order_saved(built):
    out, page, md = built
    figs = re.findall(r'<figure><img [^>]*src="data:(image/[a-z]+);base64,([^"]+)"[^>]*>'
                      r'<figcaption>([^<]*)</figcaption></figure>', page)
    assert len(figs) == page.count("<img ") == sum(len(r["figures"]) for r in RESULTS.values())
    assert [c for _, _, c in figs] == [f["caption"] for r in RESULTS.values() for f in r["figures"]]
    for mime, data, caption in figs:
        im = Image.open(io.BytesIO(base64.b64decode(data)))
        assert im.format.lower() == mime.split("/")[1], caption
    assert "image/jpeg" in [m for m, _, _ in figs]  # lesson 05's drawn detections (JPEG) are in
    assert "![look at detections/bus.jpg](05_detection/detections/bus.jpg)" in md
    assert "*look at detections/bus.jpg*" in md
    # lesson 02 saved curve.png first: its section shows it first
    sec = page.split('<h2 id="02_mlp">')[1].split("<h2")[0]
    assert sec.index("look at curve.png") < sec.index("look at pixels.png")


def test_tables_per_lesson(built):
    _, _, md = built
    sections = dict(zip(report.LESSONS, md.split("\n## ")[1:]))
    for name, needles in {
            "01_representation": ["| linear (softmax on pixels) | 0.8421 | 0.8507 | 10 | 12.5 | 7,850 |"],
            "02_mlp": ["| MLP 512-256 | 0.8934 | 0.8990 | 20 | 80.2 | 235,146 |"],
            "03_cnn": ["| CNN | 0.9312 |", "| MLP, the CNN's budget | 0.9001 | - | 10 | - | - |",
                       "| 3 | 1 | 0.9011 | 1,111 | - | 10.0 |"],
            "04_transfer": ["| frozen | 5 | no | 0.3141 |", "| finetune | 50 | yes | 0.5926 |", "RANDOM weights"],
            "05_detection": ["| all | 128 | 264 | 0.6163 | 0.4952 | 0.5460 | 0.3410 |"],
            "06_interpretability": ["| head.5 | 0.272 |", "| nothing (the same model again) | 1.000 |"]}.items():
        for needle in needles:
            assert needle in sections[name], (name, needle)


def test_kernel_study_on_validation_with_its_verdict(tmp_path):
    study = [{"kernel_size": 5, "conv_blocks": 2, "val_accuracy": 0.9, "params": 3333, "multiply_adds": 1_250_000,
              "train_seconds": 3.0}]
    out = fake_results(tmp_path, **{"03_cnn": {
        "kernel_study": study, "kernel_study_verdict": {"text": "too short to conclude: train longer"},
        "mlp": {"test_accuracy": 0.88, "params": 235146, "train_seconds": 20.0, "budget": {"epochs": 2}}}})
    report.write_report(out)
    md = (out / "report.md").read_text()
    assert "| MLP, the CNN's budget | 0.8800 | - | 2 | 20.0 | 235,146 |" in md
    assert "| kernel size | conv blocks | val accuracy | parameters | M multiply-adds / image | train seconds |" in md
    assert "| 5 | 2 | 0.9000 | 3,333 | 1.25 | 3.0 |" in md and "too short to conclude: train longer" in md


def test_detection_rows_under_five_instances_fold(built):
    _, _, md = built
    table = md.split("### Precision, recall and mAP per class")[1].split("###")[0]
    assert "| person | 60 | 254 |" in table and "| car | 10 | 5 |" in table
    assert "zebra" not in table and "toaster" not in table
    assert "| 2 classes with < 5 instances (class mean) | - | 5 | 0.5000 | 0.5000 | 0.5000 | 0.4000 |" in table
    assert report_tables.fold_classes([]) == []


def test_skipped_parts_show_as_skipped(built, tmp_path):
    _, page, md = built
    assert "_skipped: sample photo: images/both.png is absent — run_all.py --fetch-only_" in md
    assert '<p class="skipped">skipped: sample photo' in page.split('id="04_transfer"')[1]
    status = md.split("### Lessons: status and wall time")[1].split("###")[0]
    assert "| ok | - | cpu | 1 | skipped: sample photo |" in status
    out = fake_results(tmp_path, **{"05_detection": {"precision": None, "recall": None, "map50": None,
                                                      "map50_95": None, "per_class": [],
                                                      "skipped": {"coco128 evaluation": "no COCO128"}}})
    report.write_report(out)
    md = (out / "report.md").read_text()
    assert "_skipped: coco128 evaluation: no COCO128_" in md and "Precision, recall and mAP" not in md
    assert "| Our YOLOv5 reproduces the official evaluation | - |" in md
    assert "not measured in this run |" in md.split("### Results highlights")[1].split("###")[0]


def test_highlights_next_to_their_anchors(built, tmp_path):
    _, _, md = built
    hl = md.split("### Results highlights")[1].split("###")[0]
    assert "measured in this run (quick: a smoke test)" in hl
    rows = {r.split(" | ")[0].strip("| "): r for r in hl.splitlines() if r.startswith("| ") and "claim" not in r}
    assert len(rows) == 4
    fashion, transfer, detection, sanity = rows.values()
    assert "CNN 0.9312 (03)" in fashion and "MLP 0.8934 (02)" in fashion and "human 0.835" in fashion
    assert "MLP with the CNN's budget 0.9001 (03)" in fashion
    assert "benchmark MLP 0.883" in fashion and fashion.endswith("| holds |")
    assert "resnet18 (random weights), 5 images per class: scratch 0.3000; frozen 0.3141" in transfer
    assert "not tested: no pretrained weights" in transfer
    assert "P 0.6164 R 0.4952 mAP@0.5 0.546 mAP@0.5:0.95 0.341" in detection
    assert detection.endswith("| matches (each within 0.005) |")
    assert "0.12 after re-initialising down to features.1" in sanity and sanity.endswith("| passes |")
    out = fake_results(tmp_path, **{"03_cnn": {"test_accuracy": 0.85}, "05_detection": {"n_images": 32},
                                    "04_transfer": {"weights": "coco", "backbone": "yolov5n"},
                                    "06_interpretability": {"sanity_check": {"after_cam_layer": 0.9}}})
    report.write_report(out)
    hl = (out / "report.md").read_text().split("### Results highlights")[1].split("###")[0]
    assert "| does not hold: the CNN does not beat the MLP with its budget |" in hl  # CNN 0.85 < MLP 0.9001
    assert "| holds |" in hl  # frozen 0.3141 > scratch 0.30
    assert "not comparable: needs yolov5n at 640 px on all 128 images" in hl and "| fails |" in hl
    out = fake_results(tmp_path / "human", **{"02_mlp": {"test_accuracy": 0.80}})
    report.write_report(out)
    assert "| does not hold: MLP below human |" in (out / "report.md").read_text()


def test_report_can_be_rebuilt_alone_and_without_run_all(tmp_path):
    (tmp_path / "02_mlp").mkdir()
    (tmp_path / "02_mlp" / "results.json").write_text(json.dumps(RESULTS["02_mlp"]))
    page, md = report.write_report(tmp_path)
    text = md.read_text()
    assert "| MLP 512-256 | 0.8934 |" in text and "| 01 Images as numbers, and a linear classifier | not run |" in text
    assert "no run_all.json" in text and "| mode | full |" in text
    assert page.is_file()


def test_failure_reason():
    assert run_all.failure_reason("warn\nerror: a\nmore\nerror: b\n", 2) == "error: b"
    assert run_all.failure_reason("Traceback...\nValueError: bad\n", 1) == "ValueError: bad"
    assert run_all.failure_reason("", 3) == "exit status 3"


def test_only_selects_lessons(tmp_path):
    lessons = tmp_path / "lessons"
    lessons.mkdir()
    for name in report.LESSONS:
        _fake_lesson(lessons, name)
    out = tmp_path / "out"
    rc = run_all.main(["--quick", "--data-dir", "DATA", "--out", str(out), "--lessons-dir", str(lessons),
                       "--only", "02,3"])
    assert rc == 0
    assert set(json.loads((out / "run_all.json").read_text())["lessons"]) == {"02_mlp", "03_cnn"}


def test_report_renders_in_headless_chromium(built, tmp_path):
    if find_chromium() is None:
        pytest.skip("skipped: chromium is not installed (Debian: apt-get install -y chromium)")
    out, page, _ = built
    shot = tmp_path / "shot.png"
    res = check_in_browser(out / "report.html", screenshot=shot, width=1100, height=1200)
    assert res["images_broken"] == 0 and res["images_ok"] == page.count("<img "), res
    assert list(res["sections"]) == list(report.LESSONS)
    assert sorted(res["sections"].values()) == list(res["sections"].values())  # 01 above 02 above ...
    im = Image.open(shot).convert("L")
    assert im.size == (1100, 1200)
    lo, hi = im.getextrema()
    assert hi - lo > 100  # text and tables drawn, not a blank page
    cut = tmp_path / "06.png"
    screenshot_section(out / "report.html", cut, "06_interpretability", width=1100, height=600)
    assert Image.open(cut).size == (1100, 600)
    assert Image.open(cut).convert("L").getextrema()[1] - Image.open(cut).convert("L").getextrema()[0] > 100
