"""The GAN theory chapter's toy runs: a discriminator on 1-D densities, a 1-D GAN, ring GANs.

They train in seconds inside the notebook, so this experiment holds only their sizes at each
scale (``Setup``); the notebook trains them, each from ``torch.manual_seed(seed)``, with a
checkpoint per run (``setup.checkpoint(name)``).
"""

from __future__ import annotations

import dataclasses

from lec16 import experiments
from lec16.scales import choose


@dataclasses.dataclass(frozen=True, kw_only=True)
class Setup(experiments.Setup):
    d_epochs: int
    """the discriminator's training on samples of two fixed densities"""
    gan_epochs: int
    """the 1-D game"""
    ring_epochs: int
    """each GAN on the 2-D ring of Gaussians"""
    strong_d_steps: int
    """steps of the discriminator trained against a fixed, untrained generator (the saturating
    loss's vanishing gradient)"""

    @classmethod
    def at(cls, scale: str, seed: int = 0) -> Setup:
        return choose(
            scale,
            smoke=cls(
                scale=scale,
                seed=seed,
                d_epochs=3,
                gan_epochs=2,
                ring_epochs=2,
                strong_d_steps=200,
            ),
            default=cls(
                scale=scale,
                seed=seed,
                d_epochs=30,
                gan_epochs=40,
                ring_epochs=30,
                strong_d_steps=1000,
            ),
            paper=cls(
                scale=scale,
                seed=seed,
                d_epochs=100,
                gan_epochs=200,
                ring_epochs=100,
                strong_d_steps=2000,
            ),
        )

    def with_epochs(self, epochs: int) -> Setup:
        """Every training of the chapter that runs in epochs (the discriminator, the 1-D GAN,
        the ring GANs) for ``epochs`` epochs."""
        return dataclasses.replace(
            self, d_epochs=epochs, gan_epochs=epochs, ring_epochs=epochs
        )
