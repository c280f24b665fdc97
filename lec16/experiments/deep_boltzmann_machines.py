"""The DBM chapter's MNIST deep Boltzmann machine, trained jointly on a PCD-1 RBM.

Salakhutdinov & Hinton (2009) pretrain each layer as a modified RBM, then train the 784 - 500
- 1000 DBM jointly for 300 passes with 5 Gibbs sweeps of the chains per update: ``paper`` has
their sizes and joint training on a PCD-1 RBM of 100 passes (their modified RBMs are not
reproduced). ``default`` trains 784 - 500 - 500: the RBM for 6 passes, the DBM for 8;
``smoke`` 784 - 64 - 64 on 3,000 digits. The DBM starts from ``torch.manual_seed(seed)`` as its
RBM (visible biases at the data's base rates) with a second hidden layer added
(:func:`lec16.dbm.train_on_rbm`) and is scored by the mean-field bound on log p(v) with log Z by
AIS, beside the base-rate model (independent pixels); on the first 100 test digits, AIS on the
clamped posterior also estimates log p(v) itself, measuring the mean-field bound's looseness as
Salakhutdinov & Hinton did (:func:`lec16.dbm.ais_log_likelihood`). The chapter also trains a
784 - 15 - 20 DBM, small enough to enumerate h_1, to check AIS and the bound against exact
numbers.
"""

from __future__ import annotations

import dataclasses
import math
import time

import torch

from lec16 import dbm, experiments, rbm
from lec16.experiments import boltzmann_machines
from lec16.results import Claim, Estimate, Result
from lec16.scales import choose
from lec16.train import History

# the RBM chapter's digits: the training grey levels, the binarized test set, the base rates
Data = boltzmann_machines.Data
load_data = boltzmann_machines.load_data

PARTS = {
    "small": "the enumerable 784-15-20 DBM of the AIS check (its RBM, then the DBM)",
    "dbm": "the MNIST DBM: a PCD-1 RBM, then the DBM on it, trained jointly",
}


@dataclasses.dataclass(frozen=True, kw_only=True)
class Setup(experiments.Setup):
    n_train: int
    """the first training digits"""
    n_hidden1: int
    n_hidden2: int
    rbm_config: rbm.RBMConfig
    """the RBM's training (PCD-1): the DBM's bottom layers"""
    dbm_config: dbm.DBMConfig
    """the DBM's joint training"""
    n_betas: int
    """AIS's intermediate distributions"""
    small_rbm_config: rbm.RBMConfig
    small_dbm_config: dbm.DBMConfig
    n_runs: int = rbm.AIS_RUNS
    """AIS's runs per log Z"""
    n_posterior_digits: int = 100
    """the first test digits whose log p(v) AIS estimates (Salakhutdinov & Hinton's 100)"""
    n_posterior_chains: int = 16
    """AIS's runs per digit on the clamped posterior"""
    n_posterior_betas: int = 1000
    """their temperatures"""
    small_sizes: tuple[int, int, int] = (784, 15, 20)
    """the enumerable DBM: h_1 has 2^15 states"""

    @classmethod
    def at(cls, scale: str, seed: int = 0) -> Setup:
        return cls(
            scale=scale,
            seed=seed,
            n_train=choose(scale, smoke=3000, default=60_000, paper=60_000),
            n_hidden1=choose(scale, smoke=64, default=500, paper=500),
            n_hidden2=choose(scale, smoke=64, default=500, paper=1000),
            rbm_config=boltzmann_machines.layer_config(scale, seed),
            dbm_config=dbm.DBMConfig(
                epochs=choose(scale, smoke=3, default=8, paper=300),
                lr=0.01,
                k=choose(scale, smoke=1, default=1, paper=5),
                mean_field_steps=10,
                seed=seed,
            ),
            n_betas=boltzmann_machines.ais_n_betas(scale),
            small_rbm_config=rbm.RBMConfig(
                epochs=2, method="pcd", anneal=True, seed=seed
            ),
            small_dbm_config=dbm.DBMConfig(epochs=1, lr=0.01, seed=seed),
            n_posterior_digits=choose(scale, smoke=20, default=100, paper=100),
            n_posterior_betas=choose(scale, smoke=200, default=1000, paper=10_000),
        )

    @property
    def sizes(self) -> tuple[int, int, int]:
        """The MNIST DBM's layers (784, n_hidden1, n_hidden2)."""
        return (784, self.n_hidden1, self.n_hidden2)

    def with_epochs(self, epochs: int) -> Setup:
        """Every training of the chapter (the RBMs and the DBMs) for ``epochs`` passes."""
        configs = ("rbm_config", "dbm_config", "small_rbm_config", "small_dbm_config")
        return dataclasses.replace(
            self,
            **{
                name: dataclasses.replace(getattr(self, name), epochs=epochs)
                for name in configs
            },
        )


