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

from lec16 import checks, data, distributed, train
from lec16.rbm import check_instance
from lec16.scales import check_choice, check_positive, check_seed

__all__ = [
    "CORRUPTIONS",
    "MIN_STD",
    "DenoisingAutoencoder",
    "GSNConfig",
    "chains_from_noise",
    "stationary_distribution",
    "train_gsn",
    "transition_matrix",
]

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

    def check_input(self, name: str, x, values=None) -> torch.Tensor:
        """``x`` checked once at a public entry point: a tensor of examples of n_visible
        values on the model's device (integer or boolean states are converted to its dtype),
        passing ``values`` when given (default: in [0, 1] for a salt-and-pepper model, any
        finite values for a Gaussian one)."""
        x = self._check(checks.tensor(name, x, floating=False))
        checks.like(name, x, self.net[0].weight, "the denoising autoencoder")
        if values is not None:
            return values(name, x)
        if self.likelihood == "bernoulli":
            return checks.intensities(name, x)
        if x.device.type != "meta" and not bool(torch.isfinite(x).all()):
            raise ValueError(f"{name} has non-finite values (nan or inf)")
        return x

    def corruption(self, x: torch.Tensor) -> D.Distribution:
        """C(x~ | x), one independent factor per coordinate (salt-and-pepper: ``x`` in [0,
        1])."""
        self.check_input("x", x)
        return self._corruption(x)

    def _corruption(self, x: torch.Tensor) -> D.Distribution:
        x = self._check(x)
        if self.likelihood == "bernoulli":
            return D.Independent(
                D.Bernoulli(probs=(1 - self.noise) * x + self.noise / 2), 1
            )
        return D.Independent(D.Normal(x, torch.full_like(x, self.noise)), 1)

    def reconstruction(self, x_tilde: torch.Tensor) -> D.Distribution:
        """P_theta(x | x~)."""
        x_tilde = checks.tensor("x_tilde", x_tilde, floating=False)
        out = self.net(self._check(x_tilde))
        if self.likelihood == "bernoulli":
            return D.Independent(D.Bernoulli(logits=out), 1)
        mean, log_std = out.chunk(2, dim=-1)
        return D.Independent(D.Normal(mean, MIN_STD + log_std.exp()), 1)

    def forward(
        self, x: torch.Tensor, walkback: int = 1, check: bool = True
    ) -> torch.Tensor:
        """The walkback loss per example: the mean over ``walkback`` corruptions x~_1, ...
        of -log P_theta(x | x~_k), where x~_1 corrupts ``x`` and x~_{k+1} corrupts a draw of
        P_theta(. | x~_k) (drawn without gradient). ``walkback=1`` is the ordinary DAE.
        ``x``: binary for a salt-and-pepper model, finite for a Gaussian one; ``check=False``
        skips that check of its values (for a trainer that checked its data once)."""
        check_positive("walkback", walkback, integer=True)
        if check:
            self.check_input(
                "x", x, checks.binary if self.likelihood == "bernoulli" else None
            )
        x = self._check(x)
        x_tilde, total = self._corruption(x).sample(), 0
        for k in range(walkback):
            p = self.reconstruction(x_tilde)
            total = total - p.log_prob(x)
            if k + 1 < walkback:
                x_tilde = self._corruption(p.sample()).sample()
        return total / walkback

    @torch.no_grad()
    def chain(
        self, x0: torch.Tensor, n_steps: int, keep_every: int = 1
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Run the chain for ``n_steps`` from ``x0`` (one chain per row); returns the states
        and the means of P_theta(x | x~) that produced them, every ``keep_every`` steps:
        shapes (n_steps // keep_every, *x0.shape); ``x0`` in [0, 1] for salt-and-pepper."""
        _check_steps(n_steps, keep_every)
        self.check_input("x0", x0)
        x, states, means = self._check(x0), [], []
        for t in range(1, n_steps + 1):
            p = self.reconstruction(self._corruption(x).sample())
            x = p.sample()
            if t % keep_every == 0:
                states.append(x)
                means.append(p.mean)
        return torch.stack(states), torch.stack(means)


def _check_steps(n_steps: int, keep_every: int) -> None:
    check_positive("n_steps", n_steps, integer=True)
    check_positive("keep_every", keep_every, integer=True)
    if keep_every > n_steps:
        raise ValueError(
            f"keep_every={keep_every} keeps no state of a chain of n_steps={n_steps}: use "
            "keep_every <= n_steps"
        )


def transition_matrix(
    model: DenoisingAutoencoder, states: torch.Tensor, corrupted: torch.Tensor
) -> torch.Tensor:
    """T[i, j] = sum_k C(corrupted_k | states_i) P_theta(states_j | corrupted_k): the chain's
    transition matrix on a finite space ``states`` whose corruptions all lie in ``corrupted``
    (binary data: both are every binary vector). Both are (S, n_visible) and (K, n_visible)
    matrices, binary for a salt-and-pepper model."""
    check_instance("model", model, DenoisingAutoencoder)
    values = checks.binary if model.likelihood == "bernoulli" else None
    for name, x in (("states", states), ("corrupted", corrupted)):
        x = model.check_input(name, x, values)
        if x.ndim != 2:
            raise ValueError(
                f"{name} must be a matrix of one state per row, shape (S, "
                f"{model.n_visible}); got {tuple(x.shape)}"
            )
    corrupt = model._corruption(states.unsqueeze(1)).log_prob(corrupted)  # (S, K)
    rebuild = model.reconstruction(corrupted.unsqueeze(1)).log_prob(states)  # (K, S)
    return torch.logsumexp(corrupt.unsqueeze(2) + rebuild.unsqueeze(0), 1).exp()


def stationary_distribution(transition: torch.Tensor) -> torch.Tensor:
    """The left eigenvector pi = pi T of a transition matrix with eigenvalue 1, normalised:
    ``transition`` a square, row-stochastic matrix (T[i, j] = P(i -> j), rows summing to 1)."""
    checks.tensor("transition", transition)
    if transition.ndim != 2 or transition.shape[0] != transition.shape[1]:
        raise ValueError(
            f"transition must be a square matrix, got shape {tuple(transition.shape)}"
        )
    if transition.device.type != "meta":
        sums = transition.sum(1)
        if bool((transition < 0).any()) or not bool(((sums - 1).abs() <= 1e-4).all()):
            raise ValueError(
                "transition must be row-stochastic (entries >= 0, each row P(i -> .) "
                f"summing to 1), got row sums from {sums.min().item():.6g} to "
                f"{sums.max().item():.6g} (a column-stochastic matrix: pass transition.T)"
            )
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
        if not isinstance(self.binarize, bool):
            raise ValueError(f"binarize must be True or False, got {self.binarize!r}")
        check_seed("seed", self.seed)


def train_gsn(
    model: DenoisingAutoencoder,
    x_train: torch.Tensor,
    config: GSNConfig,
    checkpoint=None,
    desc: str = "gsn",
) -> train.History:
    """Minimise the walkback loss over ``x_train``, one :func:`lec16.train.fit`. Under
    torchrun the DAE is wrapped in DistributedDataParallel: each rank corrupts its shard of
    every batch with its own noise, and the gradients are averaged. ``x_train``: (N, ...)
    examples, flattened; grey levels in [0, 1] (binarized afresh each batch) or binary data
    for a salt-and-pepper model, finite real values for a Gaussian one."""
    check_instance("model", model, DenoisingAutoencoder)
    check_instance("config", config, GSNConfig)
    checks.tensor("x_train", x_train, floating=False, min_dim=2)
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
    model.check_input("x_train", x_train)  # in [0, 1], or finite
    if model.likelihood == "bernoulli":
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

    def step(batch):  # the data were checked above, once
        loss = parallel(batch[0], config.walkback, check=False).mean()
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
        config={"train": config, "n_train": len(x_train)},
    )


def chains_from_noise(
    model: DenoisingAutoencoder,
    n_chains: int,
    n_steps: int,
    keep_every: int = 1,
    seed: int = 0,
) -> torch.Tensor:
    """Samples of ``model``: ``n_chains`` chains started from one draw of fair coins (drawn
    on the CPU from ``seed``, so the same start on every device and for every model), run
    for ``n_steps`` with torch's generator seeded with ``seed``; the means of P_theta(x | x~)
    at every ``keep_every``-th step, shape (n_steps // keep_every, n_chains, n_visible)."""
    check_instance("model", model, DenoisingAutoencoder)
    check_positive("n_chains", n_chains, integer=True)
    _check_steps(n_steps, keep_every)
    check_seed("seed", seed)
    param = model.net[0].weight
    coins = torch.full((n_chains, model.n_visible), 0.5)
    start = torch.bernoulli(coins, generator=torch.Generator().manual_seed(seed))
    torch.manual_seed(seed)
    _, means = model.chain(start.to(param.device, param.dtype), n_steps, keep_every)
    return means
