"""Every lesson runs as a notebook: jupytext turns the ``# %%`` script into an .ipynb, nbclient
executes it in a fresh kernel with the flags in ``MTV_ARGS``, and the figures appear inline."""
import json
import os
from pathlib import Path

import pytest

jupytext = pytest.importorskip("jupytext", reason="jupytext is a test extra: pip install -e '.[test]'")
nbclient = pytest.importorskip("nbclient", reason="nbclient is a test extra: pip install -e '.[test]'")

ROOT = Path(__file__).resolve().parents[1]
LESSONS = sorted((ROOT / "lessons").glob("0*.py"))


def execute(lesson, flags, cwd, timeout=600):
    """Run ``lesson`` as a notebook with ``MTV_ARGS=flags``; returns the executed notebook."""
    nb = jupytext.read(lesson)
    old = os.environ.get("MTV_ARGS")
    os.environ["MTV_ARGS"] = flags  # the kernel inherits the environment
    try:
        client = nbclient.NotebookClient(nb, timeout=timeout, kernel_name="python3",
                                         resources={"metadata": {"path": str(cwd)}})
        client.execute()
    finally:
        if old is None:
            os.environ.pop("MTV_ARGS", None)
        else:
            os.environ["MTV_ARGS"] = old
    return nb


def inline_pngs(nb):
    return [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
            if "image/png" in o.get("data", {})]


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda p: p.stem)
def test_lesson_runs_as_notebook(lesson, data_dir, tmp_path):
    out = tmp_path / "out"
    nb = execute(lesson, f"--quick --threads 1 --data-dir {data_dir} --out {out}", cwd=tmp_path)
    assert inline_pngs(nb), "no figure was shown inline"
    res = json.loads((out / "results.json").read_text())
    assert res["quick"] is True and res["figures"]
    md = [c for c in nb.cells if c.cell_type == "markdown"]
    assert len(md) >= 5, f"{len(md)} markdown cells: the lesson should tell its story in markdown"


def test_user_error_is_one_line_in_a_notebook(tmp_path):
    """A missing data folder shows ``error: ...`` as the cell's only output, not a traceback."""
    with pytest.raises(nbclient.exceptions.CellExecutionError) as e:
        execute(LESSONS[0], f"--no-download --data-dir {tmp_path / 'nothing'} --out {tmp_path / 'out'}", cwd=tmp_path)
    text = str(e.value)
    assert "error: " in text and "fashion-mnist" in text
    assert "Traceback" not in text and "File " not in text
