"""Lesson 06 - interpretability: Grad-CAM asks "which pixels made the model say that?", and a sanity check asks whether the answer is about the model at all.

What it teaches:
  * Grad-CAM (Selvaraju et al. 2017): weight a conv layer's activation maps by the mean gradient
    of the target score, keep the positive part, upsample. Two hooks do it: a forward hook keeps
    the activations, a tensor hook on them catches the gradient (minitorch_vision/gradcam.py);
  * on the FashionMNIST CNN: maps for right and wrong predictions, and an error gallery (the
    most-confused class pairs and the most confident mistakes, each with its map);
  * on ResNet-18 (``layer4``): one photo, two objects, one map per class (243 bull mastiff,
    281 tabby cat): the same activations, weighted differently, point at different objects;
  * on YOLOv5: the map of ONE detection's confidence at the three neck outputs (strides 8/16/32):
    the level whose anchors fit the object's size lights up;
  * the sanity check of Adebayo et al. 2018: re-initialise the layers from the head down; a map
    that explains the model must change (rank correlation with the original falls towards 0).

Run:  python lessons/06_interpretability.py [--data-dir DIR] [--quick] [--weights PATH|random]
Writes runs/06_interpretability/{results.json, *.png}.
"""
# %% Set-up: flags, seed, threads, device, output folder
import pathlib
import time

import torch  # noqa: E402

from minitorch_vision import diagnostics  # noqa: E402
from minitorch_vision.cli import lesson_args, setup, write_results  # noqa: E402
from minitorch_vision.data.fashion_mnist import fashion_mnist_splits  # noqa: E402
from minitorch_vision.data.imagenet import imagenet_classes, top_k  # noqa: E402
from minitorch_vision.data.images import read_image  # noqa: E402
from minitorch_vision.data.manifest import ensure  # noqa: E402
from minitorch_vision.data.loader import Batches  # noqa: E402
from minitorch_vision.data.transforms import normalize, resize  # noqa: E402
from minitorch_vision.detection.draw import draw_box  # noqa: E402
from minitorch_vision.detection.letterbox import letterbox  # noqa: E402
from minitorch_vision.detection.nms import non_max_suppression  # noqa: E402
from minitorch_vision.errors import DataUnavailable  # noqa: E402
from minitorch_vision.gradcam import (ClassTarget, DetectionTarget, GradCAM, cascading_randomization,  # noqa: E402
                                      detection_row, grad_cam, spearman)
from minitorch_vision.models.cnn import CNN, CNNConfig  # noqa: E402
from minitorch_vision.plots.gradcam import plot_gradcam, plot_gradcam_gallery, plot_sanity_check  # noqa: E402
from minitorch_vision.train import evaluate, fit, one_cycle, predict  # noqa: E402
from minitorch_vision.weights import load_cnn_checkpoint, load_resnet18, load_yolov5, yolov5_weights  # noqa: E402

RESNET_LAYER = "layer4"    # (512, 7, 7) at 224x224
TWO_OBJECTS = {243: "bull mastiff", 281: "tabby cat"}


def extra_flags(p):
    p.add_argument("--weights", default=None,
                   help="ResNet-18 weights: a path, or 'random' (default: <data>/weights/resnet18-f37072fd.pth, "
                        "downloaded when absent; when that fails the lesson falls back to random weights, loudly)")
    p.add_argument("--yolo-weights", default=None, help="YOLOv5 weights (default: <data>/weights/yolov5n.pt)")
    p.add_argument("--image", default=None, help="photo for ResNet-18 (default: <data>/images/both.png)")
    p.add_argument("--detect-image", default=None, help="photo for YOLOv5 (default: <data>/images/bus.jpg)")
    p.add_argument("--cnn-from", default="runs/03_cnn",
                   help="lesson 03's output folder: its trained CNN is reused when found, else one is trained here")


args = lesson_args(__doc__, epochs=2, quick_epochs=1, batch_size=128, lr=3e-3, extra=extra_flags)
ctx = setup(args, "06_interpretability")
t0 = time.perf_counter()
data = fashion_mnist_splits(ctx.data_dir, seed=args.seed, quick=args.quick, allow_download=not args.no_download)
classes = data["classes"]
figures = []                # the PNGs written, in order (results.json lists them)

