"""YOLOv5 (architecture of Ultralytics release v6.x), written out top to bottom.

A single-stage detector (Redmon et al. 2016, "You Only Look Once"; anchors and multi-scale heads as in
YOLOv3, Redmon & Farhadi 2018) in the layout of ultralytics/yolov5 v6.1 (``models/yolov5s.yaml``):

    backbone (CSP-Darknet)      neck (PANet, Liu et al. 2018)          head
    stem 6x6/2   -> P1/2
    down2 + C3   -> P2/4
    down3 + C3   -> P3/8  ----------------------------> cat -> out3 (C3) -> Detect (stride 8)
    down4 + C3   -> P4/16 ------------> cat -> topdown4 -+      |
    down5 + C3 + SPPF -> P5/32 -> reduce5 -+  reduce4 ---+   down3 -> cat -> out4 (C3) -> Detect (stride 16)
                                  |  upsample x2 ^              |       upsample x2 ^
                                  +-------------------------------- down4 -> cat -> out5 (C3) -> Detect (stride 32)

Every convolution is ``Conv`` = Conv2d (no bias) + BatchNorm + SiLU. ``C3`` is a CSP block (Wang et al.
2020): two 1x1 branches, one through ``n`` residual ``Bottleneck`` s, concatenated and mixed by a 1x1.
``SPPF`` pools the same map three times with a 5x5 max-pool (receptive fields 5, 9, 13) and mixes them.
``Detect`` is a 1x1 conv per level predicting, for each of 3 anchors per cell, (x, y, w, h, objectness,
nc class logits); in eval mode it decodes them into boxes in input pixels (see ``Detect.forward``).

The five sizes n/s/m/l/x share this graph and differ only by a depth multiple (how many Bottlenecks per
C3) and a width multiple (channels), see ``YOLOv5Config``.

Published weights: the official checkpoints name layers by their index in the yaml (``model.0`` ...
``model.24``); inside a layer our names are the official ones (``conv``, ``bn``, ``cv1``, ``m.0`` ...).
``OFFICIAL_PREFIX`` maps index -> our module path and ``map_official_state_dict`` applies it, asserting
that every key and shape matches (no ``strict=False``). Reading the ``.pt`` pickle itself lives in
:mod:`minitorch_vision.yolov5_checkpoint`.

Naming: ``maps`` are the head's undecoded per-level outputs (training mode, what the loss reads);
``pred`` is the decoded (N, A, 5+nc) output (eval mode, what NMS and Grad-CAM targets read).

All ops are out-of-place (no ``inplace=True``) so forward hooks (Grad-CAM) see unmodified tensors.
"""
import math
from dataclasses import dataclass, field

import torch
import torch.nn as nn

from .stages import Freezable

# (depth_multiple, width_multiple) of the official yolov5{n,s,m,l,x}.yaml
SIZES = {"n": (0.33, 0.25), "s": (0.33, 0.50), "m": (0.67, 0.75), "l": (1.0, 1.0), "x": (1.33, 1.25)}

# Anchor (w, h) in pixels for strides 8, 16, 32 (YOLOv5 COCO anchors, k-means + evolution on COCO).
ANCHORS = ((10, 13, 16, 30, 33, 23), (30, 61, 62, 45, 59, 119), (116, 90, 156, 198, 373, 326))


@dataclass
class YOLOv5Config:
    depth_multiple: float = 0.33
    width_multiple: float = 0.50
    nc: int = 80                        # number of classes
    anchors: tuple = ANCHORS            # per level: w0,h0, w1,h1, w2,h2 in pixels
    strides: tuple = (8, 16, 32)
    names: list = field(default_factory=list)  # class names (filled from a checkpoint)

    @classmethod
    def of_size(cls, size="s", **kw):
        if size not in SIZES:
            raise ValueError(f"unknown YOLOv5 size {size!r}: choose one of {', '.join(SIZES)}")
        gd, gw = SIZES[size]
        return cls(depth_multiple=gd, width_multiple=gw, **kw)

    def ch(self, c):
        """Channels of a layer that has ``c`` in yolov5l: scaled by the width multiple, rounded up to 8."""
        return math.ceil(c * self.width_multiple / 8) * 8

    def n(self, n):
        """Bottlenecks in a C3 that has ``n`` in yolov5l (at least 1)."""
        return max(round(n * self.depth_multiple), 1) if n > 1 else n


