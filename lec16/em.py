"""EM for a Gaussian mixture, and the variational bound it climbs (slides "The EM algorithm",
"EM and Variational Bound"; Dempster et al. 1977, Bishop 2006 section 9.2).

For data X and a discrete latent z in {1..K}:

* E-step: q(z_n) = p(z_n | x_n, theta_old), the responsibilities;
* M-step: theta_new = argmax_theta Q(theta, theta_old) = E_q log p(X, Z | theta), in closed form;
* the bound L(q, theta) = E_q log p(X, Z | theta) + H(q) <= log p(X | theta), tight right after
  the E-step, which is why the log-likelihood never decreases.

Everything runs on the device and dtype of ``x``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch.distributions import MultivariateNormal

from lec16.scales import check_positive


@dataclass
class GMMParams:
    """Mixture weights (K,), means (K, D) and covariances (K, D, D)."""

    weights: torch.Tensor
    means: torch.Tensor
    covariances: torch.Tensor

    def clone(self) -> GMMParams:
        return GMMParams(
            self.weights.clone(), self.means.clone(), self.covariances.clone()
        )


@dataclass
class EMResult:
    """The fitted parameters and, per iteration, the mean log-likelihood and bound per data point.

    ``log_likelihood[0]`` and ``params_path[0]`` belong to the initialisation; entry ``t`` to the
    parameters after ``t`` EM iterations. ``bound_after_m[t - 1]`` is L(q_t, theta_t): the bound with
    the E-step's q and the M-step's new parameters, which lies between the two log-likelihoods.
    """

    params: GMMParams
    log_likelihood: list[float] = field(default_factory=list)
    bound_after_m: list[float] = field(default_factory=list)
    params_path: list[GMMParams] = field(default_factory=list)


def log_joint(x: torch.Tensor, params: GMMParams) -> torch.Tensor:
    """log p(x_n, z_n = k | theta) = log pi_k + log N(x_n; mu_k, Sigma_k), shape (N, K)."""
    try:
        components = MultivariateNormal(
            params.means, covariance_matrix=params.covariances
        )
    except (ValueError, torch.linalg.LinAlgError) as err:
        raise ValueError(
            "a mixture covariance is not positive definite (a component collapsed onto too few "
            "or coincident points); raise reg_covar (e.g. 1e-3) or use fewer components "
            f"[{type(err).__name__}: {str(err).splitlines()[0][:120]}]"
        ) from None
    return params.weights.log() + components.log_prob(x.unsqueeze(1))


def log_likelihood(x: torch.Tensor, params: GMMParams) -> torch.Tensor:
    """log p(x_n | theta) = log sum_k p(x_n, z_n = k | theta), shape (N,)."""
    return torch.logsumexp(log_joint(x, params), dim=1)


def e_step(x: torch.Tensor, params: GMMParams) -> torch.Tensor:
    """Responsibilities r_nk = p(z_n = k | x_n, theta), shape (N, K)."""
    return torch.softmax(log_joint(x, params), dim=1)


def bound(x: torch.Tensor, q: torch.Tensor, params: GMMParams) -> torch.Tensor:
    """L(q, theta) = sum_k q_nk [log p(x_n, k | theta) - log q_nk] per data point, shape (N,).

    0 log 0 is taken as 0, so a q with exact zeros is fine.
    """
    entropy_terms = torch.where(
        q > 0, q * q.clamp_min(torch.finfo(q.dtype).tiny).log(), torch.zeros_like(q)
    )
    return (q * log_joint(x, params)).sum(1) - entropy_terms.sum(1)


def m_step(x: torch.Tensor, q: torch.Tensor, reg_covar: float = 1e-6) -> GMMParams:
    """argmax_theta Q(theta, theta_old) for responsibilities q (Bishop 2006, eqs. 9.24-9.26).

    ``reg_covar`` is added to the covariance diagonals, as scikit-learn does, to keep them invertible.
    """
    n_k = q.sum(0)  # effective number of points per component
    means = (q.T @ x) / n_k[:, None]
    diff = x.unsqueeze(1) - means  # (N, K, D)
    covariances = torch.einsum("nk,nki,nkj->kij", q, diff, diff) / n_k[:, None, None]
    covariances = covariances + reg_covar * torch.eye(
        x.shape[1], dtype=x.dtype, device=x.device
    )
    return GMMParams(n_k / len(x), means, covariances)


def init_params(x: torch.Tensor, k: int, seed: int = 0) -> GMMParams:
    """K distinct data points as means, the data covariance for every component, equal weights."""
    g = torch.Generator().manual_seed(seed)
    idx = torch.randperm(len(x), generator=g)[:k].to(x.device)
    cov = torch.cov(x.T).reshape(x.shape[1], x.shape[1])
    return GMMParams(
        torch.full((k,), 1.0 / k, dtype=x.dtype, device=x.device),
        x[idx].clone(),
        cov.expand(k, -1, -1).clone(),
    )


def fit_gmm(
    x: torch.Tensor,
    k: int,
    n_iter: int = 100,
    init: GMMParams | None = None,
    reg_covar: float = 1e-6,
    seed: int = 0,
) -> EMResult:
    """Fit a K-component Gaussian mixture to ``x`` (N, D) by ``n_iter`` EM iterations.

    ``init`` gives the starting parameters (default: :func:`init_params` with ``seed``).
    Returns an :class:`EMResult` with the log-likelihood after every iteration.
    """
    if x.ndim != 2:
        raise ValueError(f"x must have shape (N, D), got {tuple(x.shape)}")
    check_positive("k", k, integer=True)
    check_positive("n_iter", n_iter, integer=True)
    if not reg_covar >= 0:
        raise ValueError(f"reg_covar must be >= 0, got {reg_covar!r}")
    if k > len(x):
        raise ValueError(f"k={k} components need at least k data points, got {len(x)}")
    params = init.clone() if init is not None else init_params(x, k, seed)
    if params.means.shape != (k, x.shape[1]):
        raise ValueError(
            f"init means have shape {tuple(params.means.shape)}, expected {(k, x.shape[1])}"
        )
    result = EMResult(
        params, [log_likelihood(x, params).mean().item()], [], [params.clone()]
    )
    for _ in range(n_iter):
        q = e_step(x, params)
        params = m_step(x, q, reg_covar)
        result.bound_after_m.append(bound(x, q, params).mean().item())
        result.log_likelihood.append(log_likelihood(x, params).mean().item())
        result.params_path.append(params.clone())
    result.params = params
    return result
