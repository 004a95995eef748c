"""ResNet-18 (He, Zhang, Ren & Sun 2015, "Deep Residual Learning for Image Recognition"), by hand.

One file, top to bottom: the residual block, then the network. Attribute names follow
torchvision's ``resnet.py`` (``conv1 bn1 relu maxpool layer1..layer4 avgpool fc``, blocks with
``conv1 bn1 conv2 bn2 downsample.0/.1``), so ``state_dict()`` has exactly torchvision's 122 keys and
shapes and a torchvision file (``resnet18-f37072fd.pth``) loads with ``strict=True``.

Every op is out-of-place (no ``inplace=True``, no ``+=`` on activations): forward hooks, e.g. for
Grad-CAM, then see the tensors that really flowed through the network.

Shapes in the comments are for a 224x224 input; a 64x64 input gives 1/3.5 of each side
(64 -> 32 -> 16 -> 16 -> 8 -> 4 -> 2), the same number of parameters and ~12x fewer FLOPs.
"""
from dataclasses import dataclass

import torch
import torch.nn as nn

from .stages import Freezable


@dataclass
class ResNetConfig:
    layers: tuple = (2, 2, 2, 2)  # BasicBlocks per stage: (2, 2, 2, 2) is ResNet-18, (3, 4, 6, 3) ResNet-34
    widths: tuple = (64, 128, 256, 512)  # channels of layer1..layer4
    num_classes: int = 1000  # ImageNet-1k


class BasicBlock(nn.Module):
    """Two 3x3 convolutions plus a shortcut: ``relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x))``.

    When the block halves the resolution (``stride=2``) or changes the width, the shortcut is a
    1x1 convolution + BatchNorm (``downsample``, torchvision's "option B"); otherwise the identity.
    """

    def __init__(self, c_in, c_out, stride=1):
        super().__init__()
        # bias=False everywhere a BatchNorm follows: BN's own shift makes a conv bias redundant
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.relu = nn.ReLU()
        self.conv2 = nn.Conv2d(c_out, c_out, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.downsample = None
        if stride != 1 or c_in != c_out:
            self.downsample = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False), nn.BatchNorm2d(c_out))

    def forward(self, x):                                  # (B, c_in, H, W)
        out = self.relu(self.bn1(self.conv1(x)))           # (B, c_out, H/s, W/s)
        out = self.bn2(self.conv2(out))                    # (B, c_out, H/s, W/s)
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu(out + identity)                   # out-of-place add: hooks see both inputs


class ResNet(Freezable, nn.Module):
    """ResNet for ImageNet-sized inputs (torchvision layout). ``forward`` returns logits (B, classes)."""

    def __init__(self, config=None):
        super().__init__()
        self.config = config = config or ResNetConfig()
        w = config.widths
        # stem: a 7x7 stride-2 conv and a stride-2 max-pool shrink the image 4x before any block
        self.conv1 = nn.Conv2d(3, w[0], 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(w[0])
        self.relu = nn.ReLU()
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        # four stages; each but the first halves the resolution in its first block and doubles the width
        c_in = w[0]
        for i, (n, c_out) in enumerate(zip(config.layers, w)):
            stride = 1 if i == 0 else 2
            blocks = [BasicBlock(c_in, c_out, stride)] + [BasicBlock(c_out, c_out) for _ in range(n - 1)]
            setattr(self, f"layer{i + 1}", nn.Sequential(*blocks))
            c_in = c_out
        self.avgpool = nn.AdaptiveAvgPool2d(1)  # any input size -> one 512-vector per image
        self.fc = nn.Linear(w[-1], config.num_classes)
        self.reset_parameters()

    def reset_parameters(self):
        """torchvision's initialisation: Kaiming-normal (fan_out) convs, BN weight 1 / bias 0,
        Linear with PyTorch's default uniform init."""
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                m.reset_parameters()

    def forward_features(self, x):                      # (B, 3, 224, 224), ImageNet-normalised
        x = self.relu(self.bn1(self.conv1(x)))          # (B, 64, 112, 112)
        x = self.maxpool(x)                             # (B, 64, 56, 56)
        x = self.layer1(x)                              # (B, 64, 56, 56)
        x = self.layer2(x)                              # (B, 128, 28, 28)
        x = self.layer3(x)                              # (B, 256, 14, 14)
        x = self.layer4(x)                              # (B, 512, 7, 7)   <- Grad-CAM's usual target
        return torch.flatten(self.avgpool(x), 1)        # (B, 512)

    def forward(self, x):
        return self.fc(self.forward_features(x))        # (B, num_classes)

    # ---- transfer learning helpers (``freeze``: models.stages.Freezable) -----------------------
    STAGES = ("conv1", "bn1", "layer1", "layer2", "layer3", "layer4", "fc")
    LAST_STAGE = "layer4"  # fine-tuning trains the last stage (plus the head)

    def forward_until(self, x, stage):
        """Run from the input up to and including ``stage`` (``"layer1"`` .. ``"layer4"``) and return
        that activation: what a frozen part of the network computes, so it can be cached."""
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        for name in ("layer1", "layer2", "layer3", "layer4"):
            x = getattr(self, name)(x)
            if name == stage:
                return x
        raise ValueError(f"unknown stage {stage!r}")

    def forward_from(self, x, stage):
        """The rest of the network after ``stage``, to the logits: the inverse split of ``forward_until``."""
        names = ("layer1", "layer2", "layer3", "layer4")
        for name in names[names.index(stage) + 1:]:
            x = getattr(self, name)(x)
        return self.fc(torch.flatten(self.avgpool(x), 1))

    def replace_head(self, num_classes):
        """A fresh, randomly initialised ``fc`` with ``num_classes`` outputs (the ImageNet head is dropped)."""
        self.fc = nn.Linear(self.fc.in_features, num_classes).to(self.fc.weight.device)
        self.config.num_classes = num_classes
        return self.fc


def resnet18(num_classes=1000):
    """ResNet-18: 11,689,512 parameters with the 1000-class head."""
    return ResNet(ResNetConfig(layers=(2, 2, 2, 2), num_classes=num_classes))


__all__ = ["ResNetConfig", "BasicBlock", "ResNet", "resnet18"]