# --------------------------------------------------------------------------------------------------
# Building blocks (attribute names = the official ones, so state_dict keys line up inside a layer)

class Conv(nn.Module):
    """Conv2d(k, s, padding k//2, no bias) -> BatchNorm2d -> SiLU: (N, c1, H, W) -> (N, c2, H/s, W/s).

    BatchNorm uses eps=1e-3, momentum=0.03 like the official models. ``fuse()`` folds the BN into the
    conv (inference only), after which ``bn`` is an ``nn.Identity``.
    """

    def __init__(self, c1, c2, k=1, s=1, p=None):
        super().__init__()
        self.conv = nn.Conv2d(c1, c2, k, s, k // 2 if p is None else p, bias=False)
        self.bn = nn.BatchNorm2d(c2, eps=1e-3, momentum=0.03)
        self.act = nn.SiLU()

    def forward(self, x):
        return self.act(self.bn(self.conv(x)))

    @torch.no_grad()
    def fuse(self):
        """Fold BN into the conv: y = gamma*(Wx - mu)/sqrt(var+eps) + beta = W'x + b'."""
        if isinstance(self.bn, nn.Identity):
            return
        conv, bn = self.conv, self.bn
        fused = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride,
                          conv.padding, groups=conv.groups, bias=True).to(conv.weight.device)
        scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)                      # (c2,)
        fused.weight.copy_(conv.weight * scale.view(-1, 1, 1, 1))
        fused.bias.copy_(bn.bias - bn.weight * bn.running_mean / torch.sqrt(bn.running_var + bn.eps))
        self.conv, self.bn = fused, nn.Identity()


class Bottleneck(nn.Module):
    """1x1 conv (c_) -> 3x3 conv (c2), plus the input when ``shortcut`` and c1 == c2 (a residual)."""

    def __init__(self, c1, c2, shortcut=True, e=0.5):
        super().__init__()
        c_ = int(c2 * e)
        self.cv1 = Conv(c1, c_, 1, 1)
        self.cv2 = Conv(c_, c2, 3, 1)
        self.add = shortcut and c1 == c2

    def forward(self, x):
        y = self.cv2(self.cv1(x))                        # (N, c1, H, W) -> (N, c_, H, W) -> (N, c2, H, W)
        return x + y if self.add else y                  # (N, c2, H, W)


class C3(nn.Module):
    """CSP bottleneck with 3 convs: cv3(cat(m(cv1(x)), cv2(x))): (N, c1, H, W) -> (N, c2, H, W)."""

    def __init__(self, c1, c2, n=1, shortcut=True):
        super().__init__()
        c_ = c2 // 2
        self.cv1 = Conv(c1, c_, 1, 1)
        self.cv2 = Conv(c1, c_, 1, 1)
        self.cv3 = Conv(2 * c_, c2, 1)
        self.m = nn.Sequential(*(Bottleneck(c_, c_, shortcut, e=1.0) for _ in range(n)))

    def forward(self, x):
        a = self.m(self.cv1(x))                          # (N, c1, H, W) -> (N, c2/2, H, W), through n Bottlenecks
        b = self.cv2(x)                                  # (N, c2/2, H, W), the shortcut branch
        return self.cv3(torch.cat((a, b), dim=1))        # (N, c2, H, W) -> (N, c2, H, W)


