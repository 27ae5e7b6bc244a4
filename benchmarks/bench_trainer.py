"""Trainer overhead: time per epoch against a minimal hand-written PyTorch loop.

Scenario A is the document's: ``nn.Sequential(nn.Linear(1, 1))``, SGD with
lr=0.1, MSE, the 80 training points of ``gradstep.make_data()``, mini-batches of 16
(5 updates per epoch): there the model's own step dominates and a DataLoader costs
only ~30%. Scenarios B and C are the same model on 20,000 points in batches of 16
and 64, the sizes people train at; D is 100,000 points in batches of 1,024. There
the DataLoader's per-sample ``Dataset.__getitem__`` and collation dominate. Every
loop takes the same batches in the same order (``steps.batch_indices`` with the
same seed) except the DataLoader ones, which shuffle with their own generator; the
Trainer's final parameters are checked to equal the hand-written loop's bit for bit,
so both do the same work. Variants run interleaved, several rounds each; the table shows
each one's best time per epoch over the rounds (converting the arrays or building
the loader included; the minimum, as ``timeit`` advises, because other load on the
machine only ever adds time) and its ratio to the hand-written loop, from this one
run. One CPU thread (``torch.set_num_threads(1)``) keeps the numbers steady.

skorch (``NeuralNetRegressor``) is timed when it is installed
(``pip install --no-deps -r requirements/bench.txt``). Lightning is not: it would
pull in a different torch build.

Run it alone with ``python benchmarks/bench_trainer.py``; ``benchmarks/run.py`` runs
every ``bench_*.py`` and collects their Markdown into ``benchmarks/results.md``.
"""

from __future__ import annotations

import sys
import time
import warnings

import numpy as np
import torch
from torch import nn

from gradstep import Trainer, make_data, steps

ROUNDS = 7
TARGET = 1.15
SEED = 42


def document_model() -> nn.Module:
    model = nn.Sequential(nn.Linear(1, 1))
    with torch.no_grad():
        model[0].weight.fill_(-0.1382643)
        model[0].bias.fill_(0.49671415)
    return model


def hand_loop(x, y, batch_size, epochs):
    """The loop everyone writes: permutation, slice, forward, loss, backward, step."""
    model = document_model()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    loss_fn = nn.MSELoss()
    start = time.perf_counter()  # converting the arrays counts: the Trainer does it in fit
    x_t = torch.as_tensor(x, dtype=torch.float32)
    y_t = torch.as_tensor(y, dtype=torch.float32)[:, None]
    n = len(x_t)
    for epoch in range(epochs):
        model.train()
        order = torch.from_numpy(
            np.concatenate(list(steps.batch_indices(n, batch_size, SEED, epoch)))
        )
        losses = []
        for i in range(0, n, batch_size):
            idx = order[i : i + batch_size]
            loss = loss_fn(model(x_t[idx]), y_t[idx])
            loss.backward()
            opt.step()
            opt.zero_grad()
            losses.append(loss.item())
        np.mean(losses)
    return time.perf_counter() - start, model


def trainer_arrays(x, y, batch_size, epochs):
    model = document_model()
    trainer = Trainer(model, nn.MSELoss(), torch.optim.SGD(model.parameters(), lr=0.1),
                      seed=SEED, progress=False)  # fmt: skip
    start = time.perf_counter()
    trainer.fit(x, y, epochs=epochs, batch_size=batch_size)
    return time.perf_counter() - start, model


def loader(x, y, batch_size):
    dataset = torch.utils.data.TensorDataset(
        torch.as_tensor(x, dtype=torch.float32), torch.as_tensor(y, dtype=torch.float32)[:, None]
    )
    generator = torch.Generator().manual_seed(SEED)
    return torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=True,
                                       generator=generator)  # fmt: skip


def dataloader_loop(x, y, batch_size, epochs):
    """The book's loop: a TensorDataset in a shuffling DataLoader (per-sample indexing)."""
    model = document_model()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    loss_fn = nn.MSELoss()
    start = time.perf_counter()
    data = loader(x, y, batch_size)
    for _ in range(epochs):
        model.train()
        losses = []
        for x_batch, y_batch in data:
            loss = loss_fn(model(x_batch), y_batch)
            loss.backward()
            opt.step()
            opt.zero_grad()
            losses.append(loss.item())
        np.mean(losses)
    return time.perf_counter() - start, model


def trainer_dataloader(x, y, batch_size, epochs):
    model = document_model()
    trainer = Trainer(model, nn.MSELoss(), torch.optim.SGD(model.parameters(), lr=0.1),
                      seed=SEED, progress=False)  # fmt: skip
    start = time.perf_counter()
    data = loader(x, y, batch_size)
    trainer.fit(data, epochs=epochs)
    return time.perf_counter() - start, model


