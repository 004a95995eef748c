"""Lesson 05: object detection. A hand-written YOLOv5 runs the official weights, draws its boxes, and is scored like the field scores detectors.

What it teaches:
  (a) YOLOv5 line by line (minitorch_vision/models/yolov5.py): CSP-Darknet backbone, PANet neck, a
      Detect head predicting 3 anchor boxes per cell at strides 8/16/32, decoded to pixels. The official
      .pt file is a pickle of the authors' Python objects; we read it with a restricted unpickler that
      runs none of their code (minitorch_vision/weights.py) and load the tensors into our model.
  (b) detection on your images (--images, default: the sample images in <data>/images): letterbox to a
      multiple of 32, forward pass, confidence filter, hand-written non-maximum suppression, boxes mapped
      back to the photo and drawn with class and confidence (<out>/detections/).
  (c) evaluation on COCO128 (<data>/coco128/images/train2017 + labels/train2017) with the official
      YOLOv5 v6.1 val.py protocol: rectangular batches of 32 (pad 0.5), area-interpolated shrinking,
      conf 0.001, NMS IoU 0.6 with several classes per box, at most 300 boxes per image, true positives
      at IoU 0.50:0.05:0.95, 101-point AP, P and R at the confidence maximising the mean F1. Per-class
      table and precision-recall curves (pr_curves.png). With yolov5n at 640 this reproduces the official
      P 0.616, R 0.495, mAP@0.5 0.546, mAP@0.5:0.95 0.341.

Two sets of thresholds on purpose: --conf/--iou (0.25/0.45, detect.py's) decide what is drawn; the
evaluation keeps nearly everything (--val-conf 0.001) because AP integrates the whole PR curve.
Deliberate differences from the official scripts: none in the numbers; images are decoded with Pillow
(EXIF rotation is not applied) and resized by our re-implementation of OpenCV's resizers.
--quick evaluates the first 32 COCO128 images only (the numbers then differ from the full set).

Run:  python lessons/05_detection.py --data-dir ../shared/data --weights ../shared/data/weights/yolov5n.pt [--quick]
Writes runs/05_detection/{results.json, detections/*.jpg, pr_curves.png}.
"""
# %% Set-up: flags, seed, threads, device, output folder
import pathlib
import time

from minitorch_vision.plots.detection import pr_curves  # noqa: E402
from minitorch_vision.cli import lesson_args, multiple_of, positive_int, probability, setup, write_results  # noqa: E402
from minitorch_vision.data.images import list_images  # noqa: E402
from minitorch_vision.data.manifest import ensure  # noqa: E402
from minitorch_vision.detection.draw import draw_detections, save_image  # noqa: E402
from minitorch_vision.detection.evaluate import evaluate, format_table  # noqa: E402
from minitorch_vision.detection.predict import detect_each, drawing_name  # noqa: E402
from minitorch_vision.errors import DataUnavailable, MTVError  # noqa: E402
from minitorch_vision.weights import load_yolov5, size_name, yolov5_weights  # noqa: E402

QUICK_VAL_IMAGES = 32


def extra_flags(p):
    p.add_argument("--images", nargs="+", default=None, help="image files or folders to run detection on "
                   "(default: the sample images in <data>/images)")
    p.add_argument("--model", default="s", choices=["n", "s", "m", "l", "x"],
                   help="YOLOv5 size: picks <data>/weights/yolov5<size>.pt or the official v7.0 release file "
                        "(with --weights, the checkpoint's own size is used)")
    p.add_argument("--weights", default=None, help="a YOLOv5 .pt (official checkpoint or saved by this project)")
    p.add_argument("--img-size", type=multiple_of(32), default=640, help="inference size (long side), a multiple of 32")
    p.add_argument("--conf", type=probability, default=0.25, help="confidence threshold for the drawn detections")
    p.add_argument("--iou", type=probability, default=0.45, help="NMS IoU threshold for the drawn detections")
    p.add_argument("--val-conf", type=probability, default=0.001, help="confidence threshold of the evaluation")
    p.add_argument("--val-iou", type=probability, default=0.6, help="NMS IoU threshold of the evaluation")
    p.add_argument("--val-images", type=positive_int, default=None, help="evaluate only the first N COCO128 images")
    p.add_argument("--no-fuse", action="store_true", help="keep BatchNorm separate (slower, same numbers to ~1e-3 px)")


args = lesson_args(__doc__, epochs=0, batch_size=32, lr=0.0, extra=extra_flags)
ctx = setup(args, "05_detection")
t_start = time.perf_counter()

