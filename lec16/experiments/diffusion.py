"""The diffusion chapter's swiss roll (Sohl-Dickstein et al. 2015, Appendix D.1.1) and the checks
of the forward trajectory and the bound.

The roll trains in under a minute inside the notebook (checkpoint ``roll``), its random stream
continuing the chapter's checks of the bound, so this module holds only its sizes: the roll's
``n_roll`` training points and its training, T = 40 steps at every scale, and the sample sizes of
the closed-form checks. The MNIST models are :mod:`lec16.experiments.diffusion_mnist`.
"""

from __future__ import annotations

import dataclasses

from lec16 import diffusion, experiments
from lec16.scales import check_positive, choose


@dataclasses.dataclass(frozen=True, kw_only=True)
class Setup(experiments.Setup):
    n_roll: int
    """swiss-roll training points (5,000 more are held out)"""
    roll_config: diffusion.DiffusionConfig
    """the swiss roll's training"""
    n_chain: int
    """forward chains per starting point in the check of the closed-form marginal and
    posterior"""
    n_repeats: int
    """copies of 50 held-out swiss-roll points in the check of the bound's closed form"""
    roll_steps: int = 40
    """T of the swiss roll (Appendix D.1.1), at every scale"""
    n_importance_points: int = 1000
    """held-out roll points whose log-likelihood is estimated by importance sampling"""
    n_trajectories: int = 1000
    """the most forward trajectories per point of that estimate"""

    def __post_init__(self):
        super().__post_init__()
        for name in (
            "n_roll",
            "n_chain",
            "n_repeats",
            "roll_steps",
            "n_importance_points",
            "n_trajectories",
        ):
            check_positive(name, getattr(self, name), integer=True)

    @classmethod
    def at(cls, scale: str, seed: int = 0) -> Setup:
        def roll(epochs, batch_size, ema_decay):
            return diffusion.DiffusionConfig(
                epochs=epochs,
                batch_size=batch_size,
                lr=1e-2,
                ema_decay=ema_decay,
                seed=seed,
            )

        return choose(
            scale,
            smoke=cls(
                scale=scale,
                seed=seed,
                n_roll=3000,
                roll_config=roll(60, 100, 0.99),
                n_chain=50_000,
                n_repeats=200,
                n_trajectories=100,
            ),
            default=cls(
                scale=scale,
                seed=seed,
                n_roll=15_000,
                roll_config=roll(150, 200, 0.995),
                n_chain=200_000,
                n_repeats=1000,
            ),
            paper=cls(
                scale=scale,
                seed=seed,
                n_roll=15_000,
                roll_config=roll(1000, 200, 0.999),
                n_chain=200_000,
                n_repeats=1000,
            ),
        )

    def with_epochs(self, epochs: int) -> Setup:
        """The swiss roll trained for ``epochs`` epochs."""
        return dataclasses.replace(
            self, roll_config=dataclasses.replace(self.roll_config, epochs=epochs)
        )
