"""One report for the whole course, built only from what the lessons wrote.

``write_report(out)`` reads ``<out>/run_all.json`` (status, exit code, seconds and one-line reason
of each lesson, written by ``run_all.py``) and every ``<out>/<lesson>/results.json``, and writes

* ``<out>/report.html``: self-contained (CSS inline, figures embedded as base64 data URIs), so it
  can be mailed or opened anywhere;
* ``<out>/report.md``: the same tables, figures linked beside it (``<lesson>/<figure>.png``).

Every number comes from a results file; nothing is retyped. A lesson that failed shows its reason
instead of its tables, and the other lessons are unaffected.

``check_in_browser`` opens the HTML in headless Chromium (tests, ``benchmarks/report_screenshot.py``).

Run:  python -m minitorch_vision.report runs/all
"""
import base64
import html
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from .atomic import atomic_path

LESSONS = ["01_representation", "02_mlp", "03_cnn", "04_transfer", "05_detection", "06_interpretability"]
TITLES = {
    "01_representation": "01 Representation and a linear classifier",
    "02_mlp": "02 Multi-layer perceptron",
    "03_cnn": "03 Convolutional network",
    "04_transfer": "04 Transfer learning (ResNet-18)",
    "05_detection": "05 Detection (YOLOv5)",
    "06_interpretability": "06 Interpretability (Grad-CAM)",
}


# ------------------------------------------------------------------------------------- reading
def _read_json(path):
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None


def collect(out):
    """Per lesson: ``{"status", "seconds", "reason", "results", "folder"}``.

    Status comes from ``run_all.json`` when the lesson was run by it ("ok" / "failed"), else
    "ok" if a results.json exists, else "not run". A failed lesson's results are never shown.
    """
    out = Path(out)
    runs = (_read_json(out / "run_all.json") or {}).get("lessons", {})
    lessons = {}
    for name in LESSONS:
        folder = out / name
        res = _read_json(folder / "results.json")
        run = runs.get(name)
        if run is not None:
            status, seconds, reason = run["status"], run.get("seconds"), run.get("reason", "")
        else:
            status, seconds, reason = ("ok" if res else "not run"), None, ""
        if status != "ok":
            res = None
        lessons[name] = {"status": status, "seconds": seconds, "reason": reason, "results": res, "folder": folder}
    return lessons


# ------------------------------------------------------------------------------------- tables
def _f(v, digits=4):
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return str(v)


def _secs(v):
    return "-" if v is None else f"{v:.1f}"


class Table:
    def __init__(self, title, headers, rows, note=""):
        self.title, self.headers, self.rows, self.note = title, headers, rows, note


def status_table(lessons):
    rows = [[TITLES[n], L["status"], _secs(L["seconds"]), L["reason"] or ""] for n, L in lessons.items()]
    return Table("Lessons: status and run time", ["lesson", "status", "seconds", "reason"], rows)


def classification_table(lessons):
    """MLP vs CNN (with lesson 01's linear classifier as the baseline)."""
    rows = []
    r1 = lessons["01_representation"]["results"]
    if r1:
        rows.append(["linear (01)", _f(r1.get("linear_test_accuracy")), _f(r1.get("best_val_accuracy")),
                     _f(r1.get("epochs")), _secs(r1.get("train_seconds")), _f(r1.get("params"))])
    for name, label in (("02_mlp", "MLP (02)"), ("03_cnn", "CNN (03)")):
        r = lessons[name]["results"]
        if r:
            rows.append([label, _f(r.get("test_accuracy")), _f(r.get("best_val_accuracy")), _f(r.get("epochs")),
                         _secs(r.get("train_seconds")), _f(r.get("params"))])
    return Table("FashionMNIST: MLP vs CNN", ["model", "test accuracy", "best val accuracy", "epochs",
                                               "train seconds", "parameters"], rows)


def kernel_table(lessons):
    r = lessons["03_cnn"]["results"] or {}
    rows = [[_f(k.get("kernel_size")), _f(k.get("conv_blocks")), _f(k.get("test_accuracy")), _f(k.get("params")),
             _secs(k.get("train_seconds"))] for k in r.get("kernel_study", [])]
    return Table("CNN kernel-size and depth study (03)",
                 ["kernel size", "conv blocks", "test accuracy", "parameters", "train seconds"], rows)


