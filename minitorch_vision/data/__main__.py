"""Get or check the course's data before running the lessons.

    python -m minitorch_vision.data fetch [--lesson 05 ...] [--data-dir DIR]   # download what is missing
    python -m minitorch_vision.data check [--lesson 05 ...] [--data-dir DIR]   # present / missing / corrupt

``fetch`` downloads everything the lessons use (about 276 MB in all; FashionMNIST 31 MB, CIFAR-10 170 MB,
weights 66 MB, COCO128 7 MB, photos 2 MB), each file checksum-verified, with a progress bar per file and a
total; set ``MTV_MIRROR`` to a base URL laid out like the data folder to download from there instead.
Exit status: ``fetch`` 0, or 2 with one ``error:`` line listing what is still missing (URL and folder);
``check`` 0 when every file a lesson needs is present, else 1. The table is
:mod:`minitorch_vision.data.manifest`.
"""
import argparse
import sys

from ..errors import MTVError
from .manifest import MIRROR_ENV, mirrors
from .prefetch import check_rows, fetch_all, keys_for
from .paths import data_dir as resolve_data_dir


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="python -m minitorch_vision.data", description=__doc__.strip().splitlines()[0])
    p.add_argument("command", choices=["fetch", "check"])
    p.add_argument("--lesson", action="append", default=None, metavar="NN",
                   help="only the files of this lesson (repeatable, e.g. --lesson 04 --lesson 05); default: all")
    p.add_argument("--data-dir", default=None, help="data folder (default: $MTV_DATA_DIR, else ./data)")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    root = resolve_data_dir(args.data_dir)
    keys = keys_for(args.lesson)
    if args.command == "fetch":
        source = f"mirror {' '.join(mirrors())} (${MIRROR_ENV})" if mirrors() else "the official hosts"
        print(f"fetching {len(keys)} data entries into {root} from {source}")
        try:
            fetch_all(keys, root)
        except MTVError as e:  # the same one line and exit status as a lesson (cli.py is above this layer)
            print(f"error: {e}", file=sys.stderr)
            return e.exit_code
        except KeyboardInterrupt:
            print("interrupted: nothing half-written is left; run fetch again to continue", file=sys.stderr)
            return 130
        return 0
    rows = check_rows(keys, root)
    for state, key, detail, _ in rows:
        print(f"{state:8s} {key}  ({detail})")
    short = [key for state, key, _, needed in rows if state != "present" and needed]
    if short:
        print(f"{len(short)} needed entr{'y' if len(short) == 1 else 'ies'} not usable: {', '.join(short)} — run "
              f"`python -m minitorch_vision.data fetch --data-dir {root}`", file=sys.stderr)
        return 1
    print(f"every file the lessons need is in {root}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
