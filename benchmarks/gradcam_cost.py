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

from _common import median_times  # also puts the repository on the import path

import torch

from minitorch_vision.gradcam import ClassTarget, GradCAM
from minitorch_vision.models.cnn import CNN, CNNConfig
from minitorch_vision.models.resnet import resnet18


def plain(model, x, c):
    model.zero_grad(set_to_none=True)
    out = model(x)
    out[:, c].sum().backward()


def gradcam(model, layer, x, c):
    with GradCAM(model, layer) as cam:
        return cam(x, ClassTarget(c))  # one target for every image


def measure(name, model, layer, x, reps):
    model.eval()
    for _ in range(2):  # extra warm-up (allocator, oneDNN primitives) beyond median_times' one call
        plain(model, x, 1)
        gradcam(model, layer, x, 1)
    p, g = median_times([lambda: plain(model, x, 1), lambda: gradcam(model, layer, x, 1)], reps)
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
