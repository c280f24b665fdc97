"""Importance-weighted autoencoders (slide "Other extensions"; Burda, Grosse & Salakhutdinov 2016).

With k samples z_1..z_k ~ q(z | x) and weights w_i = p(x, z_i) / q(z_i | x),

    L_k(x) = E log (1/k) sum_i w_i,      log p(x) >= L_{k+1}(x) >= L_k(x) >= L_1(x) = ELBO,

and L_k -> log p(x) as k -> infinity when the weights are bounded. The model is the VAE of
:mod:`lec16.vae` (Burda et al.'s one-stochastic-layer architecture is ``VAEConfig(hidden=200,
depth=2, latent=50)``); only the objective changes.
"""

from __future__ import annotations

import math

import torch
from torch import distributions as D

from lec16.scales import check_choice, check_positive, choose
from lec16.vae import VAE, TrainConfig, VAEConfig

OBJECTIVES = ("iwae", "vae")
# Burda et al.'s MNIST model with one stochastic layer: two deterministic layers of 200 tanh
# units, 50 latents (their Appendix C)
ARCHITECTURE = VAEConfig(hidden=200, depth=2, latent=50)


def scale_setup(scale: str, seed: int = 0) -> tuple[int, TrainConfig]:
    """The IWAE chapter's training digits and :class:`~lec16.vae.TrainConfig` at each scale (also
    ``python -m lec16 train iwae``). ``paper``: Burda et al.'s schedule, 3^i passes at learning
    rate 1e-3 * 10^(-i/7) for i = 0 ... 7 (3,280 passes), batch 20, Adam eps 1e-4;
    ``default``: 3 passes at batch 100 (2 CPU cores)."""
    n_train = choose(scale, smoke=1000, default=60_000, paper=60_000)
    config = choose(
        scale,
        smoke=TrainConfig(epochs=1, batch_size=100, seed=seed),
        default=TrainConfig(epochs=3, batch_size=100, seed=seed),
        paper=TrainConfig(
            epochs=3280,
            batch_size=20,
            lr=1e-3,
            adam_eps=1e-4,
            lr_schedule="burda",
            seed=seed,
        ),
    )
    return n_train, config


def iwae_bound(log_w: torch.Tensor, dim: int = 0) -> torch.Tensor:
    """log (1/k) sum_i exp(log_w_i) along ``dim``, by logsumexp so that log-weights of -1e4 are fine."""
    return torch.logsumexp(log_w, dim) - math.log(log_w.shape[dim])


def log_weights(model: VAE, x: torch.Tensor, k: int) -> torch.Tensor:
    """log w_i = log p(x | z_i) + log p(z_i) - log q(z_i | x) for k reparametrized z_i ~ q(z | x): shape
    (k, B). The model's own :meth:`~lec16.vae.VAE.log_weights`, so a richer q (the flow posterior
    of :mod:`lec16.flow_vae`) gets every bound of this module."""
    check_positive("k", k, integer=True)
    return model.log_weights(x, k)


def objective(model: VAE, x: torch.Tensor, k: int, kind: str = "iwae") -> torch.Tensor:
    """Per-example training objective with k samples: ``iwae`` is L_k (Burda et al. eq. 8); ``vae`` is
    the k-sample ELBO estimate (1/k) sum_i log w_i, the VAE baseline of their Table 1. ``model``
    may be wrapped in DistributedDataParallel (``lec16.distributed.wrap``)."""
    check_choice("kind", kind, OBJECTIVES)
    check_positive("k", k, integer=True)
    # through the model's forward (VAE.forward's bounds), which DistributedDataParallel wraps
    return model(x, k, bound=kind)


@torch.no_grad()
def bounds_by_k(
    model: VAE,
    x: torch.Tensor,
    ks=(1, 5, 50, 500, 5000),
    chunk: int = 500,
    batch_size: int = 100,
) -> torch.Tensor:
    """Independent per-example estimates of L_k for every k in ``ks``: shape (len(ks), N).
    Each k gets its own k samples (sum(ks) in all): independent, so a comparison across k can
    fail (shared samples would make L_k rise with k by Jensen's inequality alone). Samples are drawn
    ``chunk`` at a time, so memory stays at (chunk, batch_size, x_dim)."""
    ks = [int(k) for k in ks]
    for k in ks:
        check_positive("k", k, integer=True)
    check_positive("chunk", chunk, integer=True)
    check_positive("batch_size", batch_size, integer=True)
    total = sum(ks)
    out = []
    for i in range(0, len(x), batch_size):
        xb = x[i : i + batch_size]
        log_w = torch.cat(
            [
                log_weights(model, xb, min(chunk, total - j))
                for j in range(0, total, chunk)
            ]
        )
        out.append(torch.stack([iwae_bound(block) for block in log_w.split(ks)]))
    return torch.cat(out, 1)


