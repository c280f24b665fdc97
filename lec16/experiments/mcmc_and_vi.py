"""The MCMC-inside-VI chapter's Hamiltonian VI chains on probabilistic PCA, one per length T.

Salimans, Kingma & Welling (2015): T transitions of leapfrog dynamics refine a deliberately
poor q_0 (the IWAE chapter's example, :func:`example_ppca`, whose log p(x) is exact); each
chain's step sizes and reverse models are trained on the auxiliary bound by Adam
(:func:`lec16.hvi.fit_hvi`). Each chain starts from ``torch.manual_seed(seed)`` and is scored by
its bound on log p(x0) (the mean of ``eval_samples`` log weights) beside the same chain
untrained and the exact log p(x0). ``paper``: T up to 32 and ten times the default's Adam
steps.
"""

from __future__ import annotations

import dataclasses

import torch
from torch import distributions as D

import lec16
from lec16 import experiments, hvi, iwae
from lec16.results import Claim, Estimate, Result
from lec16.scales import choose
from lec16.train import History

PARTS = {
    "hvi": "one Hamiltonian VI chain per number of transitions T of the scale",
}


@dataclasses.dataclass(frozen=True, kw_only=True)
class Setup(experiments.Setup):
    transitions: tuple[int, ...]
    """the chains' numbers of transitions T, one chain each"""
    config: hvi.HVIConfig
    """every chain's training (Adam steps, evaluated every ``steps_per_epoch``)"""
    n_mc: int
    """draws of the Monte Carlo checks of the exact bounds"""
    step_size: float = 0.05
    """the chains' initial step sizes"""

    @classmethod
    def at(cls, scale: str, seed: int = 0) -> Setup:
        return choose(
            scale,
            smoke=cls(
                scale=scale,
                seed=seed,
                transitions=(1, 4),
                config=hvi.HVIConfig(
                    steps=200,
                    steps_per_epoch=100,
                    lr=0.02,
                    eval_samples=5000,
                    seed=seed,
                ),
                n_mc=100_000,
            ),
            default=cls(
                scale=scale,
                seed=seed,
                transitions=(1, 2, 4, 8, 16),
                config=hvi.HVIConfig(
                    steps=2000,
                    steps_per_epoch=500,
                    lr=0.02,
                    eval_samples=20_000,
                    seed=seed,
                ),
                n_mc=400_000,
            ),
            paper=cls(
                scale=scale,
                seed=seed,
                transitions=(1, 2, 4, 8, 16, 32),
                config=hvi.HVIConfig(
                    steps=20_000,
                    steps_per_epoch=2000,
                    lr=0.02,
                    eval_samples=100_000,
                    seed=seed,
                ),
                n_mc=400_000,
            ),
        )

    def with_epochs(self, epochs: int) -> Setup:
        """Every chain trained for ``epochs`` evaluations of ``steps_per_epoch`` Adam steps."""
        return dataclasses.replace(
            self,
            config=dataclasses.replace(
                self.config, steps=epochs * self.config.steps_per_epoch
            ),
        )


def example_ppca(
    device=None,
) -> tuple[iwae.LinearGaussian, torch.Tensor, D.Independent]:
    """The IWAE chapter's example (its section "Tighter bounds on a model with exact log p(x)"):
    probabilistic PCA with 6 observed and 2 latent dimensions (W, b standard normal,
    sigma = 0.5, float64, drawn on the CPU from seed 0 so every device has the same numbers),
    one observation x0 ~ N(0, 4 I) and the imperfect q_0 = ``proposal(x0, shift=0.5,
    widen=1.5)``."""
    g = torch.Generator().manual_seed(0)
    W = torch.randn(6, 2, generator=g, dtype=torch.float64).to(device)
    b = torch.randn(6, generator=g, dtype=torch.float64).to(device)
    ppca = iwae.LinearGaussian(W, b, sigma=0.5)
    x0 = (2 * torch.randn(6, generator=g, dtype=torch.float64)).to(device)
    return ppca, x0, ppca.proposal(x0, shift=0.5, widen=1.5)


