"""The RBM chapter's MNIST RBMs: CD-1, CD-3 and PCD-1 (and CD-25 at paper) from one start.

Salakhutdinov & Murray (2008) train RBMs of 500 hidden units for 100 passes and score them by
the test log-likelihood, log Z from 100 runs of annealed importance sampling over 14,500
intermediate distributions: that is ``paper`` (with CD-25). ``default`` trains 6 passes of
each; ``smoke`` 10 short passes of 100 hidden units on 3,000 digits. Every method starts from
the same initial RBM (``torch.manual_seed(seed)``, visible biases at the data's base rates),
has the same optimiser and passes (only the negative phase differs), and is scored beside the
base-rate model (W = 0), where it started. The chapter also trains an RBM of 15 hidden units,
small enough to enumerate, to check AIS against the exact log Z.

The base-rate model, AIS's numbers of runs and betas and the data are shared with the DBN and
DBM chapters (:mod:`lec16.experiments.deep_belief_networks`,
:mod:`lec16.experiments.deep_boltzmann_machines`).
"""

from __future__ import annotations

import dataclasses
import time

import torch

import lec16
from lec16 import experiments, rbm
from lec16.results import Claim, Result
from lec16.scales import choose
from lec16.train import History

MARGIN = 10  # nats per digit a trained RBM must gain over the base-rate model
SMALL = "784x15"  # the part (and checkpoint) of the enumerable RBM
# the comparison's methods: name -> (method, Gibbs sweeps per update)
METHODS = {
    "CD-1": ("cd", 1),
    "CD-3": ("cd", 3),
    "PCD-1": ("pcd", 1),
    "CD-25": ("cd", 25),
}
PARTS = {
    SMALL: "the enumerable RBM of 15 hidden units (CD-1), AIS's check against the exact log Z",
    "CD-1": "the RBM trained by CD-1",
    "CD-3": "the RBM trained by CD-3",
    "PCD-1": "the RBM trained by persistent CD-1 (Tieleman 2008)",
    "CD-25": "the RBM trained by CD-25 (paper scale only)",
}


def layer_config(scale: str, seed: int = 0) -> rbm.RBMConfig:
    """How the deep chapters train an RBM layer (the DBN's two, the DBM's first): persistent
    CD-1 with the learning rate annealed, for 5, 6 or 100 epochs."""
    return rbm.RBMConfig(
        epochs=choose(scale, smoke=5, default=6, paper=100),
        method="pcd",
        anneal=True,
        seed=seed,
    )


def ais_spread(log_z) -> float:
    """How far AIS's uncertainty could move a comparison of quantities that use these log Z
    estimates, in nats: the sum of their upper half-widths (3 SE of the weights; the lower one
    is unbounded when 3 SE exceed the mean weight). ``log_z``: name -> [log Z, low, high]."""
    return sum(high - value for value, _, high in log_z.values())


def ais_n_betas(scale: str) -> int:
    """The intermediate distributions of AIS at ``scale`` in the Boltzmann machines' chapters:
    Salakhutdinov & Murray's 14,500, but 1,000 at ``smoke``."""
    return choose(scale, smoke=1000, default=14_500, paper=14_500)


@dataclasses.dataclass(frozen=True, kw_only=True)
class Setup(experiments.Setup):
    n_train: int
    """the first training digits"""
    n_hidden: int
    """hidden units of the compared RBMs"""
    epochs: int
    """passes of each method"""
    methods: tuple[str, ...]
    """names in :data:`METHODS`, in the order they train"""
    n_betas: int
    """AIS's intermediate distributions"""
    small_epochs: int
    """passes of CD-1 of the enumerable RBM"""
    ais_schedules: tuple[tuple[int, int], ...]
    """(betas, runs) of AIS on the enumerable RBM, the last the finest"""
    n_runs: int = rbm.AIS_RUNS
    """AIS's runs per log Z"""
    small_hidden: int = 15

    @classmethod
    def at(cls, scale: str, seed: int = 0) -> Setup:
        return cls(
            scale=scale,
            seed=seed,
            n_train=choose(scale, smoke=3000, default=60_000, paper=60_000),
            n_hidden=choose(scale, smoke=100, default=500, paper=500),
            epochs=choose(scale, smoke=10, default=6, paper=100),
            methods=choose(
                scale,
                smoke=("CD-1", "CD-3", "PCD-1"),
                default=("CD-1", "CD-3", "PCD-1"),
                paper=("CD-1", "CD-3", "PCD-1", "CD-25"),
            ),
            n_betas=ais_n_betas(scale),
            small_epochs=choose(scale, smoke=1, default=5, paper=50),
            ais_schedules=choose(
                scale,
                smoke=((100, 100), (1000, 100), (1000, 500)),
                default=((100, 100), (1000, 100), (14_500, 100), (14_500, 500)),
                paper=((100, 100), (1000, 100), (14_500, 100), (14_500, 1000)),
            ),
        )

    def with_epochs(self, epochs: int) -> Setup:
        """Every RBM of the chapter trained for ``epochs`` passes."""
        return dataclasses.replace(self, epochs=epochs, small_epochs=epochs)

    def configs(self) -> dict[str, rbm.RBMConfig]:
        """The training of each method's RBM: one optimiser, the learning rate annealed to 0."""
        return {
            name: rbm.RBMConfig(
                epochs=self.epochs,
                k=METHODS[name][1],
                method=METHODS[name][0],
                anneal=True,
                seed=self.seed,
            )
            for name in self.methods
        }

    def small_config(self) -> rbm.RBMConfig:
        """The enumerable RBM's training: CD-1."""
        return rbm.RBMConfig(epochs=self.small_epochs, seed=self.seed)


