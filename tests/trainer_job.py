"""Training jobs that test_resume_process.py runs in separate processes.

    python tests/trainer_job.py CASE[,CASE...] EPOCHS --dir DIR [--resume] [--periodic]
                                [--stall-write K]

trains each case until its trainer has run EPOCHS epochs in all: from scratch, or
from DIR/CASE/last.ckpt with --resume when that file exists. With --periodic the
trainer checkpoints into DIR/CASE every epoch; without, it saves last.ckpt once at
the end (save_checkpoint). The final parameters go to DIR/CASE/final.ckpt.

--stall-write K freezes the K-th write of a last.ckpt half-way: the temporary file
holds half of the checkpoint and has not been renamed yet; the job prints
``writing`` and sleeps, so that the test can SIGKILL it in the middle of a write.
"""

import argparse
import contextlib
import sys
import time
from pathlib import Path

import torch
from torch import nn

from gradstep import EarlyStopping, Trainer, make_data
from gradstep import checkpoint as checkpoint_module
from gradstep.checkpoint import save_state

DATA = make_data(n=400, noise=0.3, seed=1)


def build(case: str, checkpoint_dir=None):
    """A fresh trainer for ``case`` and the keyword arguments of its ``fit``."""
    torch.manual_seed(123)
    fit = {"x": DATA.x_train, "y": DATA.y_train}
    if case == "full":
        model = nn.Sequential(nn.Linear(1, 1))
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        return Trainer(model, nn.MSELoss(), opt, progress=False,
                       checkpoint_dir=checkpoint_dir), fit  # fmt: skip
    model = nn.Sequential(nn.Linear(1, 32), nn.ReLU(), nn.Dropout(0.1), nn.Linear(32, 1))
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    fit["batch_size"] = 16
    if case == "mini":
        return Trainer(model, nn.MSELoss(), opt, progress=False,
                       checkpoint_dir=checkpoint_dir), fit  # fmt: skip
    if case == "scheduled":
        sched = torch.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.7)
        return Trainer(model, nn.MSELoss(), opt, scheduler=sched, progress=False,
                       checkpoint_dir=checkpoint_dir), fit  # fmt: skip
    if case == "plateau":  # the SIGKILL case: everything with state at once
        sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=1)
        fit["validation_data"] = (DATA.x_val, DATA.y_val)
        return Trainer(model, nn.MSELoss(), opt, scheduler=sched, clip_norm=1.0,
                       early_stopping=EarlyStopping(patience=50), progress=False,
                       checkpoint_dir=checkpoint_dir, keep_best=True), fit  # fmt: skip
    raise SystemExit(f"unknown case {case!r}")


def run(case: str, epochs: int, folder: Path, resume: bool, periodic: bool) -> None:
    """Train ``case`` until ``epochs`` epochs in all; leave ``final.ckpt`` in ``folder``."""
    trainer, fit = build(case, folder if periodic else None)
    last = folder / "last.ckpt"
    if resume and last.exists():
        trainer.load_checkpoint(last)
    print(f"start {case} {trainer.epoch}", flush=True)
    if trainer.epoch < epochs:
        trainer.fit(**fit, epochs=epochs - trainer.epoch)
    if not periodic:
        trainer.save_checkpoint(last)
    params = {name: p.detach() for name, p in trainer.model.named_parameters()}
    save_state(folder / "final.ckpt", params, {"epoch": trainer.epoch})


def stall_write(k: int) -> None:
    """Make the k-th write of a last.ckpt stop half-way, before its rename (see above)."""
    real, writes = checkpoint_module.atomic_path, []

    @contextlib.contextmanager
    def stalling(path):
        with real(path) as tmp:
            yield tmp
            if Path(path).name == "last.ckpt":
                writes.append(path)
                if len(writes) == k:
                    data = tmp.read_bytes()
                    tmp.write_bytes(data[: len(data) // 2])
                    print(f"writing {tmp.name}", flush=True)
                    time.sleep(600)

    checkpoint_module.atomic_path = stalling


def main(argv=None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("cases", help="comma-separated case names")
    parser.add_argument("epochs", type=int)
    parser.add_argument("--dir", type=Path, required=True, help="one sub-folder per case")
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--periodic", action="store_true", help="checkpoint every epoch")
    parser.add_argument("--stall-write", type=int, default=0, metavar="K")
    args = parser.parse_args(argv)
    if args.stall_write:
        stall_write(args.stall_write)
    for case in args.cases.split(","):
        run(case, args.epochs, args.dir / case, args.resume, args.periodic)
    print("done", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
