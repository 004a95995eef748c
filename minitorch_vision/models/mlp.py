"""Fully connected nets on flattened pixels (lessons 01 and 02).

With ``hidden=()`` this is multinomial logistic regression (a linear softmax classifier on raw
pixels); with hidden layers it is a multilayer perceptron with ReLU (Nair & Hinton 2010) and
dropout. The softmax itself lives in the loss: ``F.cross_entropy`` takes logits.
"""
from dataclasses import dataclass, field

import torch.nn as nn


@dataclass
class MLPConfig:
    in_features: int = 28 * 28
    num_classes: int = 10
    hidden: tuple = field(default_factory=lambda: (512, 256))  # () -> a linear classifier
    dropout: float = 0.2


class MLP(nn.Module):
    def __init__(self, config=None):
        super().__init__()
        config = config or MLPConfig()  # a fresh default: a shared default instance would be one object for all models
        self.config = config
        layers, width = [nn.Flatten()], config.in_features  # (N, 1, 28, 28) -> (N, 784)
        for h in config.hidden:
            layers += [nn.Linear(width, h), nn.ReLU(), nn.Dropout(config.dropout)]
            width = h
        layers.append(nn.Linear(width, config.num_classes))
        self.net = nn.Sequential(*layers)

    def forward(self, x):       # x: (N, 1, 28, 28) or (N, 784)
        return self.net(x)      # (N, num_classes) logits


def linear_classifier(in_features=28 * 28, num_classes=10):
    """Softmax regression: one ``nn.Linear`` on the flattened pixels."""
    return MLP(MLPConfig(in_features, num_classes, hidden=()))

