"""Hand-written NMS vs torchvision's compiled ``nms`` (or, without torchvision, the plain loop).

Random boxes as in ``reference/yolov5/nms_cases.pt`` (corners in a 640x640 image, sides 10-120
px, uniform scores), IoU threshold 0.45, single thread. Each timing is the median of
``--repeat`` calls, the two implementations interleaved so background load hits both alike.
The kept indices are checked to be identical before timing. Goal: ratio <= 2 at 1000 boxes.

    python benchmarks/nms.py [--sizes 1000 5000] [--repeat 30] [--threads 1]
"""
import argparse
import statistics
import time

import torch

from _common import import_torchvision
from minitorch_vision.detection.nms import nms, nms_reference


def random_boxes(n, seed=0):
    g = torch.Generator().manual_seed(seed)
    xy = torch.rand(n, 2, generator=g) * 640
    wh = 10 + torch.rand(n, 2, generator=g) * 110
    return torch.cat([xy, (xy + wh).clamp(max=640)], 1), torch.rand(n, generator=g)


def median_times(fns, repeat):
    times = [[] for _ in fns]
    for f in fns:
        f()  # warm-up
    for _ in range(repeat):
        for k, f in enumerate(fns):
            t = time.perf_counter()
            f()
            times[k].append(time.perf_counter() - t)
    return [statistics.median(t) for t in times]


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[1000, 5000])
    p.add_argument("--repeat", type=int, default=30)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--iou", type=float, default=0.45)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    tv = import_torchvision()
    ref_name = "torchvision.ops.nms" if tv is not None else "nms_reference (Python loop)"
    ref = tv.ops.nms if tv is not None else nms_reference
    print(f"torch {torch.__version__}, threads {a.threads}, IoU {a.iou}, reference: {ref_name}")
    for n in a.sizes:
        boxes, scores = random_boxes(n)
        mine, theirs = nms(boxes, scores, a.iou), ref(boxes, scores, a.iou)
        assert torch.equal(mine, theirs), f"kept indices differ at n={n}"
        t_mine, t_ref = median_times([lambda: nms(boxes, scores, a.iou), lambda: ref(boxes, scores, a.iou)],
                                     a.repeat)
        print(f"n={n:6d}  kept {len(mine):5d}  hand-written {t_mine * 1e3:8.2f} ms  {ref_name} "
              f"{t_ref * 1e3:8.2f} ms  ratio {t_mine / t_ref:5.2f}x")


if __name__ == "__main__":
    main()
