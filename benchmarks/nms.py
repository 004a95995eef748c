"""Hand-written NMS vs torchvision's compiled ``nms`` (or, without torchvision, the plain loop).

Random boxes as in ``reference/yolov5/nms_cases.pt`` (corners in a 640x640 image, sides 10-120
px, uniform scores), IoU threshold 0.45, single thread. Each timing is the median of
``--repeat`` calls, the two implementations interleaved so background load hits both alike.
The kept indices are checked to be identical before timing. Goal: ratio <= 2 at 1000 boxes.
When the data folder holds reference/yolov5/bus.pt, also times the whole YOLOv5 post-processing
(``non_max_suppression``) on its raw head output with the detect settings (conf 0.25) and the
val settings (conf 0.001, IoU 0.6, multi-label), with our per-class NMS (``batched_nms``) vs
torchvision's ``batched_nms`` inside it.

    python benchmarks/nms.py [--sizes 1000 5000] [--repeat 30] [--threads 1] [--data-dir DIR]
"""
import argparse
import sys

import torch

from _common import data_dir, import_torchvision, median_times
from minitorch_vision.detection import nms as nms_module
from minitorch_vision.detection.nms import nms, nms_reference, non_max_suppression


def random_boxes(n, seed=0):
    g = torch.Generator().manual_seed(seed)
    xy = torch.rand(n, 2, generator=g) * 640
    wh = 10 + torch.rand(n, 2, generator=g) * 110
    return torch.cat([xy, (xy + wh).clamp(max=640)], 1), torch.rand(n, generator=g)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[1000, 5000])
    p.add_argument("--repeat", type=int, default=30)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--iou", type=float, default=0.45)
    p.add_argument("--data-dir")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    sys.path.insert(0, str(data_dir(a.data_dir).parent / "tools"))   # the shim beside the data folder
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
    bus = data_dir(a.data_dir) / "reference" / "yolov5" / "bus.pt"
    if tv is None or not bus.exists():
        return
    pred = torch.load(bus, weights_only=False)["pred_raw"]  # (1, 18900, 85)
    for name, kw in [("detect (conf 0.25, IoU 0.45)", dict(conf_thres=0.25, iou_thres=0.45, max_det=1000)),
                     ("val (conf 0.001, IoU 0.6, multi-label)", dict(conf_thres=0.001, iou_thres=0.6,
                                                                     multi_label=True, max_det=300))]:
        def ours():
            return non_max_suppression(pred, **kw)

        def with_tv():  # torchvision's batched_nms (its offset trick) swapped in
            saved, nms_module.batched_nms = nms_module.batched_nms, tv.ops.batched_nms
            try:
                return non_max_suppression(pred, **kw)
            finally:
                nms_module.batched_nms = saved

        assert all(torch.equal(x, y) for x, y in zip(ours(), with_tv()))
        t_mine, t_ref = median_times([ours, with_tv], a.repeat)
        print(f"bus.jpg non_max_suppression, {name}: ours {t_mine * 1e3:.2f} ms, with torchvision batched_nms "
              f"{t_ref * 1e3:.2f} ms, ratio {t_mine / t_ref:.2f}x")


if __name__ == "__main__":
    main()
