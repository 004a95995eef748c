"""Matplotlib figures, one function per kind of figure. The Agg backend draws to files, so the
lessons run on machines with no screen. Every figure is saved atomically as PNG by ``save``."""
import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def save(fig, path, dpi=110):
    """Save ``fig`` to ``path`` (PNG) via a temporary file and close it; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.stem + ".tmp" + path.suffix)
    fig.savefig(tmp, dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    os.replace(tmp, path)
    return path
