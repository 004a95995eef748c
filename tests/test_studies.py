"""Lesson 03's studies: multiply-add counts, the paired verdict, the kernel study's rows, MLP baseline reuse."""
import json

import pytest
import torch
from torch import nn

from minitorch_vision import studies, tblog
from minitorch_vision.data.loader import Batches
from minitorch_vision.models.cnn import CNN, CNNConfig


def test_multiply_adds_by_hand():
    m = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.Flatten(), nn.Linear(4 * 8 * 8, 10))
    assert studies.multiply_adds(m, torch.randn(5, 1, 8, 8)) == 4 * 8 * 8 * 1 * 9 + 256 * 10
    cnn = CNN(CNNConfig(conv_blocks=1, width=16))
    assert studies.multiply_adds(cnn, torch.randn(2, 1, 28, 28)) == 16 * 28 * 28 * 9 + 16 * 14 * 14 * 128 + 128 * 10


def rows_for(accs, macs):
    return [{"kernel_size": 3 + 2 * (i // 3), "conv_blocks": 1 + i % 3, "val_accuracy": a, "multiply_adds": c}
            for i, (a, c) in enumerate(zip(accs, macs))]


def test_verdict_paired_test_and_pick():
    g = torch.Generator().manual_seed(0)
    n = 2000
    y = torch.randint(0, 10, (n,), generator=g)
    base = y.clone()
    base[:300] = (y[:300] + 1) % 10                                 # 85% right
    close = base.clone()                                          # 0.5% behind, on 90 disagreeing images: noise
    close[:40] = y[:40]
    close[300:350] = (y[300:350] + 1) % 10
    far = base.clone()
    far[300:500] = (y[300:500] + 1) % 10                           # 10% behind: significant
    preds = torch.stack([base, close, far])
    rows = rows_for([(p == y).double().mean().item() for p in preds], [3e6, 1e6, 0.5e6])
    v = studies.study_verdict({"rows": rows, "predictions": preds}, y, reference=0.7)
    assert v["best"] is rows[0] and v["pick"] is rows[1] and v["conclusive"]
    assert v["worse"] == [studies._name(rows[2])] and "cheapest" in v["text"]
    ses = [studies.paired_gap(preds[0] == y, preds[i] == y)[1] for i in (1, 2)]
    assert v["noise"] == pytest.approx(2 * sum(ses) / 2), "two standard errors, the median over the others"
    v = studies.study_verdict({"rows": rows[:2], "predictions": preds[:2]}, y, reference=0.7)
    assert v["conclusive"] and "within the noise" in v["text"], "separating nothing is a finding, not a failure"
    assert v["pick"] is rows[1] and v["worse"] == [] and "cheapest" in v["text"]
    v = studies.study_verdict({"rows": rows, "predictions": preds}, y, reference=0.84)  # 0.85 is within 2 sigma
    assert not v["conclusive"] and "linear classifier" in v["text"], "CNNs no better than raw pixels: too short"


def test_kernel_study_rows_and_tensorboard_runs(tmp_path):
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(64, 1, 28, 28, generator=g), torch.randint(0, 10, (64,), generator=g)
    study = studies.kernel_study(x, y, x[:16], y[:16], kernel_sizes=(3, 5), depths=(1, 2), width=4, epochs=1,
                                 batch_size=32, log_root=tmp_path, verbose=False)
    rows = study["rows"]
    assert len(rows) == 4 and study["predictions"].shape == (4, 16)
    assert {"kernel_size", "conv_blocks", "val_accuracy", "params", "multiply_adds", "train_seconds"} <= set(rows[0])
    assert rows[0]["multiply_adds"] < rows[2]["multiply_adds"]     # 5x5 costs more than 3x3 at the same depth
    assert sorted(p.name for p in tmp_path.iterdir()) == ["k3_blocks1", "k3_blocks2", "k5_blocks1", "k5_blocks2"]


def test_mlp_baseline_reuses_lesson_02_only_for_the_same_budget(tmp_path):
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(64, 1, 28, 28, generator=g), torch.randint(0, 10, (64,), generator=g)
    train, test = Batches(x, y, 32, shuffle=True), Batches(x[:16], y[:16], 16)
    record = {"budget": studies.budget(1, 64, 32), "quick": True, "flags": {"seed": 0},
              "test_accuracy": 0.123, "params": 1, "train_seconds": 2.0}
    (tmp_path / "results.json").write_text(json.dumps(record))
    r = studies.mlp_baseline(train, test, epochs=1, quick=True, reuse=tmp_path / "results.json")
    assert r["test_accuracy"] == 0.123 and r["source"].endswith("results.json")
    r = studies.mlp_baseline(train, test, epochs=2, quick=True, reuse=tmp_path / "results.json")
    assert r["source"] == "trained here" and r["budget"] == studies.budget(2, 64, 32)


def test_tblog_images_and_graph_read_back(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    tblog.add_images(tmp_path, "worst mistakes", torch.randint(0, 256, (6, 28, 28), dtype=torch.uint8))
    model = CNN(CNNConfig(width=4, hidden=8))
    model.train()
    tblog.add_graph(tmp_path, model, torch.randn(2, 1, 28, 28))
    assert model.training, "add_graph must give the model its mode back"
    acc = EventAccumulator(str(tmp_path))
    acc.Reload()
    assert acc.Tags()["images"] == ["worst mistakes"] and acc.Tags()["graph"]
    assert len(acc.Images("worst mistakes")) == 1
