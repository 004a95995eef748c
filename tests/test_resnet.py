"""ResNet-18: parity with torchvision's stored outputs, parameter count, freezing, feature caching."""
import importlib.util
import sys
from pathlib import Path

import pytest
import torch
import torch.nn as nn
from conftest import need

from minitorch_vision.data.cifar10 import MiniDataset
from minitorch_vision.data.loader import Batches
from minitorch_vision.models.resnet import resnet18
from minitorch_vision.nnutil import count_params
from minitorch_vision.train import fit
from minitorch_vision.backbones import cached_features, pooled
from minitorch_vision.transfer import MODES, Recipe, train_one

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


def _make_weights(data_dir):
    """Import the reference folder's make_weights.py (not copied into the repo)."""
    path = need(data_dir, "reference", "resnet18", "make_weights.py")
    spec = importlib.util.spec_from_file_location("resnet18_make_weights", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def reference(data_dir):
    mw = _make_weights(data_dir)
    cases = torch.load(need(data_dir, "reference", "resnet18", "cases.pt"), weights_only=True)
    return mw, cases


def test_state_dict_layout_matches_torchvision_keys(reference):
    mw, _ = reference
    sd = resnet18().state_dict()
    assert len(sd) == 122
    assert [e["key"] for e in mw.KEYS] == list(sd)
    for e in mw.KEYS:
        assert list(sd[e["key"]].shape) == e["shape"], e["key"]
        assert str(sd[e["key"]].dtype) == "torch." + e["dtype"], e["key"]


def test_parameter_count():
    m = resnet18()
    assert count_params(m, trainable_only=False) == 11_689_512
    assert sum(b.numel() for n, b in m.named_buffers() if "running" in n) == 9_600


@pytest.mark.parametrize("case", ["random_224", "random_64", "both_png"])
def test_parity_with_stored_torchvision_outputs(reference, case):
    mw, cases = reference
    sd = mw.seeded_state_dict(cases["seed"])
    for k, s in cases["weight_sums"].items():  # the generator reproduces the reference weights
        assert abs(sd[k].double().sum().item() - s) <= 1e-6 * max(1.0, abs(s)), k
    m = resnet18()
    m.load_state_dict(sd, strict=True)
    m.eval()
    seen = {}
    h = m.layer4.register_forward_hook(lambda mod, inp, out: seen.__setitem__("layer4", out))
    c = cases[case]
    with torch.no_grad():
        logits = m(c["x"])
    h.remove()
    assert logits.shape == c["logits"].shape
    assert seen["layer4"].shape == c["layer4"].shape  # (N,512,7,7) at 224, (N,512,2,2) at 64
    # measured (torch 2.13 CPU, 1-3 threads alike): max abs diff 1.2e-4 on logits up to 247 (a few float32
    # ulps) and 7.9e-4 on layer4, in the random_224 case; the bounds leave a small margin for another CPU
    assert (logits - c["logits"]).abs().max() < 2e-4, (logits - c["logits"]).abs().max()
    assert (seen["layer4"] - c["layer4"]).abs().max() < 1e-3, (seen["layer4"] - c["layer4"]).abs().max()


def test_same_outputs_as_torchvision_itself():
    """Optional cross-check against an installed torchvision (test-only dependency)."""
    sys.path.insert(0, str(SHARED / "tools"))
    try:
        import torchvision_cpu_compat  # noqa: F401
        import torchvision
    except Exception as e:  # noqa: BLE001
        pytest.skip(f"torchvision not importable here ({type(e).__name__})")
    ref = torchvision.models.resnet18(weights=None).eval()
    ours = resnet18().eval()
    ours.load_state_dict(ref.state_dict(), strict=True)
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert torch.allclose(ours(x), ref(x), rtol=1e-5, atol=1e-5)


def test_no_inplace_ops_and_hooks_see_gradients():
    m = resnet18()
    assert not any(getattr(mod, "inplace", False) for mod in m.modules())
    acts, grads = {}, {}

    def fwd(mod, inp, out):
        acts["a"] = out
        out.register_hook(lambda g: grads.__setitem__("g", g))

    m.layer4.register_forward_hook(fwd)
    m.eval()
    x = torch.randn(1, 3, 64, 64)
    m(x)[0, 3].backward()
    assert acts["a"].shape == grads["g"].shape == (1, 512, 2, 2)


def test_partial_forwards_compose_to_the_full_forward():
    m = resnet18().eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        full = m(x)
        assert torch.allclose(m.forward_from(m.forward_until(x, "layer3"), "layer3"), full, atol=1e-5)
        assert torch.allclose(m.fc(cached_features(pooled, m, x, lambda t: t)), full, atol=1e-5)


def _tiny_mini(n_cls=3, k=4, size=32, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(0, 256, (n_cls * k, 3, size, size), dtype=torch.uint8, generator=g)
    y = torch.arange(n_cls).repeat_interleave(k)
    return MiniDataset(x, y, x[:n_cls * 2], y[:n_cls * 2], [f"c{i}" for i in range(n_cls)], torch.arange(len(y)), torch.arange(6))


def test_frozen_optimizer_holds_only_the_head_and_backbone_is_bit_identical():
    torch.manual_seed(0)
    m = resnet18()
    m.replace_head(3)
    head = m.freeze("fc")
    opt = torch.optim.AdamW(head, lr=1e-2)
    opt_ids = {id(p) for g in opt.param_groups for p in g["params"]}
    assert opt_ids == {id(p) for p in m.fc.parameters()}
    assert count_params(m) == 512 * 3 + 3
    before = {k: v.clone() for k, v in m.state_dict().items()}
    data = _tiny_mini()
    from minitorch_vision.data.transforms import Augment
    fit(m, Batches(data.x_train, data.y_train, 4, shuffle=True, transform=Augment(32)), epochs=1, opt=opt,
        progress=False)  # a whole epoch, model in train mode, every image through the backbone
    after = m.state_dict()
    for k, v in before.items():
        if k.startswith("fc."):
            assert not torch.equal(v, after[k]), f"{k} did not train"
        else:
            assert torch.equal(v, after[k]), f"{k} changed during frozen training"  # incl. BN running stats
    assert m.training and not m.layer2.training and m.fc.training


def test_finetune_trains_only_layer4_and_head():
    m = resnet18()
    m.replace_head(3)
    params = m.freeze("layer4")
    assert {id(p) for p in params} == {id(p) for p in list(m.layer4.parameters()) + list(m.fc.parameters())}
    before = {k: v.clone() for k, v in m.state_dict().items()}
    data = _tiny_mini()
    from minitorch_vision.data.transforms import Augment
    fit(m, Batches(data.x_train, data.y_train, 6, transform=Augment(32, train=False)), epochs=1,
        opt=torch.optim.SGD(params, lr=0.1), progress=False)
    after = m.state_dict()
    for k in before:
        changed = not torch.equal(before[k], after[k])
        if k.startswith(("layer4.", "fc.")) and k.endswith(("weight", "bias")):
            assert changed, k
        elif not k.startswith(("layer4.", "fc.")) or k.endswith(("running_mean", "running_var", "num_batches_tracked")):
            assert not changed, k  # BN statistics stay ImageNet's, in layer4 too (only BN's scale/shift train)


@pytest.mark.parametrize("mode", ["frozen", "finetune", "scratch"])
def test_train_one_runs_each_mode_and_leaves_the_base_untouched(mode):
    base = resnet18()
    before = {k: v.clone() for k, v in base.state_dict().items()}
    data = _tiny_mini()
    r = train_one(base, mode, data, Recipe(sizes={m: 32 for m in MODES}, steps=2, head_steps=5, batch_size=6, views=2), augment=True)
    assert r.mode == mode and 0.0 <= r.test_accuracy <= 1.0 and r.train_seconds > 0 and r.shots == 4
    assert all(torch.equal(v, base.state_dict()[k]) for k, v in before.items())
    assert base.fc.out_features == 1000


def test_replace_head():
    m = resnet18()
    fc = m.replace_head(7)
    assert isinstance(fc, nn.Linear) and fc.out_features == 7 and m(torch.randn(1, 3, 64, 64)).shape == (1, 7)
