"""Generative stochastic networks: a denoising autoencoder run as a Markov chain (Bengio, Yao,
Alain & Vincent 2013, "Generalized denoising auto-encoders as generative models"; the slides'
"see also: Generative Stochastic Networks").

A corruption C(x~ | x) and a learned reconstruction P_theta(x | x~) define the chain

    x_t  ->  x~_t ~ C(x~ | x_t)  ->  x_{t+1} ~ P_theta(x | x~_t).

If P_theta(x | x~) is the true conditional P(x | x~) of the joint P(x) C(x~ | x), the two
half-steps are the two blocks of a Gibbs sampler on that joint, so P(x) is stationary; the
2013 paper shows that a consistent estimator of the conditional makes the chain's stationary
distribution a consistent estimator of P(x). Training maximises log P_theta(x | x~) on
corrupted data: a denoising autoencoder. *Walkback* training (their Algorithm 2) also
corrupts the chain's own samples, x~ from x_1, x_2, ... of a short walk started at the data
point, and asks the reconstruction to return to that data point, which removes spurious modes
far from the data that an ordinary DAE never visits in training.

Corruptions here: ``"salt_and_pepper"`` for binary data (each pixel replaced, with
probability ``noise``, by a fair coin: on binary x that is a Bernoulli of mean
(1 - noise) x + noise / 2) and ``"gaussian"`` (x + noise * N(0, I)). Reconstructions:
factorised Bernoulli (binary data) or Gaussian with a learned diagonal variance.
"""

from __future__ import annotations

import dataclasses

import torch
from torch import distributions as D
from torch import nn

from lec16 import data, distributed, train
from lec16.scales import check_choice, check_positive, choose

CORRUPTIONS = {"salt_and_pepper": "bernoulli", "gaussian": "gaussian"}
MIN_STD = 1e-3  # floor of a Gaussian reconstruction's standard deviation


