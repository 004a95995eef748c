"""What the course report says: its tables, built from the lessons' results.json dicts.

Per lesson, the tables its results hold (:data:`LESSON_TABLES`), and the **highlights**: the seed's
four claims, each next to the number measured in this run, its published anchor and whether the
claim holds here. ``lessons`` is :func:`minitorch_vision.report.collect`'s mapping
``{lesson: {"status", "seconds", "reason", "results", "folder"}}``.
"""
from .sanity import PASS_BELOW

# Published anchors of the highlights (the claims the course makes, with where the number comes from).
HUMAN_FASHION = 0.835        # Xiao, Rasul & Vollgraf 2017 (Fashion-MNIST), human performance
BENCHMARK_MLP = 0.883        # the same paper's benchmark MLPClassifier
OFFICIAL_YOLOV5N = {"precision": 0.6164, "recall": 0.4952, "map50": 0.5460, "map50_95": 0.3410}  # val.py, 640 px
COCO128_IMAGES = 128
PARITY_TOL = 0.005           # our mAP code vs val.py: same protocol, so equal up to rounding of boxes
NOT_MEASURED = "not measured in this run"
FOLD_BELOW = 5               # per-class detection rows with fewer instances fold into one line


# ------------------------------------------------------------------------------------- formatting
def fmt(v, digits=4):
    """A cell: floats to ``digits`` places, ints with thousands separators, booleans yes/no, None -."""
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return str(v)


def secs(v):
    """Seconds to one decimal, None -."""
    return "-" if v is None else f"{v:.1f}"


class Table:
    """A titled table: ``headers`` (column names), ``rows`` (lists of cells, already strings), an optional
    note; ``text``: the cells are sentences (left-aligned), not numbers."""

    def __init__(self, title, headers, rows, note="", text=False):
        self.title, self.headers, self.rows, self.note, self.text = title, headers, rows, note, text


def _get(lessons, name):
    return lessons[name]["results"] or {}


# ------------------------------------------------------------------------------------- highlights
def _fashion_claim(lessons):
    """CNN vs MLP at the same training budget (lesson 03's baseline when it has one, else lesson 02's
    MLP), and both models of lessons 02 and 03 against human accuracy."""
    r1, r2, r3 = _get(lessons, "01_representation"), _get(lessons, "02_mlp"), _get(lessons, "03_cnn")
    cnn, mlp = r3.get("test_accuracy"), r2.get("test_accuracy")
    same = (r3.get("mlp") or {}).get("test_accuracy", r3.get("mlp_test_accuracy"))
    parts = [f"CNN {fmt(cnn)} (03)", f"MLP {fmt(mlp)} (02)"] + ([f"MLP with the CNN's budget {fmt(same)} (03)"]
                                                                 if same is not None else [])
    if r1.get("linear_test_accuracy") is not None:
        parts.append(f"linear {fmt(r1['linear_test_accuracy'])} (01)")
    rival = same if same is not None else mlp
    if cnn is None or rival is None:
        verdict = NOT_MEASURED
    else:
        fails = ([f"the CNN does not beat the MLP{' with its budget' if same is not None else ''}"]
                 if cnn <= rival else [])
        fails += [f"{name} below human" for name, acc in (("CNN", cnn), ("MLP", mlp))
                  if acc is not None and acc <= HUMAN_FASHION]
        verdict = "holds" if not fails else "does not hold: " + ", ".join(fails)
    return ["A CNN beats an MLP on FashionMNIST, and both beat human performance", "; ".join(parts),
            f"human {HUMAN_FASHION}; benchmark MLP {BENCHMARK_MLP} (Xiao et al. 2017, Fashion-MNIST)", verdict]


def _backbone(r):
    """``"resnet18 (imagenet weights)"``: lesson 04's backbone and where its weights come from."""
    return f"{r.get('backbone', 'resnet18')} ({r.get('weights')} weights)"


