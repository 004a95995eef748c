"""Headless Chromium for the report's checks (tests/test_report.py, benchmarks/report_screenshot.py).

Not part of the package: the course never needs a browser; only its tests and benchmarks open the
report the way a reader would. Needs Debian's ``chromium`` (``apt-get install -y chromium``).

The report's own load-time script writes what a browser saw into ``<body>`` attributes:
``data-images-ok`` / ``data-images-broken`` (images that decoded or not), ``data-height`` (the page's
height in CSS pixels) and ``data-y`` on every lesson heading (its distance from the top), so one
``--dump-dom`` run reads them back and a tall screenshot can be cut at a lesson's section.
"""
import re
import shutil
import subprocess
import tempfile
from pathlib import Path


def find_chromium():
    """The path of a Chromium (or Chrome) executable, or None."""
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return None


def _chromium(args, url, width, height, timeout):
    exe = find_chromium()
    if exe is None:
        raise FileNotFoundError("chromium is not installed (Debian: apt-get install -y chromium)")
    with tempfile.TemporaryDirectory() as profile:
        flags = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
                 f"--user-data-dir={profile}", "--virtual-time-budget=10000", f"--window-size={width},{height}"]
        return subprocess.run(flags + args + [url], capture_output=True, text=True, timeout=timeout)


def check_in_browser(page, screenshot=None, width=1280, height=2400, timeout=120):
    """Open ``page`` in headless Chromium; optionally save a ``width`` x ``height`` screenshot of its top.

    Returns ``{"images_ok", "images_broken", "height", "sections": {id: y}, "dom_chars"}`` from the
    page's own load-time check. Raises FileNotFoundError without Chromium, RuntimeError when the
    page's check did not run.
    """
    url = Path(page).resolve().as_uri()
    dom = _chromium(["--dump-dom"], url, width, height, timeout).stdout
    if screenshot is not None:
        _chromium([f"--screenshot={Path(screenshot).resolve()}"], url, width, height, timeout)
    body = re.search(r"<body([^>]*)>", dom)
    attrs = dict(re.findall(r'data-([a-z-]+)="(\d+)"', body.group(1))) if body else {}
    if "images-ok" not in attrs or "images-broken" not in attrs:
        raise RuntimeError("the page's image check did not run in Chromium (no data-images-* attributes)")
    sections = {m[0]: int(m[1]) for m in re.findall(r'<h2 id="([^"]+)" data-y="(\d+)"', dom)}
    return {"images_ok": int(attrs["images-ok"]), "images_broken": int(attrs["images-broken"]),
            "height": int(attrs.get("height", 0)), "sections": sections, "dom_chars": len(dom)}


def screenshot_section(page, dest, section, width=1280, height=1600, timeout=120):
    """Save a ``width`` x ``height`` screenshot of ``page`` starting at the heading ``id=section``.

    Chromium's command line cannot scroll, so it draws the page down to the end of the section's
    window and the image is cut there."""
    from PIL import Image
    info = check_in_browser(page, width=width, timeout=timeout)
    if section not in info["sections"]:
        raise KeyError(f"no section {section!r} in {page} (have {sorted(info['sections'])})")
    top = info["sections"][section]
    with tempfile.TemporaryDirectory() as tmp:
        tall = Path(tmp) / "tall.png"
        _chromium([f"--screenshot={tall}"], Path(page).resolve().as_uri(), width, top + height, timeout)
        Image.open(tall).crop((0, top, width, top + height)).save(dest)
    return info
