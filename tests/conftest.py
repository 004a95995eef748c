"""Shared fixtures. Tests that need the real data use ``data_dir``; without it they skip with
the reason 'skipped: no data' (set MTV_DATA_DIR=../shared/data to run them)."""
import sys
from pathlib import Path

import pytest
import torch

torch.set_num_threads(1)  # tests run beside other work on small machines

_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(_ROOT))  # the package of this checkout, also without PYTHONPATH
from minitorch_vision.data.paths import data_dir as resolve_data_dir  # noqa: E402


def _find_data():
    """$MTV_DATA_DIR, else ../shared/data beside the repository, else the repository's own ./data; None if empty."""
    d = resolve_data_dir(candidates=[_ROOT.parent / "shared" / "data", _ROOT / "data"])
    return d if d.is_dir() and any(p.name != "README.md" for p in d.iterdir()) else None


@pytest.fixture(scope="session")
def data_dir():
    d = _find_data()
    if d is None:
        pytest.skip("skipped: no data (set MTV_DATA_DIR to a folder laid out like ../shared/data)")
    return d


def need(data_dir, *rel):
    """Return data_dir/rel, or skip the test with 'skipped: no data' when that file is absent."""
    p = data_dir.joinpath(*rel)
    if not p.exists():
        pytest.skip(f"skipped: no data ({p} is absent)")
    return p