@dataclasses.dataclass
class Data:
    x_train: torch.Tensor
    """the first ``n_train`` training digits, grey levels (binarized afresh while training)"""
    x_test: torch.Tensor
    """the book's one binarization of the 10,000 test digits"""
    base_bias: torch.Tensor
    """the training digits' log-odds per pixel: the base-rate model (:func:`rbm.base_rate_bias`)"""


def load_data(setup) -> Data:
    """The digits of the Boltzmann machines' chapters (any set-up with ``n_train``)."""
    x_train, x_test = experiments.binarized_mnist(setup.n_train)
    return Data(x_train, x_test, rbm.base_rate_bias(x_train))


@dataclasses.dataclass
class Trained:
    models: dict[str, rbm.RBM] = dataclasses.field(default_factory=dict)
    """the compared RBMs by method"""
    histories: dict[str, History] = dataclasses.field(default_factory=dict)
    small: rbm.RBM | None = None
    """the enumerable RBM"""
    small_history: History | None = None


def _check_parts(parts, setup: Setup) -> list[str]:
    """``parts`` checked (default: the enumerable RBM and this scale's methods)."""
    if parts is None:
        return [SMALL, *setup.methods]
    parts = experiments.chosen(parts, PARTS)
    absent = [p for p in parts if p in METHODS and p not in setup.methods]
    if absent:
        raise ValueError(
            f"{absent} not trained at {setup.scale} scale; its methods are "
            f"{list(setup.methods)}"
        )
    return list(parts)


def train(setup: Setup, data: Data, root=None, parts=None) -> Trained:
    """The RBMs of ``parts`` (default: all of this scale), each loaded from its checkpoint or
    trained. The enumerable RBM is drawn from torch's generator as it stands (in the chapter:
    after the tiny RBM's checks); the compared RBMs start from ``torch.manual_seed(seed)``:
    one initial RBM, then each method's run in the order of ``setup.methods``, each drawing
    its chains from the generator where the previous one left it (a run loaded from its
    checkpoint restores that state; a method trained without the ones before it draws
    others)."""
    parts = _check_parts(parts, setup)
    device = lec16.device()
    trained = Trained()
    if SMALL in parts:
        small = rbm.at_base_rates(
            rbm.RBM(784, setup.small_hidden).to(device), data.base_bias
        )
        trained.small_history = rbm.train_rbm(
            small,
            data.x_train,
            data.x_test,
            setup.small_config(),
            checkpoint=setup.checkpoint(SMALL, root),
            desc=f"RBM 784 x {setup.small_hidden}",
        )
        trained.small = small
    configs = {name: c for name, c in setup.configs().items() if name in parts}
    if configs:
        torch.manual_seed(setup.seed)
        initial = rbm.at_base_rates(
            rbm.RBM(784, setup.n_hidden).to(device), data.base_bias
        )
        for name, config in configs.items():
            model = rbm.RBM(784, setup.n_hidden).to(device)
            model.load_state_dict(initial.state_dict())
            trained.histories[name] = rbm.train_rbm(
                model,
                data.x_train,
                data.x_test,
                config,
                checkpoint=setup.checkpoint(name.lower(), root),
                desc=name,
            )
            trained.models[name] = model
    return trained


@dataclasses.dataclass
class Score(Result):
    log_lik: dict[str, float]
    """test log p(v) per digit in nats, log Z by AIS"""
    log_lik_se: dict[str, float]
    """its standard error across the test digits"""
    log_z: dict[str, list[float]]
    """AIS's log Z and its spread, [log Z, low, high] (mean -/+ 3 standard errors)"""
    base_log_lik: float
    """the base-rate model's test log p(v) (exact)"""
    seconds: dict[str, float]
    """training seconds"""
    ais_seconds: dict[str, float]
    ais_samples: dict[str, torch.Tensor] = dataclasses.field(
        default_factory=dict, repr=False
    )
    """AIS's final states: draws of each RBM (images, not recorded)"""

    def claims(self) -> list[Claim]:
        return [
            Claim(
                f"{name}: test log p(v)",
                log_lik,
                self.base_log_lik,
                "the base-rate model (W = 0)",
                margin=MARGIN,
                unit="nats",
            )
            for name, log_lik in self.log_lik.items()
        ]

    def record(self, slug: str, directory=None, **extra) -> None:
        """:meth:`Result.record`, without the AIS samples."""
        Result.record(
            dataclasses.replace(self, ais_samples={}), slug, directory, **extra
        )


def score(setup: Setup, data: Data, trained: Trained) -> Score:
    """Each compared RBM's test log-likelihood, log Z by AIS (``n_runs`` x ``n_betas`` from
    the base-rate model, ``torch.manual_seed(seed)`` before each), beside the base-rate
    model's."""
    result = Score(
        log_lik={},
        log_lik_se={},
        log_z={},
        base_log_lik=rbm.base_rate_log_likelihood(data.x_test, data.base_bias),
        seconds={},
        ais_seconds={},
    )
    for name, model in trained.models.items():
        torch.manual_seed(setup.seed)
        tic = time.perf_counter()
        ais = rbm.ais_log_partition(model, setup.n_runs, setup.n_betas, data.base_bias)
        result.ais_seconds[name] = time.perf_counter() - tic
        mean, se = rbm.mean_log_likelihood(model, data.x_test, ais.log_z)
        result.log_lik[name], result.log_lik_se[name] = mean, se
        result.log_z[name] = [ais.log_z, ais.log_z_low, ais.log_z_high]
        result.ais_samples[name] = ais.samples
        result.seconds[name] = trained.histories[name].last["seconds"]
    return result
