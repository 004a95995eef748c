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
import sys
import pathlib
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from minitorch_vision import diagnostics, plots  # noqa: E402
from minitorch_vision.cli import lesson_args, main_guard, setup, write_results  # noqa: E402
from minitorch_vision.data.fashion_mnist import fashion_mnist_splits  # noqa: E402
from minitorch_vision.data.imagenet import imagenet_classes, top_k  # noqa: E402
from minitorch_vision.data.images import read_image  # noqa: E402
from minitorch_vision.data.loader import Batches  # noqa: E402
from minitorch_vision.data.transforms import normalize, resize  # noqa: E402
from minitorch_vision.detection.boxes import xywh_to_xyxy  # noqa: E402
from minitorch_vision.detection.letterbox import letterbox  # noqa: E402
from minitorch_vision.detection.nms import non_max_suppression  # noqa: E402
from minitorch_vision.errors import DataUnavailable, MTVError  # noqa: E402
from minitorch_vision.gradcam import (ClassTarget, DetectionTarget, GradCAM, cascading_randomization,  # noqa: E402
                                      spearman)
from minitorch_vision.models.cnn import CNN, CNNConfig  # noqa: E402
from minitorch_vision.train import evaluate, fit, one_cycle, predict  # noqa: E402
from minitorch_vision.weights import load_resnet18, load_yolov5, yolov5_weights  # noqa: E402

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


# %% 1. A FashionMNIST CNN: lesson 03's if it is there, else a quick one trained here
def fashion_cnn(ctx, data):
    """Returns (model, where it came from)."""
    args = ctx.args
    found = load_lesson03_cnn(pathlib.Path(args.cnn_from))
    if found is not None:
        return found
    # Not there: train the lesson-03 architecture briefly (quick: 1 epoch on 5000 images).
    torch.manual_seed(args.seed)
    model = CNN(CNNConfig()).to(ctx.device)
    train = Batches(*data["train"], args.batch_size, shuffle=True, seed=args.seed)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    fit(model, train, Batches(*data["val"], batch_size=1000), epochs=args.epochs, opt=opt,
        sched=one_cycle(opt, args.lr, args.epochs, len(train)), device=ctx.device, out=None)
    return model, f"trained here ({args.epochs} epoch(s) on {len(data['train'][0])} images)"


def load_lesson03_cnn(folder):
    """Lesson 03's trained CNN from ``<folder>/checkpoint.pt`` (written by ``fit``), or None.

    The checkpoint holds only the weights; the architecture (blocks, kernel size, width, hidden
    units) is read back from their shapes, and ``load_state_dict(strict=True)`` confirms it."""
    path = folder / "checkpoint.pt"
    if not (path.is_file() and (folder / "results.json").is_file()):  # results.json: lesson 03 finished
        return None
    try:
        sd = torch.load(path, map_location="cpu", weights_only=True)["model"]
        sd = {k.removeprefix("module."): v for k, v in sd.items()}  # saved from a DDP wrapper
        model = CNN(cnn_config_from_weights(sd))
        model.load_state_dict(sd, strict=True)
    except Exception as e:  # a stale or foreign file: say so and train instead
        print(f"note: could not reuse {path} ({str(e).splitlines()[0][:160]}); training a CNN here instead")
        return None
    return model, f"lesson 03 ({path})"


def cnn_config_from_weights(sd):
    """CNNConfig of a CNN state dict, from the shapes of its conv and linear weights."""
    convs = [(k, v) for k, v in sd.items() if k.startswith("features.") and k.endswith(".weight") and v.ndim == 4]
    linears = [v for k, v in sd.items() if k.startswith("head.") and k.endswith(".weight") and v.ndim == 2]
    blocks = sorted({int(k.split(".")[1]) for k, _ in convs})
    first = convs[0][1]                                     # (width, in_channels, k, k)
    return CNNConfig(in_channels=first.shape[1], num_classes=linears[-1].shape[0], conv_blocks=len(blocks),
                     kernel_size=first.shape[-1], width=first.shape[0],
                     convs_per_block=sum(1 for k, _ in convs if k.startswith("features.0.")),
                     hidden=linears[0].shape[0] if len(linears) > 1 else 0)


def cam_layer(cnn):
    """The last conv block's output (7x7 for a 28x28 input with 2 blocks): the usual Grad-CAM choice,
    the deepest layer that still has a spatial layout."""
    return f"features.{len(cnn.features) - 1}"