def _transfer_claim(lessons):
    r = _get(lessons, "04_transfer")
    runs = r.get("runs") or []
    measured, verdict = "-", NOT_MEASURED
    if runs:
        k = min(x["shots"] for x in runs)
        best = {}
        for x in runs:
            if x["shots"] == k:
                best[x["mode"]] = max(best.get(x["mode"], 0.0), x["test_accuracy"])
        measured = f"{_backbone(r)}, {k} images per class: " + "; ".join(f"{m} {fmt(a)}" for m, a in best.items())
        if r.get("weights") == "random":
            verdict = "not tested: no pretrained weights (random backbone)"
        elif "scratch" in best and len(best) > 1:
            transferred = max(a for m, a in best.items() if m != "scratch")
            verdict = "holds" if transferred > best["scratch"] else "does not hold"
    return ["With few labelled images, pretrained features beat training from scratch", measured,
            "the direction of Yosinski et al. 2014 and Kornblith et al. 2019 (no number for this set-up)", verdict]


def _detection_claim(lessons):
    r = _get(lessons, "05_detection")
    measured, verdict = "-", NOT_MEASURED
    if r.get("map50") is not None:
        n = r.get("n_images")
        measured = (f"P {fmt(r['precision'])} R {fmt(r['recall'])} mAP@0.5 {fmt(r['map50'])} "
                    f"mAP@0.5:0.95 {fmt(r['map50_95'])} ({r.get('model')}, {r.get('img_size')} px, "
                    f"{n if n else 'a --quick subset of' if r.get('quick') else 'an unrecorded number of'} images)")
        comparable = r.get("model") == "yolov5n" and r.get("img_size") == 640 and n == COCO128_IMAGES
        if not comparable:
            verdict = "not comparable: needs yolov5n at 640 px on all 128 images"
        else:
            close = all(abs(r[k] - v) <= PARITY_TOL for k, v in OFFICIAL_YOLOV5N.items())
            verdict = f"matches (each within {PARITY_TOL})" if close else "differs"
    anchor = "official val.py, yolov5n on COCO128: " + " ".join(
        f"{k} {v}" for k, v in zip(("P", "R", "mAP@0.5", "mAP@0.5:0.95"), OFFICIAL_YOLOV5N.values()))
    return ["Our YOLOv5 reproduces the official evaluation", measured, anchor, verdict]


def _sanity_claim(lessons):
    s = _get(lessons, "06_interpretability").get("sanity_check") or {}
    measured, verdict = "-", NOT_MEASURED
    if s.get("after_cam_layer") is not None:
        measured = (f"rank correlation {fmt(s.get('unchanged'), 2)} for the same model, "
                    f"{fmt(s['after_cam_layer'], 2)} after re-initialising down to {s.get('layer')} "
                    f"({s.get('images')} images)")
        verdict = "passes" if abs(s["after_cam_layer"]) < PASS_BELOW else "fails"
    return ["Grad-CAM depends on the model's weights (sanity check)", measured,
            f"a map that passes falls towards 0 (Adebayo et al. 2018); pass: |rho| < {PASS_BELOW}", verdict]


def highlights(lessons, quick):
    """The seed's four claims: measured in this run, published anchor, verdict."""
    quick = " (quick: a smoke test)" if quick else ""
    rows = [f(lessons) for f in (_fashion_claim, _transfer_claim, _detection_claim, _sanity_claim)]
    return Table("Results highlights", ["claim", f"measured in this run{quick}", "published anchor",
                                        "in this run"], rows, text=True)



# ------------------------------------------------------------------------------------- per-lesson tables
def _model_row(label, r, acc_key):
    return [label, fmt(r.get(acc_key)), fmt(r.get("best_val_accuracy")), fmt(r.get("epochs")),
            secs(r.get("train_seconds")), fmt(r.get("params"))]


_MODEL_HEADERS = ["model", "test accuracy", "best val accuracy", "epochs", "train seconds", "parameters"]


def linear_tables(r):
    return [Table("The linear classifier", _MODEL_HEADERS, [_model_row("linear (softmax on pixels)", r,
                                                                        "linear_test_accuracy")])]


def mlp_tables(r):
    return [Table("The MLP", _MODEL_HEADERS, [_model_row("MLP " + "-".join(map(str, r.get("hidden", []))), r,
                                                         "test_accuracy")])]


