"""Open the course report in headless Chromium, check every figure decoded, save a screenshot.

    python run_all.py --quick --data-dir ../shared/data --out runs/all
    python benchmarks/report_screenshot.py runs/all        # -> benchmarks/report_screenshot.png

Needs Debian's ``chromium`` (``apt-get install -y chromium``). Exit status 1 if an image is broken.
"""
import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from PIL import Image  # noqa: E402

from minitorch_vision.report import check_in_browser  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("out", nargs="?", default="runs/all", help="run_all.py's --out folder (holds report.html)")
    out = Path(p.parse_args().out)
    dest = Path(__file__).with_name("report_screenshot.png")
    with tempfile.TemporaryDirectory() as tmp:
        shot = Path(tmp) / "shot.png"
        res = check_in_browser(out / "report.html", screenshot=shot, width=1280, height=4000)
        im = Image.open(shot).convert("RGB")
        im = im.resize((im.width // 2, im.height // 2), Image.LANCZOS)  # keep the committed file small
        im.save(dest, optimize=True)
    lo, hi = Image.open(dest).convert("L").getextrema()
    print(f"{out / 'report.html'}: {res['images_ok']} images decoded, {res['images_broken']} broken; "
          f"screenshot {dest} ({dest.stat().st_size // 1024} KB, grey range {lo}-{hi})")
    return 1 if res["images_broken"] or hi - lo < 50 else 0


if __name__ == "__main__":
    sys.exit(main())
