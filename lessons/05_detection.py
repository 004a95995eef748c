# %% [markdown]
# # Lesson 05 — Object detection: a hand-written YOLOv5, and two ways to score it
#
# Afterwards you can say what a detector's raw output is, decode one box from it by hand, compute IoU
# and non-maximum suppression (NMS) yourself, and score a detector both ways the field does: YOLOv5's
# `val.py` and the COCO API (`pycocotools`) — and say why their mAP differ.
#
# Needs the official `yolov5n.pt` (4 MB), the sample photos and COCO128 (7 MB): all downloaded into the
# data folder when missing. On a 2-core CPU: about 1 minute with `--quick` (32 COCO128 images), 2 in full.

# %%
flags = ""  # in a notebook, e.g. "--quick"; $MTV_ARGS wins; from the shell the command line is used
import torch
from minitorch_vision.cli import lesson_args, setup, write_results
from minitorch_vision.lesson_flags import detection_flags
args = lesson_args("Lesson 05 - object detection with YOLOv5", flags, batch_size=32, extra=detection_flags)
ctx = setup(args, "05_detection")   # seed, threads, device, ctx.out = runs/05_detection

# %% [markdown]
# ## 1. The model and its raw output
# `minitorch_vision/models/yolov5.py` is YOLOv5 written out (a CSP-Darknet backbone, a PANet neck); it reads the
# official weights without running the authors' code. Its *Detect head* is one 1x1 convolution per feature map
# (strides 8, 16, 32): per grid cell and each of its 3 *anchors* (prior box shapes), 85 numbers: x, y, w, h,
# objectness, 80 class scores. The photo is read upright (EXIF) and letterboxed: long side to 640 with
# OpenCV's exact resampling, padded to a multiple of 32.

# %%
from minitorch_vision.data.images import read_image
from minitorch_vision.data.manifest import ensure
from minitorch_vision.detection.predict import image_files, preprocess
from minitorch_vision.models.yolov5 import size_name
from minitorch_vision.weights import yolov5_weights
from minitorch_vision.yolov5_checkpoint import load_yolov5
online = not args.no_download
weights = yolov5_weights(args.weights) if args.weights else ensure("weights/yolov5n.pt", ctx.data_dir, online)
model = load_yolov5(weights).fuse()                                  # fuse: BatchNorm folded into the convs
model, name = model.to(ctx.device).eval(), size_name(model.config)   # default: the verified v6.1 yolov5n
images = image_files(args.images or [ensure("images", ctx.data_dir, online)])
photo = next((p for p in images if p.name == "bus.jpg"), images[0])
x = preprocess(read_image(photo), args.img_size)[0].to(ctx.device)   # (1, 3, h, w) in [0, 1]
with torch.no_grad():
    maps = model.neck(*model.backbone(x))                            # 3 feature maps
    raw = [conv(f) for conv, f in zip(model.detect.m, maps)]         # the head: one 1x1 conv each
    pred = model(x)                                                  # the same, decoded
for s, r in zip(model.detect.stride.tolist(), raw):
    print(f"stride {s:2.0f}: raw output {tuple(r.shape)} = (image, 3 anchors x 85, grid rows, grid columns)")
print(f"{photo.name} letterboxed to {tuple(x.shape)}; decoded: {tuple(pred.shape)} = (image, boxes, 85)")

# %% [markdown]
# **Decoding one box by hand.** Every output goes through a sigmoid, t in (0, 1). The centre is the cell's
# corner plus up to 1.5 cells in each direction, the size between 0 and 4 times the anchor:
# x = (2 t_x - 0.5 + column) * stride, w = (2 t_w)^2 * anchor width. We take the most confident cell of the
# coarsest grid (stride 32, the large objects) and compare with the model's own decoding.