# %% 1. A FashionMNIST CNN: lesson 03's if it is there, else a quick one trained here
found = load_cnn_checkpoint(args.cnn_from)
if found is not None:
    model, source = found
else:  # train the lesson-03 architecture briefly (quick: 1 epoch on 5000 images)
    torch.manual_seed(args.seed)
    model = CNN(CNNConfig()).to(ctx.device)
    train = Batches(*data["train"], args.batch_size, shuffle=True, seed=args.seed)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    fit(model, train, Batches(*data["val"], batch_size=1000), epochs=args.epochs, opt=opt,
        sched=one_cycle(opt, args.lr, args.epochs, len(train)), device=ctx.device, out=None)
    source = f"trained here ({args.epochs} epoch(s) on {len(data['train'][0])} images)"
model = model.to(ctx.device).eval()
acc = evaluate(model, Batches(*data["test"], batch_size=1000), ctx.device)["accuracy"]
print(f"FashionMNIST CNN from {source}: test accuracy {acc:.4f}")
# The last conv block's output (7x7 for a 28x28 input with 2 blocks): the usual Grad-CAM choice,
# the deepest layer that still has a spatial layout.
cnn_layer = f"features.{len(model.features) - 1}"

# %% 2. Grad-CAM on right and wrong predictions
x, y = data["test"]
probs = torch.softmax(predict(model, x, device=ctx.device), 1)
conf, pred = probs.max(1)
n_show = 8
right = (pred == y).nonzero().squeeze(1)[:n_show]
wrong = (pred != y).nonzero().squeeze(1)[:n_show]


def gallery(idx, cls, titles, name, title):
    """Grad-CAM of images ``idx`` for classes ``cls`` (one call for the whole batch), drawn as one figure."""
    res = grad_cam(model, cnn_layer, x[idx].to(ctx.device), [ClassTarget(c) for c in cls])
    plot_gradcam_gallery(data["test_images"][idx], res.heatmap.cpu(), titles, ctx.out / name, suptitle=title)
    figures.append(name)


gallery(right, pred[right].tolist(), [f"{classes[p]} ({c:.2f})" for p, c in zip(pred[right], conf[right])],
        "gradcam_fashion_right.png", "right predictions: map of the predicted class")
gallery(wrong, pred[wrong].tolist(),
        [f"true {classes[t]}\npred {classes[p]} ({c:.2f})" for t, p, c in zip(y[wrong], pred[wrong], conf[wrong])],
        "gradcam_fashion_wrong.png", "wrong predictions: map of the (wrong) predicted class")

# %% The error gallery: where the model looks when it confuses a pair, and its most confident mistakes
pairs = diagnostics.most_confused_pairs(diagnostics.confusion_matrix(y, pred, len(classes)), k=3)
examples = diagnostics.pair_examples(y, pred, pairs, per_pair=4)   # [(index, true, predicted, count)]
if examples:
    gallery(torch.tensor([i for i, _, _, _ in examples]), [p for _, _, p, _ in examples],
            [f"{classes[t]} -> {classes[p]}\n({n}x, p={conf[i]:.2f})" for i, t, p, n in examples],
            "diagnostics_confused_pairs.png", "most-confused pairs (true -> predicted): map of the predicted class")
w_idx, w_pred, w_conf = diagnostics.worst_mistakes(probs, y, k=n_show)
if len(w_idx):
    gallery(w_idx, w_pred.tolist(),
            [f"true {classes[t]}\npred {classes[p]} ({c:.3f})" for t, p, c in zip(y[w_idx], w_pred, w_conf)],
            "diagnostics_worst_mistakes.png", "the most confident mistakes: map of the predicted class")
mistakes = {
    "most_confused": [{"true": classes[t], "predicted": classes[p], "count": c} for t, p, c in pairs],
    "worst_mistakes": [{"index": int(i), "true": classes[int(y[i])], "predicted": classes[int(p)],
                        "confidence": round(float(c), 4)} for i, p, c in zip(w_idx, w_pred, w_conf)],
    "right_shown": len(right), "wrong_shown": len(wrong),
}