def skorch_net(x, y, batch_size, epochs):
    from skorch import NeuralNetRegressor

    model = document_model()
    net = NeuralNetRegressor(model, criterion=nn.MSELoss, optimizer=torch.optim.SGD, lr=0.1,
                             batch_size=batch_size, max_epochs=epochs, train_split=None,
                             iterator_train__shuffle=True, verbose=0)  # fmt: skip
    x32, y32 = x.astype(np.float32), y.astype(np.float32)[:, None]
    start = time.perf_counter()
    net.fit(x32, y32)
    return time.perf_counter() - start, model


def variants() -> dict:
    found = {
        "hand-written loop (slices)": hand_loop,
        "gradstep Trainer (arrays)": trainer_arrays,
        "hand-written loop (DataLoader)": dataloader_loop,
        "gradstep Trainer (DataLoader)": trainer_dataloader,
    }
    try:
        import skorch  # noqa: F401
    except ImportError:
        pass
    else:
        found["skorch NeuralNetRegressor"] = skorch_net
    return found


def measure(x, y, batch_size, epochs, rounds) -> tuple[dict, bool]:
    runs = variants()
    for run in runs.values():  # warm-up
        run(x, y, batch_size, 2)
    seconds = {name: [] for name in runs}
    for _ in range(rounds):
        for name, run in runs.items():
            elapsed, _ = run(x, y, batch_size, epochs)
            seconds[name].append(elapsed / epochs)
    _, hand = hand_loop(x, y, batch_size, epochs)
    _, ours = trainer_arrays(x, y, batch_size, epochs)
    identical = all(
        torch.equal(a, b) for a, b in zip(hand.parameters(), ours.parameters(), strict=True)
    )
    return {name: min(values) for name, values in seconds.items()}, identical


def table(title: str, per_epoch: dict, identical: bool) -> str:
    base = per_epoch["hand-written loop (slices)"]
    lines = [
        f"### {title}",
        "",
        "| loop | time per epoch | ratio to hand-written |",
        "|---|---:|---:|",
    ]
    for name, value in per_epoch.items():
        lines.append(f"| {name} | {value * 1e6:,.0f} µs | {value / base:.2f}x |")
    lines.append("")
    lines.append(f"Trainer and hand-written loop end with bit-identical parameters: "
                 f"{'yes' if identical else 'NO'}.")  # fmt: skip
    return "\n".join(lines)


# (title, rows, batch size, epochs, rounds): the document's case, then the sizes users
# train at, where the DataLoader's per-sample indexing and collation show.
SCENARIOS = (
    ("A. Document model, 80 points, batch size 16, 200 epochs", 80, 16, 200, ROUNDS),
    ("B. Document model, 20,000 points, batch size 16, 2 epochs", 20_000, 16, 2, 3),
    ("C. Document model, 20,000 points, batch size 64, 2 epochs", 20_000, 64, 2, 3),
    ("D. Document model, 100,000 points, batch size 1,024, 2 epochs", 100_000, 1024, 2, 3),
)


def main() -> int:
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")
    results = []
    for title, rows, batch_size, epochs, rounds in SCENARIOS:
        data = make_data() if rows == 80 else make_data(n=rows * 5 // 4, seed=0)
        assert len(data.x_train) == rows
        results.append((title, *measure(data.x_train, data.y_train, batch_size, epochs, rounds)))
    first = results[0][1]
    ratio = first["gradstep Trainer (arrays)"] / first["hand-written loop (slices)"]
    verdict = "within" if ratio <= TARGET else "ABOVE"
    print("## Trainer overhead (benchmarks/bench_trainer.py)\n")
    print(f"torch {torch.__version__}, 1 thread, best of interleaved rounds "
          f"(A: {ROUNDS}, B-D: 3).\n")  # fmt: skip
    print(f"**Trainer / hand-written loop, document model, batch 16: {ratio:.3f}x** "
          f"({verdict} the {TARGET}x target).\n")  # fmt: skip
    loader, arrays = "hand-written loop (DataLoader)", "gradstep Trainer (arrays)"
    speedups = ", ".join(
        f"{title[0]} {per_epoch[loader] / per_epoch[arrays]:.1f}x"
        for title, per_epoch, _ in results
    )
    print(f"**A hand-written DataLoader loop (`TensorDataset`, `shuffle=True`) takes this many "
          f"times as long per epoch as the Trainer on arrays:** {speedups}.\n")  # fmt: skip
    for title, per_epoch, identical in results:
        print(table(title, per_epoch, identical))
        print()
    return 0 if all(identical for _, _, identical in results) else 1


if __name__ == "__main__":
    sys.exit(main())
