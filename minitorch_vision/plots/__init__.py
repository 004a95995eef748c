"""Matplotlib figures, one module per lesson, one function per kind of figure:

    images     lesson 01 (pixels, channels, histograms, linear weights) and shared image helpers
    training   lessons 01-03 (learning curves, confusion matrix, bars, the kernel study)
    transfer   lesson 04          detection  lesson 05          gradcam  lesson 06

Every figure goes through :func:`save`: written atomically as PNG, recorded with its caption (the
sentence that tells the learner what to look at; ``cli.write_results`` copies the list into
``results.json`` and the report shows it), shown inline when the lesson runs as a notebook, and
closed. From the shell the Agg backend draws to files only: no window ever opens.
"""
import sys
from pathlib import Path

import matplotlib

if "ipykernel" not in sys.modules:  # a notebook keeps its inline backend; a script draws to files
    matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from .. import distributed  # noqa: E402
from ..atomic import atomic_path  # noqa: E402

# One house style: text readable when a figure is shown about 900 px wide in the report.
plt.rcParams.update({"font.size": 10, "axes.titlesize": 11, "figure.titlesize": 12,
                     "axes.spines.top": False, "axes.spines.right": False})

_saved = {}  # resolved path -> caption, in the order the figures were saved


def _in_notebook():
    ip = sys.modules.get("IPython")
    return ip is not None and "ipykernel" in sys.modules and ip.get_ipython() is not None


def save(fig, path, caption=None, dpi=110):
    """Save ``fig`` as PNG at ``path`` (atomically), record ``caption``, show it inline in a
    notebook, close it; returns the path. Under torchrun only rank 0 writes."""
    path = Path(path)
    if distributed.is_main():
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=dpi, bbox_inches="tight")
        _saved[path.resolve()] = caption or ""
        if _in_notebook():
            from IPython.display import display
            display(fig)
    plt.close(fig)
    return path


def saved_figures(folder):
    """``[{"file": name relative to folder, "caption": ...}]`` for the figures saved under ``folder``."""
    folder = Path(folder).resolve()
    return [{"file": str(p.relative_to(folder)), "caption": c} for p, c in _saved.items()
            if p.is_relative_to(folder) and p.is_file()]
