"""Freezing a pretrained network stage by stage: one mixin for every backbone of lesson 04.

A model lists its stages in running order (``STAGES``, the head ``fc`` last) and says how to reach
one (``stage(name)``); :class:`Freezable` then freezes every stage before a given one. Used by
:class:`~minitorch_vision.models.resnet.ResNet` and
:class:`~minitorch_vision.models.yolov5.BackboneClassifier` (see ``minitorch_vision.transfer``).
"""
import torch.nn as nn


class Freezable:
    """``freeze(train_from)`` and a ``train()`` that keeps frozen stages (and BatchNorm statistics) fixed."""

    STAGES = ()       # stage names in running order, the head ("fc") last
    frozen = ()       # names of the stages frozen by the last ``freeze``

    def stage(self, name):
        return getattr(self, name)

    def freeze(self, train_from="fc"):
        """Freeze every stage before ``train_from`` (one of ``STAGES``); return the trainable parameters.

        Frozen stages get ``requires_grad=False`` (the optimizer never sees them and autograd stores no
        activations for them) and stay in eval mode even under ``model.train()``. While anything is
        frozen, every BatchNorm (in the trained stages too) keeps its pretrained running statistics and
        normalises with them; only its scale and shift train. Statistics from batches of a few dozen
        small images (the last stage is 2x2 at 64 px) are noisy, and would not match what the frozen
        stages were trained with (Detectron's "FrozenBN" for fine-tuning does the same).
        ``train_from="fc"``: a frozen backbone (linear probe); ``LAST_STAGE``: fine-tune the last stage;
        ``STAGES[0]``: train everything.
        """
        self.frozen = self.STAGES[:self.STAGES.index(train_from)]
        for name in self.STAGES:
            for p in self.stage(name).parameters():
                p.requires_grad_(name not in self.frozen)
        self.train(self.training)
        return [p for p in self.parameters() if p.requires_grad]

    def train(self, mode=True):
        super().train(mode)
        for name in self.frozen:
            self.stage(name).eval()  # frozen stages: no BatchNorm updates
        if self.frozen:  # adapting a pretrained network: every BN normalises with its pretrained statistics
            for m in self.modules():
                if isinstance(m, nn.BatchNorm2d):
                    m.eval()
        return self