def transfer_table(lessons):
    r = lessons["04_transfer"]["results"] or {}
    rows = [[k.get("mode"), _f(k.get("shots")), _f(k.get("augment")), _f(k.get("test_accuracy")),
             _secs(k.get("train_seconds"))] for k in r.get("runs", [])]
    note = ""
    if r:
        note = f"backbone weights: {r.get('weights')}; classes: {', '.join(map(str, r.get('classes', [])))}"
        if r.get("weights") == "random":
            note += " (RANDOM weights: nothing was transferred, the comparison shows the mechanics only)"
    return Table("Transfer learning (04): scratch vs frozen vs fine-tuned",
                 ["mode", "images per class", "augment", "test accuracy", "train seconds"], rows, note)


def detection_table(lessons):
    r = lessons["05_detection"]["results"] or {}
    rows = []
    if r:
        rows.append(["all", "-", "-", _f(r.get("precision")), _f(r.get("recall")), _f(r.get("map50")),
                     _f(r.get("map50_95"))])
    for c in r.get("per_class", []):
        rows.append([c.get("name"), _f(c.get("images")), _f(c.get("instances")), _f(c.get("precision")),
                     _f(c.get("recall")), _f(c.get("map50")), _f(c.get("map50_95"))])
    note = f"model {r.get('model')} at {r.get('img_size')} px" if r else ""
    return Table("Detection (05): precision, recall, mAP per class",
                 ["class", "images", "instances", "P", "R", "mAP@0.5", "mAP@0.5:0.95"], rows, note)


def sanity_table(lessons):
    r = (lessons["06_interpretability"]["results"] or {}).get("sanity_check") or {}
    rows = [[s.get("randomized") or "(nothing: same model again)", _f(s.get("rank_correlation"), 3)]
            for s in r.get("steps", [])]
    note = (f"Grad-CAM at {r.get('layer')}, mean over {r.get('images')} test images; "
            f"after re-initialising down to the CAM layer: {_f(r.get('after_cam_layer'), 3)}") if r else ""
    return Table("Grad-CAM sanity check (06, Adebayo et al. 2018): layers re-initialised from the head down",
                 ["re-initialised down to", "mean Spearman rank correlation"], rows, note)


def tables(lessons):
    return [status_table(lessons), classification_table(lessons), kernel_table(lessons), transfer_table(lessons),
            detection_table(lessons), sanity_table(lessons)]


def figures(lesson):
    """The figures a lesson lists in results.json (``figures``), else every PNG in its folder."""
    r = lesson["results"]
    if not r:
        return []
    names = r.get("figures") or sorted(p.name for p in lesson["folder"].glob("*.png"))
    return [lesson["folder"] / n for n in names if (lesson["folder"] / n).is_file()]


# ------------------------------------------------------------------------------------- writing
def _write_atomic(path, text):
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def render_markdown(lessons, out):
    lines = ["# minitorch-vision: course report", ""]
    for t in tables(lessons):
        lines += [f"## {t.title}", ""]
        if t.note:
            lines += [t.note, ""]
        if not t.rows:
            lines += ["_no results (the lesson did not run or failed; see the status table)_", ""]
            continue
        lines.append("| " + " | ".join(t.headers) + " |")
        lines.append("|" + "---|" * len(t.headers))
        lines += ["| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |" for row in t.rows]
        lines.append("")
    lines += ["## Figures", ""]
    for name, L in lessons.items():
        figs = figures(L)
        if L["status"] != "ok":
            lines += [f"### {TITLES[name]}", "", f"**{L['status'].upper()}**: {L['reason'] or 'no results'}", ""]
        elif figs:
            lines += [f"### {TITLES[name]}", ""]
            lines += [f"![{p.stem}]({p.relative_to(out).as_posix()})" for p in figs] + [""]
    return "\n".join(lines)


_CSS = """body{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}
th{background:#f2f2f2}td:first-child,th:first-child{text-align:left}.failed{color:#b00;font-weight:bold}
.ok{color:#070}.note{color:#555;font-size:90%}figure{margin:1em 0}img{max-width:100%;border:1px solid #eee}
figcaption{font-size:85%;color:#555}"""

