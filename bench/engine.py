"""Overhead of lec16's training engine and in-memory batches against a plain PyTorch loop.

Both train the same MLP classifier on the same MNIST tensors with the same batch size and optimizer;
the plain loop indexes a shuffled permutation itself (and stays a plain zero_grad/backward/step loop
on purpose: it is the reference), the other goes through `lec16.data.Batches` and `lec16.train.fit`
(metrics, progress, no checkpoint). A third row trains a fresh copy of the model with torch's
DataLoader over a TensorDataset, the usual idiom, for scale. After one warm-up epoch each, the
loops take turns for `repeats` rounds of one epoch (so a drift of the machine's speed hits all of
them alike); the median epoch is reported, the device synchronised before every timer read.
"""

from __future__ import annotations

import functools
import itertools

import torch
import torch.nn.functional as F

import lec16
from bench import interleaved_medians
from lec16 import data, train


def _model(device):
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Flatten(),
        torch.nn.Linear(784, 256),
        torch.nn.ReLU(),
        torch.nn.Linear(256, 10),
    ).to(device)


def _plain_epoch(model, opt, x, y, batch_size, epoch):
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(epoch)).to(
        x.device
    )
    for i in range(0, len(x), batch_size):
        idx = order[i : i + batch_size]
        loss = F.cross_entropy(model(x[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()


def run(n: int = 20_000, batch_size: int = 100, repeats: int = 5) -> list[dict]:
    device = lec16.device()
    x, y = data.load_mnist("train", device=device)
    x, y = x[:n], y[:n]

    def plain():
        model = _model(device)
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        epochs = itertools.count()
        return lambda: _plain_epoch(model, opt, x, y, batch_size, next(epochs))

    def engine():
        model = _model(device)
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        return functools.partial(
            train.fit,
            train.classification_step(model, opt),
            data.Batches(x, y, batch_size=batch_size),
            1,
            modules={"m": model},
            optimizers={"o": opt},
            log=train.Log("bench", 1, bar=False, every=1),
        )

    def loader():
        model = _model(device)
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        step = train.classification_step(model, opt)
        batches = torch.utils.data.DataLoader(
            torch.utils.data.TensorDataset(x, y), batch_size=batch_size, shuffle=True
        )

        def epoch():
            for batch in batches:
                step(batch)

        return epoch

    loops = {
        "plain PyTorch loop": plain(),
        "lec16.train.fit + data.Batches": engine(),
        "DataLoader(TensorDataset) loop": loader(),
    }
    seconds = interleaved_medians(loops, repeats, device)
    base = seconds["plain PyTorch loop"]
    return [
        {"loop": name, "seconds_per_epoch": s, "ratio_to_plain": s / base}
        for name, s in seconds.items()
    ]
