"""Shared set-up for the benchmark scripts: import path, data folder, torchvision (reference only)."""
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SHARED = ROOT.parent / "shared"


def data_dir(arg=None):
    """--data-dir, else $MTV_DATA_DIR, else ../shared/data beside the repository, else ./data."""
    from minitorch_vision.data.paths import data_dir as resolve_data_dir
    return resolve_data_dir(arg, candidates=[SHARED / "data", ROOT / "data"])


def import_torchvision():
    """torchvision for reference measurements only (its CPU shim lives in ../shared/tools); None if absent."""
    try:
        sys.path.insert(0, str(SHARED / "tools"))
        import torchvision_cpu_compat  # noqa: F401
        import torchvision
        return torchvision
    except Exception as e:  # any failure means: measure against the plain-Python reference instead
        print(f"(torchvision not importable: {type(e).__name__}: {e})")
        return None


def best_of(fn, repeat=3):
    """Smallest wall time of ``repeat`` calls (the least disturbed by other work on the machine)."""
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def median_times(fns, repeat):
    """Median wall time of each function over ``repeat`` interleaved rounds (after one warm-up
    call each, for allocator and oneDNN caches); interleaving spreads other load over all of them."""
    times = [[] for _ in fns]
    for f in fns:
        f()
    for _ in range(repeat):
        for k, f in enumerate(fns):
            t = time.perf_counter()
            f()
            times[k].append(time.perf_counter() - t)
    return [statistics.median(t) for t in times]
