"""The DBN chapter's MNIST deep belief network: two RBMs trained greedily with PCD-1.

Hinton, Osindero & Teh (2006) stack a 2000-unit top RBM on RBMs of 500 units; ``paper`` trains
784 - 500 - 2000, the top RBM from small random weights, 100 passes per layer. ``default``
trains 784 - 500 - 784 for 6 passes per layer, the top RBM started as the transposed bottom
one (so that the DBN starts as the bottom RBM itself); ``smoke`` 784 - 64 - 784 for 5 passes
on 3,000 digits. The bottom RBM starts from ``torch.manual_seed(seed)`` at the data's base
rates (the RBM chapter's best method, PCD-1); the top RBM trains on q(h_1 | v). The network is
scored by the variational bound on log p(v) with the top RBM's log Z by AIS, beside the same
bound with a top RBM that learned only its data's base rates (W = 0).
"""

from __future__ import annotations

import dataclasses

import torch

import lec16
from lec16 import dbn, experiments, rbm
from lec16.experiments import boltzmann_machines
from lec16.results import Claim, Result
from lec16.scales import choose
from lec16.train import History

# the RBM chapter's digits: the training grey levels, the binarized test set, the base rates
Data = boltzmann_machines.Data
load_data = boltzmann_machines.load_data

PARTS = {
    "dbn": "the bottom RBM, then the top RBM on its hidden units (both PCD-1)",
}


@dataclasses.dataclass(frozen=True, kw_only=True)
class Setup(experiments.Setup):
    n_train: int
    """the first training digits"""
    n_hidden: int
    """the bottom RBM's hidden units, h_1"""
    n_top: int
    """the top RBM's hidden units; the bottom's 784 visible ones: it starts transposed"""
    config: rbm.RBMConfig
    """each layer's training (PCD-1)"""
    n_betas: int
    """AIS's intermediate distributions"""
    n_runs: int = rbm.AIS_RUNS
    """AIS's runs per log Z"""
    n_draws: int = 5
    """draws of q(h_1 | v) per test digit for the bound"""

    @classmethod
    def at(cls, scale: str, seed: int = 0) -> Setup:
        return cls(
            scale=scale,
            seed=seed,
            # smoke: enough digits for a top layer that does not lower the bound
            n_train=choose(scale, smoke=10_000, default=60_000, paper=60_000),
            n_hidden=choose(scale, smoke=64, default=500, paper=500),
            n_top=choose(scale, smoke=784, default=784, paper=2000),
            config=boltzmann_machines.layer_config(scale, seed),
            n_betas=boltzmann_machines.ais_n_betas(scale),
        )


@dataclasses.dataclass
class Trained:
    bottom: rbm.RBM
    top: rbm.RBM
    start: rbm.RBM
    """the transposed bottom RBM, taken before the top one trained: with it on top, the DBN
    is the bottom RBM, and its bound is the RBM's log-likelihood"""
    bottom_history: History
    top_history: History
    h_train: torch.Tensor
    """the top RBM's training data, q(h_1 = 1 | v) of one binarization of the digits"""
    h_test: torch.Tensor
    """one draw of h_1 per test digit"""


def train(setup: Setup, data: Data, root=None, parts=None) -> Trained:
    """The bottom RBM (``torch.manual_seed(seed)``, visible biases at the base rates), then
    the top RBM on its hidden units (:func:`lec16.dbn.top_layer_data`,
    :func:`lec16.dbn.initial_top`), each loaded from its checkpoint or trained; and the
    DBN's start, the transposed bottom RBM."""
    experiments.chosen(parts, PARTS)  # its one part: nothing to select, names to check
    torch.manual_seed(setup.seed)
    bottom = rbm.at_base_rates(
        rbm.RBM(784, setup.n_hidden).to(lec16.device()), data.base_bias
    )
    bottom_history = rbm.train_rbm(
        bottom,
        data.x_train,
        data.x_test,
        setup.config,
        checkpoint=setup.checkpoint("bottom", root),
        desc="bottom RBM",
    )
    # the top RBM's data: q(h_1 | v) of one binarisation of the training digits, which
    # train_rbm turns into fresh draws of h_1 at each batch (the aggregated posterior)
    h_train, h_test = dbn.top_layer_data(bottom, data.x_train, data.x_test, setup.seed)
    top = dbn.initial_top(bottom, setup.n_top)
    # the DBN's start, kept for the bound (its new RBM draws from torch's generator too)
    start = dbn.transposed(bottom)
    top_history = rbm.train_rbm(
        top,
        h_train,
        h_test,
        setup.config,
        checkpoint=setup.checkpoint("top", root),
        desc="top RBM",
    )
    return Trained(bottom, top, start, bottom_history, top_history, h_train, h_test)


