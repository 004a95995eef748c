"""The models and inputs lesson 06 explains, each behind one function, so the lesson reads as the
experiment. A part that lacks what it needs is skipped, never faked: one line says why, and the
``{"skipped": why}`` it returns goes into results.json.

    fashion_cnn        lesson 03's trained CNN (its checkpoint), else one trained here briefly
    photo_classifier   a *pretrained* classifier for the photos of ``<data>/images``: ResNet-18 with its
                       ImageNet weights, else lesson 04's yolov5n-backbone classifier, else the yolov5n
                       COCO backbone with a head trained here; else None: a map of an untrained network
                       explains nothing
    yolo_detection     YOLOv5n on a letterboxed photo, and the detection whose confidence is explained
    read_photo         a sample photo (``<data>/images/<name>``, via the data manifest) or a path

Layer: above gradcam, train, weights and detection; beside cli (it reads ``runs_root`` for defaults).
"""
from dataclasses import dataclass, field
from pathlib import Path

import torch

from .classifier import load_classifier, train_linear_probe
from .cli import runs_root
from .data.images import read_image
from .data.imagenet import imagenet_classes
from .data.loader import Batches
from .data.manifest import ensure
from .data.transforms import IMAGENET_MEAN, IMAGENET_STD, center_crop, normalize, resize
from .detection.letterbox import letterbox
from .detection.nms import non_max_suppression
from .errors import DataUnavailable
from .gradcam import detection_row
from .lesson_flags import exercise_flag
from .models.cnn import CNN, CNNConfig
from .train import fit, one_cycle
from .weights import load_cnn_checkpoint, load_resnet18, yolov5_weights
from .yolov5_checkpoint import load_yolov5


def lesson_flags(p):
    """Lesson 06's own flags (``lesson_args(..., extra=lesson_flags)``)."""
    p.add_argument("--cnn-from", default=str(runs_root() / "03_cnn"),
                   help="lesson 03's output folder: its trained CNN is explained when found, else one is trained here")
    p.add_argument("--weights", default=None,
                   help="ResNet-18 ImageNet weights for the photo part (default: <data>/weights/resnet18-f37072fd.pth, "
                        "downloaded when absent; else a YOLOv5n-backbone classifier)")
    p.add_argument("--classifier-from", default=str(runs_root() / "04_transfer"),
                   help="lesson 04's output folder: its saved classifier explains the photos when there are no "
                        "ResNet-18 ImageNet weights (else a head is trained here on the yolov5n backbone)")
    p.add_argument("--yolo-weights", default=None, help="YOLOv5 weights (default: <data>/weights/yolov5n.pt)")
    p.add_argument("--image", default=None, help="photo with two objects (default: <data>/images/both.png)")
    p.add_argument("--detect-image", default=None, help="photo for YOLOv5 (default: <data>/images/bus.jpg)")
    exercise_flag(p)


def skipped(part, why):
    """Say in one line that ``part`` of the lesson is skipped and why; the results.json entry."""
    print(f"note: {part} skipped: {why}")
    return {"skipped": str(why)}


def read_photo(arg, name, data_dir, allow_download=True):
    """The photo ``arg`` (a path), or the course's sample ``images/<name>`` from the data folder
    (downloaded from its manifest URL when missing): uint8 (3, H, W). Raises DataUnavailable."""
    return read_image(Path(arg) if arg else ensure(f"images/{name}", data_dir, allow_download=allow_download))


# ----------------------------------------------------------------------------- the FashionMNIST CNN
def fashion_cnn(data, args, device, log_dir=None):
    """Lesson 03's CNN from ``args.cnn_from`` when it finished there, else the lesson-03 architecture
    trained here for ``args.epochs`` (Adam, 1cycle at ``args.lr``) on ``data["train"]``.

    Returns ``(model in eval mode on device, source)``, source saying which of the two it is.
    """
    found = load_cnn_checkpoint(args.cnn_from)
    if found is not None:
        model, source = found
        return model.to(device).eval(), source
    torch.manual_seed(args.seed)
    model = CNN(CNNConfig()).to(device)
    train = Batches(*data["train"], args.batch_size, shuffle=True, seed=args.seed)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    fit(model, train, Batches(*data["val"], batch_size=1000), epochs=args.epochs, opt=opt, device=device,
        sched=one_cycle(opt, args.lr, args.epochs, len(train)), out=None, log_dir=log_dir, progress=False)
    return model.eval(), f"trained here ({args.epochs} epoch(s) on {len(data['train'][0])} images)"


