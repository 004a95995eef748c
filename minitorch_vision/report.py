"""One report for the whole course, built only from what the lessons wrote.

``write_report(out)`` reads ``<out>/run_all.json`` (how the run was made, and each lesson's status,
seconds and one-line reason, written by ``run_all.py``) and every ``<out>/<lesson>/results.json``,
and writes

* ``<out>/report.html``: self-contained (CSS inline, figures embedded as data URIs), so it can be
  mailed or opened anywhere; click a figure to see it at full size;
* ``<out>/report.md``: the same text and tables, figures linked beside it (``<lesson>/<file>``).

The page reads like the course's write-up: how the run was made (quick or full, the command, date,
commit, versions, threads, device, time per lesson), the seed's four claims next to the numbers
measured in this run and their published anchors, then lessons 01 to 06, each with its title, its
purpose, its tables and its figures in the order the lesson saved them, each with the caption the
lesson wrote next to the code that drew it (``results.json``'s ``figures``). Every number comes
from a results file; nothing is retyped. A lesson that failed shows its one-line reason, a part a
lesson skipped shows as skipped (``results.json``'s ``skipped``: part -> reason).

The tables and the highlights come from :mod:`minitorch_vision.report_tables`. The document is
built once as a list of blocks (:func:`document`); two small renderers turn it into HTML and
Markdown, so both always say the same.

Run:  python -m minitorch_vision.report runs/all
"""
import base64
import html
import json
import re
import sys
from pathlib import Path

from .atomic import atomic_path
from .report_tables import LESSON_TABLES, Table, fmt, highlights, secs

# The course, in order: folder name -> (title, what the lesson is for, in one sentence).
LESSONS = {
    "01_representation": ("Images as numbers, and a linear classifier",
                          "How an image is stored (a grid of bytes; three of them for colour) and the simplest "
                          "classifier on raw pixels, the baseline for the rest of the course."),
    "02_mlp": ("A multilayer perceptron on FashionMNIST",
               "An MLP trained with cross-entropy and Adam, its train and validation curves, and its mistakes "
               "read from a confusion matrix."),
    "03_cnn": ("A convolutional network",
               "Convolution written as im2col and a matrix product, a CNN that beats the MLP with fewer "
               "parameters, and kernel size against depth."),
    "04_transfer": ("Transfer learning: a pretrained backbone on a few images",
                    "Features learned on a large dataset (ResNet-18 on ImageNet, or YOLOv5n's backbone on COCO) "
                    "reused on CIFAR-10 with a handful of images per class: a frozen backbone with a new head, "
                    "fine-tuning, and training from scratch compared."),
    "05_detection": ("Object detection with YOLOv5",
                     "A hand-written YOLOv5 on the official weights: letterbox, anchor decoding, non-maximum "
                     "suppression, and precision, recall and mAP on COCO128 by the official protocol."),
    "06_interpretability": ("Interpretability with Grad-CAM",
                            "Which pixels made the model decide (Grad-CAM), and the randomisation test that "
                            "checks the answer depends on the model at all."),
}


# ------------------------------------------------------------------------------------- reading
def _read_json(path):
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None


def collect(out):
    """``(run, lessons)``: ``run`` is run_all.json's ``run`` record (or {}), ``lessons`` maps each lesson
    to ``{"status", "seconds", "reason", "results", "folder"}``.

    Status comes from ``run_all.json`` when the lesson was run by it ("ok" / "failed" / ...), else
    "ok" if a results.json exists, else "not run". A failed lesson's results are never shown.
    """
    out = Path(out)
    state = _read_json(out / "run_all.json") or {}
    lessons = {}
    for name in LESSONS:
        folder = out / name
        res = _read_json(folder / "results.json")
        run = state.get("lessons", {}).get(name)
        if run is not None:
            status, seconds, reason = run["status"], run.get("seconds"), run.get("reason", "")
        else:
            status, seconds, reason = ("ok" if res else "not run"), None, ""
        if status != "ok":
            res = None
        lessons[name] = {"status": status, "seconds": seconds, "reason": reason, "results": res, "folder": folder}
    return {"mode": state.get("mode"), "data_dir": state.get("data_dir"), **state.get("run", {})}, lessons


