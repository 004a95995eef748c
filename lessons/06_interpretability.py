# %% [markdown]
# # Lesson 06 - Grad-CAM: which pixels made the model say that?
#
# After this lesson you can compute a Grad-CAM map (Selvaraju et al. 2017) by hand from a layer's
# activations and gradients, read the maps of right and wrong predictions, run the sanity check of
# Adebayo et al. 2018 that asks whether a map explains the model at all, and explain a pretrained
# classifier on a photo and one YOLOv5 detection.
#
# **Needs**: FashionMNIST; lesson 03's trained CNN if you ran it (else a small one is trained here);
# `yolov5n.pt` and the photos `bus.jpg`, `both.png` in `<data>/images`; the ResNet-18 ImageNet weights
# for the photo part (downloaded when possible; without them that part is skipped, not faked).
# **Time** on a 2-core CPU: about 1 minute (also with `--quick`); 5 when it trains its own CNN.

# %%
flags = ""  # in a notebook, e.g. "--quick"; $MTV_ARGS wins; from the shell the command line is used
import torch
from minitorch_vision.cli import lesson_args, setup, write_results
from minitorch_vision.data.fashion_mnist import fashion_mnist_splits
from minitorch_vision import explain
args = lesson_args("Lesson 06 - Grad-CAM and its sanity check", flags, epochs=2, quick_epochs=1, batch_size=128,
                   lr=3e-3, extra=explain.lesson_flags)
ctx = setup(args, "06_interpretability")
data = fashion_mnist_splits(ctx.data_dir, seed=args.seed, quick=args.quick, allow_download=not args.no_download)

# %% [markdown]
# ## 1. A model to explain
# Lesson 03's CNN: two conv blocks, then a linear head. Its last conv block keeps a 7x7 spatial layout
# (64 channels): the deepest place that still knows *where* things are, so that is where Grad-CAM looks.

# %%
from minitorch_vision.data.loader import Batches
from minitorch_vision.train import evaluate, predict
model, source = explain.fashion_cnn(data, args, ctx.device, log_dir=ctx.tb_dir("cnn"))
acc = evaluate(model, Batches(*data["test"], batch_size=1000), ctx.device)["accuracy"]
layer = f"features.{len(model.features) - 1}"
print(f"FashionMNIST CNN, {source}: test accuracy {acc:.4f}; Grad-CAM layer {layer}")

# %% [markdown]
# ## 2. Grad-CAM by hand
# Take the layer's activations `A` (K maps of h x w) and the gradient of one class score `y` (the logit,
# before softmax) with respect to them. Each channel gets one weight, its mean gradient
# `w_k = mean over (i, j) of dy/dA_k[i, j]`: how much that feature, wherever it fires, raises the score.
# The map is `ReLU(sum_k w_k A_k)`: only evidence *for* the class. The CNN is `features` then `head`,
# so we can catch both tensors without any hook and check the library (which uses hooks) against them.

# %%
from minitorch_vision.gradcam import grad_cam
x1 = data["test"][0][:1].to(ctx.device)                      # (1, 1, 28, 28), one test image
A = model.features(x1).detach().requires_grad_(True)        # (1, K, h, w) activations
logits = model.head(A)                                       # (1, 10)
c = int(logits.argmax())                                     # explain the predicted class
G, = torch.autograd.grad(logits[0, c], A)                   # (1, K, h, w) dy/dA
w = G.mean(dim=(2, 3))                                       # (1, K) one weight per channel
cam = torch.relu((w[:, :, None, None] * A.detach()).sum(1))  # (1, h, w)
print(f"A {tuple(A.shape)}  dy/dA {tuple(G.shape)}  w {tuple(w.shape)}  map {tuple(cam.shape)}")
print("first channel weights:", [round(v, 4) for v in w[0, :5].tolist()])
lib = grad_cam(model, layer, x1, c)
diff = max((cam - lib.lowres).abs().max().item(), (w - lib.weights).abs().max().item())
k = int(w.argmax())
print(f"channel {k} raises the score most (w_k = {w[0, k]:.4f}); its activations A_k:")
print(A[0, k].detach().cpu().numpy().round(2))
print(f"class {data['classes'][c]}: max |by hand - library| = {diff:.2e}; the map ReLU(sum_k w_k A_k):")
assert diff < 1e-5, diff
print(cam[0].cpu().numpy().round(3))

# %% [markdown]
# The library upsamples that 7x7 map to 28x28 and scales it to [0, 1] (as pytorch-grad-cam 1.5.7 does,
# tested within 1e-5). Now for many images at once: right predictions, then the most confident mistakes,
# each explained for the class the model chose.