# %% 2. Grad-CAM on right and wrong predictions, and the error gallery
def fashion_maps(ctx, model, data, classes, n_show):
    x, y = data["test"]
    images = data["test_images"]
    probs = torch.softmax(predict(model, x, device=ctx.device), 1)
    conf, pred = probs.max(1)
    right = (pred == y).nonzero().squeeze(1)[:n_show]
    wrong = (pred != y).nonzero().squeeze(1)[:n_show]
    figures = []

    def gallery(idx, cls, titles, name, title):
        # one Grad-CAM call for the whole batch; the target of image i is class cls[i]
        res = _cam(model, cam_layer(model), x[idx].to(ctx.device), [ClassTarget(c) for c in cls])
        plots.plot_gradcam_gallery(images[idx], res.heatmap.cpu(), titles, ctx.out / name, suptitle=title)
        figures.append(name)

    gallery(right, pred[right].tolist(), [f"{classes[p]} ({c:.2f})" for p, c in zip(pred[right], conf[right])],
            "gradcam_fashion_right.png", "right predictions: map of the predicted class")
    gallery(wrong, pred[wrong].tolist(),
            [f"true {classes[t]}\npred {classes[p]} ({c:.2f})" for t, p, c in zip(y[wrong], pred[wrong], conf[wrong])],
            "gradcam_fashion_wrong.png", "wrong predictions: map of the (wrong) predicted class")

    # The error gallery: where the model looks when it confuses a pair, and its most confident mistakes
    cm = diagnostics.confusion_matrix(y, pred, len(classes))
    pairs = diagnostics.most_confused_pairs(cm, k=3)
    idx, cls, titles = [], [], []
    for t, p, count in pairs:
        sel = ((y == t) & (pred == p)).nonzero().squeeze(1)[:4]
        for i in sel.tolist():
            idx.append(i)
            cls.append(p)
            titles.append(f"{classes[t]} -> {classes[p]}\n({count}x, p={conf[i]:.2f})")
    if idx:
        gallery(torch.tensor(idx), cls, titles, "diagnostics_confused_pairs.png",
                "most-confused pairs (true -> predicted): map of the predicted class")
    w_idx, w_pred, w_conf = diagnostics.worst_mistakes(probs, y, k=n_show)
    if len(w_idx):
        gallery(w_idx, w_pred.tolist(),
                [f"true {classes[t]}\npred {classes[p]} ({c:.3f})" for t, p, c in zip(y[w_idx], w_pred, w_conf)],
                "diagnostics_worst_mistakes.png", "the most confident mistakes: map of the predicted class")
    summary = {
        "most_confused": [{"true": classes[t], "predicted": classes[p], "count": c} for t, p, c in pairs],
        "worst_mistakes": [{"index": int(i), "true": classes[int(y[i])], "predicted": classes[int(p)],
                            "confidence": round(float(c), 4)} for i, p, c in zip(w_idx, w_pred, w_conf)],
        "right_shown": len(right), "wrong_shown": len(wrong),
    }
    return figures, summary


def _cam(model, layer, x, targets):
    with GradCAM(model, layer) as cam:   # hooks exist only inside this block
        return cam(x, targets)


# %% 3. The sanity check: does the map depend on the weights? (Adebayo et al. 2018)
def sanity_check(ctx, model, data, n_images):
    x = data["test"][0][:n_images].to(ctx.device)
    layer = cam_layer(model)
    rows = cascading_randomization(model, layer, x, seed=ctx.args.seed, keep_maps=True)  # down to the input
    # one image's map along the cascade: original, after the head, after the CAM layer, all random
    names = [r["randomized"] for r in rows]
    at_layer = max(i for i, n in enumerate(names) if n and (n == layer or n.startswith(layer + ".")))
    picks = [0, 1, at_layer, len(rows) - 1]
    # show an image whose original map is not empty (a CAM can be all zero: no positive evidence)
    show = int(rows[0]["heatmap"].flatten(1).amax(1).gt(0).float().argmax())
    maps = [rows[i]["heatmap"][show].cpu() for i in picks]
    titles = [f"{'original' if i == 0 else 'down to ' + names[i]}\nrho={rows[i]['rank_correlation']:.2f}" for i in picks]
    plots.plot_sanity_check(rows, data["test_images"][show], maps, titles, ctx.out / "sanity_check.png")
    for r in rows:
        print(f"  re-initialised down to {str(r['randomized']):>16}: mean rank correlation {r['rank_correlation']:+.3f}")
    return {
        "layer": layer, "images": len(x),
        "empty_original_maps": int(rows[0]["heatmap"].flatten(1).amax(1).eq(0).sum()),
        "unchanged": rows[0]["rank_correlation"],
        "after_cam_layer": rows[at_layer]["rank_correlation"],
        "after_all": rows[-1]["rank_correlation"],
        "steps": [{"randomized": r["randomized"], "rank_correlation": r["rank_correlation"]} for r in rows],
    }, ["sanity_check.png"]