def skipped_parts(res):
    """``{part: reason}``: results.json's ``skipped``, plus any section that says ``{"skipped": reason}``."""
    parts = dict((res or {}).get("skipped") or {})
    parts.update({k: v["skipped"] for k, v in (res or {}).items() if isinstance(v, dict) and "skipped" in v})
    return parts


def figures(lesson):
    """``[(path, caption)]`` of the figures in results.json's ``figures`` (``[{"file", "caption"}]``, written
    by ``cli.write_results``), in the order they were saved; a listed file that is gone is left out."""
    listed = (lesson["results"] or {}).get("figures") or []
    return [(lesson["folder"] / f["file"], f.get("caption") or "") for f in listed
            if (lesson["folder"] / f["file"]).is_file()]


def is_quick(run, lessons):
    """A --quick run_all, or any lesson that ran its --quick slice: then every number is a smoke test."""
    return run.get("mode") == "quick" or any((L["results"] or {}).get("quick") for L in lessons.values())


# ------------------------------------------------------------------------------------- header
def how_made(run, lessons, out):
    """How the run was made: a two-column table, from run_all.json's ``run`` record and the results files."""
    ran = {n: L for n, L in lessons.items() if L["results"]}
    devices = sorted({str(L["results"].get("device")) for L in ran.values() if L["results"].get("device")})
    threads = sorted({L["results"]["threads"] for L in ran.values() if L["results"].get("threads")})
    seconds = [L["seconds"] for L in lessons.values() if L["seconds"] is not None and L["status"] != "not run"]
    rows = [["mode", "quick (each lesson's --quick slice)" if is_quick(run, lessons) else "full"],
            ["command", run.get("command") or "- (no run_all.json: lessons run one by one)"],
            ["date (UTC)", run.get("started") or "-"],
            ["commit", run.get("commit") or "-"],
            ["versions", f"Python {run.get('python') or '-'}, torch {run.get('torch') or '-'}"],
            ["machine", run.get("platform") or "-"],
            ["threads", ", ".join(map(str, threads)) or "-"],
            ["device", ", ".join(devices) or "-"],
            ["data folder", run.get("data_dir") or "-"],
            ["wall time", f"{sum(seconds):.1f} s for {len(seconds)} lesson(s); per lesson below" if seconds else "-"]]
    if (out / "tb").is_dir():  # the lessons' TensorBoard runs (Context.tb_dir): <out>/tb/<lesson>/<run>
        rows.append(["TensorBoard", f"tensorboard --logdir {out / 'tb'}"])
    return Table("How this report was made", ["", ""], rows, text=True)


def status_table(lessons):
    rows = []
    for name, L in lessons.items():
        r, skipped = L["results"] or {}, skipped_parts(L["results"])
        note = L["reason"] or ("skipped: " + "; ".join(skipped) if skipped else "")
        rows.append([f"{name[:2]} {LESSONS[name][0]}", L["status"], secs(L["seconds"]), fmt(r.get("device")),
                     fmt(r.get("threads")), note])
    return Table("Lessons: status and wall time", ["lesson", "status", "seconds", "device", "threads", "note"], rows)


# ------------------------------------------------------------------------------------- the document
QUICK_CAVEAT = ("Quick run: a smoke test. Every lesson ran its --quick slice (fewer epochs, less data, a subset "
                "of COCO128), so the numbers below show that the code runs end to end, not what the models "
                "reach. Run without --quick for the course's results.")