# %%
from minitorch_vision import diagnostics
from minitorch_vision.plots.gradcam import plot_gradcam_gallery
x, y = data["test"]
probs = torch.softmax(predict(model, x, device=ctx.device), 1)
conf, pred = probs.max(1)
classes = data["classes"]


def gallery(idx, titles, name, title, caption):
    res = grad_cam(model, layer, x[idx].to(ctx.device), pred[idx].tolist())   # one call, the whole batch
    plot_gradcam_gallery(data["test_images"][idx], res.heatmap.cpu(), titles, ctx.out / name,
                         suptitle=f"CNN on FashionMNIST: {title}", caption=caption)
    return int(res.lowres.flatten(1).amax(1).eq(0).sum())  # flat maps: no positive evidence


right = (pred == y).nonzero()[:8, 0]
gallery(right, [f"{classes[p]} ({c:.2f})" for p, c in zip(pred[right], conf[right])], "gradcam_right.png",
        "right predictions", "The hot regions are the parts that identify the class: collars, soles, straps.")
worst, _, _ = diagnostics.worst_mistakes(probs, y, k=8)     # the most confident wrong predictions
flat_mistakes = gallery(worst, [f"true {classes[t]}\npred {classes[p]} ({c:.2f})" for t, p, c in
                             zip(y[worst], pred[worst], conf[worst])], "gradcam_mistakes.png",
                     "its most confident mistakes, map of the predicted class",
                     "The evidence for the wrong class often sits on a part both classes share: a sole, a body.")
pairs = diagnostics.most_confused_pairs(diagnostics.confusion_matrix(y, pred, len(classes)), k=3)
print("most confused (true -> predicted):", [f"{classes[t]} -> {classes[p]} ({n}x)" for t, p, n in pairs])

# %% [markdown]
# What to look at: in the right predictions the map sits on the telling part; in the mistakes it shows
# what the model took as evidence for its (wrong) class, often for one of the pairs printed above. A flat
# map says there was *no* positive evidence: every position's weighted sum was negative, the ReLU cut it all.
#
# ## 3. Sanity check: does the map depend on the model?
# A map that looks plausible might only be tracing edges of the input. Adebayo et al. re-initialise the
# layers one by one from the head down and compare each new map with the original (Spearman rank
# correlation). A map that explains the model must change: the correlation falls towards 0.

# %%
from minitorch_vision.plots.gradcam import plot_sanity_check
from minitorch_vision.sanity import cascade_summary, cascading_randomization
xs = x[:24 if args.quick else 64].to(ctx.device)
rows = cascading_randomization(model, layer, xs, seed=args.seed, keep_maps=True)
sanity = cascade_summary(rows, layer)
show = int(rows[0]["heatmap"].flatten(1).amax(1).gt(0).float().argmax())   # an image whose map is not flat
picks = [0, 1, sanity["cam_step"], len(rows) - 1]
plot_sanity_check(rows, data["test_images"][show], [rows[i]["heatmap"][show].cpu() for i in picks],
                  ["original" if i == 0 else f"random down to\n{rows[i]['randomized']}" for i in picks],
                  ctx.out / "sanity_check.png", cam_step=sanity["cam_step"],
                  caption="Grad-CAM passes: its rank correlation falls to near 0 once the CAM layer is random.")
for r in rows:
    print(f"  random down to {r['randomized'] or 'unchanged':>14}: rank correlation {r['rank_correlation']:+.3f}")

# %% [markdown]
# What to look at: the curve starts at 1 (same model, same map) and drops once the head and the CAM
# layer are random: Grad-CAM passes. A method that ignored the weights would stay on the red line.
#
# ## 4. A pretrained classifier on a photo: one image, two objects, one map per class
# `both.png` holds a dog and a cat. The activations of the last stage are the same for both classes;
# only the channel weights `w_k` differ, so the two maps can point at different animals. The network must
# be *trained*: ResNet-18 (ImageNet) when its weights are there, else a classifier on the COCO-trained
# YOLOv5n backbone (lesson 04's, or a head trained here in seconds). An untrained network is never used.

