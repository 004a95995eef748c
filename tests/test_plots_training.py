"""Figures of lessons 01-03 render on small data: a PNG of the expected size is written, and where a
figure encodes a quantity by bar length or marker area, different inputs give different sizes."""
import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from PIL import Image

from minitorch_vision import diagnostics, ops
from minitorch_vision.plots import images as pi
from minitorch_vision.plots import training as pt

NAMES = [f"class {i}" for i in range(10)]
RNG = np.random.default_rng(0)


def png_size(path):
    with Image.open(path) as im:
        return im.size


def check_png(path, min_w=600, max_w=1500, min_h=150):
    """Readable at the report's ~900 px: not a thumbnail, not a poster."""
    w, h = png_size(path)
    assert min_w <= w <= max_w and h >= min_h, (path.name, w, h)


def u8(*shape):
    return RNG.integers(0, 256, shape, dtype=np.uint8)


FIGURES = {
    "grayscale_values": lambda p: pi.image_with_values(u8(28, 28), "Ankle boot", p, "c"),
    "rgb_channels": lambda p: pi.rgb_channels(u8(32, 32, 3), "CIFAR-10 'cat'", p, "c"),
    "rgb_histogram": lambda p: pi.pixel_histograms([u8(32, 32) for _ in range(3)], list("RGB"), list("rgb"), "t", p, "c"),
    "class_histograms": lambda p: pi.pixel_histograms([u8(5, 28, 28)] * 3, list("abc"), ["C0", "C1", "C2"], "t", p,
                                                       "c", log=True),
    "linear_weights": lambda p: pi.linear_weights(RNG.normal(size=(10, 784)), NAMES, p, "c"),
    "image_grid": lambda p: pi.image_grid([u8(28, 28) for _ in range(16)], [str(i) for i in range(16)], p),
    "learning_curves": lambda p: pt.learning_curves(
        [{"epoch": e, "train_loss": 1 / e, "val_loss": 1.1 / e, "train_accuracy": 1 - 0.1 / e,
          "val_accuracy": 1 - 0.12 / e} for e in (1, 2, 3)], "MLP on FashionMNIST", p, "c"),
    "confusion_matrix": lambda p: pt.confusion_matrix_plot(RNG.integers(0, 100, (10, 10)), NAMES, "MLP", p, "c"),
    "per_class_accuracy": lambda p: pt.per_class_accuracy_plot(RNG.uniform(0.5, 1, 10), NAMES, "MLP", p, "c"),
    "im2col_patch": lambda p: pt.im2col_patch(RNG.normal(size=(28, 28)), RNG.normal(size=(9, 784)), (10, 12), 3, p),
    "conv_filters": lambda p: pt.conv_filters(RNG.normal(size=(32, 1, 3, 3)), "CNN", p, "c"),
    "feature_maps": lambda p: pt.feature_maps(u8(28, 28), RNG.normal(size=(32, 28, 28)), "CNN", p, "c"),
    "mlp_vs_cnn": lambda p: pt.model_comparison(["MLP", "CNN"], [0.88, 0.92], [BUDGET, BUDGET], "t", p, "c"),
    "kernel_study": lambda p: pt.kernel_study(study_rows([1, 2, 3]), "study", p, "c", pick=study_rows([1, 2, 3])[0],
                                              noise=0.01),
}
BUDGET = {"epochs": 2, "train_images": 5000, "batch_size": 256}


def study_rows(seconds_by_blocks):
    return [{"kernel_size": k, "conv_blocks": b, "val_accuracy": 0.8 + 0.01 * b - 0.002 * k,
             "params": 1000 * k * b, "multiply_adds": 1e5 * k * k * b, "train_seconds": seconds_by_blocks[b - 1] * k}
            for k in (3, 5, 7) for b in (1, 2, 3)]


@pytest.mark.parametrize("name", FIGURES)
def test_figure_renders_a_readable_png(name, tmp_path):
    path = tmp_path / f"{name}.png"
    assert FIGURES[name](path) == path
    check_png(path)


def test_diagnostics_figures_draw_what_diagnose_computed(tmp_path):
    g = torch.Generator().manual_seed(0)
    y = torch.randint(0, 10, (200,), generator=g)
    probs = torch.rand(200, 10, generator=g).softmax(1)
    diag = diagnostics.diagnose(probs, y, NAMES, k_mistakes=8)
    assert diag["confusion_matrix"].sum() == 200 and len(diag["mistakes"]["index"]) == 8
    assert (diag["mistakes"]["predicted"] != diag["mistakes"]["true"]).all()
    paths = pt.diagnostics_figures(diag, torch.randint(0, 256, (200, 28, 28), dtype=torch.uint8), NAMES, tmp_path, "MLP")
    assert [p.name for p in paths] == ["confusion_matrix.png", "per_class_accuracy.png", "worst_mistakes.png"]
    for p in paths:
        check_png(p)


def test_kernel_study_marker_area_follows_train_time():
    def sizes(seconds):
        fig = pt.kernel_study(study_rows(seconds))
        s = np.concatenate([c.get_sizes() for c in fig.axes[1].collections if len(c.get_offsets())])
        plt.close(fig)
        return s
    a, b = sizes([1, 2, 3]), sizes([1, 1, 3])
    assert len(set(np.round(a, 6))) > 3, "markers should differ in size"
    assert not np.allclose(a, b), "different train times must give different marker areas"
    rows = study_rows([1, 2, 3])
    assert np.allclose(a / a.max(), [r["train_seconds"] / max(q["train_seconds"] for q in rows) for r in rows])


def test_kernel_study_noise_band_sits_below_the_best():
    rows = study_rows([1, 2, 3])
    best = max(r["val_accuracy"] for r in rows)
    fig = pt.kernel_study(rows, noise=0.004)
    for ax in fig.axes:
        (band,) = [p for p in ax.patches if p.get_height() > 0]
        assert np.isclose(band.get_y() + band.get_height(), best) and np.isclose(band.get_height(), 0.004)
    assert fig.axes[0].get_ylim() == fig.axes[1].get_ylim(), "both panels on one accuracy scale"
    plt.close(fig)


def test_bar_lengths_follow_the_values():
    fig = pt.per_class_accuracy_plot([0.5, 0.9, 0.7], NAMES[:3])
    assert [round(p.get_width(), 6) for p in fig.axes[0].patches] == [0.5, 0.9, 0.7]
    assert fig.axes[0].get_xlim()[0] == 0
    plt.close(fig)
    fig = pt.model_comparison(["MLP", "CNN"], [0.88, 0.92], [BUDGET, BUDGET])
    assert [round(p.get_height(), 6) for p in fig.axes[0].patches] == [0.88, 0.92]
    assert fig.axes[0].get_ylim()[0] == 0 and "5,000 images" in fig.axes[0].get_xticklabels()[0].get_text()
    plt.close(fig)


def test_im2col_patch_column_is_the_patch():
    """The figure's premise: column r*W + c of the patch matrix is the k x k window centred on (r, c)."""
    x = torch.arange(28 * 28, dtype=torch.float64).view(1, 1, 28, 28)
    cols, _ = ops.im2col(x, 3, padding=1)
    assert torch.equal(cols[0, :, 10 * 28 + 12].view(3, 3), x[0, 0, 9:12, 11:14])