# %%
level, (rows, cols) = 2, raw[2].shape[2:]
t = raw[level].view(3, 85, rows, cols).permute(0, 2, 3, 1).sigmoid()  # (anchor, row, column, 85)
a, gy, gx = [int(v) for v in torch.unravel_index(t[..., 4].argmax(), (3, rows, cols))]
stride, anchor = model.detect.stride[level], model.detect.anchors[level, a] * model.detect.stride[level]
cx, cy = (2 * t[a, gy, gx, 0] - 0.5 + gx) * stride, (2 * t[a, gy, gx, 1] - 0.5 + gy) * stride
w, h = (2 * t[a, gy, gx, 2]) ** 2 * anchor[0], (2 * t[a, gy, gx, 3]) ** 2 * anchor[1]
row = sum(3 * r.shape[2] * r.shape[3] for r in raw[:level]) + (a * rows + gy) * cols + gx
by_hand = torch.stack([cx, cy, w, h])                                # the box centre and size, in pixels
print(f"cell (column {gx}, row {gy}), anchor {a} = {anchor.tolist()} px: objectness {t[a, gy, gx, 4]:.3f}")
print(f"by hand x, y, w, h = {by_hand.tolist()}\nthe model's row {row}: {pred[0, row, :4].tolist()}")
assert torch.allclose(by_hand, pred[0, row, :4], atol=1e-4)

# %% [markdown]
# ## 2. From thousands of boxes to a handful: confidence, IoU, NMS
# Most rows are background. A box's *score* is objectness x its best class probability; YOLOv5 keeps the
# boxes whose objectness and score are both above `--conf`. Neighbouring cells and anchors then report the
# same object many times. Non-maximum suppression keeps the best-scored box and removes every other box of
# its class whose *intersection over union* with it, IoU = area(A ∩ B) / area(A ∪ B), exceeds `--iou`; then
# the next best surviving box, and so on. Then the library does it on every photo: look at what is found and missed.

# %%
from minitorch_vision.detection.boxes import box_iou, xywh_to_xyxy
from minitorch_vision.detection.nms import batched_nms, nms, nms_reference, non_max_suppression
boxes = xywh_to_xyxy(pred[0, :, :4])                                 # (A, 4) corners (x1, y1, x2, y2)
score, cls = (pred[0, :, 4:5] * pred[0, :, 5:]).max(1)              # objectness x best class probability
first, second = score.topk(2).indices                                # the two best boxes
(ax1, ay1, ax2, ay2), (bx1, by1, bx2, by2) = boxes[first].tolist(), boxes[second].tolist()
inter = max(0, min(ax2, bx2) - max(ax1, bx1)) * max(0, min(ay2, by2) - max(ay1, by1))
union = (ax2 - ax1) * (ay2 - ay1) + (bx2 - bx1) * (by2 - by1) - inter
print(f"IoU of the two best boxes by hand: {inter:.1f} / {union:.1f} = {inter / union:.4f}; "
      f"box_iou: {box_iou(boxes[first][None], boxes[second][None]).item():.4f}")
kept = (pred[0, :, 4] > args.conf) & (score > args.conf)
b, s, c = boxes[kept], score[kept], cls[kept]
keep = batched_nms(b, s, c, args.iou)                                # NMS within each class
print(f"{len(boxes)} boxes -> {len(b)} above conf {args.conf} -> {len(keep)} after NMS at IoU {args.iou}")
assert torch.equal(nms(b, s, args.iou), nms_reference(b, s, args.iou))   # fast sweep = the plain loop
assert torch.equal(non_max_suppression(pred, args.conf, args.iou)[0][:, :4], b[keep])

# %%  detect_each: letterbox, model, NMS, boxes mapped back to the photo's pixels
from minitorch_vision.detection.draw import draw_detections, save_image
from minitorch_vision.detection.predict import check_readable, detect_each, drawing_name
from minitorch_vision.plots.detection import detection_grid
shown, per_image, unreadable = [], {}, []
for res in detect_each(model, images, args.img_size, args.conf, args.iou, device=ctx.device, unreadable=unreadable):
    save_image(draw_detections(res.image, res.boxes, model.names), ctx.out / "detections" / drawing_name(res.source))
    per_image[res.source] = res.as_list()
    shown.append((res.image, res.boxes, f"{res.source}: {len(res.boxes)} detection{'s' * (len(res.boxes) != 1)}"))