@dataclasses.dataclass
class Trained:
    bottom: rbm.RBM | None = None
    """the MNIST DBM's RBM, before the second layer was added"""
    model: dbm.DBM | None = None
    """the MNIST DBM"""
    rbm_history: History | None = None
    dbm_history: History | None = None
    small: dbm.DBM | None = None
    """the enumerable DBM"""


def train(setup: Setup, data: Data, root=None, parts=None) -> Trained:
    """The DBMs of ``parts`` (default: both), each an RBM then the DBM on it
    (:func:`lec16.dbm.train_on_rbm`), loaded from their checkpoints or trained. The enumerable
    DBM is drawn from torch's generator as it stands (in the chapter: after the tiny DBM's
    checks); the MNIST DBM starts from ``torch.manual_seed(seed)``."""
    parts = experiments.chosen(parts, PARTS)
    trained = Trained()
    if "small" in parts:
        _, trained.small, _, _ = dbm.train_on_rbm(
            setup.small_sizes,
            data.x_train,
            data.x_test,
            setup.small_rbm_config,
            setup.small_dbm_config,
            (setup.checkpoint("small_rbm", root), setup.checkpoint("small_dbm", root)),
        )
    if "dbm" in parts:
        torch.manual_seed(setup.seed)
        trained.bottom, trained.model, trained.rbm_history, trained.dbm_history = (
            dbm.train_on_rbm(
                setup.sizes,
                data.x_train,
                data.x_test,
                setup.rbm_config,
                setup.dbm_config,
                (setup.checkpoint("rbm", root), setup.checkpoint("dbm", root)),
            )
        )
    return trained


@dataclasses.dataclass
class Score(Result):
    rbm_log_lik: float
    """the RBM's test log p(v) per digit in nats, log Z by AIS"""
    rbm_se: float
    """its standard error across the test digits"""
    identity_bound: float
    """the bound of the DBM made from the RBM with W2 = 0 (log Z_RBM + n2 log 2)"""
    identity_gap: float
    """the largest per-digit gap between that bound and the RBM's log p(v): 0 in theory"""
    dbm_bound: float
    """the trained DBM's mean-field bound on test log p(v), log Z by AIS"""
    dbm_se: float
    gain: float
    """the DBM's bound - the RBM's log p(v), paired over the test digits"""
    gain_pm: float
    """the paired standard error of the gain"""
    base_log_lik: float
    """the base-rate model's test log p(v) (exact)"""
    log_z: dict[str, list[float]]
    """AIS's log Z of the RBM and the DBM, [log Z, low, high] (mean -/+ 3 SE)"""
    seconds: dict[str, float]
    """training seconds of the RBM and the DBM"""
    ais_seconds: float
    """the scoring's seconds (both AIS runs and the bounds)"""
    posterior_log_lik: Estimate
    """AIS's log p(v) on the first ``n_posterior_digits`` test digits (nats)"""
    mean_field_gap: Estimate
    """AIS's log p(v) minus the mean-field bound on the same digits, paired: the bound's
    looseness, KL(q || p(h | v)) up to AIS's error"""
    ais_samples: torch.Tensor | None = dataclasses.field(default=None, repr=False)
    """the DBM's AIS final states: its (approximate) draws (images, not recorded)"""

    def ais_spread(self) -> float:
        """AIS's spread of the RBM's and the DBM's log Z (:func:`boltzmann_machines.ais_spread`)."""
        return boltzmann_machines.ais_spread(self.log_z)

    def claims(self) -> list[Claim]:
        # The chapter's ingredient is the second layer trained jointly: without it (W2 = 0)
        # the DBM's bound is the RBM's log-likelihood exactly (identity_bound), which fails.
        # AIS on the posterior must find at least the mass mean field finds (within a paired
        # standard error): below the bound, it would have failed to anneal.
        return [
            Claim(
                "DBM test bound",
                self.dbm_bound,
                self.rbm_log_lik,
                "the RBM it started from (its log-likelihood), plus AIS's spread",
                margin=self.ais_spread(),
                unit="nats",
            ),
            Claim(
                "DBM log p(v) by AIS on the posterior",
                self.posterior_log_lik.mean,
                self.posterior_log_lik.mean - self.mean_field_gap.mean,
                "the mean-field bound on the same digits, less one paired SE",
                margin=-self.mean_field_gap.se,
                unit="nats",
            ),
        ]

    def record(self, slug: str, directory=None, **extra) -> None:
        """:meth:`Result.record`, without the AIS samples."""
        Result.record(
            dataclasses.replace(self, ais_samples=None), slug, directory, **extra
        )