@dataclasses.dataclass
class Score(Result):
    rbm_log_lik: float
    """the bottom RBM's test log p(v) per digit in nats, log Z by AIS"""
    rbm_se: float
    """its standard error across the test digits"""
    initial_bound: float
    """the DBN's bound with the transposed bottom RBM on top (the start of greedy training)"""
    initial_pm: float
    """the standard error of the bound's mean over the test digits"""
    identity_gap: float
    """the largest per-digit gap between that bound and the bottom RBM's log p(v): 0 in theory"""
    trained_bound: float
    """the DBN's bound with the trained top RBM"""
    trained_pm: float
    base_bound: float
    """the bound with a top RBM that learned only the base rates of h_1 (W = 0)"""
    base_pm: float
    base_log_z: float
    """that top RBM's exact log Z"""
    gain: float
    """the top layer's gain, trained bound - initial bound, paired over the test digits"""
    gain_pm: float
    """its paired standard error"""
    log_z: dict[str, list[float]]
    """AIS's log Z of the bottom and top RBMs, [log Z, low, high] (mean -/+ 3 SE)"""
    seconds: dict[str, float]
    """training seconds of the bottom and top RBMs"""

    def ais_spread(self) -> float:
        """AIS's spread of the bottom's and the top's log Z (:func:`boltzmann_machines.ais_spread`)."""
        return boltzmann_machines.ais_spread(self.log_z)

    def claims(self) -> list[Claim]:
        # The greedy step's guarantee: training the top RBM, started as the transposed bottom,
        # cannot lower the bound (Hinton et al. 2006). A top layer that learned the wrong thing
        # (the base-rate top, W = 0) fails it by some 90 nats.
        return [
            Claim(
                "DBN test bound after training the top layer",
                self.trained_bound,
                self.initial_bound,
                "the bound at the start of greedy training, less AIS's spread",
                margin=-self.ais_spread(),
                unit="nats",
            )
        ]


def score(setup: Setup, data: Data, trained: Trained) -> Score:
    """The bound on log p(v) of the test digits (``n_draws`` draws of q per digit,
    ``torch.manual_seed(seed)`` before each bound and each AIS), with the top RBM's log Z by AIS
    (``n_runs`` x ``n_betas`` from the base rates of h_1); the bottom RBM's log-likelihood, and
    the bound with the transposed bottom RBM on top, which must equal it."""
    x_test, bottom, top = data.x_test, trained.bottom, trained.top

    def mean_bound(net, log_z):
        torch.manual_seed(setup.seed)
        values = dbn.mean_bound(net, x_test, log_z, setup.n_draws)
        return (
            values.mean().item(),
            values.std().item() / len(values) ** 0.5,
            values,
        )

    torch.manual_seed(setup.seed)
    bottom_ais = rbm.ais_log_partition(
        bottom, setup.n_runs, setup.n_betas, data.base_bias
    )
    rbm_log_lik, rbm_se = rbm.mean_log_likelihood(bottom, x_test, bottom_ais.log_z)
    initial_bound, initial_pm, initial_values = mean_bound(
        dbn.DBN([bottom, trained.start]), bottom_ais.log_z
    )
    with torch.no_grad():
        per_digit = bottom.log_likelihood(x_test, bottom_ais.log_z)
    identity_gap = (initial_values - per_digit).abs().max().item()
    torch.manual_seed(setup.seed)
    top_ais = rbm.ais_log_partition(
        top, setup.n_runs, setup.n_betas, rbm.base_rate_bias(trained.h_train)
    )
    trained_bound, trained_pm, trained_values = mean_bound(
        dbn.DBN([bottom, top]), top_ais.log_z
    )
    base_top, base_log_z = dbn.base_rate_top(trained.h_train, setup.n_top)
    base_bound, base_pm, _ = mean_bound(dbn.DBN([bottom, base_top]), base_log_z)
    gain = trained_values - initial_values
    return Score(
        rbm_log_lik=rbm_log_lik,
        rbm_se=rbm_se,
        initial_bound=initial_bound,
        initial_pm=initial_pm,
        identity_gap=identity_gap,
        trained_bound=trained_bound,
        trained_pm=trained_pm,
        base_bound=base_bound,
        base_pm=base_pm,
        base_log_z=base_log_z,
        gain=gain.mean().item(),
        gain_pm=gain.std().item() / len(gain) ** 0.5,
        log_z={
            "bottom": [bottom_ais.log_z, bottom_ais.log_z_low, bottom_ais.log_z_high],
            "top": [top_ais.log_z, top_ais.log_z_low, top_ais.log_z_high],
        },
        seconds={
            "bottom": trained.bottom_history.last["seconds"],
            "top": trained.top_history.last["seconds"],
        },
    )
