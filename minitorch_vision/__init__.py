"""minitorch-vision: a from-scratch, plain-PyTorch course in computer vision.

Layers, from the bottom up. A module imports only modules listed before it (on an earlier line, or
earlier on its own line), so imports only go downward; ``tests/test_layers.py`` reads this list and
checks every import of the package against it. Lessons (``lessons/``) and ``run_all.py`` sit on top.

    base:       errors, flags, nnutil, distributed, atomic
    data:       data, data.paths, data.loader, data.transforms, data.imagenet, data.images, data.safe_pickle,
                data.download, data.archive, data.manifest, data.fashion_mnist, data.cifar10, data.prefetch,
                data.__main__, examples, ops
    models:     models, models.stages, models.cnn, models.mlp, models.resnet, models.yolov5
    detection:  detection, detection.boxes, detection.resize, detection.nms_sweep, detection.letterbox,
                detection.nms, detection.metrics, detection.labels, detection.coco, detection.coco_eval,
                detection.draw, detection.evaluate, detection.predict
    weights:    yolov5_checkpoint, weights
    training:   checkpoint, train, studies, backbones, transfer, classifier, diagnostics, gradcam, sanity,
                tblog
    output:     plots, plots.images, plots.training, plots.transfer, plots.detection, plots.gradcam,
                report_tables, report
    lessons:    cli, lesson_flags, explain
"""

__version__ = "0.1.0"