# %% (a) The model: our YOLOv5, official weights read without the official code
path = yolov5_weights(args.weights, args.model, ctx.data_dir, allow_download=not args.no_download)
model = load_yolov5(path)
if not args.no_fuse:
    model.fuse()                         # Conv+BN folded: same outputs, fewer ops
model = model.to(ctx.device).eval()
name = size_name(model.config)
n_params = sum(p.numel() for p in model.parameters())
print(f"{name} from {path}: {n_params:,} parameters{' (fused)' if not args.no_fuse else ''}, "
      f"{model.config.nc} classes, strides {[int(s) for s in model.detect.stride]}")

# %% (b) Detect on images, draw the boxes, save
# --images takes files and folders; without it, the sample photos of the data folder
skipped = {}  # part -> reason, in results.json: a skipped part is never shown as done
if args.images:
    images = [f for a in map(pathlib.Path, args.images) for f in (list_images(a) if a.is_dir() else [a])]
    if not images:
        raise MTVError(f"--images {' '.join(args.images)}: the folder is empty (no .jpg, .png, ... files) — "
                       f"put images there or pass other files")
else:  # the sample photos, downloaded when missing; offline or --no-download: skipped, and said so
    try:
        images = list_images(ensure("images", ctx.data_dir, allow_download=not args.no_download))
    except DataUnavailable as e:
        images, skipped["detection"] = [], str(e)
        print(f"skipped: detection on the sample photos: {e}")
per_image, unreadable = {}, []   # keyed by the path relative to the images' common folder: unique
for res in detect_each(model, images, args.img_size, args.conf, args.iou, device=ctx.device, unreadable=unreadable):
    dst = ctx.out / "detections" / drawing_name(res.source)
    save_image(draw_detections(res.image, res.boxes, model.names), dst, quality=90)
    per_image[res.source] = res.as_list()
    found = ", ".join(f"{d['name']} {d['conf']:.2f}" for d in per_image[res.source]) or "nothing"
    print(f"  {res.source} ({res.image.shape[2]}x{res.image.shape[1]}): {found} -> {dst}")

# %% (c) COCO128 with the official val protocol (skipped, with a note, when the data folder lacks it)
results = {"model": name, "img_size": args.img_size, "precision": None, "recall": None, "map50": None,
           "map50_95": None, "per_class": [], "detections_per_image": per_image, "skipped": skipped}
try:
    coco = ensure("coco128", ctx.data_dir, allow_download=not args.no_download)
except DataUnavailable as e:
    coco, skipped["coco128 evaluation"] = None, str(e)
    print(f"skipped: COCO128 evaluation: {e}")
if coco is not None:
    limit = args.val_images or (QUICK_VAL_IMAGES if args.quick else None)
    ev = evaluate(model, coco / "images" / "train2017", coco / "labels" / "train2017", img_size=args.img_size,
                  batch_size=args.batch_size, conf_thres=args.val_conf, iou_thres=args.val_iou,
                  limit=limit, device=ctx.device)
    print(f"\nCOCO128 ({ev.n_images} images, {ev.n_labels} labels, {ev.seconds:.1f} s) at {args.img_size}:")
    print(format_table(ev))
    results.update(precision=ev.precision, recall=ev.recall, map50=ev.map50, map50_95=ev.map50_95,
                   per_class=ev.per_class)
    # one PR curve per class, the most frequent classes first (they get the first colours)
    by_count = sorted(range(len(ev.per_class)), key=lambda i: -ev.per_class[i]["instances"])
    pr_curves(ev.curves["px"], ev.curves["pr_curve"][by_count],
                    [f"{ev.per_class[i]['name']} ({ev.per_class[i]['instances']})" for i in by_count],
                    ev.curves["ap"][by_count, 0],
                    title=f"{name} on COCO128 ({ev.n_images} images), IoU 0.5", path=ctx.out / "pr_curves.png")

# %% Results
write_results(ctx, {**results, "unreadable_images": [k for k, _ in unreadable]})
print(f"done in {time.perf_counter() - t_start:.1f} s")
if unreadable:  # every readable image was drawn; now say which were not, and exit 2
    raise MTVError(f"{len(unreadable)} of {len(images)} images could not be read ({unreadable[0][1]}"
                   + (f"; also {', '.join(k for k, _ in unreadable[1:])}" if len(unreadable) > 1 else "")
                   + ") — the others were drawn; replace or remove the unreadable files")
