"""Grad-CAM: parity with pytorch-grad-cam 1.5.7 (stored reference), shapes and ranges on every
supported model, hook hygiene, in-place ReLU, and the Adebayo et al. sanity check (sanity.py).

Parity tolerances are the measured differences with a small margin (torch 2.13 CPU, 1 or 2 threads,
ResNet-18 seed-0 weights on both.png, targets 243 / 281 / top-1): low-res CAM 3.7e-6 of its max,
channel weights 1.2e-7 of their max, final 224x224 map 3.7e-6 absolute."""
import importlib.util

import pytest
import torch
import torch.nn as nn

from conftest import need
from minitorch_vision.errors import MTVError
from minitorch_vision.gradcam import ClassTarget, DetectionTarget, GradCAM, grad_cam, normalize_cam
from minitorch_vision.sanity import cascade_summary, cascading_randomization, rank, spearman
from minitorch_vision.models.cnn import CNN, CNNConfig
from minitorch_vision.models.resnet import resnet18


# ----------------------------------------------------------------------------- parity
def _seeded_weights(data_dir):
    folder = need(data_dir, "reference", "resnet18", "make_weights.py").parent
    spec = importlib.util.spec_from_file_location("make_weights", folder / "make_weights.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.seeded_state_dict(0)


@pytest.fixture(scope="module")
def reference(data_dir):
    ref = torch.load(need(data_dir, "reference", "gradcam", "both_png_seed0.pt"), weights_only=False)
    model = resnet18()
    model.load_state_dict(_seeded_weights(data_dir), strict=True)
    return model.eval(), ref


@pytest.mark.parametrize("key", ["target_243", "target_281", "top1"])
def test_parity_with_pytorch_grad_cam(reference, key):
    model, ref = reference
    r = ref[key]
    targets = None if key == "top1" else [ClassTarget(r["class_index"])]
    res = grad_cam(model, model.layer4, ref["input"], targets)
    assert res.classes == [r["class_index"]]  # top-1: the library picked 563 too
    lo, w = r["cam_lowres"], r["channel_weights"]
    rel = ((res.lowres - lo).abs().max() / lo.abs().max()).item()
    assert rel <= 1e-5, f"low-res CAM differs by {rel:.2e} of its max (measured <= 3.7e-6)"
    rel_w = ((res.weights - w).abs().max() / w.abs().max()).item()
    assert rel_w <= 1e-6, f"channel weights differ by {rel_w:.2e} of their max (measured <= 1.2e-7)"
    final = (res.heatmap - r["grayscale_cam"]).abs().max().item()
    assert final <= 1e-5, f"final map differs by {final:.2e} (measured <= 3.7e-6)"
    assert res.heatmap.shape == (1, 224, 224)


def test_normalisation_order_matches_the_library(reference):
    """min-max, resize, clamp, min-max applied to the stored low-res CAM gives the stored map."""
    _, ref = reference
    for key in ("target_243", "target_281", "top1"):
        r = ref[key]
        out = normalize_cam(r["cam_lowres"], (224, 224))
        assert (out - r["grayscale_cam"]).abs().max() < 1e-5


# ----------------------------------------------------------------------------- shapes and ranges
def _check(res, n, size, lowres):
    assert res.heatmap.shape == (n, *size)
    assert res.lowres.shape == (n, *lowres)
    assert torch.isfinite(res.heatmap).all()
    assert res.heatmap.min() >= 0 and res.heatmap.max() <= 1
    assert (res.lowres >= 0).all()
    for h in res.heatmap:  # a non-degenerate map spans [0, 1]
        if h.max() > 0:
            assert h.min() == 0 and h.max() > 0.99


def test_cnn_shapes_and_range():
    torch.manual_seed(0)
    model = CNN(CNNConfig(conv_blocks=2, width=8, hidden=16))
    x = torch.randn(5, 1, 28, 28)
    res = grad_cam(model, "features.1", x)
    _check(res, 5, (28, 28), (7, 7))
    assert res.classes == model.eval()(x).argmax(1).tolist()


def test_resnet18_layer4_shapes_and_range():
    torch.manual_seed(0)
    model = resnet18(num_classes=10)
    x = torch.randn(2, 3, 64, 64)
    res = grad_cam(model, model.layer4, x, [ClassTarget(3), ClassTarget(7)])
    _check(res, 2, (64, 64), (2, 2))
    assert res.classes == [3, 7]


def test_yolov5_backbone_and_neck_shapes_and_range():
    """Target: the confidence (objectness x class score) of the strongest decoded prediction."""
    from minitorch_vision.models.yolov5 import yolov5
    torch.manual_seed(0)
    model = yolov5("n").eval()
    x = torch.rand(1, 3, 128, 160)
    with torch.no_grad():
        pred = model(x)                                 # (1, A, 85) decoded, before NMS
    row = int((pred[0, :, 4:5] * pred[0, :, 5:]).amax(1).argmax())
    cls = int(pred[0, row, 5:].argmax())
    for layer, stride in [("backbone.stage3", 8), ("backbone.sppf", 32), ("neck.out3", 8), ("neck.out5", 32)]:
        res = grad_cam(model, layer, x, [DetectionTarget(row, cls)])
        _check(res, 1, (128, 160), (128 // stride, 160 // stride))
        assert torch.allclose(res.scores[0], pred[0, row, 4] * pred[0, row, 5 + cls], rtol=1e-4)
        assert res.classes is None


# ----------------------------------------------------------------------------- hooks and state
class Boom(nn.Module):
    def forward(self, x):
        raise RuntimeError("boom")


def _hooks_empty(model):
    for m in model.modules():
        assert not m._forward_hooks and not m._forward_pre_hooks
        assert not m._backward_hooks and not getattr(m, "_backward_pre_hooks", {})


def test_hooks_removed_after_use_and_when_forward_raises():
    model = CNN(CNNConfig(conv_blocks=1, width=4, hidden=0))
    x = torch.randn(2, 1, 28, 28)
    grad_cam(model, "features.0", x)
    _hooks_empty(model)
    model.head.append(Boom())  # the forward fails after the hooked layer has run
    with pytest.raises(RuntimeError, match="boom"):
        with GradCAM(model, "features.0") as cam:
            assert model.features[0]._forward_hooks  # the hook is live inside the block
            cam(x)
    _hooks_empty(model)


def test_mode_requires_grad_and_grads_are_left_as_they_were():
    model = resnet18(num_classes=4)
    model.freeze("layer4")      # frozen stem..layer3 (requires_grad False, kept in eval)
    model.train()
    flags = [p.requires_grad for p in model.parameters()]
    modes = [m.training for m in model.modules()]
    assert not all(flags) and any(flags) and not all(modes) and any(modes)
    res = grad_cam(model, "layer4", torch.randn(1, 3, 64, 64), 1)
    assert res.lowres.shape == (1, 2, 2)
    assert [p.requires_grad for p in model.parameters()] == flags
    assert [m.training for m in model.modules()] == modes
    assert all(p.grad is None for p in model.parameters())  # no weight gradients accumulated


def test_state_restored_when_entering_fails_half_way():
    """__enter__ undoes what it did before a failure: eval mode and frozen flags are given back."""
    model = CNN(CNNConfig(conv_blocks=1, width=4, hidden=0)).train()
    with pytest.raises(AttributeError):
        with GradCAM(model, object()):  # not a module: no hook can be registered, after eval + freeze
            pass
    assert all(m.training for m in model.modules()) and all(p.requires_grad for p in model.parameters())
    with pytest.raises(MTVError, match="did not run"):
        with GradCAM(model, nn.Conv2d(1, 1, 1)) as cam:  # a module outside the model never runs
            cam(torch.randn(1, 1, 28, 28))
    assert all(m.training for m in model.modules()) and all(p.requires_grad for p in model.parameters())
    _hooks_empty(model)


def test_works_under_no_grad_and_outside_context():
    model = CNN(CNNConfig(conv_blocks=1, width=4, hidden=0))
    with torch.no_grad():
        res = grad_cam(model, "features.0", torch.randn(1, 1, 28, 28))
    assert res.gradients.abs().sum() > 0
    with pytest.raises(MTVError):
        GradCAM(model, "features.0")(torch.randn(1, 1, 28, 28))


def _small_net(inplace):
    return nn.Sequential(nn.Conv2d(1, 6, 3, padding=1), nn.ReLU(inplace=inplace), nn.Conv2d(6, 8, 3, padding=1),
                         nn.ReLU(inplace=inplace), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 3))


def test_inplace_relu_model_gives_the_same_cam():
    """The hooked conv's output is overwritten in place by the ReLU after it: the stored
    activation and the tensor-hook gradient must still be those of the conv's output."""
    torch.manual_seed(0)
    ref = _small_net(False)
    net = _small_net(True)
    net.load_state_dict(ref.state_dict())
    x = torch.randn(3, 1, 12, 12)
    a = grad_cam(ref, "2", x, 1)
    b = grad_cam(net, "2", x, 1)
    assert (a.activations < 0).any()          # pre-ReLU values: the in-place op did not leak in
    assert torch.equal(a.activations, b.activations)
    assert torch.allclose(a.gradients, b.gradients, atol=1e-7)
    assert torch.allclose(a.heatmap, b.heatmap, atol=1e-6)
    # by hand: d logit_1 / d conv2 output, with the ReLU's mask
    x2 = x.clone()
    h = ref[1](ref[0](x2))
    z = ref[2](h).detach().requires_grad_(True)
    ref[6](ref[5](ref[4](ref[3](z))))[:, 1].sum().backward()
    assert torch.allclose(a.gradients, z.grad, atol=1e-7)


def test_rank_and_spearman():
    assert rank(torch.tensor([10., 30., 20., 20.])).tolist() == [1.0, 4.0, 2.5, 2.5]
    a = torch.rand(50, dtype=torch.float64)
    assert spearman(a, a) == pytest.approx(1.0)
    assert spearman(a, a ** 3 + 5) == pytest.approx(1.0)   # monotone: rank-identical
    assert spearman(a, -a) == pytest.approx(-1.0)
    # against the closed form 1 - 6 sum d^2 / (n (n^2 - 1)) (valid without ties)
    b = torch.rand(50, dtype=torch.float64)
    d = rank(a) - rank(b)
    assert spearman(a, b) == pytest.approx(1 - 6 * (d ** 2).sum().item() / (50 * (50 ** 2 - 1)), abs=1e-9)
    z = torch.zeros(9)
    assert spearman(z, z) == 1.0 and spearman(z, torch.arange(9.)) == 0.0


# ----------------------------------------------------------------------------- sanity check
def test_sanity_check_on_a_briefly_trained_cnn(data_dir):
    from minitorch_vision.data.fashion_mnist import load_fashion_mnist, standardize
    from minitorch_vision.data.loader import Batches
    from minitorch_vision.train import evaluate, fit
    need(data_dir, "fashion-mnist", "train-images-idx3-ubyte.gz")
    d = load_fashion_mnist(data_dir, allow_download=False)
    torch.manual_seed(0)
    model = CNN(CNNConfig(conv_blocks=2, width=16, hidden=64))
    fit(model, Batches(standardize(d["train_x"][:3000]), d["train_y"][:3000], 64, shuffle=True), epochs=1,
        opt=torch.optim.Adam(model.parameters(), 2e-3), progress=False)
    x, y = standardize(d["test_x"][:24]), d["test_y"][:24]
    assert evaluate(model, Batches(x, y, 24))["accuracy"] > 0.5  # it did learn something
    before = {k: v.clone() for k, v in model.state_dict().items()}
    rows = cascading_randomization(model, "features.1", x, stop_at="features.1")
    assert len(rows[0]["per_image"]) >= 20
    assert rows[0]["randomized"] is None and rows[0]["rank_correlation"] == pytest.approx(1.0, abs=1e-9)
    expected = [n for n, m in model.named_modules()  # every layer with weights from the head down to features.1
                if n.startswith(("head.", "features.1.")) and any(True for _ in m.parameters(recurse=False))][::-1]
    assert [r["randomized"] for r in rows[1:]] == expected and expected[0] == "head.5"
    assert rows[-1]["rank_correlation"] < 0.5, rows
    summary = cascade_summary(rows, "features.1")
    assert summary["cam_step"] == len(rows) - 1 and summary["after_cam_layer"] == rows[-1]["rank_correlation"]
    assert summary["unchanged"] == pytest.approx(1.0, abs=1e-9) and len(summary["steps"]) == len(rows)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # worked on a copy