# %% 4. ResNet-18 on a photo with two objects: one map per class
def resnet_two_objects(ctx):
    args = ctx.args
    try:
        model, kind = load_resnet18(args.weights, ctx.data_dir, allow_download=not args.no_download, verbose=False)
    except DataUnavailable as e:
        print(f"ImageNet weights unavailable: {e}")
        model, kind = load_resnet18("random", ctx.data_dir, verbose=False)
    if kind == "random":
        print(f"\n{'!' * 100}\nWARNING: ResNet-18 with RANDOM weights: its Grad-CAM maps below show the mechanics only, "
              f"not what a trained\nnetwork looks at (and its 'classes' mean nothing). Put resnet18-f37072fd.pth in "
              f"{ctx.data_dir / 'weights'} to see them.\n{'!' * 100}\n")
    path = pathlib.Path(args.image) if args.image else ctx.data_dir / "images" / "both.png"
    img = resize(read_image(path), (224, 224))           # (3, 224, 224) float in [0, 1]
    x = normalize(img).unsqueeze(0).to(ctx.device)      # (1, 3, 224, 224), ImageNet mean/std
    model = model.to(ctx.device)
    names = imagenet_classes()
    classes = list(TWO_OBJECTS)
    with GradCAM(model, RESNET_LAYER) as cam:
        per_class = cam(x.expand(len(classes), -1, -1, -1), [ClassTarget(c) for c in classes])
        top1 = cam(x)                                       # the network's own top-1 class
    logits = per_class.output[0].cpu()
    heat = list(per_class.heatmap.cpu()) + [top1.heatmap[0].cpu()]
    titles = [f"{c} {names[c]}\nlogit {logits[c]:.2f}" for c in classes] + \
             [f"top-1: {top1.classes[0]} {names[top1.classes[0]]}"]
    name = "gradcam_resnet_two_objects.png"
    plots.plot_gradcam(img, heat, titles, ctx.out / name,
                       suptitle=f"ResNet-18 ({kind} weights), Grad-CAM at {RESNET_LAYER}")
    return {
        "weights": kind, "image": path.name, "layer": RESNET_LAYER,
        "targets": [{"class": c, "name": names[c], "logit": float(logits[c])} for c in classes],
        "top1": {"class": top1.classes[0], "name": names[top1.classes[0]]},
        "top5": [{"name": n, "probability": round(p, 4)} for n, p in top_k(logits, 5, names)],
        # how different the two maps are: 1.0 would mean the class changed nothing
        "rank_correlation_243_vs_281": spearman(per_class.heatmap[0], per_class.heatmap[1]),
    }, [name]