def log_likelihood(
    model: VAE, x: torch.Tensor, k: int = 5000, chunk: int = 500, batch_size: int = 100
) -> torch.Tensor:
    """The importance-sampling estimate L_k of log p(x) per example (Burda et al. use k = 5000),
    computed ``chunk`` samples at a time so memory stays at (chunk, batch_size, x_dim)."""
    return bounds_by_k(model, x, (k,), chunk=chunk, batch_size=batch_size)[0]


@torch.no_grad()
def active_units(
    model: VAE, x: torch.Tensor, threshold: float = 1e-2, batch_size: int = 1000
) -> tuple[int, torch.Tensor]:
    """Burda et al.'s activity statistic A_u = Cov_x(E_{q(u|x)}[u]) per latent unit; a unit is active
    when A_u > ``threshold``. Returns the count and the per-unit statistics. Their code computes it
    on one dynamically binarized batch of the first 500 training digits, with the population
    variance (numpy's ``var``): pass those digits to match it."""
    with torch.no_grad():
        means = torch.cat(
            [
                model.encode(x[i : i + batch_size])[0]
                for i in range(0, len(x), batch_size)
            ]
        )
    activity = means.var(0, correction=0)
    return int((activity > threshold).sum()), activity


class LinearGaussian:
    """z ~ N(0, I_d), x | z ~ N(W z + b, sigma^2 I_D) (probabilistic PCA): log p(x) and p(z | x) are
    exact, so L_k can be compared with the truth. ``proposal(x, shift, widen)`` is a deliberately
    imperfect mean-field q(z | x): the exact posterior's mean moved by ``shift`` and its marginal standard
    deviations multiplied by ``widen``, with the correlations dropped."""

    def __init__(self, W: torch.Tensor, b: torch.Tensor, sigma: float):
        self.W, self.b, self.sigma = W, b, sigma
        d = W.shape[1]
        self.prior = D.MultivariateNormal(
            W.new_zeros(d), torch.eye(d, dtype=W.dtype, device=W.device)
        )

    def log_joint(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return D.Independent(D.Normal(z @ self.W.T + self.b, self.sigma), 1).log_prob(
            x
        ) + self.prior.log_prob(z)

    def log_marginal(self, x: torch.Tensor) -> torch.Tensor:
        cov = self.W @ self.W.T + self.sigma**2 * torch.eye(
            len(self.b), dtype=self.W.dtype, device=self.W.device
        )
        return D.MultivariateNormal(self.b, cov).log_prob(x)

    def posterior(self, x: torch.Tensor) -> D.MultivariateNormal:
        d = self.W.shape[1]
        precision = (
            torch.eye(d, dtype=self.W.dtype, device=self.W.device)
            + self.W.T @ self.W / self.sigma**2
        )
        cov = torch.linalg.inv(precision)
        return D.MultivariateNormal(((x - self.b) @ self.W / self.sigma**2) @ cov, cov)

    def proposal(
        self, x: torch.Tensor, shift: float = 0.5, widen: float = 1.5
    ) -> D.Independent:
        post = self.posterior(x)
        return D.Independent(
            D.Normal(
                post.mean + shift, widen * post.covariance_matrix.diagonal().sqrt()
            ),
            1,
        )

    def bound_samples(
        self, x: torch.Tensor, q: D.Distribution, k: int, replicates: int
    ) -> torch.Tensor:
        """``replicates`` independent draws of the k-sample estimate log (1/k) sum_i w_i."""
        z = q.sample((replicates, k))
        return iwae_bound(self.log_joint(x, z) - q.log_prob(z), dim=1)


def example_ppca(device=None) -> tuple[LinearGaussian, torch.Tensor, D.Independent]:
    """The IWAE chapter's example (its section "Tighter bounds on a model with exact log p(x)"),
    which the MCMC-inside-VI chapter reuses: probabilistic PCA with 6 observed and 2 latent
    dimensions (W, b standard normal, sigma = 0.5, float64, drawn on the CPU from seed 0 so
    every device has the same numbers), one observation x0 ~ N(0, 4 I) and the imperfect
    q_0 = ``proposal(x0, shift=0.5, widen=1.5)``."""
    g = torch.Generator().manual_seed(0)
    W = torch.randn(6, 2, generator=g, dtype=torch.float64).to(device)
    b = torch.randn(6, generator=g, dtype=torch.float64).to(device)
    ppca = LinearGaussian(W, b, sigma=0.5)
    x0 = (2 * torch.randn(6, generator=g, dtype=torch.float64)).to(device)
    return ppca, x0, ppca.proposal(x0, shift=0.5, widen=1.5)
