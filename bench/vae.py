"""lec16's VAE training against a minimal plain-PyTorch VAE, same architecture, weights, data, batch size.

The plain model is written here independently (in the style of pytorch/examples/vae: fc layers, a
loss with F.binary_cross_entropy and the analytic KL) and starts from a copy of lec16's initial
weights. Both train for `epochs` epochs on dynamically binarized MNIST with Adam (lr 1e-3, batch 100);
we report seconds per epoch, their ratio, the final test bound of each, and the share of this
machine's float32 matmul throughput the lec16 loop reaches (FLOPs counted for the three matmul
passes per layer: forward, and backward for inputs and weights).
"""

from __future__ import annotations

import contextlib
import io

import torch
import torch.nn.functional as F
from torch import nn

import lec16
from bench import clock
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


def _plain_train(model, x, epochs, seed):
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    per_epoch = []
    for epoch in range(epochs):
        tic = clock(x.device)
        order = torch.randperm(
            len(x), generator=torch.Generator().manual_seed(seed * 100_003 + epoch)
        ).to(x.device)
        for i in range(0, len(x), BATCH):
            batch = torch.bernoulli(x[order[i : i + BATCH]])
            loss = model.loss(batch)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        per_epoch.append(clock(x.device) - tic)
    return per_epoch


def _matmul_gflops(device, n=2048, repeats=10):
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    a @ b
    tic = clock(device)
    for _ in range(repeats):
        a @ b
    return 2 * n**3 * repeats / (clock(device) - tic) / 1e9


def run(epochs: int = 3, seed: int = 0) -> dict:
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

    torch.manual_seed(seed)
    with contextlib.redirect_stdout(io.StringIO()):
        history = vae.train_vae(
            ours, x, xt, vae.TrainConfig(epochs=epochs, batch_size=BATCH, seed=seed)
        )
    ours_epoch = [
        b["seconds"] - a["seconds"]
        for a, b in zip([{"seconds": 0.0}] + history.records, history.records)
    ]
    # train_vae's seconds include its per-epoch test evaluation; time that separately to subtract it
    tic = clock(device)
    vae.elbo(ours.eval(), xt)
    eval_seconds = clock(device) - tic

    torch.manual_seed(seed)
    plain_epoch = _plain_train(plain, x, epochs, seed)
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
    ours_train = min(ours_epoch[1:] or ours_epoch) - eval_seconds
    plain_train = min(plain_epoch[1:] or plain_epoch)
    peak = _matmul_gflops(device)
    return {
        "device": str(device),
        "threads": torch.get_num_threads(),
        "epochs": epochs,
        "lec16_seconds_per_epoch": ours_train,
        "plain_seconds_per_epoch": plain_train,
        "ratio": ours_train / plain_train,
        "lec16_test_bound": ours_bound,
        "plain_test_bound": plain_bound,
        "achieved_gflops": flops_per_epoch / ours_train / 1e9,
        "matmul_gflops": peak,
    }
