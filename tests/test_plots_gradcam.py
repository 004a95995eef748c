"""Lesson 06's figures render on small data into PNGs about as wide as the report shows them
(~900 px), and a flat (all-zero) map is labelled as such in its panel."""
import pytest
import torch
from PIL import Image

import matplotlib.pyplot as plt

from minitorch_vision.plots import gradcam as pg


def _size(path):
    with Image.open(path) as im:
        return im.size  # (width, height)


def _texts(monkeypatch):
    """Collect every text drawn, by wrapping save(): the figure is still open there."""
    seen = []
    real = pg.save

    def spy(fig, path, caption=None, **kw):
        seen.extend(t.get_text() for t in fig.findobj(plt.Text))
        return real(fig, path, caption, **kw)
    monkeypatch.setattr(pg, "save", spy)
    return seen


@pytest.fixture
def maps():
    g = torch.Generator().manual_seed(0)
    h = torch.rand(3, 32, 32, generator=g)
    h[1] = 0  # flat: ReLU(sum) <= 0 everywhere
    return torch.rand(3, 32, 32, generator=g), h


def test_is_flat():
    assert pg.is_flat(torch.zeros(4, 4)) and not pg.is_flat(torch.eye(4))


def test_plot_gradcam(tmp_path, maps, monkeypatch):
    img, h = maps
    texts = _texts(monkeypatch)
    p = pg.plot_gradcam(img, list(h), ["a", "b", "c"], tmp_path / "g.png", suptitle="model on data")
    w, hh = _size(p)
    assert 850 <= w <= 1000 and 200 <= hh <= 450, (w, hh)
    assert pg.FLAT_NOTE in texts and texts.count(pg.FLAT_NOTE) == 1  # only the flat map says so
    assert any("Grad-CAM" in t for t in texts)                        # the colorbar's label


def test_plot_gradcam_gallery(tmp_path, maps, monkeypatch):
    img, h = maps
    texts = _texts(monkeypatch)
    imgs = (img[0] * 255).to(torch.uint8)[None].expand(6, -1, -1)       # (6, 32, 32) grayscale
    heat = torch.cat([h, h])                                            # two flat maps
    p = pg.plot_gradcam_gallery(imgs, heat, [f"true x\npred {i}" for i in range(6)], tmp_path / "g.png",
                                suptitle="CNN on FashionMNIST")
    w, hh = _size(p)
    assert 850 <= w <= 1000 and 300 <= hh <= 700, (w, hh)
    assert sum("flat" in t for t in texts) == 2


def test_plot_sanity_check(tmp_path, maps, monkeypatch):
    img, h = maps
    texts = _texts(monkeypatch)
    rows = [{"randomized": None, "rank_correlation": 1.0}, {"randomized": "head.5", "rank_correlation": 0.8},
            {"randomized": "features.1.0", "rank_correlation": 0.1}, {"randomized": "features.0.0",
                                                                     "rank_correlation": 0.05}]
    p = pg.plot_sanity_check(rows, img, list(h), ["original", "down to head.5", "all random"], tmp_path / "s.png",
                             cam_step=2)
    w, hh = _size(p)
    assert 850 <= w <= 1000 and 550 <= hh <= 800, (w, hh)
    assert "unchanged" in texts and "(none)" not in texts and "None" not in texts
    assert any(t.startswith("fails") for t in texts) and any(t.startswith("passes") for t in texts)
    assert pg.FLAT_NOTE in texts
