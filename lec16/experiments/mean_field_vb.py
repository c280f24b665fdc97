"""The mean-field chapter's stochastic-gradient VB: three gradient estimators on two models.

Everything runs in seconds inside the notebook (no checkpoint), so this module holds only its
sizes: ``n_replicates`` independent gradient estimates per estimator (unbiasedness and variance)
and ``n_steps`` optimisation steps per run of :func:`lec16.vi.fit_mean_field`.
"""

from __future__ import annotations

import dataclasses

from lec16 import experiments
from lec16.scales import check_positive, choose


@dataclasses.dataclass(frozen=True, kw_only=True)
class Setup(experiments.Setup):
    n_replicates: int
    """independent gradient estimates per estimator and sample size"""
    n_steps: int
    """optimisation steps per run"""

    def __post_init__(self):
        super().__post_init__()
        check_positive("n_replicates", self.n_replicates, integer=True)
        check_positive("n_steps", self.n_steps, integer=True)

    @classmethod
    def at(cls, scale: str, seed: int = 0) -> Setup:
        return choose(
            scale,
            smoke=cls(scale=scale, seed=seed, n_replicates=400, n_steps=60),
            default=cls(scale=scale, seed=seed, n_replicates=5000, n_steps=1500),
            paper=cls(scale=scale, seed=seed, n_replicates=50_000, n_steps=10_000),
        )
