"""Grad-CAM: which pixels made the model say that? (Selvaraju et al. 2017, arXiv:1610.02391)

For a chosen layer with activations ``A`` (N, K, h, w) and a scalar target score ``y`` (a class
logit before softmax, or the confidence of one detection):

    alpha_k = mean over (h, w) of dy/dA_k          # (N, K)  one weight per channel
    cam     = ReLU(sum_k alpha_k * A_k)             # (N, h, w)  only evidence *for* the target

then the low-resolution map is brought to the input size and scaled to [0, 1] in the order of
pytorch-grad-cam 1.5.7 (the reference in ``../shared/data/reference/gradcam``): min-max, resize
(bilinear, ``align_corners=False``), clamp at 0, min-max again.

How the two tensors are caught: a *forward* hook on the layer stores its output and registers a
*tensor* hook on that same output, which receives dy/dA during ``backward``. A module backward
hook (``register_full_backward_hook``) is avoided on purpose: it breaks when a later op such as
``nn.ReLU(inplace=True)`` modifies the output in place, while a tensor hook still receives the
gradient with respect to the value the layer produced (PyTorch "autograd mechanics": hooks
registered before an in-place modification).

Usage::

    with GradCAM(model, "layer4") as cam:         # hooks live only inside the block
        res = cam(x)                              # target: the top-1 class of each image
        res = cam(x, [ClassTarget(243)])          # or any callable on one image's output
    res.heatmap   # (N, H, W) in [0, 1], the input's size
    res.lowres    # (N, h, w) the ReLU'd CAM at the layer's resolution, before resizing

Whether a map explains the model at all is checked in :mod:`.sanity` (Adebayo et al. 2018).
"""
import contextlib
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .detection.boxes import xywh_to_xyxy
from .errors import MTVError
from .nnutil import eval_mode


# ----------------------------------------------------------------------------- targets
class ClassTarget:
    """Score of class ``index`` in one image's output vector (C,), i.e. the logit before softmax:
    after softmax the gradient also pushes *other* classes down (Selvaraju et al., sec. 3)."""

    def __init__(self, index):
        self.index = int(index)

    def __call__(self, output):
        return output[..., self.index]

    def __repr__(self):
        return f"ClassTarget({self.index})"


class DetectionTarget:
    """Confidence of one detection in a YOLO-style decoded output ``pred`` of one image,
    (A, 5 + classes) with columns ``cx, cy, w, h, objectness, class scores...`` (already sigmoid'ed,
    what an eval-mode YOLOv5 returns): the score NMS ranks by, ``objectness * class score``.
    ``row`` is the detection's row in ``pred`` (before NMS), ``cls`` its class."""

    def __init__(self, row, cls):
        self.row, self.cls = int(row), int(cls)

    def __call__(self, output):
        return output[self.row, 4] * output[self.row, 5 + self.cls]

    def __repr__(self):
        return f"DetectionTarget(row={self.row}, cls={self.cls})"


def detection_row(pred, det):
    """Row of one image's decoded predictions ``pred`` (A, 5 + nc), before NMS, that NMS kept as ``det``
    (x1, y1, x2, y2, conf, cls): the row with the same box and the same score (NMS copies both), for
    :class:`DetectionTarget`."""
    c = int(det[5])
    err = (xywh_to_xyxy(pred[:, :4]) - det[:4]).abs().sum(1) + (pred[:, 4] * pred[:, 5 + c] - det[4]).abs()
    return int(err.argmin())


# ----------------------------------------------------------------------------- the maps
def normalize_cam(lowres, size):
    """Low-res CAM (N, h, w) -> heatmap (N, H, W) in [0, 1], pytorch-grad-cam 1.5.7's order:
    per image min-max, bilinear resize (``align_corners=False``), clamp at 0, min-max again."""
    def minmax(c):  # c: (N, h, w); 1e-7 keeps an all-zero map at zero instead of NaN
        c = c - c.amin(dim=(1, 2), keepdim=True)
        return c / (1e-7 + c.amax(dim=(1, 2), keepdim=True))
    c = minmax(lowres)
    c = F.interpolate(c[:, None], size=tuple(size), mode="bilinear", align_corners=False)[:, 0]
    return minmax(c.clamp(min=0))


@dataclass
class CAMResult:
    """What one Grad-CAM call computed (all detached, on the model's device).

    heatmap (N, H, W) in [0, 1]; lowres (N, h, w) >= 0, the unscaled ReLU(sum_k alpha_k A_k);
    weights (N, K) the alphas; activations, gradients (N, K, h, w) at the layer;
    scores (N,) the target scores; output: the model's output; classes: for class targets the
    class index used per image (else None).
    """
    heatmap: torch.Tensor
    lowres: torch.Tensor
    weights: torch.Tensor
    activations: torch.Tensor
    gradients: torch.Tensor
    scores: torch.Tensor
    output: object
    classes: list


@contextlib.contextmanager
def frozen(model):
    """Run the block with every parameter of ``model`` at ``requires_grad=False``, then give each
    its own flag back: ``backward`` then computes no weight gradients and leaves no ``.grad``."""
    flags = [(p, p.requires_grad) for p in model.parameters()]
    try:
        for p, _ in flags:
            p.requires_grad_(False)
        yield model
    finally:
        for p, flag in flags:
            p.requires_grad_(flag)


