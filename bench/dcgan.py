"""A DCGAN epoch: lec16's ``gan.train_gan`` against the training loop of pytorch/examples'
``dcgan/main.py``, at equal sizes.

Both train the same networks (``gan.DCGANGenerator`` and ``gan.DCGANDiscriminator``, width 64 as
in Radford et al., on 28x28 MNIST) with the same batch (64), Adam (2e-4, beta1 0.5) and the same
losses (binary cross-entropy on the discriminator's logits). The reference loop is written the
way pytorch/examples writes it (read, not copied): a DataLoader over the images (here an
in-memory TensorDataset, the examples' torchvision transforms left out), per batch
``zero_grad``/``backward`` on real then fake, one discriminator step, then a generator step on
the *same* fake batch. ``train_gan`` draws a fresh fake batch for the generator's step (one more
generator forward per step). After a warm-up epoch each, the two loops take turns for
``repeats`` epochs of ``n`` digits; medians are reported.
"""

from __future__ import annotations

import contextlib
import io

import torch
import torch.nn.functional as F

import lec16
from bench import interleaved_medians
from lec16 import data, gan


def _examples_epoch(generator, discriminator, opt_g, opt_d, loader, device):
    for (real,) in loader:
        discriminator.zero_grad()
        out = discriminator(real)
        err_real = F.binary_cross_entropy_with_logits(out, torch.ones_like(out))
        err_real.backward()
        fake = generator(torch.randn(len(real), generator.latent, device=device))
        out = discriminator(fake.detach())
        err_fake = F.binary_cross_entropy_with_logits(out, torch.zeros_like(out))
        err_fake.backward()
        opt_d.step()
        generator.zero_grad()
        out = discriminator(fake)
        err_g = F.binary_cross_entropy_with_logits(out, torch.ones_like(out))
        err_g.backward()
        opt_g.step()


def run(n: int = 3200, width: int = 64, repeats: int = 3) -> dict:
    device = lec16.device()
    x = data.load_mnist("train", device=device)[0][:n]
    config = gan.GANConfig(epochs=1, batch_size=64)

    def networks():
        torch.manual_seed(0)
        return (
            gan.DCGANGenerator(width=width).to(device),
            gan.DCGANDiscriminator(width=width).to(device),
        )

    ours_g, ours_d = networks()

    def lec16_epoch():
        with contextlib.redirect_stdout(io.StringIO()):
            gan.train_gan(ours_g, ours_d, x, config)

    their_g, their_d = networks()
    opt_g = torch.optim.Adam(their_g.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(their_d.parameters(), lr=2e-4, betas=(0.5, 0.999))
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(x), batch_size=64, shuffle=True, drop_last=True
    )

    def examples_epoch():
        _examples_epoch(their_g, their_d, opt_g, opt_d, loader, device)

    loops = {"lec16": lec16_epoch, "examples": examples_epoch}
    seconds = interleaved_medians(loops, repeats, device)
    ours, theirs = seconds["lec16"], seconds["examples"]
    return {
        "device": str(device),
        "threads": torch.get_num_threads(),
        "n": n,
        "width": width,
        "lec16_seconds": ours,
        "examples_seconds": theirs,
        "ratio": ours / theirs,
    }