detection_grid(shown[:6], model.names, f"{name} at {args.img_size}, conf > {args.conf}, NMS IoU {args.iou}",
               ctx.out / "detections.png", caption="Every box above the confidence threshold, with its class and "
               "confidence: NMS left one box per object; an object without a box scored below the threshold.")

# %% [markdown]
# ## 3. Scoring a detector: YOLOv5's `val.py` and the COCO API
# Both keep almost every box (confidence > 0.001), match detections to labelled boxes at IoU 0.50, 0.55,
# ..., 0.95 and average precision over recall per class; COCO also keeps at most 100 boxes per image and
# class and samples precision at 101 recall points. How they match differs (below). First `val.py`'s
# protocol, exactly; then the COCO API, for which a YOLO label (class, centre x, centre y, width, height,
# as fractions of the image) becomes a COCO box (left, top, width, height, in pixels).

# %%
from minitorch_vision.detection.evaluate import evaluate_detector, format_val_table
coco128 = ensure("coco128", ctx.data_dir, online)
ev = evaluate_detector(model, coco128 / "images" / "train2017", coco128 / "labels" / "train2017", args.img_size,
                       args.batch_size, limit=32 if args.quick else None, device=ctx.device)
print("\n".join(format_val_table(ev).splitlines()[:6]), "\n   ... one row per class")

# %%
from minitorch_vision.data.images import image_size
from minitorch_vision.detection.coco_eval import coco_evaluate, detections_to_coco, format_coco_stats, yolo_to_coco_gt
from minitorch_vision.detection.labels import read_yolo_labels
labels = [read_yolo_labels(coco128 / "labels" / "train2017" / (f.stem + ".txt")) for f in ev.files]
sizes = [image_size(f) for f in ev.files]
(H, W), (_, cx, cy, bw, bh) = sizes[0], labels[0][0].tolist()
by_hand = [(cx - bw / 2) * W, (cy - bh / 2) * H, bw * W, bh * H]
gt = yolo_to_coco_gt(sizes, labels, model.names)
print(f"YOLO label {labels[0][0].tolist()} of a {W}x{H} image -> COCO box {[round(v, 1) for v in by_hand]}")
assert by_hand == gt["annotations"][0]["bbox"]
coco = coco_evaluate(gt, detections_to_coco(ev.detections))
print(format_coco_stats(coco.stats))
print(f"\n          mAP@0.5  mAP@0.5:0.95\nval.py     {ev.map50:.4f}   {ev.map50_95:.4f}")
print(f"COCO API   {coco.stats[1]:.4f}   {coco.stats[0]:.4f}")

# %% [markdown]
# **Why they differ, on one image**: the one where the protocols disagree most. Each line is a detection and
# the IoU thresholds 0.50 ... 0.95 at which it counts as correct (x). `val.py` pairs labels and detections once,
# at IoU 0.5 (a label wanted by several detections goes to the most confident); a pair then counts up to its
# IoU. COCO matches again at every threshold, best score first: a less confident detection that fits a label
# better takes it at 0.75 once the more confident, looser one no longer qualifies.

