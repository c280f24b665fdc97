"""A small deterministic regression trained with lec16.train.fit, on one process or under
``torchrun`` (tests/test_distributed.py): ``python ddp_worker.py OUT CHECKPOINT EPOCHS [STOP]``.
STOP = s raises after the s-th step of the run, to interrupt it after a checkpoint."""

import sys

import torch

from lec16 import data, distributed, train

out, checkpoint, epochs = sys.argv[1], sys.argv[2], int(sys.argv[3])
stop = int(sys.argv[4]) if len(sys.argv) > 4 else None
distributed.init_from_env()
g = torch.Generator().manual_seed(1)
x = torch.randn(240, 5, generator=g)
y = x @ torch.randn(5, 1, generator=g) + 0.1 * torch.randn(240, 1, generator=g)
torch.manual_seed(0)
model = torch.nn.Sequential(
    torch.nn.Linear(5, 16), torch.nn.Tanh(), torch.nn.Linear(16, 1)
)
parallel = distributed.wrap(model)
optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
steps = [0]


def step(batch):
    loss = torch.nn.functional.mse_loss(parallel(batch[0]), batch[1])
    train.optimizer_step(optimizer, loss)
    steps[0] += 1
    if steps[0] == stop:
        raise SystemExit(f"interrupted after step {stop}")
    return {"loss": loss}


history = train.fit(
    step,
    data.Batches(x, y, batch_size=40, seed=3),
    epochs,
    modules={"model": parallel},
    optimizers={"opt": optimizer},
    checkpoint=checkpoint,
    config={"lr": 1e-2, "batch_size": 40},
    log=train.Log("ddp", epochs, bar=False, every=epochs),
)
if distributed.is_main():
    torch.save({"model": model.state_dict(), "history": history.records}, out)
