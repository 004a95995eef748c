"""What does Grad-CAM cost on top of one forward + backward pass?

Grad-CAM is one forward pass (with a forward hook that keeps the layer's output) and one backward
pass (with a tensor hook that keeps its gradient), then a weighted sum and a resize. This measures,
in the same run, on the same model and input:

  plain:   out = model(x); out[:, c].sum().backward()         (parameters require grad, as in training)
  gradcam: with GradCAM(model, layer) as cam: cam(x, ClassTarget(c))   (hooks on and off included)

and prints the ratio gradcam / plain (goal <= 1.2). Median of interleaved repetitions.

    python benchmarks/gradcam_cost.py [--reps 15] [--threads 1]
"""
import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from minitorch_vision.gradcam import ClassTarget, GradCAM  # noqa: E402
from minitorch_vision.models.cnn import CNN, CNNConfig  # noqa: E402
from minitorch_vision.models.resnet import resnet18  # noqa: E402


def plain(model, x, c):
    model.zero_grad(set_to_none=True)
    out = model(x)
    out[:, c].sum().backward()


def gradcam(model, layer, x, c):
    with GradCAM(model, layer) as cam:
        return cam(x, ClassTarget(c))  # one target for every image


def measure(name, model, layer, x, reps):
    model.eval()
    c = 1
    for _ in range(3):  # warm-up (allocator, oneDNN primitives)
        plain(model, x, c)
        gradcam(model, layer, x, c)
    tp, tg = [], []
    for _ in range(reps):  # interleaved, so load changes hit both alike
        t = time.perf_counter()
        plain(model, x, c)
        tp.append(time.perf_counter() - t)
        t = time.perf_counter()
        gradcam(model, layer, x, c)
        tg.append(time.perf_counter() - t)
    p, g = statistics.median(tp), statistics.median(tg)
    print(f"{name:<34} plain fwd+bwd {p * 1e3:8.2f} ms   Grad-CAM {g * 1e3:8.2f} ms   ratio {g / p:.3f}")
    return g / p


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=15)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, {args.threads} thread(s), median of {args.reps}")
    r1 = measure("ResNet-18 layer4, 1x3x224x224", resnet18(), "layer4", torch.randn(1, 3, 224, 224), args.reps)
    cnn = CNN(CNNConfig())
    r2 = measure("lesson-03 CNN features.1, 1x1x28x28", cnn, "features.1", torch.randn(1, 1, 28, 28), args.reps * 10)
    r3 = measure("lesson-03 CNN features.1, 32x1x28x28", cnn, "features.1", torch.randn(32, 1, 28, 28), args.reps * 2)
    worst = max(r1, r2, r3)
    print(f"worst ratio {worst:.3f} (goal <= 1.2): {'OK' if worst <= 1.2 else 'ABOVE GOAL'}")


if __name__ == "__main__":
    main()
