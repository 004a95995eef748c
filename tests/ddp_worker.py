"""Run by tests/test_distributed.py under torchrun (2 processes, gloo, 127.0.0.1).

Trains a small CNN with the package's fit + DistributedDataParallel and leaves behind, in the
folder given as argv[1]: each rank's final weights and each epoch's shard of indices.
"""
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from minitorch_vision import distributed  # noqa: E402
from minitorch_vision.cli import write_json_atomic  # noqa: E402
from minitorch_vision.data.loader import Batches  # noqa: E402
from minitorch_vision.models.cnn import CNN, CNNConfig  # noqa: E402
from minitorch_vision.train import fit, one_cycle  # noqa: E402

out, data = Path(sys.argv[1]), sys.argv[2]
torch.set_num_threads(1)
torch.manual_seed(0)
rank, world, device = distributed.init_from_env(torch.device("cpu"))
if data == "synthetic":
    x, y = torch.randn(600, 1, 28, 28), torch.randint(0, 10, (600,))
else:
    from minitorch_vision.data.fashion_mnist import load_fashion_mnist, standardize
    d = load_fashion_mnist(data, allow_download=False)
    x, y = standardize(d["train_x"][:1200]), d["train_y"][:1200]
train = Batches(x, y, 64 // world, shuffle=True, seed=3, rank=rank, world_size=world)
model = CNN(CNNConfig(width=8, hidden=32))
opt = torch.optim.Adam(model.parameters(), lr=2e-3)


def record_shard(epoch, rec):
    torch.save(train.indices(), out / f"shard_r{rank}_e{epoch}.pt")


hist = fit(distributed.wrap(model, device), train, None, epochs=2, opt=opt, sched=one_cycle(opt, 2e-3, 2, len(train)),
           out=out / "run", log_dir=out / "run" / "tb", on_epoch_end=record_shard, progress=False)
torch.save(model.state_dict(), out / f"weights_r{rank}.pt")
if distributed.is_main():  # one results.json, rank 0's
    write_json_atomic(out / "run" / "results.json", {"train_loss": hist[-1]["train_loss"], "world_size": world, "n": len(x)})
distributed.shutdown()
