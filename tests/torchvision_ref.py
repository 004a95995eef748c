"""torchvision as a test-only reference: importable through the shared CPU compatibility shim.

The shim lives in ``shared/tools`` beside the data (``$MTV_DATA_DIR/..``) or beside the
repository (``../shared``); a test that needs torchvision skips when neither is there.
"""
import os
import sys
from pathlib import Path

import pytest

_ROOT = Path(__file__).resolve().parents[1]


def torchvision():
    """The ``torchvision`` module, or skip the calling test with the reason."""
    data = os.environ.get("MTV_DATA_DIR")
    for tools in [Path(data).resolve().parent / "tools" if data else None, _ROOT.parent / "shared" / "tools"]:
        if tools is not None and (tools / "torchvision_cpu_compat.py").is_file() and str(tools) not in sys.path:
            sys.path.insert(0, str(tools))
    try:
        import torchvision_cpu_compat  # noqa: F401  (makes the CUDA wheel usable on a CPU torch)
        import torchvision
        return torchvision
    except Exception as e:  # noqa: BLE001 - any import failure means "no reference available"
        pytest.skip(f"skipped: torchvision not importable ({type(e).__name__}: {e})")
