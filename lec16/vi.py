"""Mean-field variational Bayes and stochastic gradients of the bound (slides "Mean Field
Variational Bayes" and "Variational Autoencoders"; Paisley, Blei & Jordan 2012; Kingma & Welling 2014).

With f(z) = log p(X, z | theta) and a mean-field Gaussian q(z | beta) = prod_i N(z_i; m_i, s_i^2),
beta = (m, log s), the bound is L(beta) = E_q f(Z) + H(q), and H(q) = sum_i H(q_i) is closed-form.
The problem term is grad_beta E_q f(Z); two unbiased estimators with S samples:

* score function:   (1/S) sum_s f(z_s) grad_beta log q(z_s | beta),        z_s ~ q
  (optionally with a leave-one-out baseline b_s = mean of the other f(z_t), still unbiased);
* reparametrization: (1/S) sum_s grad_beta f(m + s * eps_s),             eps_s ~ N(0, I).

Parameters may carry leading batch dimensions (..., 2d): each row is an independent problem,
which lets one call draw many independent gradient estimates.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import distributions as D

from lec16 import checks
from lec16.scales import check_choice, check_positive

__all__ = [
    "ESTIMATORS",
    "mean_field_gaussian",
    "entropy",
    "expectation_grad",
    "elbo_grad",
    "ConjugateGaussian",
    "BayesianLogisticRegression",
    "exact_expectation_grad",
    "exact_elbo",
    "fit_mean_field",
]

LogJoint = Callable[[torch.Tensor], torch.Tensor]  # z (..., d) -> log p(X, z) (...)
ESTIMATORS = ("score", "score+baseline", "reparam")


def _check_beta(beta, d: int | None = None) -> torch.Tensor:
    """``beta`` if it is a floating-point tensor of (m, log s) along its last dimension: 2 d
    values (d given, or any d >= 1)."""
    checks.tensor("beta", beta, non_empty=False)
    size = beta.shape[-1]
    if size == 0 or size % 2 or (d is not None and size != 2 * d):
        wanted = "an even number" if d is None else f"2 d = {2 * d}"
        raise ValueError(
            f"beta must hold (m, log s) along its last dimension, {wanted} of values, got "
            f"shape {tuple(beta.shape)}"
        )
    return beta


def _check_log_joint(name: str, fn) -> None:
    if not callable(fn):
        raise ValueError(
            f"{name} must be a function z (..., d) -> log p(X, z) (...), got a "
            f"{type(fn).__name__}"
        )


def _check_per_sample(values, z: torch.Tensor) -> None:
    """log_joint's output holds one value per sample z (..., d): shape (...)."""
    if not isinstance(values, torch.Tensor) or values.shape != z.shape[:-1]:
        shape = tuple(values.shape) if isinstance(values, torch.Tensor) else values
        raise ValueError(
            f"log_joint must return one value per sample, shape {tuple(z.shape[:-1])}, got "
            f"{shape}: reduce over the coordinates of z (e.g. .sum(-1))"
        )


def _check_model(model) -> None:
    for method in ("log_joint", "expected_log_joint"):
        if not callable(getattr(model, method, None)):
            raise ValueError(
                f"model must have a method {method} (a ConjugateGaussian or a "
                f"BayesianLogisticRegression), got a {type(model).__name__}"
            )


def mean_field_gaussian(beta: torch.Tensor) -> D.Independent:
    """q(z | beta) = prod_i N(z_i; m_i, exp(log_s_i)^2) for beta = (m, log_s) along the last dim."""
    _check_beta(beta)
    m, log_s = beta.chunk(2, dim=-1)
    return D.Independent(D.Normal(m, log_s.exp()), 1)


def entropy(beta: torch.Tensor) -> torch.Tensor:
    """H(q) = sum_i H(q_i) = sum_i (1/2 log(2 pi e) + log s_i): the tractable term of the bound."""
    return mean_field_gaussian(beta).entropy()


def expectation_grad(
    log_joint: LogJoint, beta: torch.Tensor, n_samples: int, estimator: str
) -> torch.Tensor:
    """An unbiased estimate of grad_beta E_{q(z|beta)} f(z) with ``n_samples`` samples (shape of beta)."""
    check_choice("estimator", estimator, ESTIMATORS)
    check_positive("n_samples", n_samples, integer=True)
    if estimator == "score+baseline" and n_samples < 2:
        raise ValueError("the leave-one-out baseline needs n_samples >= 2")
    _check_log_joint("log_joint", log_joint)
    _check_beta(beta)
    beta = beta.detach().requires_grad_(True)
    q = mean_field_gaussian(beta)
    if estimator == "reparam":
        z = q.rsample((n_samples,))
        f = log_joint(z)
        _check_per_sample(f, z)
        surrogate = f.mean(0)
    else:
        z = q.sample((n_samples,))
        f = log_joint(z)
        _check_per_sample(f, z)
        f = f.detach()
        if estimator == "score+baseline":
            # b_s uses only the other samples, so it is independent of z_s and the estimator stays unbiased
            f = f - (f.sum(0, keepdim=True) - f) / (n_samples - 1)
        surrogate = (f * q.log_prob(z)).mean(0)
    (grad,) = torch.autograd.grad(
        surrogate.sum(), beta
    )  # rows are independent: the sum separates them
    return grad


