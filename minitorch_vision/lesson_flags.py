"""The flags of lessons 01-03 beyond the shared ones: each lesson's set-up cell passes one of these
functions to :func:`cli.lesson_args` as ``extra=``, so ``--help`` lists them with their defaults."""
import argparse

from .flags import dropout_rate, int_list, int_range, positive_int, probability


# The kernel study's budget per configuration, (epochs, training images): the full one is the smallest
# measured to pick the same winner on two seeds (benchmarks/RESULTS.md); the quick one only smoke-tests.
STUDY = (2, 10000)
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