# After load, count images that did not decode: a headless browser run reads the attributes back.
_CHECK_JS = """window.addEventListener('load',function(){var ok=0,bad=0;
for(const im of document.images){if(im.complete&&im.naturalWidth>0){ok++}else{bad++}}
document.body.setAttribute('data-images-ok',ok);document.body.setAttribute('data-images-broken',bad);});"""


def _html_table(t):
    e = html.escape
    parts = [f"<h2>{e(t.title)}</h2>"]
    if t.note:
        parts.append(f'<p class="note">{e(t.note)}</p>')
    if not t.rows:
        parts.append('<p class="note">no results (the lesson did not run or failed; see the status table)</p>')
        return "\n".join(parts)
    parts.append("<table><tr>" + "".join(f"<th>{e(h)}</th>" for h in t.headers) + "</tr>")
    for row in t.rows:
        cells = []
        for c in row:
            cls = ' class="failed"' if c == "failed" else (' class="ok"' if c == "ok" else "")
            cells.append(f"<td{cls}>{e(str(c))}</td>")
        parts.append("<tr>" + "".join(cells) + "</tr>")
    parts.append("</table>")
    return "\n".join(parts)


def render_html(lessons, out):
    e = html.escape
    body = ["<h1>minitorch-vision: course report</h1>"]
    body += [_html_table(t) for t in tables(lessons)]
    body.append("<h2>Figures</h2>")
    for name, L in lessons.items():
        body.append(f"<h3>{e(TITLES[name])}</h3>")
        if L["status"] != "ok":
            body.append(f'<p class="failed">{e(L["status"].upper())}: {e(L["reason"] or "no results")}</p>')
            continue
        for p in figures(L):
            data = base64.b64encode(p.read_bytes()).decode("ascii")
            body.append(f'<figure><img alt="{e(p.name)}" src="data:image/png;base64,{data}">'
                        f"<figcaption>{e(p.relative_to(out).as_posix())}</figcaption></figure>")
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>minitorch-vision report</title>"
            f"<style>{_CSS}</style><script>{_CHECK_JS}</script></head>\n<body>\n" + "\n".join(body) + "\n</body></html>\n")


def write_report(out):
    """Write ``<out>/report.html`` and ``<out>/report.md``; returns their paths."""
    out = Path(out)
    lessons = collect(out)
    md, page = out / "report.md", out / "report.html"
    _write_atomic(md, render_markdown(lessons, out))
    _write_atomic(page, render_html(lessons, out))
    return page, md


# ------------------------------------------------------------------------------------- browser check
def find_chromium():
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return None


def check_in_browser(page, screenshot=None, width=1280, height=2400, timeout=120):
    """Open ``page`` in headless Chromium: count images that failed to decode (the page's own
    load-time check) and optionally save a screenshot. Returns ``{"images_ok", "images_broken"}``.
    Raises FileNotFoundError when no Chromium is installed."""
    exe = find_chromium()
    if exe is None:
        raise FileNotFoundError("chromium is not installed (Debian: apt-get install -y chromium)")
    url = Path(page).resolve().as_uri()
    with tempfile.TemporaryDirectory() as profile:
        flags = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={profile}",
                 "--virtual-time-budget=10000", f"--window-size={width},{height}"]
        dom = subprocess.run(flags + ["--dump-dom", url], capture_output=True, text=True, timeout=timeout).stdout
        if screenshot is not None:
            subprocess.run(flags + [f"--screenshot={Path(screenshot).resolve()}", url], capture_output=True,
                           timeout=timeout, check=False)
    import re
    m_ok = re.search(r'data-images-ok="(\d+)"', dom)
    m_bad = re.search(r'data-images-broken="(\d+)"', dom)
    if not (m_ok and m_bad):
        raise RuntimeError("the page's image check did not run in Chromium (no data-images-* attributes)")
    return {"images_ok": int(m_ok.group(1)), "images_broken": int(m_bad.group(1)), "dom_chars": len(dom)}


if __name__ == "__main__":
    folder = Path(sys.argv[1] if len(sys.argv) > 1 else "runs/all")
    for p in write_report(folder):
        print(f"wrote {p}")
