"""minitorch-vision: a from-scratch, plain-PyTorch course in computer vision.

Layers (imports only go downward):
    data, ops -> models -> detection, weights -> train, diagnostics, gradcam -> plots, report, cli
"""

__version__ = "0.1.0"