class DenoisingAutoencoder(nn.Module):
    """P_theta(x | x~): ``depth`` tanh layers of ``hidden`` units from the corrupted input to
    the parameters of the reconstruction; the corruption (``corruption``, level ``noise``) is
    part of the model, since the chain it defines needs both."""

    def __init__(
        self,
        n_visible: int,
        hidden: int,
        corruption: str = "salt_and_pepper",
        noise: float = 0.4,
        depth: int = 1,
    ):
        super().__init__()
        check_positive("n_visible", n_visible, integer=True)
        check_positive("hidden", hidden, integer=True)
        check_positive("depth", depth, integer=True)
        check_choice("corruption", corruption, tuple(CORRUPTIONS))
        check_positive("noise", noise)
        if corruption == "salt_and_pepper" and noise > 1:
            raise ValueError(
                f"salt-and-pepper noise is a probability in (0, 1], got {noise!r}"
            )
        self.n_visible, self.corruption_kind, self.noise = n_visible, corruption, noise
        self.likelihood = CORRUPTIONS[corruption]
        sizes = [n_visible] + [hidden] * depth
        layers = [
            m for a, b in zip(sizes, sizes[1:]) for m in (nn.Linear(a, b), nn.Tanh())
        ]
        width = 2 if self.likelihood == "gaussian" else 1
        self.net = nn.Sequential(*layers, nn.Linear(hidden, width * n_visible))

    def _check(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim < 1 or x.shape[-1] != self.n_visible:
            raise ValueError(
                f"the denoising autoencoder has {self.n_visible} inputs, got a tensor of "
                f"shape {tuple(x.shape)}: flatten each example to {self.n_visible} values"
            )
        return x.to(self.net[0].weight.dtype)

    def corruption(self, x: torch.Tensor) -> D.Distribution:
        """C(x~ | x), one independent factor per coordinate."""
        x = self._check(x)
        if self.likelihood == "bernoulli":
            return D.Independent(
                D.Bernoulli(probs=(1 - self.noise) * x + self.noise / 2), 1
            )
        return D.Independent(D.Normal(x, torch.full_like(x, self.noise)), 1)

    def reconstruction(self, x_tilde: torch.Tensor) -> D.Distribution:
        """P_theta(x | x~)."""
        out = self.net(self._check(x_tilde))
        if self.likelihood == "bernoulli":
            return D.Independent(D.Bernoulli(logits=out), 1)
        mean, log_std = out.chunk(2, dim=-1)
        return D.Independent(D.Normal(mean, MIN_STD + log_std.exp()), 1)

    def forward(self, x: torch.Tensor, walkback: int = 1) -> torch.Tensor:
        """The walkback loss per example: the mean over ``walkback`` corruptions x~_1, ...
        of -log P_theta(x | x~_k), where x~_1 corrupts ``x`` and x~_{k+1} corrupts a draw of
        P_theta(. | x~_k) (drawn without gradient). ``walkback=1`` is the ordinary DAE."""
        check_positive("walkback", walkback, integer=True)
        x = self._check(x)
        x_tilde, total = self.corruption(x).sample(), 0
        for k in range(walkback):
            p = self.reconstruction(x_tilde)
            total = total - p.log_prob(x)
            if k + 1 < walkback:
                x_tilde = self.corruption(p.sample()).sample()
        return total / walkback

    @torch.no_grad()
    def chain(
        self, x0: torch.Tensor, n_steps: int, keep_every: int = 1
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Run the chain for ``n_steps`` from ``x0`` (one chain per row); returns the states
        and the means of P_theta(x | x~) that produced them, every ``keep_every`` steps:
        shapes (n_steps // keep_every, *x0.shape)."""
        check_positive("n_steps", n_steps, integer=True)
        check_positive("keep_every", keep_every, integer=True)
        x, states, means = self._check(x0), [], []
        for t in range(1, n_steps + 1):
            p = self.reconstruction(self.corruption(x).sample())
            x = p.sample()
            if t % keep_every == 0:
                states.append(x)
                means.append(p.mean)
        return torch.stack(states), torch.stack(means)


def transition_matrix(
    model: DenoisingAutoencoder, states: torch.Tensor, corrupted: torch.Tensor
) -> torch.Tensor:
    """T[i, j] = sum_k C(corrupted_k | states_i) P_theta(states_j | corrupted_k): the chain's
    transition matrix on a finite space ``states`` whose corruptions all lie in ``corrupted``
    (binary data: both are every binary vector)."""
    corrupt = model.corruption(states.unsqueeze(1)).log_prob(corrupted)  # (S, K)
    rebuild = model.reconstruction(corrupted.unsqueeze(1)).log_prob(states)  # (K, S)
    return torch.logsumexp(corrupt.unsqueeze(2) + rebuild.unsqueeze(0), 1).exp()


def stationary_distribution(transition: torch.Tensor) -> torch.Tensor:
    """The left eigenvector pi = pi T of a transition matrix with eigenvalue 1, normalised."""
    values, vectors = torch.linalg.eig(transition.T)
    pi = vectors[:, (values - 1).abs().argmin()].real
    return pi / pi.sum()


@dataclasses.dataclass(frozen=True)
class GSNConfig:
    """Adam on the walkback loss with ``walkback`` corruptions per example; binary data are
    binarized afresh each batch (``binarize``)."""

    epochs: int = 10
    batch_size: int = 100
    lr: float = 1e-3
    walkback: int = 1
    binarize: bool = True
    seed: int = 0

    def __post_init__(self):
        for name in ("epochs", "batch_size", "walkback"):
            check_positive(name, getattr(self, name), integer=True)
        check_positive("lr", self.lr)


def train_gsn(
    model: DenoisingAutoencoder,
    x_train: torch.Tensor,
    config: GSNConfig,
    checkpoint=None,
    desc: str = "gsn",
) -> train.History:
    """Minimise the walkback loss over ``x_train``, one :func:`lec16.train.fit`. Under
    torchrun the DAE is wrapped in DistributedDataParallel: each rank corrupts its shard of
    every batch with its own noise, and the gradients are averaged."""
    param = model.net[0].weight
    if x_train.device != param.device:
        raise ValueError(
            f"x_train is on {x_train.device} but the model is on {param.device}: "
            "move one of them"
        )
    x_train = model._check(x_train.flatten(1))
    if config.binarize and model.likelihood != "bernoulli":
        raise ValueError(
            "binarize=True needs binary data and a salt-and-pepper model; "
            "use binarize=False for real-valued data"
        )
    if model.likelihood == "bernoulli":
        if x_train.min() < 0 or x_train.max() > 1:
            raise ValueError(
                "a salt-and-pepper model needs data in [0, 1], got values in "
                f"[{x_train.min().item():.3g}, {x_train.max().item():.3g}]"
            )
        if not config.binarize and not ((x_train == 0) | (x_train == 1)).all():
            raise ValueError(
                "binarize=False needs binary data for a salt-and-pepper model: binarize "
                "it (lec16.data.binarize_threshold), or train with binarize=True"
            )
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    batches = data.Batches(
        x_train,
        batch_size=config.batch_size,
        seed=config.seed,
        transform=data.binarize_dynamic if config.binarize else None,
    )

    parallel = distributed.wrap(model)

    def step(batch):
        loss = parallel(batch[0], config.walkback).mean()
        train.optimizer_step(optimizer, loss)
        return {"loss": loss}

    return train.fit(
        step,
        batches,
        config.epochs,
        modules={"dae": parallel},
        optimizers={"adam": optimizer},
        checkpoint=checkpoint,
        desc=desc,
        config={"train": config, "model": model, "n_train": len(x_train)},
    )


@dataclasses.dataclass(frozen=True)
class MnistSetup:
    """The GSN chapter's MNIST chains at one scale (:func:`mnist_setup`): one-level
    salt-and-pepper DAEs of Bengio et al. (2013), one trained with each walkback length."""

    n_train: int
    """the first digits of Goodfellow et al.'s 50,000 training digits"""
    epochs: int
    n_chains: int
    """chains run from noise to give the samples the chapter scores"""
    seed: int = 0
    walkbacks: tuple[int, ...] = (1, 2)
    hidden: int = 500
    depth: int = 2
    noise: float = 0.4
    chain_steps: int = 200
    keep_every: int = 20

    def config(self, walkback: int) -> GSNConfig:
        """The training of the DAE with ``walkback`` corruptions per example."""
        return GSNConfig(epochs=self.epochs, walkback=walkback, seed=self.seed)


def mnist_setup(scale: str, seed: int = 0) -> MnistSetup:
    """The GSN chapter's MNIST chains at ``scale`` (the chapter and ``python -m lec16 train
    gsn``). ``paper``: 100 epochs over the 50,000 digits (the 2013 paper does not state its
    budget)."""
    return MnistSetup(
        n_train=choose(scale, smoke=20_000, default=50_000, paper=50_000),
        epochs=choose(scale, smoke=3, default=5, paper=100),
        n_chains=choose(scale, smoke=200, default=1000, paper=1000),
        seed=seed,
    )


def mnist_dae(setup: MnistSetup) -> DenoisingAutoencoder:
    """A DAE of ``setup``'s sizes on 784 binary pixels (initialised from torch's generator)."""
    return DenoisingAutoencoder(784, setup.hidden, noise=setup.noise, depth=setup.depth)


def mnist_chains(model: DenoisingAutoencoder, setup: MnistSetup) -> torch.Tensor:
    """The chapter's samples of ``model``: ``setup.n_chains`` chains started from one draw of
    fair coins (the same for every model), the reconstruction means at every
    ``keep_every``-th of ``chain_steps`` steps, shape (steps / keep_every, n_chains, 784)."""
    param = model.net[0].weight
    coins = torch.full((setup.n_chains, model.n_visible), 0.5)
    start = torch.bernoulli(coins, generator=torch.Generator().manual_seed(setup.seed))
    torch.manual_seed(setup.seed)
    _, means = model.chain(
        start.to(param.device, param.dtype), setup.chain_steps, setup.keep_every
    )
    return means
