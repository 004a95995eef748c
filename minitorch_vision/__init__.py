"""minitorch-vision: a from-scratch, plain-PyTorch course in computer vision.

Layers (imports only go downward; ``errors``, ``atomic`` and ``nnutil`` are used by every layer):
    data, examples, ops -> models -> detection, weights -> distributed, train, studies, transfer, diagnostics,
    gradcam, tblog -> plots, report, cli, lesson_flags -> lessons/, run_all.py
"""

__version__ = "0.1.0"