# ----------------------------------------------------------------------------- a pretrained classifier
PHOTOS = ("both.png", "cat.png")       # a dog and a cat; a cat alone (../shared/data/SOURCES.md)
PROBE_CLASSES = ("airplane", "automobile", "bird", "cat", "dog")
# The yolov5n classifiers learned from 32x32 CIFAR images, upsampled. On the photos, measured with the head
# trained here (seed 0): shown at 224 px (a 7x7 map at SPPF, as ResNet-18's layer4) the top-1 is right on
# both photos, and on both.png the dog's map puts 0.67 of its mass on the dog (0.42 if uniform), the cat's
# 0.32 on the cat (0.27); at 96-160 px the maps localise less (cat: 0.15-0.29). Squeezed through 32 px as
# in training, cat.png reads as a dog (0.78).
YOLO_PHOTO_SIZE = 224


@dataclass
class PhotoClassifier:
    """A pretrained classifier ready for Grad-CAM on the sample photos.

    model (eval mode); layer: the dotted name of its last conv stage (the usual Grad-CAM layer);
    names: class names; targets: the class indices worth a map (dog and cat, where it has them);
    size: the square input side; mean, std: its input normalisation; source: what it is, for titles;
    photos: ``{name: uint8 (3, H, W)}``.
    """
    model: torch.nn.Module
    layer: str
    names: list
    targets: list
    size: int
    mean: tuple
    std: tuple
    source: str
    photos: dict = field(default_factory=dict)

    def prepare(self, img):
        """uint8 photo (3, H, W) -> input (1, 3, size, size) and the [0, 1] image it shows (3, size, size):
        the central square resized (both.png is 224x224 already: nothing is cut off there)."""
        shown = resize(center_crop(img, min(img.shape[-2:])), self.size)   # (3, S, S) float in [0, 1]
        return normalize(shown, self.mean, self.std).unsqueeze(0), shown


def _targets(names):
    """Indices of a dog and a cat class among ``names`` (CIFAR-10 or ImageNet's 243 / 281), where present."""
    found = [next((names.index(n) for n in alts if n in names), None) for alts in (("dog", "bull mastiff"),
                                                                                   ("cat", "tabby"))]
    return [i for i in found if i is not None]


def photo_classifier(args, data_dir, device):
    """The pretrained classifier of the photo part, the first of:

    1. ResNet-18 with torchvision's ImageNet weights (``--weights``, the data folder, or a checksummed
       download); an explicit ``--weights`` file must load (no fallback);
    2. lesson 04's saved classifier (``<--classifier-from>/classifier.pt``, :func:`classifier.load_classifier`);
    3. the yolov5n COCO backbone with a linear head trained here on 50 CIFAR-10 images per class of
       :data:`PROBE_CLASSES` (:func:`classifier.train_linear_probe`, seconds on a CPU).

    Returns ``(PhotoClassifier, info for results.json)``, or ``(None, {"skipped": why})`` when none can
    be had or a photo is missing: a map of an untrained network would be shown as if it meant something.
    """
    if args.weights == "random":
        return None, skipped("the photo part", "--weights random: a map from an untrained network explains nothing")
    allow = not args.no_download
    try:
        photos = {n: read_photo(args.image if n == PHOTOS[0] else None, n, data_dir, allow) for n in PHOTOS}
    except DataUnavailable as e:
        return None, skipped("the photo part", e)
    try:
        model, _ = load_resnet18(args.weights, data_dir, allow_download=allow, verbose=False)
        names = imagenet_classes()
        clf = PhotoClassifier(model, "layer4", names, _targets(names), 224, IMAGENET_MEAN, IMAGENET_STD,
                              "ResNet-18 (ImageNet weights)")
        extra = {}
    except DataUnavailable:
        if args.weights:  # a file the user named must load
            raise
        print("note: no ResNet-18 ImageNet weights here: the photos are explained with a YOLOv5n-backbone classifier")
        try:
            clf, extra = _yolo_classifier(args, data_dir, device)
        except DataUnavailable as e2:
            return None, skipped("the photo part", f"no pretrained classifier: {e2}")
    clf.model, clf.photos = clf.model.to(device).eval(), photos
    return clf, {"source": clf.source, "layer": clf.layer, "size": clf.size, **extra}


