"""The quickstart's classifier: a one-hidden-layer network on MNIST, trained with train.fit.

The quickstart notebook writes the training out (it is the tour of :func:`lec16.train.fit`), so
this module holds only its sizes: ``smoke`` 2 epochs on 512 training digits, ``default`` 5 on
10,000, ``paper`` 20 on all 60,000 (no paper trains it: that is the whole training set). The test
accuracy is compared with the same network before training.
"""

from __future__ import annotations

import dataclasses

from lec16 import experiments
from lec16.scales import check_positive, choose


@dataclasses.dataclass(frozen=True, kw_only=True)
class Setup(experiments.Setup):
    n_train: int
    """the first training digits"""
    epochs: int

    def __post_init__(self):
        super().__post_init__()
        check_positive("n_train", self.n_train, integer=True)
        check_positive("epochs", self.epochs, integer=True)

    @classmethod
    def at(cls, scale: str, seed: int = 0) -> Setup:
        return choose(
            scale,
            smoke=cls(scale=scale, seed=seed, n_train=512, epochs=2),
            default=cls(scale=scale, seed=seed, n_train=10_000, epochs=5),
            paper=cls(scale=scale, seed=seed, n_train=60_000, epochs=20),
        )

    def with_epochs(self, epochs: int) -> Setup:
        return dataclasses.replace(self, epochs=epochs)