def elbo_grad(
    log_joint: LogJoint, beta: torch.Tensor, n_samples: int, estimator: str
) -> torch.Tensor:
    """Estimated grad of L(beta) = E_q f + H(q): the expectation estimated, the entropy exact."""
    b = beta.detach().requires_grad_(True)
    (entropy_grad,) = torch.autograd.grad(entropy(b).sum(), b)
    return expectation_grad(log_joint, beta, n_samples, estimator) + entropy_grad


# --- Two models with an exact reference --------------------------------------------------------


@dataclass
class ConjugateGaussian:
    """x_i ~ N(z, sigma^2 I), z ~ N(0, tau^2 I) in d dimensions: the exact posterior is Gaussian,
    so the mean-field family contains it and E_q f has a closed form."""

    x: torch.Tensor  # (n, d)
    sigma: float = 1.0
    tau: float = 2.0

    def __post_init__(self):
        _check_data(self.x)
        check_positive("sigma", self.sigma)
        check_positive("tau", self.tau)

    def log_joint(self, z: torch.Tensor) -> torch.Tensor:
        _check_points(z, self.x.shape[1])
        prior = D.Normal(torch.zeros_like(z), self.tau).log_prob(z).sum(-1)
        lik = D.Normal(z.unsqueeze(-2), self.sigma).log_prob(self.x).sum((-1, -2))
        return prior + lik

    def expected_log_joint(self, beta: torch.Tensor) -> torch.Tensor:
        """E_q f in closed form: E (x - z)^2 = (x - m)^2 + s^2 under q."""
        _check_beta(beta, self.x.shape[1])
        m, log_s = beta.chunk(2, dim=-1)
        s2 = (2 * log_s).exp()
        n, d = self.x.shape
        lik = -0.5 * n * d * math.log(2 * math.pi * self.sigma**2) - (
            ((self.x - m.unsqueeze(-2)) ** 2).sum((-1, -2)) + n * s2.sum(-1)
        ) / (2 * self.sigma**2)
        prior = -0.5 * d * math.log(2 * math.pi * self.tau**2) - (
            (m**2).sum(-1) + s2.sum(-1)
        ) / (2 * self.tau**2)
        return lik + prior

    def posterior(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Exact posterior mean and standard deviation (per coordinate)."""
        n = len(self.x)
        precision = 1 / self.tau**2 + n / self.sigma**2
        return self.x.sum(0) / self.sigma**2 / precision, torch.full_like(
            self.x[0], precision**-0.5
        )

    def log_evidence(self) -> torch.Tensor:
        """log p(X) exactly: X ~ N(0, sigma^2 I + tau^2 11^T) per coordinate."""
        n = len(self.x)
        cov = (
            self.sigma**2 * torch.eye(n, dtype=self.x.dtype, device=self.x.device)
            + self.tau**2
        )
        return D.MultivariateNormal(self.x.new_zeros(n), cov).log_prob(self.x.T).sum()


def _check_data(x) -> None:
    checks.tensor("x", x, min_dim=0, non_empty=False)
    if x.ndim != 2:
        raise ValueError(f"x must have shape (n, d), got {tuple(x.shape)}")
    checks.tensor("x", x)


def _check_points(z, d: int) -> None:
    checks.tensor("z", z, non_empty=False)
    if z.shape[-1] != d:
        raise ValueError(f"z has {z.shape[-1]} coordinates but the model has d = {d}")


_QUADRATURE_LIMIT = 2_000_000
"""the most points of a tensor-product quadrature grid (P^d) that expected_log_joint builds"""


@dataclass
class BayesianLogisticRegression:
    """y_i ~ Bernoulli(sigmoid(w . x_i)), w ~ N(0, prior_std^2 I): no conjugacy, no closed form.

    For d = 2 the expectation E_q f is computed to ~1e-11 by Gauss-Hermite quadrature (80 points per
    axis; log-sigmoid is not entire, so convergence is algebraic rather than spectral), which
    gives an exact reference for the gradient (by autograd through the quadrature).
    Labels ``y`` in {0, 1} of an integer or boolean dtype are converted to ``x``'s dtype.
    """

    x: torch.Tensor  # (n, d)
    y: torch.Tensor  # (n,) in {0, 1}
    prior_std: float = 2.0
    quadrature_points: int = 80

    def __post_init__(self):
        _check_data(self.x)
        checks.tensor("y", self.y, floating=False, min_dim=0, non_empty=False)
        if self.y.shape != (len(self.x),):
            raise ValueError(
                f"y must hold one label per row of x, shape ({len(self.x)},), got "
                f"{tuple(self.y.shape)}"
            )
        if self.y.device.type != "meta" and not bool(
            ((self.y == 0) | (self.y == 1)).all()
        ):
            raise ValueError(
                "y must hold labels 0 and 1 (labels -1 and +1: pass (y + 1) / 2)"
            )
        if self.y.dtype != self.x.dtype:
            self.y = self.y.to(self.x.dtype)
        checks.like("y", self.y, self.x, "x")
        check_positive("prior_std", self.prior_std)
        check_positive("quadrature_points", self.quadrature_points, integer=True)

    def log_joint(self, w: torch.Tensor) -> torch.Tensor:
        _check_points(w, self.x.shape[1])
        logits = w @ self.x.T  # (..., n)
        lik = -F.binary_cross_entropy_with_logits(
            logits, self.y.expand_as(logits), reduction="none"
        ).sum(-1)
        return lik + D.Normal(torch.zeros_like(w), self.prior_std).log_prob(w).sum(-1)

    def expected_log_joint(self, beta: torch.Tensor) -> torch.Tensor:
        """E_q f by tensor-product Gauss-Hermite quadrature (exact for the purposes of the checks)."""
        d = self.x.shape[1]
        _check_beta(beta, d)
        if self.quadrature_points**d > _QUADRATURE_LIMIT:
            raise ValueError(
                f"the quadrature grid would have quadrature_points^d = "
                f"{self.quadrature_points}^{d} points (more than {_QUADRATURE_LIMIT:,}): it "
                "is meant for d <= 3; use fewer quadrature_points, or estimate E_q f by Monte "
                "Carlo (log_joint at samples of q)"
            )
        nodes, weights = np.polynomial.hermite.hermgauss(self.quadrature_points)
        t = torch.as_tensor(nodes, dtype=beta.dtype, device=beta.device)
        w1 = torch.as_tensor(
            weights / math.sqrt(math.pi), dtype=beta.dtype, device=beta.device
        )
        grid = torch.stack(torch.meshgrid(*[t] * d, indexing="ij"), -1).reshape(
            -1, d
        )  # (P, d)
        weight = (
            torch.stack(torch.meshgrid(*[w1] * d, indexing="ij"), -1)
            .reshape(-1, d)
            .prod(-1)
        )
        m, log_s = beta.chunk(2, dim=-1)
        z = (
            m.unsqueeze(-2) + math.sqrt(2) * log_s.exp().unsqueeze(-2) * grid
        )  # (..., P, d)
        return (self.log_joint(z) * weight).sum(-1)


def exact_expectation_grad(
    expected_log_joint: Callable[[torch.Tensor], torch.Tensor], beta: torch.Tensor
) -> torch.Tensor:
    """grad_beta E_q f from a closed form or quadrature of E_q f, by autograd."""
    _check_log_joint("expected_log_joint", expected_log_joint)
    _check_beta(beta)
    b = beta.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(expected_log_joint(b).sum(), b)
    return grad


def exact_elbo(model, beta: torch.Tensor) -> torch.Tensor:
    """L(beta) = E_q f + H(q) with E_q f from the model's exact expression."""
    _check_model(model)
    return model.expected_log_joint(beta) + entropy(beta)


def fit_mean_field(
    model,
    beta0: torch.Tensor,
    estimator: str,
    n_samples: int,
    steps: int,
    lr: float = 0.05,
) -> tuple[torch.Tensor, list[float]]:
    """Maximise the bound with Adam on ``estimator``'s gradients; return beta and the exact bound per step."""
    _check_model(model)
    check_choice("estimator", estimator, ESTIMATORS)
    check_positive("n_samples", n_samples, integer=True)
    if estimator == "score+baseline" and n_samples < 2:
        raise ValueError("the leave-one-out baseline needs n_samples >= 2")
    _check_beta(beta0)
    check_positive("steps", steps, integer=True)
    check_positive("lr", lr)
    beta = beta0.detach().clone().requires_grad_(True)
    opt = torch.optim.Adam([beta], lr=lr)
    trace = [exact_elbo(model, beta.detach()).item()]
    for _ in range(steps):
        # the estimator is the gradient (no backward pass): it replaces beta.grad; Adam minimises
        beta.grad = -elbo_grad(model.log_joint, beta, n_samples, estimator)
        opt.step()
        trace.append(exact_elbo(model, beta.detach()).item())
    return beta.detach(), trace
