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

from lec16.scales import check_choice, check_positive

LogJoint = Callable[[torch.Tensor], torch.Tensor]  # z (..., d) -> log p(X, z) (...)
ESTIMATORS = ("score", "score+baseline", "reparam")


def mean_field_gaussian(beta: torch.Tensor) -> D.Independent:
    """q(z | beta) = prod_i N(z_i; m_i, exp(log_s_i)^2) for beta = (m, log_s) along the last dim."""
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
    beta = beta.detach().requires_grad_(True)
    q = mean_field_gaussian(beta)
    if estimator == "reparam":
        surrogate = log_joint(q.rsample((n_samples,))).mean(0)
    else:
        z = q.sample((n_samples,))
        f = log_joint(z).detach()
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

    def log_joint(self, z: torch.Tensor) -> torch.Tensor:
        prior = D.Normal(torch.zeros_like(z), self.tau).log_prob(z).sum(-1)
        lik = D.Normal(z.unsqueeze(-2), self.sigma).log_prob(self.x).sum((-1, -2))
        return prior + lik

    def expected_log_joint(self, beta: torch.Tensor) -> torch.Tensor:
        """E_q f in closed form: E (x - z)^2 = (x - m)^2 + s^2 under q."""
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


@dataclass
class BayesianLogisticRegression:
    """y_i ~ Bernoulli(sigmoid(w . x_i)), w ~ N(0, prior_std^2 I): no conjugacy, no closed form.

    For d = 2 the expectation E_q f is computed to ~1e-11 by Gauss-Hermite quadrature (80 points per
    axis; log-sigmoid is not entire, so convergence is algebraic rather than spectral), which
    gives an exact reference for the gradient (by autograd through the quadrature).
    """

    x: torch.Tensor  # (n, d)
    y: torch.Tensor  # (n,) in {0, 1}
    prior_std: float = 2.0
    quadrature_points: int = 80

    def log_joint(self, w: torch.Tensor) -> torch.Tensor:
        logits = w @ self.x.T  # (..., n)
        lik = -F.binary_cross_entropy_with_logits(
            logits, self.y.expand_as(logits), reduction="none"
        ).sum(-1)
        return lik + D.Normal(torch.zeros_like(w), self.prior_std).log_prob(w).sum(-1)

    def expected_log_joint(self, beta: torch.Tensor) -> torch.Tensor:
        """E_q f by tensor-product Gauss-Hermite quadrature (exact for the purposes of the checks)."""
        d = self.x.shape[1]
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
    b = beta.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(expected_log_joint(b).sum(), b)
    return grad


def exact_elbo(model, beta: torch.Tensor) -> torch.Tensor:
    """L(beta) = E_q f + H(q) with E_q f from the model's exact expression."""
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