# %%
from minitorch_vision.detection.coco_eval import coco_image_matches
from minitorch_vision.detection.metrics import match_predictions
both = [(match_predictions(d, lab), coco_image_matches(d, lab)) for d, lab in zip(ev.detections, ev.labels)]
i = max(range(len(both)), key=lambda k: int((both[k][0] != both[k][1]).sum()))
(val_tp, coco_tp), det = both[i], ev.detections[i]
print(f"{ev.files[i].name}: {len(det)} detections, {len(ev.labels[i])} labels")
for r in (val_tp != coco_tp).any(1).nonzero().view(-1)[:6].tolist():
    at_val, at_coco = ("".join("x" if v else "." for v in m[r].tolist()) for m in (val_tp, coco_tp))
    iou = box_iou(det[r:r + 1, :4], ev.labels[i][ev.labels[i][:, 0] == det[r, 5], 1:]).max()  # best label of its class
    print(f"  {model.names[int(det[r, 5])]:>12} conf {det[r, 4]:.3f} IoU {iou:.2f}   val.py {at_val}   COCO {at_coco}")
total = [sum(int(m[:, t].sum()) for m in ms) for ms in zip(*both) for t in (0, 5)]
print(f"all images: true positives at IoU 0.5 / 0.75: val.py {total[0]} / {total[1]}, COCO {total[2]} / {total[3]}")

# %%  the precision-recall curves behind val.py's mAP@0.5 (and in TensorBoard's PR curves tab)
from minitorch_vision.plots.detection import val_pr_curves
val_pr_curves(ev, f"{name} on COCO128 ({ev.n_images} images), IoU 0.5", ctx.out / "pr_curves.png",
              log_dir=ctx.tb_dir("yolov5-val"),
              caption="Precision as recall grows, per class: a curve that stays high to the right is a class found "
                      "fully and cleanly; mAP@0.5 is the area under each curve, averaged (the bold mean).")

# %% [markdown]
# ## Summary
# Our YOLOv5 runs the official weights; box decoding, NMS and both scoring protocols are written out and equal
# to their references (the official `val.py`, torchvision, pycocotools). Below, this run beside the official
# v6.1 `val.py` on COCO128 at 640; the YOLOv5 README's 28.0 mAP is the COCO API on val2017's 5,000 images.

# %%
print(f"this run ({ev.n_images} images{', quick: a smoke test' if args.quick else ''}): val.py P {ev.precision:.3f} "
      f"R {ev.recall:.3f} mAP@0.5 {ev.map50:.3f} mAP@0.5:0.95 {ev.map50_95:.3f}; COCO API AP {coco.stats[0]:.3f} "
      f"AP50 {coco.stats[1]:.3f}\nofficial val.py (128 images): P 0.616 R 0.495 mAP@0.5 0.546 mAP@0.5:0.95 0.341")
write_results(ctx, {"model": name, "img_size": args.img_size, **ev.record(), "coco": coco.record(),
                    "detections_per_image": per_image, "unreadable_images": [k for k, _ in unreadable]})
check_readable(unreadable, len(images))   # every readable image was drawn; the others: exit status 2

# %% [markdown]
# ## Exercises
# 1. Run with `--conf 0.1` and then `--conf 0.5`: how many boxes does `bus.jpg` get, and which are new?
# 2. With `--iou 0.3` and `--iou 0.9`: which leaves duplicate boxes on one person, which removes a person
#    standing close behind another?
# 3. Write greedy NMS yourself in `my_nms` below (sort by score, keep, drop overlaps > threshold), set
#    `check_exercise_3 = True` and run the cell: it compares your function with the library's.
# 4. (Open) At `--img-size 320` and 1280, which COCO area range (small, medium, large) gains or loses most? Why?

# %%
def my_nms(boxes, scores, iou_threshold):
    raise NotImplementedError("exercise 3: write greedy NMS here, returning the kept indices by score")

check_exercise_3 = False   # True once my_nms is written
if check_exercise_3:
    xy = torch.rand(200, 2, generator=torch.Generator().manual_seed(0)) * 300
    b, s = torch.cat([xy, xy + 20 + torch.rand(200, 2) * 80], 1), torch.rand(200)
    for t in (0.3, 0.5, 0.7):
        assert torch.equal(torch.as_tensor(my_nms(b, s, t)), nms(b, s, t)), f"my_nms differs from nms at IoU {t}"
    print("exercise 3: correct")
