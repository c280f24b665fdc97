"""Overhead of lec16's training engine and in-memory batches against a plain PyTorch loop.

Both train the same MLP classifier on the same MNIST tensors with the same batch size and optimizer;
the plain loop indexes a shuffled permutation itself (and stays a plain zero_grad/backward/step loop
on purpose: it is the reference), the other goes through `lec16.data.Batches` and `lec16.train.fit`
(metrics, progress, no checkpoint). A third row trains a fresh copy of the model with torch's
DataLoader over a TensorDataset, the usual idiom, for scale. Each is timed over `repeats` epochs
after one warm-up epoch, the device synchronised before every timer read.
"""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F

import lec16
from bench import clock
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


def run(n: int = 20_000, batch_size: int = 100, repeats: int = 3) -> list[dict]:
    device = lec16.device()
    x, y = data.load_mnist("train", device=device)
    x, y = x[:n], y[:n]
    results = []

    model = _model(device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    _plain_epoch(model, opt, x, y, batch_size, 0)
    tic = clock(device)
    for e in range(repeats):
        _plain_epoch(model, opt, x, y, batch_size, e + 1)
    results.append(
        {
            "loop": "plain PyTorch loop",
            "seconds_per_epoch": (clock(device) - tic) / repeats,
        }
    )

    model = _model(device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    fit = functools.partial(
        train.fit,
        train.classification_step(model, opt),
        data.Batches(x, y, batch_size=batch_size),
        modules={"m": model},
        optimizers={"o": opt},
        progress=False,
    )
    fit(1, desc="warm-up")
    tic = clock(device)
    fit(repeats, desc="bench")
    results.append(
        {
            "loop": "lec16.train.fit + data.Batches",
            "seconds_per_epoch": (clock(device) - tic) / repeats,
        }
    )

    model = _model(device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    step = train.classification_step(
        model, opt
    )  # this model's step, not the previous row's
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(x, y), batch_size=batch_size, shuffle=True
    )
    tic = clock(device)
    for _ in range(repeats):
        for batch in loader:
            step(batch)
    results.append(
        {
            "loop": "DataLoader(TensorDataset) loop",
            "seconds_per_epoch": (clock(device) - tic) / repeats,
        }
    )

    base = results[0]["seconds_per_epoch"]
    for r in results:
        r["ratio_to_plain"] = r["seconds_per_epoch"] / base
    return results
