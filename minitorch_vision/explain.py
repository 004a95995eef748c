"""The models and inputs lesson 06 explains, each behind one function, so the lesson reads as the
experiment. A part that lacks what it needs is skipped, never faked: one line says why, and the
``{"skipped": why}`` it returns goes into results.json.

    fashion_cnn        lesson 03's trained CNN (its checkpoint), else one trained here briefly
    photo_classifier   a *pretrained* classifier for the photos of ``<data>/images``: ResNet-18 with its
                       ImageNet weights, else None: a map of an untrained network explains nothing
    yolo_detection     YOLOv5n on a letterboxed photo, and the detection whose confidence is explained
    read_photo         a sample photo (``<data>/images/<name>``, via the data manifest) or a path

Layer: above gradcam, train, weights and detection; beside cli (it reads ``runs_root`` for defaults).
"""
from dataclasses import dataclass, field
from pathlib import Path

import torch

from .cli import runs_root
from .data.images import read_image
from .data.imagenet import imagenet_classes
from .data.loader import Batches
from .data.manifest import ensure
from .data.transforms import normalize, resize
from .detection.letterbox import letterbox
from .detection.nms import non_max_suppression
from .errors import DataUnavailable
from .gradcam import detection_row
from .models.cnn import CNN, CNNConfig
from .train import fit, one_cycle
from .weights import load_cnn_checkpoint, load_resnet18, load_yolov5, yolov5_weights


def lesson_flags(p):
    """Lesson 06's own flags (``lesson_args(..., extra=lesson_flags)``)."""
    p.add_argument("--cnn-from", default=str(runs_root() / "03_cnn"),
                   help="lesson 03's output folder: its trained CNN is explained when found, else one is trained here")
    p.add_argument("--weights", default=None,
                   help="ResNet-18 ImageNet weights (default: <data>/weights/resnet18-f37072fd.pth, downloaded when "
                        "absent); without them the photo part is skipped")
    p.add_argument("--yolo-weights", default=None, help="YOLOv5 weights (default: <data>/weights/yolov5n.pt)")
    p.add_argument("--image", default=None, help="photo with two objects (default: <data>/images/both.png)")
    p.add_argument("--detect-image", default=None, help="photo for YOLOv5 (default: <data>/images/bus.jpg)")
    p.add_argument("--check-exercises", action="store_true", help="run the exercise check cells")


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
@dataclass
class PhotoClassifier:
    """A pretrained classifier ready for Grad-CAM on a photo.

    model (eval mode); layer: the dotted name of its last conv stage (the usual Grad-CAM layer);
    names: class names; size: the square input side; imagenet_norm: whether inputs are ImageNet
    mean/std standardised (else RGB in [0, 1]); source: what it is, for the titles;
    pairs: ``{photo name: [class index, ...]}``, the classes worth a map on each sample photo.
    """
    model: torch.nn.Module
    layer: str
    names: list
    size: int
    imagenet_norm: bool
    source: str
    pairs: dict = field(default_factory=dict)

    def prepare(self, img):
        """uint8 photo (3, H, W) -> (1, 3, size, size) input and (3, size, size) float [0, 1] for display.
        A plain resize (no crop): both.png is 224x224 already, and nothing of an object is cut off."""
        shown = resize(img, (self.size, self.size))                         # (3, S, S) float in [0, 1]
        x = normalize(shown) if self.imagenet_norm else shown
        return x.unsqueeze(0), shown


def photo_classifier(args, data_dir, device):
    """The pretrained classifier for the photo part: ResNet-18 with torchvision's ImageNet weights
    (``--weights``, the data folder, or a checksummed download).

    Returns ``(PhotoClassifier, {"source": ...})``, or ``(None, {"skipped": why})`` when no pretrained
    network can be had: an untrained network's map would be shown as if it meant something.
    """
    if args.weights == "random":
        return None, skipped("the photo part", "--weights random: a map from an untrained network explains nothing")
    try:
        model, _ = load_resnet18(args.weights, data_dir, allow_download=not args.no_download, verbose=False)
    except DataUnavailable as e:
        return None, skipped("the photo part", f"no pretrained classifier ({e})")
    clf = PhotoClassifier(model.to(device).eval(), "layer4", imagenet_classes(), 224, True,
                          "ResNet-18 (ImageNet weights)", {"both.png": [243, 281], "cat.png": [281]})
    return clf, {"source": clf.source, "layer": clf.layer}


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
