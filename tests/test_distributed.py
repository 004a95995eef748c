"""Data-parallel training: 2 processes under torchrun on this CPU (gloo on 127.0.0.1)."""
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

HERE = Path(__file__).resolve().parent


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_two_ranks_same_weights_disjoint_shards_one_output(tmp_path):
    data = os.environ.get("MTV_DATA_DIR")
    fm = Path(data or "", "fashion-mnist", "train-images-idx3-ubyte.gz")
    source = data if data and fm.exists() else "synthetic"  # a FashionMNIST slice when the data is there
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--master-addr=127.0.0.1",
           f"--master-port={free_port()}", str(HERE / "ddp_worker.py"), str(tmp_path), source]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=240, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert r.returncode == 0, r.stderr[-3000:]
    w0 = torch.load(tmp_path / "weights_r0.pt", weights_only=True)
    w1 = torch.load(tmp_path / "weights_r1.pt", weights_only=True)
    for k in w0:
        assert torch.equal(w0[k], w1[k]), f"ranks disagree on {k}"
    n = 600 if source == "synthetic" else 1200
    for epoch in (1, 2):
        s0 = torch.load(tmp_path / f"shard_r0_e{epoch}.pt", weights_only=True)
        s1 = torch.load(tmp_path / f"shard_r1_e{epoch}.pt", weights_only=True)
        assert len(set(s0.tolist()) & set(s1.tolist())) == 0                    # no overlap
        perm = torch.randperm(n, generator=torch.Generator().manual_seed(3 + epoch - 1))
        assert sorted(torch.cat([s0, s1]).tolist()) == sorted(perm.tolist())   # union = the epoch's permutation
        assert torch.equal(torch.stack([s0, s1], 1).flatten(), perm)          # interleaved: rank r takes r::2
    run = tmp_path / "run"
    assert [p.name for p in run.glob("results.json*")] == ["results.json"]
    assert len(list((run / "tb").glob("events.out.tfevents.*"))) == 1
    assert w0 != {} and (run / "checkpoint.pt").exists()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine: the CUDA/AMP path runs only where a GPU is present")
def test_cuda_amp_fit_runs_and_learns():
    from minitorch_vision.data.loader import Batches
    from minitorch_vision.models.cnn import CNN, CNNConfig
    from minitorch_vision.train import amp_dtype, evaluate, fit

    torch.manual_seed(0)
    y = torch.randint(0, 10, (512,))
    x = torch.randn(512, 1, 28, 28) * 0.3
    x[torch.arange(512), 0, y, y] += 3.0
    dev = torch.device("cuda")
    model = CNN(CNNConfig(width=8)).to(dev, memory_format=torch.channels_last)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    hist = fit(model, Batches(x.pin_memory(), y.pin_memory(), 64, shuffle=True), None, epochs=3, opt=opt,
               device=dev, amp=True, progress=False)
    assert amp_dtype(dev) in (torch.bfloat16, torch.float16)
    assert hist[-1]["train_loss"] < hist[0]["train_loss"]
    assert evaluate(model, Batches(x, y, 128), dev, amp=True)["accuracy"] > 0.5


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine: device auto-pick can only choose the CPU")
def test_auto_device_picks_cuda():
    from minitorch_vision.cli import pick_device
    assert pick_device("auto").type == "cuda"


def test_auto_device_on_cpu_machine():
    from minitorch_vision.cli import pick_device
    from minitorch_vision.errors import MTVError
    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present: covered by test_auto_device_picks_cuda")
    assert pick_device("auto").type in ("cpu", "mps")
    with pytest.raises(MTVError, match="no CUDA"):
        pick_device("cuda")


def test_context_shards_the_training_batches_and_ends_the_other_ranks(tmp_path):
    """``ctx.train_batches``: rank r of N takes its 1/N of every epoch with batch_size // N rows;
    ``ctx.end_parallel``: every rank but 0 stops there (exit status 0), rank 0 goes on."""
    from argparse import Namespace

    from minitorch_vision.cli import Context
    x, y = torch.arange(40.0), torch.arange(40)
    ctxs = [Context(Namespace(), "03_cnn", tmp_path, tmp_path, torch.device("cpu"), rank=r, world_size=2) for r in (0, 1)]
    shards = [c.train_batches(x, y, 8, seed=3) for c in ctxs]
    assert [s.batch_size for s in shards] == [4, 4] and [len(s) for s in shards] == [5, 5]
    idx = [s.indices() for s in shards]
    assert sorted(torch.cat(idx).tolist()) == list(range(40))                 # disjoint, together the epoch
    assert len(Context(Namespace(), "03_cnn", tmp_path, tmp_path, torch.device("cpu")).train_batches(x, y, 8, 3)) == 5
    ctxs[0].end_parallel()
    with pytest.raises(SystemExit) as e:
        ctxs[1].end_parallel()
    assert e.value.code == 0