def document(out):
    """The report as a list of blocks: ``("h1"|"p"|"caveat"|"failed"|"skipped", text)``, ``("h2", text, anchor)``,
    ``("table", Table)``, ``("figure", path, caption)``, ``("toc", [(anchor, text)])``."""
    run, lessons = collect(out)
    doc = [("h1", "minitorch-vision: course report")]
    quick = is_quick(run, lessons)
    if quick:
        doc.append(("caveat", QUICK_CAVEAT))
    doc += [("table", how_made(run, lessons, Path(out))), ("table", highlights(lessons, quick)),
            ("table", status_table(lessons)),
            ("toc", [(name, f"{name[:2]} {title}") for name, (title, _) in LESSONS.items()])]
    for name, L in lessons.items():
        title, purpose = LESSONS[name]
        doc += [("h2", f"{name[:2]} {title}", name), ("p", purpose)]
        if L["status"] != "ok":
            doc.append(("failed", f"{L['status'].upper()}: {L['reason'] or 'no results'}"))
            continue
        doc += [("skipped", f"skipped: {part}: {why}") for part, why in skipped_parts(L["results"]).items()]
        doc += [("table", t) for t in LESSON_TABLES[name](L["results"])]
        doc += [("figure", path, caption) for path, caption in figures(L)]
    return doc


# ------------------------------------------------------------------------------------- Markdown
def _md_table(t):
    lines = [f"### {t.title}", ""] + ([t.note, ""] if t.note else [])
    if not t.rows:
        return lines + ["_no rows_", ""]
    lines += ["| " + " | ".join(t.headers) + " |", "|" + "---|" * len(t.headers)]
    lines += ["| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |" for row in t.rows]
    return lines + [""]


def _slug(heading):
    """The anchor Markdown viewers (GitHub, VS Code) give a heading: lower case, punctuation dropped, - for spaces."""
    return re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")


_MD_WRAP = {"caveat": ("> **", "**"), "failed": ("**", "**"), "skipped": ("_", "_")}


def render_markdown(doc, out):
    lines = []
    for kind, *rest in doc:
        if kind in ("h1", "h2"):
            lines += [("# " if kind == "h1" else "## ") + rest[0], ""]
        elif kind == "table":
            lines += _md_table(rest[0])
        elif kind == "figure":
            path, caption = rest
            rel = path.relative_to(out).as_posix()
            lines += [f"![{caption or path.name}]({rel})", "", f"*{caption or rel}*", ""]
        elif kind == "toc":
            lines += [" · ".join(f"[{text}](#{_slug(text)})" for _, text in rest[0]), ""]
        else:  # p, caveat, failed, skipped
            before, after = _MD_WRAP.get(kind, ("", ""))
            lines += [before + rest[0] + after, ""]
    return "\n".join(lines)


# ------------------------------------------------------------------------------------- HTML
_CSS = """body{font-family:system-ui,sans-serif;max-width:960px;margin:2em auto;padding:0 1em;color:#222;
line-height:1.4}
table{border-collapse:collapse;margin:.3em 0 1.2em}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right;
vertical-align:top}th{background:#f2f2f2}td:first-child,th:first-child{text-align:left}
table.text td,table.text th{text-align:left}
h2{border-top:2px solid #ddd;padding-top:.8em;margin-top:2em}h3{margin-bottom:.2em}
.failed{color:#b00;font-weight:bold}.ok{color:#070}.skipped{color:#a60;font-weight:bold}.note{color:#555;font-size:90%}
.caveat{background:#fff4d6;border:1px solid #e0b84c;padding:.6em 1em;font-weight:bold}.purpose{font-style:italic}
figure{margin:1.2em 0}figure img{max-width:100%;border:1px solid #eee;cursor:zoom-in}
figcaption{font-size:95%;color:#333;margin-top:.3em}
#zoom{position:fixed;inset:0;background:rgba(255,255,255,.97);overflow:auto;cursor:zoom-out;z-index:9}"""

