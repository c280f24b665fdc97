"""Exponential families and conjugate duality (slides "Exponential Families", "Conjugate Duality";
Wainwright & Jordan 2008, ch. 3).

p_theta(x) = exp{<theta, phi(x)> - A(theta)}, with the log-partition A(theta) = log int exp<theta, phi(x)> dx,
finite on Omega. Its conjugate A*(mu) = sup_theta <mu, theta> - A(theta) is the negative entropy of
the member whose mean parameter E phi(X) is mu, and A(theta) = sup_mu <theta, mu> - A*(mu).

Three families, each with the closed forms the notebook checks numerically: ``BERNOULLI``,
``CATEGORICAL`` (over-complete one-hot statistics) and ``GAUSSIAN`` (phi(x) = (x, x^2)).
Parameters are tensors whose last dimension indexes the statistics (a scalar for Bernoulli).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import distributions as D


@dataclass(frozen=True)
class ExponentialFamily:
    """The closed forms of one family.

    * ``stats(x)``: the sufficient statistics phi(x);
    * ``log_partition(theta)``: A(theta), ``inf`` outside Omega;
    * ``mean(theta)``: mu(theta) = grad A(theta) = E_theta phi(X);
    * ``natural(mu)``: a theta with mean parameter mu (the inverse map);
    * ``conjugate(mu)``: A*(mu);
    * ``distribution(theta)``: the same law as a ``torch.distributions`` object (entropy, sampling).
    """

    name: str
    stats: Callable[[torch.Tensor], torch.Tensor]
    log_partition: Callable[[torch.Tensor], torch.Tensor]
    mean: Callable[[torch.Tensor], torch.Tensor]
    natural: Callable[[torch.Tensor], torch.Tensor]
    conjugate: Callable[[torch.Tensor], torch.Tensor]
    distribution: Callable[[torch.Tensor], D.Distribution]

    def log_density(self, x: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
        """log p_theta(x) = <theta, phi(x)> - A(theta)."""
        phi = self.stats(x)
        inner = phi * theta if theta.ndim == 0 else (phi * theta).sum(-1)
        return inner - self.log_partition(theta)


def _gaussian_log_partition(theta: torch.Tensor) -> torch.Tensor:
    t1, t2 = theta[..., 0], theta[..., 1]
    inside = (
        -(t1**2) / (4 * t2) - 0.5 * torch.log(-2 * t2) + 0.5 * math.log(2 * math.pi)
    )
    return torch.where(
        t2 < 0, inside, torch.full_like(t1, math.inf)
    )  # Omega = {theta_2 < 0}


def _gaussian_moments(theta: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    variance = -1 / (2 * theta[..., 1])
    return theta[..., 0] * variance, variance


def _gaussian_mean(theta: torch.Tensor) -> torch.Tensor:
    m, variance = _gaussian_moments(theta)
    return torch.stack([m, m**2 + variance], -1)


def _gaussian_natural(mu: torch.Tensor) -> torch.Tensor:
    variance = mu[..., 1] - mu[..., 0] ** 2
    return torch.stack([mu[..., 0] / variance, -1 / (2 * variance)], -1)


def _gaussian_conjugate(mu: torch.Tensor) -> torch.Tensor:
    return -0.5 * (1 + math.log(2 * math.pi)) - 0.5 * torch.log(
        mu[..., 1] - mu[..., 0] ** 2
    )


def _gaussian_distribution(theta: torch.Tensor) -> D.Normal:
    m, variance = _gaussian_moments(theta)
    return D.Normal(m, variance.sqrt())


def _xlogx(p: torch.Tensor) -> torch.Tensor:
    return torch.where(
        p > 0, p * p.clamp_min(torch.finfo(p.dtype).tiny).log(), torch.zeros_like(p)
    )


BERNOULLI = ExponentialFamily(
    name="Bernoulli",
    stats=lambda x: x,
    log_partition=F.softplus,  # log(1 + e^theta)
    mean=torch.sigmoid,
    natural=torch.logit,
    conjugate=lambda mu: _xlogx(mu) + _xlogx(1 - mu),
    distribution=lambda theta: D.Bernoulli(logits=theta),
)

CATEGORICAL = ExponentialFamily(
    name="Categorical",
    stats=lambda x: (
        x
    ),  # x is one-hot: phi(x) = x (over-complete: theta is defined up to a constant)
    log_partition=lambda theta: torch.logsumexp(theta, -1),
    mean=lambda theta: torch.softmax(theta, -1),
    natural=torch.log,
    conjugate=lambda mu: _xlogx(mu).sum(-1),
    distribution=lambda theta: D.OneHotCategorical(logits=theta),
)

GAUSSIAN = ExponentialFamily(
    name="Gaussian",
    stats=lambda x: torch.stack([x, x**2], -1),
    log_partition=_gaussian_log_partition,
    mean=_gaussian_mean,
    natural=_gaussian_natural,
    conjugate=_gaussian_conjugate,
    distribution=_gaussian_distribution,
)

FAMILIES = (BERNOULLI, CATEGORICAL, GAUSSIAN)