def _yolo_classifier(args, data_dir, device):
    saved = Path(args.classifier_from) / "classifier.pt"
    info = None
    if saved.is_file():
        try:
            model, info = load_classifier(saved, data_dir, allow_download=not args.no_download)
            source = (f"lesson 04's {info.backbone} classifier ({info.mode}, {len(info.classes)} CIFAR-10 classes, "
                      f"test accuracy {info.test_accuracy:.2f})")
        except DataUnavailable as e:
            print(f"note: cannot reuse {saved} ({e}); training a head here instead")
        if info is not None and info.weights == "random":  # an untrained backbone explains nothing
            info = None
    if info is None:
        model, info = train_linear_probe("yolov5n", data_dir, PROBE_CLASSES, shots=50, seed=args.seed,
                                         allow_download=not args.no_download, device=device)
        source = (f"YOLOv5n backbone (COCO) + linear head trained here on {len(PROBE_CLASSES)} CIFAR-10 classes "
                  f"(test accuracy {info.test_accuracy:.2f})")
    classes = list(info.classes)
    clf = PhotoClassifier(model, info.spec.gradcam_layer, classes, _targets(classes), YOLO_PHOTO_SIZE, info.spec.mean,
                          info.spec.std, source)
    return clf, {"classes": list(info.classes), "test_accuracy": info.test_accuracy, "backbone": info.backbone}


# ----------------------------------------------------------------------------- a YOLOv5 detection
@dataclass
class Detection:
    """One detection to explain: the detector, its input ``x`` (1, 3, h, w) in [0, 1] (letterboxed),
    ``pred`` (A, 5 + nc) its decoded output before NMS, ``det`` (6,) the kept box (x1, y1, x2, y2,
    conf, cls) in input pixels, ``row`` the index of that box in ``pred``, ``count`` detections kept."""
    model: torch.nn.Module
    x: torch.Tensor
    pred: torch.Tensor
    det: torch.Tensor
    row: int
    count: int

    @property
    def name(self):
        return self.model.names[int(self.det[5])]


def yolo_detection(args, data_dir, device, img_size):
    """YOLOv5 (``--yolo-weights``, default yolov5n) on ``--detect-image`` (default bus.jpg) letterboxed to
    ``img_size``, NMS at confidence 0.25 / IoU 0.45, and its most confident detection.

    Returns ``(Detection, {"weights", "image"})``, or ``(None, {"skipped": why})`` without weights,
    photo or any detection.
    """
    try:
        path = yolov5_weights(args.yolo_weights, "n", data_dir, allow_download=not args.no_download)
        model = load_yolov5(path).to(device).eval()
        img = read_photo(args.detect_image, "bus.jpg", data_dir, not args.no_download)  # (3, H, W) uint8
    except DataUnavailable as e:
        return None, skipped("the YOLOv5 part", e)
    boxed, _, _ = letterbox(img, img_size)                                   # (3, h, w), sides multiples of 32
    x = (boxed.float() / 255).unsqueeze(0).to(device)                        # (1, 3, h, w) in [0, 1]
    with torch.no_grad():
        pred = model(x)[0]                                                   # (A, 5 + 80) decoded, before NMS
    dets = non_max_suppression(pred[None], conf_thres=0.25, iou_thres=0.45)[0]  # (n, 6)
    if len(dets) == 0:
        return None, skipped("the YOLOv5 part", "nothing detected at confidence 0.25 (pick another --detect-image)")
    det = dets[0]
    info = {"weights": path.name, "image": Path(args.detect_image).name if args.detect_image else "bus.jpg"}
    return Detection(model, x, pred, det, detection_row(pred, det), len(dets)), info
