"""The EM chapter's Gaussian mixture: EM on three components in two dimensions.

EM runs in seconds inside the notebook (no checkpoint), so this module holds only its sizes: the
larger problem's ``n_points`` points and EM's ``n_iter`` iterations from one random start (also
scikit-learn's ``max_iter`` for the comparison). The checks on the fixed 500-point problem do not
depend on the scale.
"""

from __future__ import annotations

import dataclasses

from lec16 import experiments
from lec16.scales import check_positive, choose


@dataclasses.dataclass(frozen=True, kw_only=True)
class Setup(experiments.Setup):
    n_points: int
    """points of the larger, timed problem"""
    n_iter: int
    """EM iterations on it"""

    def __post_init__(self):
        super().__post_init__()
        check_positive("n_points", self.n_points, integer=True)
        check_positive("n_iter", self.n_iter, integer=True)

    @classmethod
    def at(cls, scale: str, seed: int = 0) -> Setup:
        return choose(
            scale,
            smoke=cls(scale=scale, seed=seed, n_points=300, n_iter=30),
            default=cls(scale=scale, seed=seed, n_points=3000, n_iter=100),
            paper=cls(scale=scale, seed=seed, n_points=30_000, n_iter=300),
        )