# %%
from minitorch_vision.plots.gradcam import plot_gradcam
from minitorch_vision.sanity import spearman
clf, photo_info = explain.photo_classifier(args, ctx.data_dir, ctx.device)
for name, img in (clf.photos.items() if clf else []):
    xp, shown = clf.prepare(img)                                       # (1, 3, S, S)
    n = len(clf.targets)
    res = grad_cam(clf.model, clf.layer, xp.expand(n, -1, -1, -1).to(ctx.device), clf.targets)  # same image n times
    p = torch.softmax(res.output[0], 0)
    top = int(p.argmax())
    plot_gradcam(shown, list(res.heatmap.cpu()), [f"map for {clf.names[t]} (p={p[t]:.2f})" for t in clf.targets],
                 ctx.out / f"gradcam_photo_{name.split('.')[0]}.png",
                 suptitle=f"{clf.source}\n{name}: top-1 {clf.names[top]} ({p[top]:.2f}), Grad-CAM at {clf.layer}",
                 caption="Where each class's evidence sits: the same activations, other channel weights.")
    photo_info[name] = {"top1": clf.names[top], "p": {clf.names[t]: float(p[t]) for t in clf.targets},
                        "flat_maps": int(res.lowres.flatten(1).amax(1).eq(0).sum()),
                        "rank_correlation_between_maps": spearman(res.heatmap[0], res.heatmap[-1])}

# %% [markdown]
# What to look at: on `both.png` the dog's map should sit on the dog and the cat's on the cat (their rank
# correlation is in results.json). Each map is scaled to its own maximum, so the map of an unlikely class
# (small p) looks as red as a likely one: on `cat.png` the dog's map shows the most dog-like part.
#
# ## 5. Explaining one detection
# For YOLOv5 the score is one detection's confidence (objectness x class score) before NMS. We map it at
# the three neck outputs (strides 8, 16, 32): the level whose anchors fit the object's size should light up.

# %%
from minitorch_vision.detection.draw import draw_box
from minitorch_vision.gradcam import DetectionTarget
d, yolo_info = explain.yolo_detection(args, ctx.data_dir, ctx.device, 320 if args.quick else 640)
if d is not None:
    print(f"{d.count} detections; explaining {d.name} {float(d.det[4]):.2f} (row {d.row} of {tuple(d.pred.shape)})")
    necks = ["neck.out3", "neck.out4", "neck.out5"]
    heat = [grad_cam(d.model, n, d.x, DetectionTarget(d.row, int(d.det[5]))).heatmap[0].cpu() for n in necks]
    plot_gradcam(draw_box(d.x[0].cpu(), d.det[:4]), heat, [f"{n} (stride {s})" for n, s in zip(necks, (8, 16, 32))],
                 ctx.out / "gradcam_yolo_detection.png",
                 suptitle=f"YOLOv5n on {yolo_info['image']}: {d.name} {float(d.det[4]):.2f}",
                 caption="The level whose anchors match the object's size carries its evidence.")
    yolo_info.update(target=d.name, confidence=round(float(d.det[4]), 4), layers=necks)

# %% [markdown]
# ## Summary
# The measured numbers of this run, beside the published ones.

# %%
print(f"CNN test accuracy {acc:.4f} ({source}); lesson 03 reaches >= 0.925")
print(f"Grad-CAM by hand vs library: {diff:.1e}; library vs pytorch-grad-cam 1.5.7: <= 1e-5 (tests)")
print(f"sanity check at {layer}: rank correlation {sanity['unchanged']:.2f} unchanged, "
      f"{sanity['after_cam_layer']:.2f} once the CAM layer is random, {sanity['after_all']:.2f} all random "
      "(Adebayo et al. 2018: Grad-CAM passes the model-randomisation test)")
print(f"photos explained with: {photo_info.get('skipped') or photo_info['source']}")
write_results(ctx, {"cnn": {"source": source, "test_accuracy": acc, "layer": layer},
                    "by_hand_max_abs_diff": diff, "flat_mistake_maps": flat_mistakes,
                    "most_confused": [{"true": classes[t], "predicted": classes[p], "count": n} for t, p, n in pairs],
                    "sanity_check": {**sanity, "images": len(xs)}, "photo": photo_info, "yolo": yolo_info})

# %% [markdown]
# ## Exercises
# 1. Explain the *true* class instead of the predicted one in the mistakes gallery: where does it see it?
# 2. Grad-CAM at the first conv block (`features.0`, 14x14): sharper maps, but do they pass the sanity check?
# 3. Weigh each position instead of each channel: `ReLU(sum_k G_k * A_k)` (no mean over (i, j); the idea of
#    LayerCAM, Jiang et al. 2021). Compute it in the by-hand cell: how different is it from Grad-CAM's map?
# 4. Check cell below (run with `--check-exercises`, or set `args.check_exercises = True`): make the
#    by-hand map explain the *second most likely* class for image 0, and check it against the library.

# %%
if args.check_exercises:
    second = int(model(x1).topk(2).indices[0, 1])
    assert c == second, f"exercise 4: c is {c} (the top-1 class); make the by-hand cell explain class {second}"
    print("exercise 4 done")
