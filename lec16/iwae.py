"""Importance-weighted autoencoders (slide "Other extensions"; Burda, Grosse & Salakhutdinov 2016).

With k samples z_1..z_k ~ q(z | x) and weights w_i = p(x, z_i) / q(z_i | x),

    L_k(x) = E log (1/k) sum_i w_i,      log p(x) >= L_{k+1}(x) >= L_k(x) >= L_1(x) = ELBO,

and L_k -> log p(x) as k -> infinity when the weights are bounded. The model is the VAE of
:mod:`lec16.vae` (Burda et al.'s one-stochastic-layer architecture is ``VAEConfig(hidden=200,
depth=2, latent=50)``); only the objective changes.
"""

from __future__ import annotations

import math
import numbers

import torch
from torch import distributions as D

from lec16 import checks
from lec16.scales import check_choice, check_positive
from lec16.vae import VAE, VAEConfig, _check_data

__all__ = [
    "OBJECTIVES",
    "ARCHITECTURE",
    "iwae_bound",
    "log_weights",
    "objective",
    "bounds_by_k",
    "log_likelihood",
    "active_units",
    "LinearGaussian",
]

OBJECTIVES = ("iwae", "vae")
# Burda et al.'s MNIST model with one stochastic layer: two deterministic layers of 200 tanh
# units, 50 latents (their Appendix C)
ARCHITECTURE = VAEConfig(hidden=200, depth=2, latent=50)


def iwae_bound(log_w: torch.Tensor, dim: int = 0) -> torch.Tensor:
    """log (1/k) sum_i exp(log_w_i) along ``dim``, by logsumexp so that log-weights of -1e4 are fine."""
    checks.tensor("log_w", log_w, non_empty=False)
    if (
        isinstance(dim, bool)
        or not isinstance(dim, int)
        or not -log_w.ndim <= dim < log_w.ndim
    ):
        raise ValueError(
            f"dim must be an int naming a dimension of log_w (shape {tuple(log_w.shape)}), "
            f"got {dim!r}"
        )
    if log_w.shape[dim] == 0:
        raise ValueError(
            f"log_w holds no weights along dim={dim} (shape {tuple(log_w.shape)}): pass at "
            "least one sample"
        )
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


def _check_ks(ks) -> list[int]:
    """``ks`` as a list of positive ints: integers of any kind (NumPy's included) are taken, a
    float such as 2.5 is refused rather than truncated."""
    if isinstance(ks, torch.Tensor):
        ks = ks.tolist()  # a 1-D tensor of ints gives a list of ints
    if isinstance(ks, (numbers.Number, str)) or not hasattr(ks, "__iter__"):
        raise ValueError(
            f"ks must be a sequence of sample sizes such as (1, 5, 50), got {ks!r}; for one k "
            "pass (k,)"
        )
    ks = list(ks)
    if not ks:
        raise ValueError("ks is empty: pass at least one sample size, e.g. (1, 5, 50)")
    for i, k in enumerate(ks):
        if isinstance(k, numbers.Integral) and not isinstance(k, bool):
            ks[i] = int(k)
        check_positive(f"ks[{i}]", ks[i], integer=True)
    return ks