class ActivationsAndGradients:
    """The two hooks of Grad-CAM on one ``layer``, as a context manager (pytorch-grad-cam's design).

    A forward hook stores the layer's output ``A`` (N, K, h, w) and registers a tensor hook on that
    same output, which receives dy/dA during ``backward``. On exit (also after an exception) the
    forward hook and any tensor hook not yet fired are removed. A layer that runs twice in one
    forward (a shared module) keeps its *last* call.
    """

    def __init__(self, layer):
        self.layer = layer
        self.calls, self.activations, self.gradients = 0, None, None
        self._forward_handle, self._tensor_handles = None, []

    def __enter__(self):
        self._forward_handle = self.layer.register_forward_hook(self._forward)
        return self

    def __exit__(self, *exc):
        self._forward_handle.remove()
        self.reset()
        return False

    def reset(self):
        """Forget the last pass and drop its tensor hooks (called before each forward and on exit)."""
        for h in self._tensor_handles:
            h.remove()
        self._tensor_handles = []
        self.calls, self.activations, self.gradients = 0, None, None

    def _forward(self, module, inputs, output):
        if not torch.is_tensor(output) or output.ndim != 4:
            raise MTVError(f"Grad-CAM needs a layer whose output is a (N, K, h, w) tensor; "
                           f"{type(module).__name__} returned {type(output).__name__}")
        self.calls += 1
        call = self.calls
        # clone: a later in-place op (ReLU(inplace=True)) must not change what we stored
        self.activations = output.detach().clone()
        if output.requires_grad:
            self._tensor_handles.append(output.register_hook(lambda g: self._backward(call, g)))

    def _backward(self, call, grad):
        if call == self.calls:
            self.gradients = grad.detach()


class GradCAM:
    """Hook-based Grad-CAM on one layer of ``model``, as a context manager.

    Args:
        model: any ``nn.Module``.
        layer: the module (e.g. ``model.layer4``) or its dotted name (``"layer4"``,
            ``"features.2"``); its output must be a tensor (N, K, h, w).
        output_fn: picks the tensor the targets read from the model's output, for a model that
            returns several things (e.g. ``lambda out: out["logits"]``); default: the output itself
            (a YOLOv5 in eval mode already returns one tensor, its decoded ``pred`` (N, A, 5 + nc)).

    Inside the ``with`` block the model is in eval mode (dropout off, BatchNorm running stats;
    :func:`nnutil.eval_mode`) and its parameters do not require grad (:func:`frozen`); on exit the
    hooks are removed and every module's mode and every ``requires_grad`` flag are restored, also
    when the forward raised.
    """

    def __init__(self, model, layer, output_fn=None):
        self.model = model
        self.layer = model.get_submodule(layer) if isinstance(layer, str) else layer
        self.output_fn = output_fn
        self._stack = None

    def __enter__(self):
        with contextlib.ExitStack() as stack:  # a failure half-way undoes what was done
            stack.enter_context(eval_mode(self.model))
            stack.enter_context(frozen(self.model))
            self._hooks = stack.enter_context(ActivationsAndGradients(self.layer))
            self._stack = stack.pop_all()
        return self

    def __exit__(self, *exc):
        stack, self._stack = self._stack, None
        return stack.__exit__(*exc) if stack is not None else False

    def __call__(self, x, targets=None):
        """Grad-CAM for a batch ``x`` (N, C, H, W).

        targets: None (each image's top-1 class), one callable (or class index) for every image,
        or a list of N of them. A callable gets one image's output, e.g. (C,) logits, and returns
        a scalar score (see :class:`ClassTarget`, :class:`DetectionTarget`).
        """
        if self._stack is None:
            raise MTVError("use GradCAM as a context manager: `with GradCAM(model, layer) as cam: cam(x)`")
        hooks = self._hooks
        hooks.reset()
        # The input requires grad so a graph exists even when every parameter is frozen.
        x = x.detach().clone().requires_grad_(True)
        with torch.enable_grad():
            out = self.model(x)
            o = self.output_fn(out) if self.output_fn is not None else out
            if hooks.calls == 0:
                raise MTVError("the Grad-CAM layer did not run during the forward pass")
            targets, classes = self._resolve_targets(o, targets, len(x))
            scores = torch.stack([t(o[i]) for i, t in enumerate(targets)])  # (N,)
            # Images are independent in eval mode, so d(sum)/dA_i = d(score_i)/dA_i.
            scores.sum().backward()
        A, G = hooks.activations, hooks.gradients
        if G is None:  # the target does not depend on this layer
            G = torch.zeros_like(A)
        weights = G.mean(dim=(2, 3))                                        # (N, K)
        lowres = F.relu((weights[:, :, None, None] * A).sum(dim=1))         # (N, h, w)
        heatmap = normalize_cam(lowres, x.shape[-2:])                       # (N, H, W)
        return CAMResult(heatmap, lowres, weights, A, G, scores.detach(), _detach(out), classes)

    @staticmethod
    def _resolve_targets(o, targets, n):
        if targets is None:  # top-1 class of each image, as pytorch-grad-cam does
            classes = o.detach().reshape(n, -1).argmax(1).tolist()
            return [ClassTarget(c) for c in classes], classes
        if not isinstance(targets, (list, tuple)):
            targets = [targets] * n
        if len(targets) != n:
            raise MTVError(f"{len(targets)} targets for {n} images")
        targets = [ClassTarget(t) if isinstance(t, int) else t for t in targets]
        classes = [t.index for t in targets] if all(isinstance(t, ClassTarget) for t in targets) else None
        return targets, classes


def _detach(out):
    if torch.is_tensor(out):
        return out.detach()
    if isinstance(out, (list, tuple)):
        return type(out)(_detach(o) for o in out)
    return out


def grad_cam(model, layer, x, targets=None, output_fn=None):
    """One-shot :class:`GradCAM`: hooks on, one call, hooks off. Returns a :class:`CAMResult`."""
    with GradCAM(model, layer, output_fn) as cam:
        return cam(x, targets)
