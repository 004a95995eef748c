"""YOLO-format label files: one ``.txt`` per image, one object per line.

Each line is ``class cx cy w h``: an integer class index and the box centre and size divided by
the image width/height (so in [0, 1]). The file for ``.../images/<split>/x.jpg`` is
``.../labels/<split>/x.txt``; an image without a label file is a background image (no
objects). A line may also be a polygon ``class x1 y1 x2 y2 x3 y3 ...`` (segmentation
datasets); like YOLOv5 we use its bounding box.

Bad lines are skipped with a warning naming the file and line, never an exception: a dataset
with one typo should still evaluate. (YOLOv5 v6.1 instead drops the whole image as corrupt;
COCO128 has no bad lines, so both give the same numbers there.)
"""
import warnings
from pathlib import Path

import numpy as np
import torch


def label_path_for(image_path):
    """``.../images/<split>/x.jpg`` -> ``.../labels/<split>/x.txt``.

    The last path component named ``images`` becomes ``labels`` and the suffix becomes ``.txt``
    (YOLOv5's convention). Without an ``images`` folder in the path, the ``.txt`` sits beside
    the image.
    """
    p = Path(image_path)
    parts = list(p.parts)
    for k in range(len(parts) - 2, -1, -1):  # search the folders, not the file name
        if parts[k] == "images":
            parts[k] = "labels"
            break
    return Path(*parts).with_suffix(".txt")


def _parse_line(values, num_classes):
    """One label line's numbers -> (cls, cx, cy, w, h) as a list, or an error string."""
    if len(values) == 5:
        row = values
    elif len(values) >= 7 and len(values) % 2 == 1:  # polygon -> its bounding box
        xy = np.asarray(values[1:], dtype=np.float64).reshape(-1, 2)
        (x1, y1), (x2, y2) = xy.min(0), xy.max(0)
        row = [values[0], (x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1]
    else:
        return f"expected 5 numbers (class cx cy w h), got {len(values)}"
    c = row[0]
    if not (np.isfinite(c) and c == int(c) and 0 <= c < num_classes):
        return f"class {c:g} is not an integer in [0, {num_classes})"
    if not all(0.0 <= v <= 1.0 for v in row[1:]):  # also rejects nan
        return "coordinates must be normalised to [0, 1]"
    return row


def read_yolo_labels(path, num_classes=80):
    """Read one YOLO label file.

    Args:
        path (str | Path): the ``.txt`` file.
        num_classes (int): valid classes are 0 .. num_classes - 1.

    Returns:
        Tensor[n, 5] float32: (cls, cx, cy, w, h), coordinates normalised to [0, 1], in file
        order. A missing file gives an empty (0, 5) tensor (a background image). Malformed
        lines, classes out of range and coordinates outside [0, 1] are skipped with a
        ``warnings.warn`` naming the file and line; repeated identical rows are kept once
        (with a warning), as YOLOv5 does.
    """
    path = Path(path)
    empty = torch.zeros((0, 5), dtype=torch.float32)
    if not path.exists():
        return empty
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        warnings.warn(f"{path}: unreadable label file, treated as no objects ({e})", stacklevel=2)
        return empty
    rows = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            values = [float(v) for v in line.split()]
            row = _parse_line(values, num_classes)
        except ValueError:
            row = "not a list of numbers"
        if isinstance(row, str):
            warnings.warn(f"{path}:{lineno}: skipped label line ({row}): {line.strip()[:80]!r}",
                          stacklevel=2)
            continue
        rows.append(row)
    if not rows:
        return empty
    labels = np.asarray(rows, dtype=np.float32)
    _, first = np.unique(labels, axis=0, return_index=True)
    if len(first) < len(labels):
        warnings.warn(f"{path}: {len(labels) - len(first)} duplicate label rows removed", stacklevel=2)
        labels = labels[np.sort(first)]  # keep file order
    return torch.from_numpy(labels)