def _check_inputs(model, x: torch.Tensor) -> None:
    """``x`` once for a whole data set: for a VAE, examples of its dtype, device and size,
    intensities in [0, 1], binary for a Bernoulli decoder (other models, such as
    lec16.wake_sleep's, check their own inputs)."""
    if isinstance(model, VAE):
        _check_data(model, x, "x", binary=True)
    else:
        checks.tensor("x", x)


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
    ``chunk`` at a time, so memory stays at (chunk, batch_size, x_dim). ``x`` is checked once
    (see :func:`lec16.vae.elbo`)."""
    ks = _check_ks(ks)
    check_positive("chunk", chunk, integer=True)
    check_positive("batch_size", batch_size, integer=True)
    _check_inputs(model, x)
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
    check_positive("k", k, integer=True)
    return bounds_by_k(model, x, (k,), chunk=chunk, batch_size=batch_size)[0]


@torch.no_grad()
def active_units(
    model: VAE, x: torch.Tensor, threshold: float = 1e-2, batch_size: int = 1000
) -> tuple[int, torch.Tensor]:
    """Burda et al.'s activity statistic A_u = Cov_x(E_{q(u|x)}[u]) per latent unit; a unit is active
    when A_u > ``threshold``. Returns the count and the per-unit statistics. Their code computes it
    on one dynamically binarized batch of the first 500 training digits, with the population
    variance (numpy's ``var``): pass those digits to match it."""
    check_positive("batch_size", batch_size, integer=True)
    if (
        isinstance(threshold, bool)
        or not isinstance(threshold, (int, float))
        or not math.isfinite(threshold)
        or threshold < 0
    ):
        raise ValueError(f"threshold must be a finite number >= 0, got {threshold!r}")
    if isinstance(model, VAE):
        _check_data(model, x, "x", binary=False)
    else:
        checks.tensor("x", x)
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
        checks.tensor("W", W, min_dim=2)
        if W.ndim != 2:
            raise ValueError(f"W must be a (D, d) matrix, got shape {tuple(W.shape)}")
        checks.tensor("b", b)
        checks.like("b", b, W, "W")
        if b.shape != (W.shape[0],):
            raise ValueError(
                f"b must be a vector of D={W.shape[0]} offsets (W has shape {tuple(W.shape)}), "
                f"got shape {tuple(b.shape)}"
            )
        check_positive("sigma", sigma)
        self.W, self.b, self.sigma = W, b, sigma
        d = W.shape[1]
        self.prior = D.MultivariateNormal(
            W.new_zeros(d), torch.eye(d, dtype=W.dtype, device=W.device)
        )

    def _check(
        self, name: str, v: torch.Tensor, size: int, what: str, dtype: bool
    ) -> None:
        """``v`` on W's device (and of its dtype, when ``dtype``: latents meet W in a product)
        with ``size`` coordinates in its last dimension."""
        checks.tensor(name, v, non_empty=False)
        if dtype or v.device != self.W.device:
            checks.like(name, v, self.W, "the LinearGaussian")
        if v.shape[-1] != size:
            raise ValueError(
                f"{name} must hold {what} of {size} coordinates in its last dimension, got "
                f"shape {tuple(v.shape)}"
            )

    def _check_x(self, x: torch.Tensor) -> None:
        self._check("x", x, self.W.shape[0], "observations", dtype=False)

    def log_joint(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """log p(x, z) for observations ``x`` (..., D) and latents ``z`` (..., d)."""
        self._check_x(x)
        self._check("z", z, self.W.shape[1], "latents", dtype=True)
        return D.Independent(D.Normal(z @ self.W.T + self.b, self.sigma), 1).log_prob(
            x
        ) + self.prior.log_prob(z)

    def log_marginal(self, x: torch.Tensor) -> torch.Tensor:
        """The exact log p(x)."""
        self._check_x(x)
        cov = self.W @ self.W.T + self.sigma**2 * torch.eye(
            len(self.b), dtype=self.W.dtype, device=self.W.device
        )
        return D.MultivariateNormal(self.b, cov).log_prob(x)

    def posterior(self, x: torch.Tensor) -> D.MultivariateNormal:
        """The exact p(z | x)."""
        self._check_x(x)
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
        if (
            isinstance(shift, bool)
            or not isinstance(shift, (int, float))
            or not math.isfinite(shift)
        ):
            raise ValueError(f"shift must be a finite number, got {shift!r}")
        check_positive("widen", widen)
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
        self._check_x(x)
        if not isinstance(q, D.Distribution):
            raise ValueError(
                f"q must be a torch.distributions.Distribution (e.g. self.proposal(x)), got "
                f"{type(q).__name__}"
            )
        check_positive("k", k, integer=True)
        check_positive("replicates", replicates, integer=True)
        z = q.sample((replicates, k))
        return iwae_bound(self.log_joint(x, z) - q.log_prob(z), dim=1)
