"""A Trainer job that test_distributed_minibatch.py runs under torchrun (gloo, 2 ranks).

    python -m torch.distributed.run --nproc-per-node 2 tests/ddp_job.py DIR

On every rank: a small MLP trained 6 epochs straight with DistributedDataParallel (the
CSV log given to every rank), then another trained 3 epochs with checkpoints, then a
third that loads that checkpoint and trains 3 more (a resume with the same ranks).
Rank 0 saves the straight run's and the resumed run's parameters and the straight run's
history in DIR.
"""

import sys
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from gradstep import Trainer
from gradstep.checkpoint import save_state

N, BATCH, EPOCHS = 203, 16, 6  # the last batch has 11 rows: parts of 5 and 6 rows


def data():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(N, 3))
    y = np.sin(x[:, 0]) + x[:, 1] * x[:, 2] + 0.1 * rng.normal(size=N)
    return x, y


def build(**options) -> Trainer:
    torch.manual_seed(7)
    model = nn.Sequential(nn.Linear(3, 16), nn.Tanh(), nn.Linear(16, 1)).double()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    return Trainer(model, nn.MSELoss(), optimizer, progress=False, **options)


def params(trainer: Trainer) -> dict:
    return {name: p.detach().clone() for name, p in trainer.model.named_parameters()}


def main(folder: Path) -> None:
    x, y = data()
    fit = {"x": x, "y": y, "batch_size": BATCH}
    straight = build(distributed=True, csv_log=folder / "log.csv")
    assert dist.is_initialized() and dist.get_world_size() == 2
    straight.fit(**fit, epochs=EPOCHS)
    first = build(checkpoint_dir=folder / "ckpt")
    first.fit(**fit, epochs=EPOCHS // 2)
    dist.barrier()  # rank 0 has written last.ckpt
    resumed = build(checkpoint_dir=folder / "ckpt")
    resumed.load_checkpoint(folder / "ckpt" / "last.ckpt")
    resumed.fit(**fit, epochs=EPOCHS - resumed.epoch)
    if dist.get_rank() == 0:
        losses = torch.tensor(straight.history.train_loss, dtype=torch.float64)
        save_state(folder / "straight.ckpt", {**params(straight), "train_loss": losses}, {})
        save_state(folder / "resumed.ckpt", params(resumed), {"epoch": resumed.epoch})
    dist.barrier()
    dist.destroy_process_group()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
