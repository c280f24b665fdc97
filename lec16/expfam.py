"""Exponential families and conjugate duality (slides "Exponential Families", "Conjugate Duality";
Wainwright & Jordan 2008, ch. 3).

p_theta(x) = exp{<theta, phi(x)> - A(theta)}, with the log-partition A(theta) = log int exp<theta, phi(x)> dx,
finite on Omega. Its conjugate A*(mu) = sup_theta <mu, theta> - A(theta) is the negative entropy of
the member whose mean parameter E phi(X) is mu, and A(theta) = sup_mu <theta, mu> - A*(mu).

Three families, each with the closed forms the notebook checks numerically: ``BERNOULLI``,
``CATEGORICAL`` (over-complete one-hot statistics) and ``GAUSSIAN`` (phi(x) = (x, x^2)).
Parameters are tensors whose last dimension indexes the statistics (a scalar for Bernoulli,
elementwise over any shape); a Python number is taken as a 0-d tensor of the default dtype.

Arguments are checked: data off the family's support (a Bernoulli x not 0 or 1, a categorical x
not one-hot), natural parameters of the Gaussian outside Omega = {theta_2 < 0} given to ``mean``
or ``distribution``, and mean parameters outside the closure of the realisable set given to
``natural`` get a ValueError. ``log_partition`` is +inf outside Omega and ``conjugate`` +inf
outside that closure, as the two functions are defined there.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import distributions as D

from lec16 import checks

__all__ = [
    "ExponentialFamily",
    "BERNOULLI",
    "CATEGORICAL",
    "GAUSSIAN",
    "FAMILIES",
]


@dataclass(frozen=True)
class ExponentialFamily:
    """The closed forms of one family.

    * ``stats(x)``: the sufficient statistics phi(x);
    * ``log_partition(theta)``: A(theta), ``inf`` outside Omega;
    * ``mean(theta)``: mu(theta) = grad A(theta) = E_theta phi(X);
    * ``natural(mu)``: a theta with mean parameter mu (the inverse map);
    * ``conjugate(mu)``: A*(mu);
    * ``distribution(theta)``: the same law as a ``torch.distributions`` object (entropy, sampling);
    * ``scalar``: the statistic is one number per coordinate, so that parameters and data of any
      shape pair elementwise (Bernoulli); otherwise the last dimension indexes the statistics.
    """

    name: str
    stats: Callable[[torch.Tensor], torch.Tensor]
    log_partition: Callable[[torch.Tensor], torch.Tensor]
    mean: Callable[[torch.Tensor], torch.Tensor]
    natural: Callable[[torch.Tensor], torch.Tensor]
    conjugate: Callable[[torch.Tensor], torch.Tensor]
    distribution: Callable[[torch.Tensor], D.Distribution]
    scalar: bool = False

    def log_density(self, x: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
        """log p_theta(x) = <theta, phi(x)> - A(theta)."""
        theta = _parameter("theta", theta)
        phi = self.stats(x)
        elementwise = self.scalar or theta.ndim == 0
        if not elementwise and phi.shape[-1:] != theta.shape[-1:]:
            raise ValueError(
                f"x has {phi.shape[-1] if phi.ndim else 1} statistics per point but theta has "
                f"{theta.shape[-1]} entries (shapes {tuple(phi.shape)} and "
                f"{tuple(theta.shape)})"
            )
        inner = phi * theta if elementwise else (phi * theta).sum(-1)
        return inner - self.log_partition(theta)


def _has_values(x: torch.Tensor) -> bool:
    return x.device.type != "meta" and x.numel() > 0


def _parameter(name: str, value) -> torch.Tensor:
    """``value`` as a floating-point tensor: a Python number becomes a 0-d tensor of the default
    dtype; a tensor must be floating point."""
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return torch.tensor(float(value))
    return checks.tensor(name, value, min_dim=0, non_empty=False)


def _data(x) -> torch.Tensor:
    """``x`` as a tensor (a Python number becomes a 0-d tensor; integer data are kept)."""
    if isinstance(x, numbers.Real) and not isinstance(x, bool):
        return torch.tensor(float(x))
    return checks.tensor("x", x, floating=False, min_dim=0, non_empty=False)


def _vector(name: str, value, size: int | None = None) -> torch.Tensor:
    """A parameter whose last dimension indexes the statistics (of ``size`` entries, if given)."""
    value = _parameter(name, value)
    if value.ndim == 0 or (size is not None and value.shape[-1] != size):
        wanted = "a last dimension" if size is None else f"a last dimension of {size}"
        raise ValueError(
            f"{name} must have {wanted} indexing the statistics, got shape "
            f"{tuple(value.shape)}"
        )
    return value


def _infinite_outside(value: torch.Tensor, inside: torch.Tensor) -> torch.Tensor:
    """``value`` with +inf where ``inside`` is False (A* outside the closure of the realisable
    mean parameters); untouched, the same operations, when every point is inside."""
    if _has_values(inside) and not bool(inside.all()):
        return torch.where(inside, value, torch.full_like(value, math.inf))
    return value


def _simplex(mu: torch.Tensor) -> torch.Tensor:
    """Where the rows of ``mu`` (last dimension) are probability vectors (to rounding)."""
    tolerance = math.sqrt(torch.finfo(mu.dtype).eps)
    return (mu >= 0).all(-1) & ((mu.sum(-1) - 1).abs() <= tolerance)


def _gaussian_theta(theta, omega: bool) -> torch.Tensor:
    """theta = (m / s^2, -1 / (2 s^2)) along the last dimension; in Omega when ``omega``."""
    theta = _vector("theta", theta, 2)
    if omega and _has_values(theta) and not bool((theta[..., 1] < 0).all()):
        raise ValueError(
            "theta must lie in Omega = {theta_2 < 0}, where A(theta) is finite (no Gaussian "
            f"has theta_2 >= 0), got theta_2 up to {theta[..., 1].max().item():.3g}"
        )
    return theta


def _gaussian_log_partition(theta: torch.Tensor) -> torch.Tensor:
    theta = _gaussian_theta(theta, omega=False)
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


def _gaussian_stats(x) -> torch.Tensor:
    x = _data(x)
    return torch.stack([x, x**2], -1)


def _gaussian_mean(theta: torch.Tensor) -> torch.Tensor:
    m, variance = _gaussian_moments(_gaussian_theta(theta, omega=True))
    return torch.stack([m, m**2 + variance], -1)


def _gaussian_natural(mu: torch.Tensor) -> torch.Tensor:
    mu = _vector("mu", mu, 2)
    variance = mu[..., 1] - mu[..., 0] ** 2
    if _has_values(variance) and not bool((variance > 0).all()):
        raise ValueError(
            "mu = (E x, E x^2) must have E x^2 > (E x)^2 (a positive variance) to have a "
            f"natural parameter, got a variance of {variance.min().item():.3g}"
        )
    return torch.stack([mu[..., 0] / variance, -1 / (2 * variance)], -1)


def _gaussian_conjugate(mu: torch.Tensor) -> torch.Tensor:
    mu = _vector("mu", mu, 2)
    value = -0.5 * (1 + math.log(2 * math.pi)) - 0.5 * torch.log(
        mu[..., 1] - mu[..., 0] ** 2
    )
    return _infinite_outside(value, mu[..., 1] - mu[..., 0] ** 2 >= 0)


def _gaussian_distribution(theta: torch.Tensor) -> D.Normal:
    m, variance = _gaussian_moments(_gaussian_theta(theta, omega=True))
    return D.Normal(m, variance.sqrt())


def _xlogx(p: torch.Tensor) -> torch.Tensor:
    return torch.where(
        p > 0, p * p.clamp_min(torch.finfo(p.dtype).tiny).log(), torch.zeros_like(p)
    )


def _bernoulli_stats(x) -> torch.Tensor:
    x = _data(x)
    if _has_values(x) and not bool(((x == 0) | (x == 1)).all()):
        raise ValueError(
            "x must be 0 or 1 in the Bernoulli family: binarize grey levels first "
            "(lec16.data.binarize_threshold or binarize_dynamic)"
        )
    return x


def _bernoulli_mu(mu) -> torch.Tensor:
    return _parameter("mu", mu)


def _bernoulli_natural(mu) -> torch.Tensor:
    mu = _bernoulli_mu(mu)
    if _has_values(mu) and not bool(((mu >= 0) & (mu <= 1)).all()):
        raise ValueError(
            "mu must be a Bernoulli mean parameter, a probability in [0, 1], got values in "
            f"[{mu.min().item():.3g}, {mu.max().item():.3g}]"
        )
    return torch.logit(mu)


def _bernoulli_conjugate(mu) -> torch.Tensor:
    mu = _bernoulli_mu(mu)
    return _infinite_outside(_xlogx(mu) + _xlogx(1 - mu), (mu >= 0) & (mu <= 1))


def _categorical_stats(x) -> torch.Tensor:
    # x is one-hot: phi(x) = x (over-complete: theta is defined up to a constant)
    x = _data(x)
    if x.ndim == 0 or (
        _has_values(x)
        and not (bool(((x == 0) | (x == 1)).all()) and bool((x.sum(-1) == 1).all()))
    ):
        raise ValueError(
            "x must be one-hot along its last dimension (one category per point): convert "
            "class indices with torch.nn.functional.one_hot(x, K)"
        )
    return x


def _categorical_natural(mu) -> torch.Tensor:
    mu = _vector("mu", mu)
    if _has_values(mu) and not bool(_simplex(mu).all()):
        raise ValueError(
            "mu must be a categorical mean parameter, probabilities >= 0 summing to 1 along "
            "the last dimension"
        )
    return torch.log(mu)


def _categorical_conjugate(mu) -> torch.Tensor:
    mu = _vector("mu", mu)
    return _infinite_outside(_xlogx(mu).sum(-1), _simplex(mu))


BERNOULLI = ExponentialFamily(
    name="Bernoulli",
    stats=_bernoulli_stats,
    log_partition=lambda theta: F.softplus(
        _parameter("theta", theta)
    ),  # log(1 + e^theta)
    mean=lambda theta: torch.sigmoid(_parameter("theta", theta)),
    natural=_bernoulli_natural,
    conjugate=_bernoulli_conjugate,
    distribution=lambda theta: D.Bernoulli(logits=_parameter("theta", theta)),
    scalar=True,
)

CATEGORICAL = ExponentialFamily(
    name="Categorical",
    stats=_categorical_stats,
    log_partition=lambda theta: torch.logsumexp(_vector("theta", theta), -1),
    mean=lambda theta: torch.softmax(_vector("theta", theta), -1),
    natural=_categorical_natural,
    conjugate=_categorical_conjugate,
    distribution=lambda theta: D.OneHotCategorical(logits=_vector("theta", theta)),
)

GAUSSIAN = ExponentialFamily(
    name="Gaussian",
    stats=_gaussian_stats,
    log_partition=_gaussian_log_partition,
    mean=_gaussian_mean,
    natural=_gaussian_natural,
    conjugate=_gaussian_conjugate,
    distribution=_gaussian_distribution,
)

FAMILIES = (BERNOULLI, CATEGORICAL, GAUSSIAN)