# %% 3. The sanity check: does the map depend on the weights? (Adebayo et al. 2018)
# Re-initialise the CNN's layers from the head down to the input, one by one, and compare each map
# with the original (mean Spearman rank correlation over the images).
xs = data["test"][0][:24 if args.quick else 64].to(ctx.device)
rows = cascading_randomization(model, cnn_layer, xs, seed=args.seed, keep_maps=True)
steps = [r["randomized"] for r in rows]
at_layer = max(i for i, n in enumerate(steps) if n and (n == cnn_layer or n.startswith(cnn_layer + ".")))
# one image's map along the cascade: original, after the head, after the CAM layer, all random;
# an image whose original map is not empty (a CAM can be all zero: no positive evidence)
picks = [0, 1, at_layer, len(rows) - 1]
show = int(rows[0]["heatmap"].flatten(1).amax(1).gt(0).float().argmax())
plot_sanity_check(rows, data["test_images"][show], [rows[i]["heatmap"][show].cpu() for i in picks],
                        [f"{'original' if i == 0 else 'down to ' + steps[i]}\nrho={rows[i]['rank_correlation']:.2f}"
                         for i in picks], ctx.out / "sanity_check.png")
figures.append("sanity_check.png")
for r in rows:
    print(f"  re-initialised down to {str(r['randomized']):>16}: mean rank correlation {r['rank_correlation']:+.3f}")
sanity = {
    "layer": cnn_layer, "images": len(xs),
    "empty_original_maps": int(rows[0]["heatmap"].flatten(1).amax(1).eq(0).sum()),
    "unchanged": rows[0]["rank_correlation"],
    "after_cam_layer": rows[at_layer]["rank_correlation"],
    "after_all": rows[-1]["rank_correlation"],
    "steps": [{"randomized": r["randomized"], "rank_correlation": r["rank_correlation"]} for r in rows],
}

# %% 4. ResNet-18 on a photo with two objects: one map per class
# This part stands on its own too: without its photo (nothing downloads both.png), say so and go on.
try:
    photo = pathlib.Path(args.image) if args.image else ensure("images/both.png", ctx.data_dir,
                                                               allow_download=not args.no_download)
    # A plain resize to 224x224, not imagenet_preprocess (short side 256 + centre crop 224, lesson 04):
    # it is how reference/gradcam's input was made, and both.png is already 224x224, so nothing is cut off.
    img = resize(read_image(photo), (224, 224))      # (3, 224, 224) float in [0, 1]
except DataUnavailable as e:
    print(f"\nWARNING: ResNet-18 part skipped: {e} (put a photo there or pass --image)\n")
    img, resnet_info = None, {"skipped": str(e)}
# Without the ImageNet weights the lesson goes on with random ones, loudly: the maps then show the mechanics only.
if img is not None:
    try:
        resnet, kind = load_resnet18(args.weights, ctx.data_dir, allow_download=not args.no_download, verbose=False)
    except DataUnavailable as e:
        print(f"ImageNet weights unavailable: {e}")
        resnet, kind = load_resnet18("random", ctx.data_dir, verbose=False)
    if kind == "random":
        print(f"\n{'!' * 100}\nWARNING: ResNet-18 with RANDOM weights: its Grad-CAM maps below show the mechanics "
              f"only, not what a trained\nnetwork looks at (and its 'classes' mean nothing). Put resnet18-f37072fd.pth "
              f"in {ctx.data_dir / 'weights'} to see them.\n{'!' * 100}\n")
    x224 = normalize(img).unsqueeze(0).to(ctx.device)   # (1, 3, 224, 224), ImageNet mean/std
    resnet = resnet.to(ctx.device)
    names = imagenet_classes()
    targets = list(TWO_OBJECTS)
    with GradCAM(resnet, RESNET_LAYER) as cam:
        per_class = cam(x224.expand(len(targets), -1, -1, -1), [ClassTarget(c) for c in targets])  # same image twice
        top1 = cam(x224)                                                   # the network's own top-1 class
    logits = per_class.output[0].cpu()
    plot_gradcam(img, list(per_class.heatmap.cpu()) + [top1.heatmap[0].cpu()],
                       [f"{c} {names[c]}\nlogit {logits[c]:.2f}" for c in targets]
                       + [f"top-1: {top1.classes[0]} {names[top1.classes[0]]}"],
                       ctx.out / "gradcam_resnet_two_objects.png",
                       suptitle=f"ResNet-18 ({kind} weights), Grad-CAM at {RESNET_LAYER}")
    figures.append("gradcam_resnet_two_objects.png")
    resnet_info = {
        "weights": kind, "image": photo.name, "layer": RESNET_LAYER,
        "targets": [{"class": c, "name": names[c], "logit": float(logits[c])} for c in targets],
        "top1": {"class": top1.classes[0], "name": names[top1.classes[0]]},
        "top5": [{"name": n, "probability": round(p, 4)} for n, p in top_k(logits, 5, names)],
        # how different the two maps are: 1.0 would mean the class changed nothing
        "rank_correlation_243_vs_281": spearman(per_class.heatmap[0], per_class.heatmap[1]),
    }