class SPPF(nn.Module):
    """Spatial pyramid pooling, fast (YOLOv5 v6): three chained 5x5/1 max-pools == pools of 5, 9, 13."""

    def __init__(self, c1, c2, k=5):
        super().__init__()
        c_ = c1 // 2
        self.cv1 = Conv(c1, c_, 1, 1)
        self.cv2 = Conv(c_ * 4, c2, 1, 1)
        self.m = nn.MaxPool2d(kernel_size=k, stride=1, padding=k // 2)

    def forward(self, x):
        x = self.cv1(x)                                  # (N, c1, H, W) -> (N, c1/2, H, W)
        y1 = self.m(x)                                   # (N, c1/2, H, W), max over 5x5
        y2 = self.m(y1)                                  # same shape, 9x9
        y3 = self.m(y2)                                  # same shape, 13x13
        return self.cv2(torch.cat((x, y1, y2, y3), dim=1))  # (N, 2*c1, H, W) -> (N, c2, H, W)


# --------------------------------------------------------------------------------------------------
# Backbone, neck, head

class Backbone(nn.Module):
    """CSP-Darknet53: image (N, 3, H, W) -> P3 (stride 8), P4 (stride 16), P5 (stride 32) feature maps."""

    def __init__(self, config):
        super().__init__()
        c, n = config.ch, config.n
        self.stem = Conv(3, c(64), 6, 2, 2)              # P1/2 (a 6x6 conv replaced v5's Focus in v6.0)
        self.down2 = Conv(c(64), c(128), 3, 2)           # P2/4
        self.stage2 = C3(c(128), c(128), n(3))
        self.down3 = Conv(c(128), c(256), 3, 2)          # P3/8
        self.stage3 = C3(c(256), c(256), n(6))
        self.down4 = Conv(c(256), c(512), 3, 2)          # P4/16
        self.stage4 = C3(c(512), c(512), n(9))
        self.down5 = Conv(c(512), c(1024), 3, 2)         # P5/32
        self.stage5 = C3(c(1024), c(1024), n(3))
        self.sppf = SPPF(c(1024), c(1024), 5)

    def forward(self, x):                                # (N, 3, H, W)
        x = self.stem(x)                                 # (N, c(64), H/2, W/2)
        x = self.stage2(self.down2(x))                   # (N, c(128), H/4, W/4)
        p3 = self.stage3(self.down3(x))                  # (N, c(256), H/8, W/8)
        p4 = self.stage4(self.down4(p3))                 # (N, c(512), H/16, W/16)
        p5 = self.sppf(self.stage5(self.down5(p4)))      # (N, c(1024), H/32, W/32)
        return p3, p4, p5


class PANet(nn.Module):
    """Top-down (FPN, Lin et al. 2017) then bottom-up (PANet) path: (P3, P4, P5) -> 3 maps for Detect."""

    def __init__(self, config):
        super().__init__()
        c, n = config.ch, config.n
        self.reduce5 = Conv(c(1024), c(512), 1, 1)
        self.up5 = nn.Upsample(scale_factor=2, mode="nearest")
        self.topdown4 = C3(c(1024), c(512), n(3), shortcut=False)
        self.reduce4 = Conv(c(512), c(256), 1, 1)
        self.up4 = nn.Upsample(scale_factor=2, mode="nearest")
        self.out3 = C3(c(512), c(256), n(3), shortcut=False)
        self.down3 = Conv(c(256), c(256), 3, 2)
        self.out4 = C3(c(512), c(512), n(3), shortcut=False)
        self.down4 = Conv(c(512), c(512), 3, 2)
        self.out5 = C3(c(1024), c(1024), n(3), shortcut=False)

    def forward(self, p3, p4, p5):
        r5 = self.reduce5(p5)                                             # (N, c(512), H/32)
        t4 = self.topdown4(torch.cat((self.up5(r5), p4), dim=1))          # (N, c(512), H/16)
        r4 = self.reduce4(t4)                                             # (N, c(256), H/16)
        o3 = self.out3(torch.cat((self.up4(r4), p3), dim=1))              # (N, c(256), H/8)
        o4 = self.out4(torch.cat((self.down3(o3), r4), dim=1))            # (N, c(512), H/16)
        o5 = self.out5(torch.cat((self.down4(o4), r5), dim=1))            # (N, c(1024), H/32)
        return o3, o4, o5


class Detect(nn.Module):
    """Per level a 1x1 conv to na*(5+nc) channels, then (eval) decoding to boxes in input pixels.

    For a cell (gx, gy) of a level with stride s and anchor (aw, ah) in pixels, with sigmoid outputs
    (tx, ty, tw, th) (YOLOv5's bounded variant of YOLOv3's exp parametrisation):
        x = (2*tx - 0.5 + gx) * s,   y = (2*ty - 0.5 + gy) * s      box centre, pixels
        w = (2*tw)**2 * aw,          h = (2*th)**2 * ah             box size, in (0, 4*anchor)
    objectness and class scores are sigmoids too (independent per class, not a softmax).
    """

    def __init__(self, nc, anchors, strides, ch):
        super().__init__()
        self.nc, self.no = nc, nc + 5                     # outputs per anchor
        self.nl, self.na = len(anchors), len(anchors[0]) // 2
        a = torch.tensor(anchors, dtype=torch.float32).view(self.nl, self.na, 2)
        s = torch.tensor(strides, dtype=torch.float32)
        # anchors in grid units (pixels / stride), as in the official state_dict; strides not saved.
        self.register_buffer("anchors", a / s.view(-1, 1, 1))
        self.register_buffer("stride", s, persistent=False)
        self.m = nn.ModuleList(nn.Conv2d(c, self.no * self.na, 1) for c in ch)

    def forward(self, feats):
        """feats: list of (N, ch[i], H_i, W_i).

        Returns, in training mode, ``maps``: the undecoded logits per level, a list of
        (N, na, H_i, W_i, 5+nc) (what a loss reads); in eval mode ``pred``: the decoded predictions
        (N, sum_i na*H_i*W_i, 5+nc) = (x, y, w, h, obj, cls probs...), rows ordered by level, then
        anchor, then y, then x (what NMS reads).
        """
        maps, pred = [], []
        for i, x in enumerate(feats):
            x = self.m[i](x)                                                   # (N, na*no, ny, nx)
            n, _, ny, nx = x.shape
            x = x.view(n, self.na, self.no, ny, nx).permute(0, 1, 3, 4, 2).contiguous()  # (N,na,ny,nx,no)
            if self.training:
                maps.append(x)
                continue
            y = x.sigmoid()
            grid, anchor_grid = self._grid(i, nx, ny, x.device)
            xy = (y[..., 0:2] * 2 - 0.5 + grid) * self.stride[i]
            wh = (y[..., 2:4] * 2) ** 2 * anchor_grid
            pred.append(torch.cat((xy, wh, y[..., 4:]), dim=-1).view(n, -1, self.no))  # (N, na*ny*nx, no)
        return maps if self.training else torch.cat(pred, dim=1)

    def _grid(self, i, nx, ny, device):
        """Cell offsets (1, 1, ny, nx, 2) as (x, y) and anchor sizes in pixels (1, na, 1, 1, 2)."""
        yv, xv = torch.meshgrid(torch.arange(ny, device=device), torch.arange(nx, device=device), indexing="ij")
        grid = torch.stack((xv, yv), dim=2).view(1, 1, ny, nx, 2).float()
        anchor_grid = (self.anchors[i] * self.stride[i]).view(1, self.na, 1, 1, 2)
        return grid, anchor_grid


class YOLOv5(nn.Module):
    """image batch (N, 3, H, W) in [0, 1], H and W multiples of 32 -> eval: ``pred`` (N, A, 5+nc);
    training: the per-level ``maps`` (see Detect). ``config`` None: a fresh default ``YOLOv5Config()``."""

    def __init__(self, config=None):
        super().__init__()
        config = YOLOv5Config() if config is None else config  # a fresh one: a shared default would be mutated by all
        self.config = config
        self.backbone = Backbone(config)
        self.neck = PANet(config)
        c = config.ch
        self.detect = Detect(config.nc, config.anchors, config.strides, ch=(c(256), c(512), c(1024)))

    def forward(self, x):
        p3, p4, p5 = self.backbone(x)                    # strides 8, 16, 32
        return self.detect(list(self.neck(p3, p4, p5)))  # eval: (N, A, 5+nc); training: 3 maps

    @property
    def names(self):
        return self.config.names or [str(i) for i in range(self.config.nc)]

    def fuse(self):
        """Fold every BatchNorm into its conv (eval only: the statistics are frozen). Returns self."""
        for m in self.modules():
            if isinstance(m, Conv):
                m.fuse()
        return self


def yolov5(size="s", nc=80, names=None):
    """An untrained YOLOv5 of size n/s/m/l/x."""
    return YOLOv5(YOLOv5Config.of_size(size, nc=nc, names=list(names or [])))


def size_name(config):
    """'yolov5n' etc. from the depth/width multiples ('yolov5-custom' when none fits)."""
    for k, (gd, gw) in SIZES.items():
        if abs(config.depth_multiple - gd) < 1e-6 and abs(config.width_multiple - gw) < 1e-6:
            return f"yolov5{k}"
    return "yolov5-custom"


# --------------------------------------------------------------------------------------------------
# Official checkpoint key map: yaml layer index -> our module path (layers 11, 12, 15, 16, 19, 22 are
# the upsample / concat layers, which have no parameters).

OFFICIAL_PREFIX = {
    0: "backbone.stem", 1: "backbone.down2", 2: "backbone.stage2", 3: "backbone.down3", 4: "backbone.stage3",
    5: "backbone.down4", 6: "backbone.stage4", 7: "backbone.down5", 8: "backbone.stage5", 9: "backbone.sppf",
    10: "neck.reduce5", 13: "neck.topdown4", 14: "neck.reduce4", 17: "neck.out3", 18: "neck.down3",
    20: "neck.out4", 21: "neck.down4", 23: "neck.out5", 24: "detect",
}


def official_to_ours(key):
    """``model.13.cv1.conv.weight`` -> ``neck.topdown4.cv1.conv.weight``; KeyError for any other layout."""
    head, idx, rest = key.split(".", 2)
    if head != "model" or not idx.isdigit() or int(idx) not in OFFICIAL_PREFIX:
        raise KeyError(key)
    return f"{OFFICIAL_PREFIX[int(idx)]}.{rest}"


def ours_to_official(key):
    prefix = {v: k for k, v in OFFICIAL_PREFIX.items()}
    for p, i in prefix.items():
        if key.startswith(p + "."):
            return f"model.{i}.{key[len(p) + 1:]}"
    raise KeyError(key)


def map_official_state_dict(model, official):
    """Rename an official state dict to ours, asserting the key sets and every shape match exactly.

    Raises:
        ValueError: one line naming the first missing/unexpected key or shape mismatch.
    """
    try:
        mapped = {official_to_ours(k): v for k, v in official.items()}
    except KeyError as e:
        raise ValueError(f"checkpoint key {e.args[0]!r} is not a YOLOv5 v6 layer") from None
    ours = model.state_dict()
    missing, unexpected = sorted(set(ours) - set(mapped)), sorted(set(mapped) - set(ours))
    if missing or unexpected:
        raise ValueError(f"checkpoint does not fit YOLOv5 (width {model.config.width_multiple}, depth "
                         f"{model.config.depth_multiple}, nc {model.config.nc}): {len(missing)} missing keys "
                         f"(e.g. {missing[:1]}), {len(unexpected)} unexpected (e.g. {unexpected[:1]})")
    for k, v in mapped.items():
        if tuple(v.shape) != tuple(ours[k].shape):
            raise ValueError(f"checkpoint {ours_to_official(k)} has shape {tuple(v.shape)}, "
                             f"the model expects {tuple(ours[k].shape)}")
    return mapped


# --------------------------------------------------------------------------------------------------
# The backbone alone as an image classifier (lesson 04: a detector's features reused for classification)

class BackboneClassifier(Freezable, nn.Module):
    """YOLOv5's backbone, global average pooling and a linear head: image (N, 3, H, W) -> logits (N, classes).

    Input: RGB in [0, 1], no mean/std (YOLOv5's own preprocessing); any H, W >= 32. ``pyramid=False``
    pools P5 only, a (N, c(1024)) vector; ``pyramid=True`` concatenates the pooled P3, P4 and P5,
    (N, c(256) + c(512) + c(1024)): finer, less COCO-specific features beside the last ones.
    The stage names are the backbone's (``Backbone``) plus ``fc``, in the order they run, so
    ``freeze`` (:class:`~minitorch_vision.models.stages.Freezable`) and the cached partial forwards work
    as for :class:`~minitorch_vision.models.resnet.ResNet`.
    """

    STAGES = ("stem", "down2", "stage2", "down3", "stage3", "down4", "stage4", "down5", "stage5", "sppf", "fc")
    LAST_STAGE = "stage5"  # fine-tuning trains the last C3 and the SPPF after it (plus the head)

    def __init__(self, config=None, num_classes=1000, pyramid=True):
        super().__init__()
        self.config = config = YOLOv5Config() if config is None else config
        self.pyramid = pyramid
        self.backbone = Backbone(config)
        c = config.ch
        self.features = c(256) + c(512) + c(1024) if pyramid else c(1024)
        self.fc = nn.Linear(self.features, num_classes)

    @classmethod
    def from_detector(cls, detector, num_classes=1000, pyramid=True):
        """A classifier whose backbone is a copy of ``detector.backbone``'s weights (the head is new)."""
        model = cls(detector.config, num_classes, pyramid)
        model.backbone.load_state_dict(detector.backbone.state_dict(), strict=True)
        return model

    def forward_until(self, x, stage):
        """Run up to and including ``stage``. Returns ``(pooled, x)``: the pooled P3/P4 seen so far
        (``pyramid``; else an empty (N, 0) tensor) and the feature map after ``stage``."""
        pooled = x.new_zeros(x.shape[0], 0)
        for name in self.STAGES[:self.STAGES.index(stage) + 1]:
            x = getattr(self.backbone, name)(x)
            if self.pyramid and name in ("stage3", "stage4"):       # P3 (stride 8), P4 (stride 16)
                pooled = torch.cat((pooled, x.mean((2, 3))), dim=1)
        return pooled, x

    def forward_from(self, h, stage):
        """The rest after ``stage``, from ``forward_until``'s ``(pooled, x)`` to the logits."""
        pooled, x = h
        for name in self.STAGES[self.STAGES.index(stage) + 1:-1]:
            x = getattr(self.backbone, name)(x)
            if self.pyramid and name in ("stage3", "stage4"):
                pooled = torch.cat((pooled, x.mean((2, 3))), dim=1)
        return self.fc(torch.cat((pooled, x.mean((2, 3))), dim=1))

    def forward_features(self, x):                       # (N, 3, H, W)
        pooled, p5 = self.forward_until(x, "sppf")       # (N, 0 or c(256)+c(512)), (N, c(1024), H/32, W/32)
        return torch.cat((pooled, p5.mean((2, 3))), dim=1)  # (N, self.features)

    def forward(self, x):
        return self.fc(self.forward_features(x))         # (N, num_classes)

    def replace_head(self, num_classes):
        """A fresh, randomly initialised ``fc`` with ``num_classes`` outputs."""
        self.fc = nn.Linear(self.features, num_classes).to(self.fc.weight.device)
        return self.fc

    def stage(self, name):
        return self.fc if name == "fc" else getattr(self.backbone, name)