@dataclasses.dataclass
class Data:
    ppca: iwae.LinearGaussian
    """the model, whose log p(x) and posterior are exact"""
    x0: torch.Tensor
    """the one observation"""
    q0: D.Independent
    """the deliberately imperfect mean-field q_0(z | x0) the chains start from"""

    def log_target(self, z: torch.Tensor) -> torch.Tensor:
        """log p(x0, z): the chains' target, up to log p(x0)."""
        return self.ppca.log_joint(self.x0, z)


def load_data(setup: Setup) -> Data:
    return Data(*example_ppca(lec16.device()))


@dataclasses.dataclass
class Trained:
    models: dict[int, hvi.HamiltonianVI] = dataclasses.field(default_factory=dict)
    """T -> the trained chain"""
    histories: dict[int, History] = dataclasses.field(default_factory=dict)
    untrained: dict[int, float] = dataclasses.field(default_factory=dict)
    """T -> the chain's bound before training (nats): the reference to beat"""


def train(setup: Setup, data: Data, root=None, parts=None) -> Trained:
    """One chain per T of ``setup.transitions``, loaded from its checkpoint or trained: from
    ``torch.manual_seed(seed)``, its bound before training (``eval_samples`` draws, after
    ``torch.manual_seed(seed)``), then :func:`lec16.hvi.fit_hvi`."""
    unknown = sorted(set(parts or ()) - set(PARTS))
    if unknown:
        raise ValueError(f"unknown parts {unknown}; choose from {sorted(PARTS)}")
    seed, n, q0 = setup.seed, setup.config.eval_samples, data.q0
    trained = Trained()
    for T in setup.transitions:
        torch.manual_seed(seed)
        model = hvi.HamiltonianVI(q0.event_shape[-1], T, step_size=setup.step_size).to(
            q0.mean
        )
        torch.manual_seed(seed)
        # the bound before training: the reference a broken fit would not beat
        before = hvi.log_weights(model, q0, data.log_target, n).detach()
        trained.untrained[T] = before.mean().item()
        trained.histories[T] = hvi.fit_hvi(
            model,
            q0,
            data.log_target,
            setup.config,
            checkpoint=setup.checkpoint(f"T{T}", root),
            desc=f"HVI T={T}",
        )
        trained.models[T] = model
    return trained


@dataclasses.dataclass
class Score(Result):
    bound: dict[int, Estimate]
    """T -> the trained chain's bound on log p(x0): the mean of ``eval_samples`` log weights
    (nats, one SE)"""
    untrained: dict[int, float]
    """T -> the same chain's bound before training"""
    log_px: float
    """the exact log p(x0)"""
    seconds: dict[int, float]
    """T -> training seconds"""

    def claims(self) -> list[Claim]:
        claims = []
        for T, bound in self.bound.items():
            pm = 2 * bound.se
            claims.append(
                Claim(
                    f"T = {T}: trained bound",
                    bound.mean,
                    self.untrained[T],
                    "the same chain untrained",
                    margin=pm,
                    unit="nats",
                )
            )
            claims.append(
                Claim(
                    f"T = {T}: trained bound - 2 SE",
                    bound.mean - pm,
                    self.log_px,
                    "the exact log p(x0), which no bound exceeds",
                    unit="nats",
                    higher=False,
                )
            )
        lengths = sorted(self.bound)
        if len(lengths) > 1:
            shortest, longest = lengths[0], lengths[-1]
            claims.append(
                Claim(
                    f"T = {longest}: log p(x0) - bound",
                    self.log_px - self.bound[longest].mean,
                    0.5 * (self.log_px - self.bound[shortest].mean),
                    f"half of T = {shortest}'s",
                    unit="nats",
                    higher=False,
                )
            )
        return claims


def score(setup: Setup, data: Data, trained: Trained) -> Score:
    """Each trained chain's bound from ``eval_samples`` draws after
    ``torch.manual_seed(seed)``, beside its untrained bound and the exact log p(x0)."""
    bound = {}
    for T, model in trained.models.items():
        torch.manual_seed(setup.seed)
        after = hvi.log_weights(
            model, data.q0, data.log_target, setup.config.eval_samples
        ).detach()
        bound[T] = Estimate.of(after)
    return Score(
        bound,
        {T: trained.untrained[T] for T in trained.models},
        data.ppca.log_marginal(data.x0).item(),
        {T: history.last["seconds"] for T, history in trained.histories.items()},
    )