# %% 5. YOLOv5: the map of one detection's confidence at the three neck outputs
# This part stands on its own: without its weights or photo, say so loudly and go on.
try:
    wpath = yolov5_weights(args.yolo_weights, "n", ctx.data_dir, allow_download=not args.no_download)
    yolo = load_yolov5(wpath).to(ctx.device).eval()
    photo = pathlib.Path(args.detect_image) if args.detect_image else ensure("images/bus.jpg", ctx.data_dir,
                                                                             allow_download=not args.no_download)
    img = read_image(photo)                                       # (3, H, W) uint8
except DataUnavailable as e:
    print(f"\nWARNING: YOLOv5 part skipped: {e}\n")
    yolo, yolo_info = None, {"skipped": str(e)}
if yolo is not None:
    boxed, _, _ = letterbox(img, 640 if not args.quick else 320)  # (3, h, w) uint8, sides multiples of 32
    xb = (boxed.float() / 255).unsqueeze(0).to(ctx.device)        # (1, 3, h, w) in [0, 1]
    with torch.no_grad():
        pred = yolo(xb)                                           # (1, A, 5 + 80) decoded, before NMS
    dets = non_max_suppression(pred, conf_thres=0.25, iou_thres=0.45)[0]  # (n, 6) xyxy conf cls, input pixels
    if len(dets) == 0:  # nothing to explain: say so and go on
        why = f"YOLOv5 found nothing in {photo} at confidence 0.25 (pick another --detect-image)"
        print(f"\nWARNING: YOLOv5 part skipped: {why}\n")
        yolo, yolo_info = None, {"skipped": why}
if yolo is not None:
    det = dets[0]                                                 # the most confident detection
    row = detection_row(pred[0], det)                             # ... and its row before NMS
    layers = ["neck.out3", "neck.out4", "neck.out5"]              # strides 8, 16, 32
    heat = [grad_cam(yolo, layer, xb, [DetectionTarget(row, int(det[5]))]).heatmap[0].cpu() for layer in layers]
    plot_gradcam(draw_box(xb[0].cpu(), det[:4]), heat,
                       [f"{layer} (stride {s})" for layer, s in zip(layers, (8, 16, 32))],
                       ctx.out / "gradcam_yolo_detection.png",
                       suptitle=f"YOLOv5n: {yolo.names[int(det[5])]} {float(det[4]):.2f}")
    figures.append("gradcam_yolo_detection.png")
    yolo_info = {
        "weights": str(wpath.name), "image": photo.name, "img_size": list(xb.shape[-2:]), "detections": len(dets),
        "target": {"class": yolo.names[int(det[5])], "confidence": round(float(det[4]), 4),
                   "box_xyxy": [round(float(v), 1) for v in det[:4]], "pred_row": row},
        "layers": layers,
    }

# %% Results
write_results(ctx, {
    "lesson": "06_interpretability",
    "figures": figures,
    "cnn": {"source": source, "test_accuracy": acc, "layer": cnn_layer},
    "mistakes": mistakes,
    "sanity_check": sanity,
    "resnet": resnet_info,
    "yolo": yolo_info,
    "seconds": time.perf_counter() - t0,
})
