"""Lesson 04's two backbones: the YOLOv5n backbone as a classifier (features equal to the detector's
backbone, freezing, refusing foreign files), the saved classifier for lesson 06, and TensorBoard runs."""
import pytest
import torch
from conftest import need

from minitorch_vision.data.cifar10 import MiniDataset
from minitorch_vision.errors import DataUnavailable, MTVError
from minitorch_vision.models.resnet import resnet18
from minitorch_vision.models.yolov5 import BackboneClassifier, YOLOv5Config
from minitorch_vision.nnutil import count_params
from minitorch_vision.backbones import BACKBONES
from minitorch_vision.classifier import ClassifierInfo, load_classifier, save_classifier
from minitorch_vision.transfer import MODES, Recipe, compare, scratch_model, train_one
from minitorch_vision.weights import load_yolov5_backbone
from minitorch_vision.yolov5_checkpoint import load_yolov5


@pytest.fixture(scope="module")
def yolo_file(data_dir):
    return need(data_dir, "weights", "yolov5n.pt")


def _tiny_mini(n_cls=3, k=4, size=32, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(0, 256, (n_cls * k, 3, size, size), dtype=torch.uint8, generator=g)
    y = torch.arange(n_cls).repeat_interleave(k)
    return MiniDataset(x, y, x[:n_cls * 2], y[:n_cls * 2], [f"c{i}" for i in range(n_cls)], torch.arange(len(y)),
                       torch.arange(6))


def test_yolov5n_features_are_the_detectors_backbone_pooled_and_deterministic(yolo_file, data_dir):
    model, kind, source = load_yolov5_backbone(None, data_dir, allow_download=False, num_classes=5, verbose=False)
    assert kind == "coco" and source.endswith("yolov5n.pt") and model.features == 64 + 128 + 256
    detector = load_yolov5(yolo_file)
    x = torch.rand(3, 3, 64, 96, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        p3, p4, p5 = detector.backbone(x)                   # (3, 64, 8, 12), (3, 128, 4, 6), (3, 256, 2, 3)
        want = torch.cat([p.mean((2, 3)) for p in (p3, p4, p5)], dim=1)
        got, again = model.forward_features(x), model.forward_features(x)
    assert torch.equal(got, again)                          # deterministic: eval mode, no dropout
    assert torch.equal(got, want)                           # the same ops on the same weights: bit-equal
    assert model(x).shape == (3, 5)


def test_partial_forwards_compose():
    torch.manual_seed(0)
    for model in (BackboneClassifier(YOLOv5Config.of_size("n"), 4, pyramid=True).eval(), resnet18(4).eval()):
        x = torch.rand(2, 3, 64, 64)
        cut = model.STAGES[model.STAGES.index(model.LAST_STAGE) - 1]
        with torch.no_grad():
            assert torch.allclose(model.forward_from(model.forward_until(x, cut), cut), model(x), atol=1e-5)


def _names(model, params):
    ids = {id(p) for p in params}
    return {n for n, p in model.named_parameters() if id(p) in ids}


def test_freezing_leaves_exactly_the_head_or_the_last_stage_trainable():
    model = BackboneClassifier(YOLOv5Config.of_size("n"), 5)
    head = model.freeze("fc")
    assert _names(model, head) == {"fc.weight", "fc.bias"} and count_params(model) == 448 * 5 + 5
    assert {n for n, p in model.named_parameters() if p.requires_grad} == {"fc.weight", "fc.bias"}
    tuned = model.freeze(model.LAST_STAGE)
    names = _names(model, tuned)
    assert names == {n for n, _ in model.named_parameters() if n.startswith(("backbone.stage5.", "backbone.sppf.", "fc."))}
    assert names and not any(n.startswith(("backbone.down5.", "backbone.stage4.")) for n in names)
    model.train()
    assert model.backbone.stage4.training is False and model.backbone.stage5.training and model.fc.training


def test_frozen_training_changes_only_the_head():
    torch.manual_seed(0)
    base = BackboneClassifier(YOLOv5Config.of_size("n"), 1000).eval()
    before = {k: v.clone() for k, v in base.state_dict().items()}
    spec = BACKBONES["yolov5n"]
    r = train_one(base, "frozen", _tiny_mini(), Recipe(sizes={m: 32 for m in MODES}, mean=spec.mean, std=spec.std,
                                                       head_steps=5, batch_size=6), augment=False, log=False)
    assert all(torch.equal(v, base.state_dict()[k]) for k, v in before.items())  # the base is copied
    after = r.model.state_dict()
    for k, v in before.items():
        if not k.startswith("fc."):
            assert torch.equal(v, after[k]), f"{k} changed in frozen mode"
    assert r.model.fc.out_features == 3


def test_scratch_is_the_same_architecture_with_new_weights():
    base = BackboneClassifier(YOLOv5Config.of_size("n"), 1000)
    fresh = scratch_model(base, 3)
    assert [n for n, _ in fresh.named_parameters()] == [n for n, _ in base.named_parameters()]
    assert fresh.fc.out_features == 3
    assert not torch.equal(fresh.backbone.stage3.cv1.conv.weight, base.backbone.stage3.cv1.conv.weight)


def test_loading_refuses_a_non_yolov5_file_in_one_line(tmp_path):
    junk = tmp_path / "not_yolo.pt"
    torch.save({"weights": torch.zeros(3)}, junk)
    with pytest.raises((DataUnavailable, MTVError)) as e:
        load_yolov5_backbone(str(junk), tmp_path, allow_download=False)
    assert "\n" not in str(e.value) and str(junk) in str(e.value)
    text = tmp_path / "text.pt"
    text.write_text("hello")
    with pytest.raises((DataUnavailable, MTVError)) as e:
        load_yolov5_backbone(str(text), tmp_path, allow_download=False)
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("mode", ["frozen", "finetune"])
def test_saved_classifier_loads_back_with_weights_only(yolo_file, data_dir, tmp_path, mode):
    base, _, _ = load_yolov5_backbone(None, data_dir, allow_download=False, verbose=False)
    spec = BACKBONES["yolov5n"]
    r = train_one(base, mode, _tiny_mini(), Recipe(sizes={m: 32 for m in MODES}, mean=spec.mean, std=spec.std,
                                                   steps=2, head_steps=5, batch_size=6), augment=False, log=False)
    info = ClassifierInfo("yolov5n", "coco", ["c0", "c1", "c2"], 32, mode, r.test_accuracy)
    path = save_classifier(r.model, info, tmp_path / "classifier.pt")
    raw = torch.load(path, weights_only=True)
    assert set(raw) == {"format", "info", "state_dict"}
    assert any(k.startswith("backbone.stage5.") for k in raw["state_dict"]) == (mode == "finetune")
    model, info2 = load_classifier(path, data_dir)
    assert info2 == info
    x = info.preprocess(torch.randint(0, 256, (3, 50, 70), dtype=torch.uint8))
    assert x.shape == (1, 3, 32, 32)
    with torch.no_grad():
        assert torch.allclose(model(x), r.model.eval()(x), atol=1e-5)
    (tmp_path / "foreign.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(DataUnavailable):
        load_classifier(tmp_path / "foreign.pt", data_dir)


def test_one_tensorboard_run_per_configuration_with_test_accuracy(tmp_path):
    """compare(tb_dir=...) writes one flat run per trained configuration, frozen heads included, each with
    train and test loss/accuracy; read back with TensorBoard's own EventAccumulator."""
    ea = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")
    torch.manual_seed(0)
    base = BackboneClassifier(YOLOv5Config.of_size("n"), 1000).eval()
    spec = BACKBONES["yolov5n"]
    recipe = Recipe(sizes={m: 32 for m in MODES}, mean=spec.mean, std=spec.std, steps=2, head_steps=4,
                    batch_size=6, views=2)
    runs, best = compare(base, {4: _tiny_mini()}, recipe, tb_dir=lambda run: tmp_path / "tb" / run, log=None,
                         backbone="yolov5n")
    folders = sorted(p.name for p in (tmp_path / "tb").iterdir())
    assert folders == sorted(f"yolov5n-{m}-k4-{a}" for m in MODES for a in ("aug", "noaug"))
    for name in folders:
        acc = ea.EventAccumulator(str(tmp_path / "tb" / name))
        acc.Reload()
        tags = set(acc.Tags()["scalars"])
        assert {"loss/train", "accuracy/train", "loss/test", "accuracy/test"} <= tags, (name, tags)
        assert not list((tmp_path / "tb" / name).glob("*/"))  # flat: no nested runs
    assert best is not None and best.mode != "scratch" and best.model is not None


def test_transfer_figures_render_and_encode_their_numbers(tmp_path):
    """Lesson 04's figures: each writes a PNG of the expected size; the top-k bars' lengths are the
    probabilities on an axis fitted to them (flat probabilities stay readable)."""
    from PIL import Image

    from minitorch_vision.plots.transfer import predictions_grid, topk_prediction, transfer_comparison
    img = torch.randint(0, 256, (3, 40, 60), dtype=torch.uint8)
    flat = [("a", 0.012), ("b", 0.010), ("c", 0.008), ("d", 0.004), ("e", 0.002)]
    peaked = [("a", 0.9), ("b", 0.05), ("c", 0.03), ("d", 0.01), ("e", 0.01)]
    for top in (flat, peaked):
        fig = topk_prediction(img, top, title="t")
        bars = fig.axes[1].patches
        assert sorted(round(b.get_width(), 4) for b in bars) == sorted(p for _, p in top)
        assert fig.axes[1].get_xlim()[0] == 0 and fig.axes[1].get_xlim()[1] <= 1.0
    assert fig.axes[1].get_xlim()[1] > 0.5  # peaked: the axis reaches the big bar
    assert topk_prediction(img, flat).axes[1].get_xlim()[1] < 0.05  # flat: zoomed to the data
    runs = [{"mode": m, "shots": k, "augment": a, "test_accuracy": acc}
            for (m, acc) in (("scratch", 0.3), ("frozen", 0.6), ("finetune", 0.65)) for k in (5, 10) for a in (False, True)]
    paths = [topk_prediction(img, peaked, path=tmp_path / "top5.png"),
             transfer_comparison(runs, title="t", path=tmp_path / "transfer.png", chance=0.2),
             predictions_grid(torch.randint(0, 256, (8, 3, 32, 32), dtype=torch.uint8), ["cat"] * 8,
                              ["cat", "dog"] * 4, torch.rand(8), title="t", path=tmp_path / "pred.png")]
    for p in paths:
        w, h = Image.open(p).size
        assert 500 <= w <= 1300 and 250 <= h <= 900, (p.name, w, h)  # readable at ~900 px
    fig = transfer_comparison(runs)
    heights = {ln.get_label(): list(ln.get_ydata()) for ln in fig.axes[0].lines}
    assert heights["scratch"] == [30.0, 30.0] and heights["frozen"] == [60.0, 60.0]
    import matplotlib.pyplot as plt
    plt.close("all")
