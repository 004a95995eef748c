"""The fit loop: TensorBoard scalars, determinism, resume == uninterrupted, NaN stop, model shapes."""
import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from minitorch_vision.data.loader import Batches
from minitorch_vision.models.cnn import CNN, CNNConfig
from minitorch_vision.models.mlp import MLP, MLPConfig, linear_classifier
from minitorch_vision.nnutil import count_params
from minitorch_vision.checkpoint import CHECKPOINT, ResumeRefused
from minitorch_vision.train import TrainingDiverged, evaluate, fit, one_cycle


def toy_data(n=256, seed=0):
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 10, (n,), generator=g)
    x = torch.randn(n, 1, 28, 28, generator=g) * 0.5
    x[torch.arange(n), 0, y, y] += 3.0  # a learnable signal: a bright pixel on the diagonal
    return x, y


def run(out, epochs=3, resume=False, seed=0, stop_after=None, tb=True, init_seed=None):
    torch.manual_seed(seed if init_seed is None else init_seed)
    model = CNN(CNNConfig(width=4, hidden=16, dropout=0.3))
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    x, y = toy_data()
    train = Batches(x, y, 32, shuffle=True, seed=seed)
    val = Batches(*toy_data(64, seed=1), batch_size=64)

    def stop(epoch, rec):
        if stop_after is not None and epoch > stop_after:
            raise KeyboardInterrupt  # Ctrl-C during epoch stop_after + 1, before its checkpoint
    hist = fit(model, train, val, epochs=epochs, opt=opt, sched=one_cycle(opt, 3e-3, epochs, len(train)),
               out=out, resume=resume, on_epoch_end=stop, progress=False,
               log_dir=out / "tb" if tb and out is not None else None)
    return model, hist


@pytest.mark.parametrize("config,params", [(CNNConfig(), None), (CNNConfig(conv_blocks=3, kernel_size=5), None),
                                        (CNNConfig(conv_blocks=1, kernel_size=7, hidden=0), None)])
def test_cnn_shapes(config, params):
    m = CNN(config)
    assert m(torch.randn(5, 1, 28, 28)).shape == (5, 10)
    assert m.features(torch.randn(2, 1, 28, 28)).shape[-1] == 28 // 2 ** config.conv_blocks


def test_mlp_and_linear_shapes():
    assert MLP()(torch.randn(3, 1, 28, 28)).shape == (3, 10)
    assert MLP(MLPConfig(hidden=(32,)))(torch.randn(3, 784)).shape == (3, 10)
    lin = linear_classifier()
    assert lin(torch.randn(3, 1, 28, 28)).shape == (3, 10) and count_params(lin) == 784 * 10 + 10


def test_tensorboard_scalars_per_epoch(tmp_path):
    _, hist = run(tmp_path, epochs=3)
    acc = EventAccumulator(str(tmp_path / "tb"))
    acc.Reload()
    tags = set(acc.Tags()["scalars"])
    assert {"loss/train", "loss/val", "accuracy/train", "accuracy/val", "lr"} <= tags
    vals = acc.Scalars("accuracy/val")
    assert [e.step for e in vals] == [1, 2, 3]
    assert [round(e.value, 6) for e in vals] == [round(r["val_accuracy"], 6) for r in hist]
    assert hist[-1]["train_loss"] < hist[0]["train_loss"]


def test_same_seed_same_metrics(tmp_path):
    _, h1 = run(tmp_path / "a", epochs=2, tb=False)
    _, h2 = run(tmp_path / "b", epochs=2, tb=False)
    strip = lambda h: [{k: v for k, v in r.items() if k not in ("seconds", "elapsed")} for r in h]  # noqa: E731
    assert strip(h1) == strip(h2)
    _, h3 = run(tmp_path / "c", epochs=2, seed=1, tb=False)
    assert strip(h3) != strip(h1)


def test_interrupted_then_resumed_equals_uninterrupted(tmp_path):
    full, _ = run(tmp_path / "full", epochs=3)
    with pytest.raises(KeyboardInterrupt):
        run(tmp_path / "cut", epochs=3, stop_after=1)
    ck = torch.load(tmp_path / "cut" / CHECKPOINT, weights_only=True)
    assert ck["epoch"] == 1 and not list((tmp_path / "cut").glob("*.tmp"))
    resumed, hist = run(tmp_path / "cut", epochs=3, resume=True, init_seed=123)  # other init: resume overwrites it
    assert [r["epoch"] for r in hist] == [1, 2, 3]
    for (k, a), b in zip(full.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(a, b), k


def test_nan_loss_stops_clearly():
    model = MLP(MLPConfig(hidden=(8,)))
    x, y = toy_data(64)
    x[5] = float("nan")
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(TrainingDiverged, match="--lr"):
        fit(model, Batches(x, y, 16), None, epochs=1, opt=opt, progress=False)


def test_evaluate_restores_mode():
    m = MLP()
    m.train()
    r = evaluate(m, Batches(*toy_data(50), batch_size=20))
    assert m.training and r["n"] == 50 and 0 <= r["accuracy"] <= 1


def test_exploding_loss_stops_clearly():
    """Finite but absurd: lr 1e9 sends the loss to ~1e28 without a NaN; fit stops and names --lr."""
    torch.manual_seed(0)
    model = MLP(MLPConfig(hidden=(8,)))
    opt = torch.optim.Adam(model.parameters(), lr=1e9)
    with pytest.raises(TrainingDiverged, match="--lr") as e:
        fit(model, Batches(*toy_data(64), 16), None, epochs=2, opt=opt, progress=False)
    assert "\n" not in str(e.value)


def test_resume_with_more_epochs_continues_on_the_new_schedule(tmp_path):
    run(tmp_path, epochs=2, tb=False)
    _, hist = run(tmp_path, epochs=4, resume=True, tb=False)  # OneCycleLR rebuilt for 4 epochs
    assert [r["epoch"] for r in hist] == [1, 2, 3, 4]
    assert torch.load(tmp_path / CHECKPOINT, weights_only=True)["epochs"] == 4
    assert hist[-1]["lr"] < hist[2]["lr"]  # the new schedule anneals to its own end


@pytest.mark.parametrize("case", ["fewer epochs", "another shape", "truncated", "empty", "not a checkpoint"])
def test_resume_that_cannot_be_done_is_one_line(tmp_path, case):
    run(tmp_path, epochs=2, tb=False)
    ck = tmp_path / CHECKPOINT
    epochs = 1 if case == "fewer epochs" else 3
    if case == "truncated":
        ck.write_bytes(ck.read_bytes()[:1000])
    elif case == "empty":
        ck.write_bytes(b"")
    elif case == "not a checkpoint":
        torch.save({"weights": torch.zeros(3)}, ck)
    model = CNN(CNNConfig(width=8 if case == "another shape" else 4, hidden=16, dropout=0.3))
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    with pytest.raises(ResumeRefused) as e:
        fit(model, Batches(*toy_data(), 32), None, epochs=epochs, opt=opt, out=tmp_path, resume=True,
            progress=False)
    msg = str(e.value)
    assert "\n" not in msg and str(ck) in msg and " — " in msg
    assert {"fewer epochs": "--epochs 2", "another shape": "another model", "truncated": "truncated",
            "empty": "empty", "not a checkpoint": "not a checkpoint"}[case] in msg