def cnn_tables(r):
    """The CNN next to lesson 02's MLP trained with the same budget (``mlp``), and the kernel study."""
    rows = [_model_row("CNN", r, "test_accuracy")]
    mlp = r.get("mlp") or ({"test_accuracy": r["mlp_test_accuracy"]} if r.get("mlp_test_accuracy") is not None else None)
    if mlp:
        rows.append(["MLP, the CNN's budget", fmt(mlp["test_accuracy"]), "-",
                     fmt((mlp.get("budget") or {}).get("epochs", r.get("epochs"))), secs(mlp.get("train_seconds")),
                     fmt(mlp.get("params"))])
    study = r.get("kernel_study") or []
    split = "val" if study and "val_accuracy" in study[0] else "test"   # the study scores on validation data
    rows_k = [[fmt(k.get("kernel_size")), fmt(k.get("conv_blocks")), fmt(k.get(f"{split}_accuracy")),
               fmt(k.get("params")), "-" if k.get("multiply_adds") is None else f"{k['multiply_adds'] / 1e6:.2f}",
               secs(k.get("train_seconds"))] for k in study]
    verdict = r.get("kernel_study_verdict")
    return [Table("CNN vs MLP", _MODEL_HEADERS, rows),
            Table("Kernel size and depth", ["kernel size", "conv blocks", f"{split} accuracy", "parameters",
                                             "M multiply-adds / image", "train seconds"], rows_k,
                  verdict.get("text", "") if isinstance(verdict, dict) else "")]


def transfer_tables(r):
    rows = [[k.get("mode"), fmt(k.get("shots")), fmt(k.get("augment")), fmt(k.get("test_accuracy")),
             secs(k.get("train_seconds"))] for k in r.get("runs", [])]
    note = f"backbone {_backbone(r)}; classes: {', '.join(map(str, r.get('classes', [])))}"
    if r.get("backbone_note"):
        note += f"; {r['backbone_note']}"
    if r.get("weights") == "random":
        note += " (RANDOM weights: nothing was transferred, the comparison shows the mechanics only)"
    return [Table("Scratch vs frozen vs fine-tuned", ["mode", "images per class", "augment", "test accuracy",
                                                      "train seconds"], rows, note)]


def fold_classes(per_class, below=FOLD_BELOW):
    """Per-class rows, the classes with fewer than ``below`` instances folded into one row of their
    class means (a class seen 1-3 times says little on its own)."""
    keep = [c for c in per_class if (c.get("instances") or 0) >= below]
    few = [c for c in per_class if (c.get("instances") or 0) < below]
    rows = [[c.get("name"), fmt(c.get("images")), fmt(c.get("instances")), fmt(c.get("precision")),
             fmt(c.get("recall")), fmt(c.get("map50")), fmt(c.get("map50_95"))] for c in keep]
    if few:
        mean = {k: sum(c.get(k) or 0.0 for c in few) / len(few) for k in ("precision", "recall", "map50", "map50_95")}
        rows.append([f"{len(few)} classes with < {below} instances (class mean)", "-",
                     fmt(sum(c.get("instances") or 0 for c in few)), *(fmt(v) for v in mean.values())])
    return rows


def detection_tables(r):
    if r.get("map50") is None:
        return []
    rows = [["all", fmt(r.get("n_images")), fmt(r.get("n_labels")), fmt(r.get("precision")), fmt(r.get("recall")),
             fmt(r.get("map50")), fmt(r.get("map50_95"))]] + fold_classes(r.get("per_class", []))
    return [Table("Precision, recall and mAP per class on COCO128",
                  ["class", "images", "instances", "P", "R", "mAP@0.5", "mAP@0.5:0.95"], rows,
                  f"model {r.get('model')} at {r.get('img_size')} px")]


def interpretability_tables(r):
    s = r.get("sanity_check") or {}
    if not s:
        return []
    rows = [[st.get("randomized") or "nothing (the same model again)", fmt(st.get("rank_correlation"), 3)]
            for st in s.get("steps", [])]
    return [Table("Sanity check (Adebayo et al. 2018): layers re-initialised from the head down",
                  ["re-initialised down to", "mean Spearman rank correlation"], rows,
                  f"Grad-CAM at {s.get('layer')}, mean over {s.get('images')} test images")]


LESSON_TABLES = {"01_representation": linear_tables, "02_mlp": mlp_tables, "03_cnn": cnn_tables,
                 "04_transfer": transfer_tables, "05_detection": detection_tables,
                 "06_interpretability": interpretability_tables}
