"""Open the course report in headless Chromium, check every figure decoded, save two screenshots:
the top of the report and lesson 06's section.

    python run_all.py --quick --data-dir ../shared/data --out runs/all
    python benchmarks/report_screenshot.py runs/all
    # -> benchmarks/report_screenshot.png (top), benchmarks/report_screenshot_06.png (lesson 06)

Needs Debian's ``chromium`` (``apt-get install -y chromium``). Exit status 1 if an image is broken
or a screenshot is blank.
"""
import argparse
import sys
from pathlib import Path

from PIL import Image

from _browser import check_in_browser, screenshot_section

HERE = Path(__file__).resolve().parent
WIDTH, HEIGHT = 1100, 1500   # the report's column is 960 px wide: this frames it with a margin


def _grey_range(path):
    lo, hi = Image.open(path).convert("L").getextrema()
    return hi - lo


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("out", nargs="?", default="runs/all", help="run_all.py's --out folder (holds report.html)")
    p.add_argument("--section", default="06_interpretability", help="the lesson whose section is captured")
    args = p.parse_args()
    page = Path(args.out) / "report.html"
    top, section = HERE / "report_screenshot.png", HERE / f"report_screenshot_{args.section[:2]}.png"
    res = check_in_browser(page, screenshot=top, width=WIDTH, height=HEIGHT)
    screenshot_section(page, section, args.section, width=WIDTH, height=HEIGHT)
    for shot in (top, section):
        Image.open(shot).convert("RGB").save(shot, optimize=True)  # no alpha: a smaller committed file
    print(f"{page}: {res['images_ok']} images decoded, {res['images_broken']} broken; page {res['height']} px tall")
    for shot in (top, section):
        print(f"  screenshot {shot} ({shot.stat().st_size // 1024} KB, grey range {_grey_range(shot)})")
    return 1 if res["images_broken"] or min(_grey_range(top), _grey_range(section)) < 50 else 0


if __name__ == "__main__":
    sys.exit(main())