# %% 5. YOLOv5: the map of one detection's confidence at the three neck outputs
def yolo_detection(ctx):
    args = ctx.args
    wpath = yolov5_weights(args.yolo_weights, "n", ctx.data_dir, allow_download=not args.no_download)
    model = load_yolov5(wpath).to(ctx.device).eval()
    path = pathlib.Path(args.detect_image) if args.detect_image else ctx.data_dir / "images" / "bus.jpg"
    img = read_image(path)                                        # (3, H, W) uint8
    boxed, _, _ = letterbox(img, 640 if not args.quick else 320)  # (3, h, w) uint8, sides multiples of 32
    x = (boxed.float() / 255).unsqueeze(0).to(ctx.device)         # (1, 3, h, w) in [0, 1]
    with torch.no_grad():
        raw = model(x)                                            # (1, A, 5 + 80) before NMS
    dets = non_max_suppression(raw, conf_thres=0.25, iou_thres=0.45)[0]  # (n, 6) xyxy conf cls, input pixels
    if len(dets) == 0:
        raise MTVError(f"YOLOv5 found nothing in {path} at confidence 0.25: pick another --detect-image")
    det = dets[0]                                                  # the most confident detection
    row = raw_row(raw[0], det)
    layers = ["neck.out3", "neck.out4", "neck.out5"]              # strides 8, 16, 32
    heat = []
    for layer in layers:
        heat.append(_cam(model, layer, x, [DetectionTarget(row, int(det[5]))]).heatmap[0].cpu())
    name = "gradcam_yolo_detection.png"
    shown = draw_box(x[0].cpu(), det[:4])
    plots.plot_gradcam(shown, heat, [f"{layer} (stride {s})" for layer, s in zip(layers, (8, 16, 32))],
                       ctx.out / name, suptitle=f"YOLOv5n: {model.names[int(det[5])]} {float(det[4]):.2f}")
    return {
        "weights": str(wpath.name), "image": path.name, "img_size": list(x.shape[-2:]), "detections": len(dets),
        "target": {"class": model.names[int(det[5])], "confidence": round(float(det[4]), 4),
                   "box_xyxy": [round(float(v), 1) for v in det[:4]], "raw_row": row},
        "layers": layers,
    }, [name]


def raw_row(raw, det):
    """Row of the raw predictions (A, 5 + nc) that NMS kept as ``det`` (x1, y1, x2, y2, conf, cls):
    the row with the same box and the same score (NMS copies both)."""
    c = int(det[5])
    err = (xywh_to_xyxy(raw[:, :4]) - det[:4]).abs().sum(1) + (raw[:, 4] * raw[:, 5 + c] - det[4]).abs()
    return int(err.argmin())


def draw_box(img, box, width=3):
    """img (3, H, W) in [0, 1]; a red rectangle at ``box`` (x1, y1, x2, y2)."""
    img = img.clone()
    h, w = img.shape[-2:]
    x1, y1, x2, y2 = [int(round(float(v))) for v in box]
    x1, x2 = max(0, min(x1, w - 1)), max(0, min(x2, w - 1))
    y1, y2 = max(0, min(y1, h - 1)), max(0, min(y2, h - 1))
    red = torch.tensor([1.0, 0.0, 0.0])[:, None, None]
    img[:, y1:y1 + width, x1:x2 + 1] = red
    img[:, max(y2 - width + 1, 0):y2 + 1, x1:x2 + 1] = red
    img[:, y1:y2 + 1, x1:x1 + width] = red
    img[:, y1:y2 + 1, max(x2 - width + 1, 0):x2 + 1] = red
    return img


# %% Run the lesson
def main():
    args = lesson_args(__doc__, epochs=2, batch_size=128, lr=3e-3, extra=extra_flags)
    if args.quick:
        args.epochs = 1
    ctx = setup(args, "06_interpretability")
    t0 = time.perf_counter()
    data = fashion_mnist_splits(ctx.data_dir, seed=args.seed, quick=args.quick, allow_download=not args.no_download)
    classes = data["classes"]
    model, source = fashion_cnn(ctx, data)
    model = model.to(ctx.device).eval()
    acc = evaluate(model, Batches(*data["test"], batch_size=1000), ctx.device)["accuracy"]
    print(f"FashionMNIST CNN from {source}: test accuracy {acc:.4f}")

    figures, mistakes = fashion_maps(ctx, model, data, classes, n_show=8)
    sanity, f = sanity_check(ctx, model, data, n_images=24 if args.quick else 64)
    figures += f
    resnet, f = resnet_two_objects(ctx)
    figures += f
    try:
        yolo_info, f = yolo_detection(ctx)
        figures += f
    except DataUnavailable as e:  # the other parts stand on their own: say so loudly and go on
        print(f"\nWARNING: YOLOv5 part skipped: {e}\n")
        yolo_info = {"skipped": str(e)}
    write_results(ctx.out, {
        "lesson": "06_interpretability",
        "figures": figures,
        "cnn": {"source": source, "test_accuracy": acc, "layer": cam_layer(model)},
        "mistakes": mistakes,
        "sanity_check": sanity,
        "resnet": resnet,
        "yolo": yolo_info,
        "seconds": time.perf_counter() - t0,
    })


if __name__ == "__main__":
    main_guard(main)
