"""The flags of lessons 01-05 beyond the shared ones: each lesson's set-up cell passes one of these
functions to :func:`cli.lesson_args` as ``extra=``, so ``--help`` lists them with their defaults.
(Lesson 06 declares its own in :mod:`minitorch_vision.explain`.)"""
import argparse

from .backbones import BACKBONES
from .data import cifar10
from .flags import class_list, dropout_rate, int_list, int_range, multiple_of, positive_int, probability
from .transfer import DEFAULT_CLASSES


# The kernel study's budget per configuration, (epochs, training images). With the full one the best is
# 3x3 with 2 blocks on seeds 0, 1 and 2, by 10-11 of the 5,000 validation images each (at 3 epochs by 1 on
# seed 0; at 2 the seeds disagreed); seed 3 picks 7x7 with 3 blocks (benchmarks/RESULTS.md). Quick: a smoke test.
STUDY = (4, 10000)
QUICK_STUDY = (1, 1000)


def study_budget(args):
    """``(epochs, training images)`` per study configuration: the flags if given, else the defaults above."""
    epochs, n = QUICK_STUDY if args.quick else STUDY
    return getattr(args, "study_epochs", epochs), getattr(args, "study_train", n)


def exercise_flag(p):
    p.add_argument("--check-exercises", action="store_true",
                   help="run the exercise checks at the end (they fail until the exercises are done)")


def representation_flags(p):
    """Lesson 01."""
    p.add_argument("--image", help="a colour image of your own for the channels demo")
    exercise_flag(p)


def mlp_flags(p):
    """Lesson 02."""
    p.add_argument("--hidden", type=int_list, default="512,256", help="hidden layer widths, comma-separated")
    p.add_argument("--dropout", type=dropout_rate, default=0.2, help="dropout probability after each hidden layer")
    p.add_argument("--resume", action="store_true", help="continue from <out>/checkpoint.pt")
    exercise_flag(p)


def cnn_flags(p):
    """Lesson 03: the main model, the kernel study's budget, the time-to-accuracy target."""
    p.add_argument("--kernel-size", type=positive_int, default=3, help="conv kernel size of the main model")
    p.add_argument("--conv-blocks", type=int_range(1, 4),  # 28 -> 14 -> 7 -> 3 -> 1
                   default=2, help="conv blocks of the main model")
    p.add_argument("--width", type=positive_int, default=32, help="channels of the first block (doubled per block)")
    p.add_argument("--study-epochs", type=positive_int, default=argparse.SUPPRESS,
                   help=f"epochs per configuration in the kernel study (default: {STUDY[0]}; {QUICK_STUDY[0]} with --quick)")
    p.add_argument("--study-train", type=positive_int, default=argparse.SUPPRESS,
                   help=f"training images per study configuration (default: {STUDY[1]}; {QUICK_STUDY[1]} with --quick)")
    p.add_argument("--study-width", type=positive_int, default=16, help="channels of the first block in the kernel study")
    p.add_argument("--skip-study", action="store_true", help="train the main model only")
    p.add_argument("--target", type=probability, default=0.925, help="report the wall time to this test accuracy")
    p.add_argument("--resume", action="store_true", help="continue from <out>/checkpoint.pt")
    exercise_flag(p)


# ---- lesson 04 (transfer learning) -----------------------------------------------------------------------
# Size flags: (default, default with --quick). A flag given on the command line keeps its value, --quick
# or not; SUPPRESS leaves it out of the parsed flags when not given, so ``transfer_quick_defaults`` can tell.
TRANSFER_QUICK = {"shots": ((5, 10, 50), (5, 10)), "test_per_class": (100, 20), "head_steps": (300, 150), "views": (8, 4)}


def transfer_flags(p):
    """Lesson 04's flags (``cli.lesson_args(extra=...)``); then call :func:`transfer_quick_defaults` on the result."""

    def default(name):
        full, quick = TRANSFER_QUICK[name]
        show = ",".join(map(str, full)) if isinstance(full, tuple) else full
        return f" (default: {show}; {','.join(map(str, quick)) if isinstance(quick, tuple) else quick} with --quick)"
    p.add_argument("--backbone", default="auto", choices=["auto", *BACKBONES],
                   help="pretrained backbone; auto: resnet18 when its ImageNet weights are present or can be "
                        "downloaded, else yolov5n (its COCO checkpoint is in every course data folder)")
    p.add_argument("--weights", default=None,
                   help="the backbone's weights: a file (default: <data>/weights/, downloaded if absent), or "
                        "'random' = an untrained backbone (the lesson's point is then lost)")
    p.add_argument("--size", type=int_range(32), default=None,
                   help="input resolution for every mode (default: the backbone's measured default per mode)")
    p.add_argument("--classes", type=class_list(cifar10.CLASSES), default=",".join(DEFAULT_CLASSES),
                   help="CIFAR-10 classes, comma-separated")
    p.add_argument("--shots", type=int_list, default=argparse.SUPPRESS,
                   help="training images per class, comma-separated" + default("shots"))
    p.add_argument("--test-per-class", type=positive_int, default=argparse.SUPPRESS,
                   help="held-out test images per class" + default("test_per_class"))
    p.add_argument("--head-steps", type=positive_int, default=argparse.SUPPRESS,
                   help="optimizer steps of the head on cached features" + default("head_steps"))
    p.add_argument("--views", type=positive_int, default=argparse.SUPPRESS,
                   help="augmented views cached per image for frozen + augmentation" + default("views"))
    p.add_argument("--source", default="auto", choices=["auto", "pickles", "images"],
                   help="CIFAR-10 from the official pickles or from <data>/cifar10-images/<split>/<class>/")
    p.add_argument("--image", default=None, help="a photo for the trained classifier (default: <data>/images/cat.png)")
    exercise_flag(p)


def transfer_quick_defaults(args):
    """Fill the size flags not given on the command line with their full or ``--quick`` default."""
    for name, (full, quick) in TRANSFER_QUICK.items():
        if not hasattr(args, name):
            setattr(args, name, quick if args.quick else full)
    return args


def detection_flags(p):
    """Lesson 05: the weights, the photos and the drawn boxes' thresholds."""
    p.add_argument("--weights", help="a YOLOv5 .pt file (default: weights/yolov5n.pt, downloaded if missing)")
    p.add_argument("--images", nargs="+", help="image files or folders to detect on (default: the sample photos)")
    p.add_argument("--img-size", type=multiple_of(32), default=640, help="input size (long side)")
    p.add_argument("--conf", type=probability, default=0.25, help="confidence threshold of the drawn boxes")
    p.add_argument("--iou", type=probability, default=0.45, help="NMS IoU threshold of the drawn boxes")
