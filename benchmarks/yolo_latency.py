"""YOLOv5 forward latency on this CPU: Conv+BN fused vs unfused, at 320 and 640, in the same run.

Fusing folds each BatchNorm into the preceding conv (one op instead of two, no extra pass over the
activation). Both models are built from the same weights (default: <data>/weights/yolov5n.pt; random
weights with --random); the outputs are checked to agree (boxes 5e-3 px, scores 1e-4) before timing.
Batch 1, square input of each size, median of --repeat calls, fused and unfused interleaved so
background load hits both alike.

    python benchmarks/yolo_latency.py [--weights PATH | --random --model n] [--sizes 320 640] [--repeat 20] [--threads 1]
"""
import argparse
import copy

import torch

from _common import data_dir, median_times
from minitorch_vision.models.yolov5 import size_name, yolov5
from minitorch_vision.yolov5_checkpoint import load_yolov5


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", default=None)
    p.add_argument("--weights", default=None, help="YOLOv5 .pt (default <data>/weights/yolov5n.pt)")
    p.add_argument("--random", action="store_true", help="random weights instead of a checkpoint")
    p.add_argument("--model", default="n", choices=list("nsmlx"), help="size with --random")
    p.add_argument("--sizes", type=int, nargs="+", default=[320, 640])
    p.add_argument("--repeat", type=int, default=20)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    torch.set_num_threads(args.threads)

    unfused = yolov5(args.model).eval() if args.random else \
        load_yolov5(args.weights or data_dir(args.data_dir) / "weights" / "yolov5n.pt")
    fused = copy.deepcopy(unfused).fuse()
    print(f"{size_name(unfused.config)}, {'random' if args.random else 'pretrained'} weights, batch 1, "
          f"threads {torch.get_num_threads()}, median of {args.repeat}, torch {torch.__version__}")
    print(f"{'size':>5} {'unfused ms':>11} {'fused ms':>9} {'unfused/fused':>14} {'max |diff| box/score':>22}")
    with torch.inference_mode():
        for s in args.sizes:
            x = torch.rand(1, 3, s, s, generator=torch.Generator().manual_seed(s))
            a, b = unfused(x), fused(x)
            db, ds = (a[..., :4] - b[..., :4]).abs().max().item(), (a[..., 4:] - b[..., 4:]).abs().max().item()
            assert db < 5e-3 and ds < 1e-4, (db, ds)
            tu, tf = median_times([lambda: unfused(x), lambda: fused(x)], args.repeat)
            print(f"{s:>5} {tu * 1e3:>11.1f} {tf * 1e3:>9.1f} {tu / tf:>14.2f} {db:>12.1e} / {ds:.1e}")


if __name__ == "__main__":
    main()
