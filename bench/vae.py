"""lec16's VAE training against a minimal plain-PyTorch VAE, same architecture, weights, data, batch size.

The plain model is written here independently (in the style of pytorch/examples/vae: fc layers, a
loss with F.binary_cross_entropy and the analytic KL) and starts from a copy of lec16's initial
weights. Both train on dynamically binarized MNIST with Adam (lr 1e-3, batch 100), one epoch each in
turn; we report the median seconds per epoch, their ratio, the final test bound of each, and the share of this
machine's float32 matmul throughput the lec16 loop reaches (FLOPs counted for the three matmul
passes per layer: forward, and backward for inputs and weights).
"""

from __future__ import annotations

import contextlib
import io
import itertools

import torch
import torch.nn.functional as F
from torch import nn

import lec16
from bench import clock, interleaved_medians
from lec16 import data, vae

HIDDEN, LATENT, BATCH = 500, 20, 100


class PlainVAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1, self.fc21, self.fc22 = (
            nn.Linear(784, HIDDEN),
            nn.Linear(HIDDEN, LATENT),
            nn.Linear(HIDDEN, LATENT),
        )
        self.fc3, self.fc4 = nn.Linear(LATENT, HIDDEN), nn.Linear(HIDDEN, 784)

    def loss(self, x):
        h = torch.tanh(self.fc1(x))
        mu, logvar = self.fc21(h), self.fc22(h)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        logits = self.fc4(torch.tanh(self.fc3(z)))
        rec = F.binary_cross_entropy_with_logits(logits, x, reduction="sum")
        kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
        return (rec + kld) / len(x)

    def copy_from(self, m: vae.VAE):
        pairs = [
            (self.fc1, m.encoder[1]),
            (self.fc21, m.enc_mu),
            (self.fc22, m.enc_logvar),
            (self.fc3, m.decoder[0]),
            (self.fc4, m.decoder[2]),
        ]
        with torch.no_grad():
            for mine, theirs in pairs:
                mine.weight.copy_(theirs.weight)
                mine.bias.copy_(theirs.bias)


def _plain_epoch(model, opt, x, epoch, seed):
    order = torch.randperm(
        len(x), generator=torch.Generator().manual_seed(seed * 100_003 + epoch)
    ).to(x.device)
    for i in range(0, len(x), BATCH):
        batch = torch.bernoulli(x[order[i : i + BATCH]])
        loss = model.loss(batch)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()


def _matmul_gflops(device, n=2048, repeats=10):
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    a @ b
    tic = clock(device)
    for _ in range(repeats):
        a @ b
    return 2 * n**3 * repeats / (clock(device) - tic) / 1e9


def run(repeats: int = 3, seed: int = 0) -> dict:
    """Median seconds of one training epoch of each loop, interleaved (the loops take turns, so a
    drift of the machine's speed hits both alike), after one warm-up epoch each; lec16's epoch is
    one call of ``vae.train_vae`` on the same model (so with a fresh Adam each epoch: the test
    bounds are a sanity check, not a comparison), minus the median time of the test evaluation it
    runs after every epoch (a third interleaved loop)."""
    device = lec16.device()
    x, _ = data.load_mnist("train", device=device)
    x = x.flatten(1)
    xt, _ = data.load_mnist("test", device=device)
    xt = data.binarize_dynamic(
        xt.flatten(1), generator=torch.Generator(device=device).manual_seed(123)
    )

    torch.manual_seed(seed)
    ours = vae.VAE(vae.VAEConfig(hidden=HIDDEN, latent=LATENT)).to(device)
    plain = PlainVAE().to(device)
    plain.copy_from(ours)
    plain_opt = torch.optim.Adam(plain.parameters(), lr=1e-3)
    epochs = {"ours": itertools.count(), "plain": itertools.count()}

    def lec16_epoch():
        config = vae.TrainConfig(
            epochs=1, batch_size=BATCH, seed=seed + next(epochs["ours"])
        )
        with contextlib.redirect_stdout(io.StringIO()):
            vae.train_vae(ours, x, xt, config)

    def plain_epoch():
        _plain_epoch(plain, plain_opt, x, next(epochs["plain"]), seed)

    def evaluation():
        vae.elbo(ours.eval(), xt)

    seconds = interleaved_medians(
        {"lec16": lec16_epoch, "plain": plain_epoch, "evaluation": evaluation},
        repeats,
        device,
    )
    with torch.no_grad():
        torch.manual_seed(1)
        ours_bound = torch.stack([vae.elbo(ours, xt) for _ in range(10)]).mean().item()
        torch.manual_seed(1)
        plain_bound = -torch.stack([plain.loss(xt) for _ in range(10)]).mean().item()

    macs_per_example = (
        784 * HIDDEN + 2 * HIDDEN * LATENT + LATENT * HIDDEN + HIDDEN * 784
    )
    flops_per_epoch = (
        3 * 2 * macs_per_example * len(x)
    )  # forward + two backward matmuls
    ours_train = seconds["lec16"] - seconds["evaluation"]
    plain_train = seconds["plain"]
    peak = _matmul_gflops(device)
    return {
        "device": str(device),
        "threads": torch.get_num_threads(),
        "epochs": repeats + 1,
        "repeats": repeats,
        "lec16_seconds_per_epoch": ours_train,
        "plain_seconds_per_epoch": plain_train,
        "ratio": ours_train / plain_train,
        "lec16_test_bound": ours_bound,
        "plain_test_bound": plain_bound,
        "achieved_gflops": flops_per_epoch / ours_train / 1e9,
        "matmul_gflops": peak,
    }