# After load, count images that did not decode and note where each lesson starts (a headless browser run,
# benchmarks/_browser.py, reads the attributes back);
# a click on a figure opens it at full size in an overlay (created then, so it is not counted).
_JS = """window.addEventListener('load',function(){var ok=0,bad=0;
for(const im of document.images){if(im.complete&&im.naturalWidth>0){ok++}else{bad++}}
document.body.setAttribute('data-images-ok',ok);document.body.setAttribute('data-images-broken',bad);
document.body.setAttribute('data-height',document.documentElement.scrollHeight);
for(const h of document.querySelectorAll('h2[id]')){h.setAttribute('data-y',Math.round(h.getBoundingClientRect().top+window.scrollY))}});
document.addEventListener('click',function(ev){var z=document.getElementById('zoom');
if(z){z.remove();return}if(ev.target.matches('figure img')){z=document.createElement('div');z.id='zoom';
var im=document.createElement('img');im.src=ev.target.src;z.appendChild(im);document.body.appendChild(z);}});"""

_MIME = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif",
         ".webp": "image/webp"}
_STATUS_CLASS = {"ok": "ok", "failed": "failed", "interrupted": "failed"}


def _html_table(t):
    e = html.escape
    parts = [f"<h3>{e(t.title)}</h3>"] + ([f'<p class="note">{e(t.note)}</p>'] if t.note else [])
    if not t.rows:
        return "\n".join(parts + ['<p class="note">no rows</p>'])
    wide = ' class="text"' if t.text else ""
    heads = "".join(f"<th>{e(h)}</th>" for h in t.headers) if any(t.headers) else ""
    parts.append(f"<table{wide}>" + (f"<tr>{heads}</tr>" if heads else ""))
    for row in t.rows:
        cells = [f'<td class="{_STATUS_CLASS[c]}">{e(c)}</td>' if c in _STATUS_CLASS else f"<td>{e(str(c))}</td>"
                 for c in row]
        parts.append("<tr>" + "".join(cells) + "</tr>")
    return "\n".join(parts + ["</table>"])


def _html_figure(path, caption):
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    mime = _MIME.get(path.suffix.lower(), "application/octet-stream")
    text = html.escape(caption or f"{path.parent.name}/{path.name}")
    return (f'<figure><img alt="{text}" src="data:{mime};base64,{data}" title="click: full size">'
            f"<figcaption>{text}</figcaption></figure>")


def render_html(doc, out):
    e = html.escape
    body = []
    for kind, *rest in doc:
        if kind == "h1":
            body.append(f"<h1>{e(rest[0])}</h1>")
        elif kind == "h2":
            body.append(f'<h2 id="{e(rest[1])}">{e(rest[0])}</h2>')
        elif kind == "table":
            body.append(_html_table(rest[0]))
        elif kind == "figure":
            body.append(_html_figure(*rest))
        elif kind == "toc":
            body.append("<p>Lessons: " + " · ".join(f'<a href="#{e(a)}">{e(t)}</a>' for a, t in rest[0]) + "</p>")
        else:
            body.append(f'<p class="{ {"p": "purpose"}.get(kind, kind)}">{e(rest[0])}</p>')
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>minitorch-vision report</title>"
            f"<style>{_CSS}</style><script>{_JS}</script></head>\n<body>\n" + "\n".join(body) + "\n</body></html>\n")


# ------------------------------------------------------------------------------------- writing
def _write_atomic(path, text):
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_report(out):
    """Write ``<out>/report.html`` and ``<out>/report.md``; returns their paths."""
    out = Path(out)
    doc = document(out)
    md, page = out / "report.md", out / "report.html"
    _write_atomic(md, render_markdown(doc, out))
    _write_atomic(page, render_html(doc, out))
    return page, md


if __name__ == "__main__":
    folder = Path(sys.argv[1] if len(sys.argv) > 1 else "runs/all")
    if not folder.is_dir():
        print(f"error: {folder} is not a folder — give run_all.py's --out folder (default runs/all)", file=sys.stderr)
        sys.exit(2)
    for p in write_report(folder):
        print(f"wrote {p}")
