"""The exponential-families chapter's checks: duality of A and A* at random parameters.

Nothing is trained (the checks run in seconds inside the notebook), so this module holds only the
size of the random sweep: ``n_random`` parameters per family (Bernoulli, categorical, Gaussian).
"""

from __future__ import annotations

import dataclasses

from lec16 import experiments
from lec16.scales import check_positive, choose


@dataclasses.dataclass(frozen=True, kw_only=True)
class Setup(experiments.Setup):
    n_random: int
    """random parameters per family in the sweep"""

    def __post_init__(self):
        super().__post_init__()
        check_positive("n_random", self.n_random, integer=True)

    @classmethod
    def at(cls, scale: str, seed: int = 0) -> Setup:
        return choose(
            scale,
            smoke=cls(scale=scale, seed=seed, n_random=5),
            default=cls(scale=scale, seed=seed, n_random=50),
            paper=cls(scale=scale, seed=seed, n_random=500),
        )
