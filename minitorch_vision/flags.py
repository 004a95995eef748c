"""Flag types: a bad value is refused where it is parsed, in one line that names the flag.

A lesson (or the library module that declares its flags) writes ``p.add_argument("--epochs",
type=positive_int)``; argparse turns our ``ArgumentTypeError`` into ``argument --epochs: must be a whole
number >= 1, got 0``, and :class:`minitorch_vision.cli.Parser` makes that the one ``error:`` line (exit 2).
It imports nothing from the package, so any module (and any lesson) imports the flag types from here.
"""
import argparse
import math


def int_range(lo=None, hi=None):
    """A flag type: a whole number in [lo, hi] (either bound may be None)."""
    def parse(text):
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if (lo is not None and v < lo) or (hi is not None and v > hi):
            want = f"from {lo} to {hi}" if hi is not None and lo is not None else \
                f">= {lo}" if lo is not None else f"<= {hi}"
            raise argparse.ArgumentTypeError(f"must be a whole number {want}, got {text}")
        return v
    parse.__name__ = "int_range"
    return parse


positive_int = int_range(1)
nonnegative_int = int_range(0)


def float_range(lo=None, hi=None, *, lo_open=False, hi_open=False):
    """A flag type: a finite number in the interval from lo to hi (closed unless ``*_open``)."""
    def parse(text):
        try:
            v = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        low_bad = lo is not None and (v <= lo if lo_open else v < lo)
        high_bad = hi is not None and (v >= hi if hi_open else v > hi)
        if not math.isfinite(v) or low_bad or high_bad:
            want = " and ".join(w for w in (lo is not None and f"{'>' if lo_open else '>='} {lo:g}",
                                            hi is not None and f"{'<' if hi_open else '<='} {hi:g}") if w)
            raise argparse.ArgumentTypeError(f"must be a finite number{' ' + want if want else ''}, got {text}")
        return v
    parse.__name__ = "float_range"
    return parse


finite_positive_float = float_range(0, lo_open=True)     # learning rates
nonnegative_float = float_range(0)                        # seconds
probability = float_range(0, 1)                           # thresholds: confidence, IoU
dropout_rate = float_range(0, 1, hi_open=True)            # 1 would drop everything


def multiple_of(n):
    """A flag type: a positive whole number divisible by ``n`` (e.g. a detector's largest stride)."""
    def parse(text):
        v = positive_int(text)
        if v % n:
            raise argparse.ArgumentTypeError(f"must be a multiple of {n}, got {v} (try {max(n, round(v / n) * n)})")
        return v
    parse.__name__ = "multiple_of"
    return parse


def int_list(text):
    """A flag type: comma-separated positive whole numbers, e.g. ``512,256`` -> (512, 256)."""
    parts = [t.strip() for t in str(text).split(",")]
    if not any(parts):
        raise argparse.ArgumentTypeError(f"expected comma-separated whole numbers, got {text!r}")
    return tuple(positive_int(t) for t in parts if t)


def class_list(known):
    """A flag type: comma-separated class names, each one of ``known``, no repeats, at least two."""
    def parse(text):
        names = [t.strip() for t in str(text).split(",") if t.strip()]
        unknown = [n for n in names if n not in known]
        if unknown:
            raise argparse.ArgumentTypeError(f"unknown class {unknown[0]!r}: choose from {', '.join(known)}")
        if len(set(names)) != len(names) or len(names) < 2:
            raise argparse.ArgumentTypeError(f"expected at least two different class names, got {text!r}")
        return names
    parse.__name__ = "class_list"
    return parse