def score(setup: Setup, data: Data, trained: Trained) -> Score:
    """The RBM's test log-likelihood and the DBM's mean-field bound, each log Z by AIS
    (``n_runs`` x ``n_betas`` from the base-rate model, ``torch.manual_seed(seed)`` before
    each), beside the base-rate model's log-likelihood; and the bound of the DBM made from the
    RBM with W2 = 0, which must equal the RBM's log-likelihood."""
    if trained.model is None:
        raise ValueError("score needs the MNIST DBM: train the part 'dbm'")
    x_test, base_bias = data.x_test, data.base_bias
    bottom, model = trained.bottom, trained.model
    n_hidden2 = model.sizes[2]
    tic = time.perf_counter()
    torch.manual_seed(setup.seed)
    rbm_ais = rbm.ais_log_partition(bottom, setup.n_runs, setup.n_betas, base_bias)
    rbm_log_lik, rbm_se = rbm.mean_log_likelihood(bottom, x_test, rbm_ais.log_z)
    untrained = dbm.from_rbm(bottom, n_hidden2)
    untrained_log_z = rbm_ais.log_z + n_hidden2 * math.log(2)
    identity_bound, _, identity_values = dbm.mean_bound(
        untrained, x_test, untrained_log_z
    )
    with torch.no_grad():
        identity_gap = (
            (identity_values - bottom.log_likelihood(x_test, rbm_ais.log_z)).abs().max()
        ).item()
    torch.manual_seed(setup.seed)
    dbm_ais = dbm.ais_log_partition(model, setup.n_runs, setup.n_betas, base_bias)
    dbm_bound, dbm_se, dbm_values = dbm.mean_bound(model, x_test, dbm_ais.log_z)
    torch.manual_seed(setup.seed)
    few = x_test[: setup.n_posterior_digits]
    posterior = dbm.ais_log_likelihood(
        model,
        few,
        dbm_ais.log_z,
        setup.n_posterior_chains,
        setup.n_posterior_betas,
    )
    ais_seconds = time.perf_counter() - tic
    with torch.no_grad():  # per digit: the DBM's bound minus the RBM's log-likelihood
        gain = dbm_values - bottom.log_likelihood(x_test, rbm_ais.log_z)
    return Score(
        rbm_log_lik=rbm_log_lik,
        rbm_se=rbm_se,
        identity_bound=identity_bound,
        identity_gap=identity_gap,
        dbm_bound=dbm_bound,
        dbm_se=dbm_se,
        gain=gain.mean().item(),
        gain_pm=gain.std().item() / len(gain) ** 0.5,
        base_log_lik=rbm.base_rate_log_likelihood(x_test, base_bias),
        log_z={
            "rbm": [rbm_ais.log_z, rbm_ais.log_z_low, rbm_ais.log_z_high],
            "dbm": [dbm_ais.log_z, dbm_ais.log_z_low, dbm_ais.log_z_high],
        },
        seconds={
            "rbm": trained.rbm_history.last["seconds"],
            "dbm": trained.dbm_history.last["seconds"],
        },
        ais_seconds=ais_seconds,
        posterior_log_lik=Estimate.of(posterior),
        mean_field_gap=Estimate.paired(posterior, dbm_values[: len(few)]),
        ais_samples=dbm_ais.samples,
    )
