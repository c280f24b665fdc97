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

import math
from dataclasses import dataclass, field

import torch
from torch.distributions import MultivariateNormal

from lec16 import checks
from lec16.scales import check_positive, check_seed

__all__ = [
    "GMMParams",
    "EMResult",
    "log_joint",
    "log_likelihood",
    "e_step",
    "bound",
    "m_step",
    "init_params",
    "fit_gmm",
]


@dataclass
class GMMParams:
    """Mixture weights (K,), means (K, D) and covariances (K, D, D), floating-point tensors of
    one dtype and device (their shapes are checked here, their values by the functions that use
    them)."""

    weights: torch.Tensor
    means: torch.Tensor
    covariances: torch.Tensor

    def __post_init__(self):
        for name in ("weights", "means", "covariances"):
            checks.tensor(name, getattr(self, name), min_dim=0, non_empty=False)
        k = self.weights.shape[0] if self.weights.ndim == 1 else None
        if k is None or k == 0:
            raise ValueError(
                f"weights must have shape (K,), K >= 1, got {tuple(self.weights.shape)}"
            )
        if self.means.ndim != 2 or self.means.shape[0] != k:
            raise ValueError(
                f"means must have shape (K, D) = ({k}, D), got {tuple(self.means.shape)}"
            )
        d = self.means.shape[1]
        if self.covariances.shape != (k, d, d):
            raise ValueError(
                f"covariances must have shape (K, D, D) = {(k, d, d)}, got "
                f"{tuple(self.covariances.shape)}"
            )
        tensors = (self.weights, self.means, self.covariances)
        if len({(t.dtype, t.device) for t in tensors}) > 1:
            raise ValueError(
                "weights, means and covariances must share one dtype and device, got "
                + ", ".join(f"{t.dtype} on {t.device}" for t in tensors)
            )

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


def _check_x(x) -> torch.Tensor:
    """``x`` if it is a non-empty floating-point tensor of shape (N, D)."""
    checks.tensor("x", x, min_dim=0, non_empty=False)
    if x.ndim != 2:
        raise ValueError(f"x must have shape (N, D), got {tuple(x.shape)}")
    return checks.tensor("x", x)


def _tolerance(x: torch.Tensor) -> float:
    """How far from 1 a sum of probabilities in ``x``'s dtype may round."""
    return math.sqrt(torch.finfo(x.dtype).eps)


def _check_params(x: torch.Tensor, params) -> None:
    """``params`` fit ``x``: a GMMParams of x's dimension, dtype and device, whose weights are
    probabilities that sum to 1."""
    if not isinstance(params, GMMParams):
        raise ValueError(
            f"params must be an em.GMMParams, got a {type(params).__name__}"
        )
    if params.means.shape[1] != x.shape[1]:
        raise ValueError(
            f"the mixture is over {params.means.shape[1]} dimensions but x has "
            f"{x.shape[1]} per point"
        )
    checks.like("x", x, params.means, "the mixture")
    w = params.weights
    if w.device.type != "meta" and (
        bool((w < 0).any()) or not abs(w.sum().item() - 1) <= _tolerance(w)
    ):
        raise ValueError(
            f"the mixture weights must be probabilities that sum to 1, got "
            f"{w.tolist() if len(w) <= 10 else 'a sum of ' + format(w.sum().item(), '.6g')}"
        )


def _check_q(q, x: torch.Tensor, k: int | None = None) -> None:
    """``q`` holds responsibilities of the points of ``x``: (N, K) probabilities, rows summing
    to 1, with ``x``'s dtype and device."""
    checks.tensor("q", q, min_dim=0, non_empty=False)
    if q.ndim != 2 or len(q) != len(x) or (k is not None and q.shape[1] != k):
        components = "K" if k is None else str(k)
        raise ValueError(
            f"q must hold the responsibilities of the {len(x)} points, shape ({len(x)}, "
            f"{components}), got {tuple(q.shape)}"
        )
    checks.like("q", q, x, "x")
    if q.device.type != "meta" and (
        bool((q < 0).any()) or not (q.sum(1) - 1).abs().max().item() <= _tolerance(q)
    ):
        raise ValueError(
            "q must hold probabilities, every row summing to 1 (a distribution over the "
            "components for each point): normalise it, e.g. with torch.softmax(logits, 1)"
        )


def _check_reg_covar(reg_covar) -> None:
    if (
        isinstance(reg_covar, bool)
        or not isinstance(reg_covar, (int, float))
        or not reg_covar >= 0
        or not math.isfinite(reg_covar)
    ):
        raise ValueError(f"reg_covar must be >= 0, got {reg_covar!r}")


def log_joint(x: torch.Tensor, params: GMMParams) -> torch.Tensor:
    """log p(x_n, z_n = k | theta) = log pi_k + log N(x_n; mu_k, Sigma_k), shape (N, K)."""
    _check_params(_check_x(x), params)
    return _log_joint(x, params)


# The public functions check their arguments and run these unchecked twins, which fit_gmm
# calls at every iteration after checking its data once.


def _log_joint(x: torch.Tensor, params: GMMParams) -> torch.Tensor:
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
    _check_params(_check_x(x), params)
    return _log_likelihood(x, params)


def _log_likelihood(x: torch.Tensor, params: GMMParams) -> torch.Tensor:
    return torch.logsumexp(_log_joint(x, params), dim=1)


def e_step(x: torch.Tensor, params: GMMParams) -> torch.Tensor:
    """Responsibilities r_nk = p(z_n = k | x_n, theta), shape (N, K)."""
    _check_params(_check_x(x), params)
    return _e_step(x, params)


def _e_step(x: torch.Tensor, params: GMMParams) -> torch.Tensor:
    return torch.softmax(_log_joint(x, params), dim=1)


def bound(x: torch.Tensor, q: torch.Tensor, params: GMMParams) -> torch.Tensor:
    """L(q, theta) = sum_k q_nk [log p(x_n, k | theta) - log q_nk] per data point, shape (N,).

    ``q`` (N, K) holds a distribution over the components for each point (rows summing to 1).
    0 log 0 is taken as 0, so a q with exact zeros is fine.
    """
    _check_params(_check_x(x), params)
    _check_q(q, x, len(params.weights))
    return _bound(x, q, params)


def _bound(x: torch.Tensor, q: torch.Tensor, params: GMMParams) -> torch.Tensor:
    entropy_terms = torch.where(
        q > 0, q * q.clamp_min(torch.finfo(q.dtype).tiny).log(), torch.zeros_like(q)
    )
    return (q * _log_joint(x, params)).sum(1) - entropy_terms.sum(1)


def m_step(x: torch.Tensor, q: torch.Tensor, reg_covar: float = 1e-6) -> GMMParams:
    """argmax_theta Q(theta, theta_old) for responsibilities q (Bishop 2006, eqs. 9.24-9.26).

    ``reg_covar`` is added to the covariance diagonals, as scikit-learn does, to keep them invertible.
    Every component needs some responsibility (a column of ``q`` summing to 0 has no mean).
    """
    _check_q(q, _check_x(x))
    _check_reg_covar(reg_covar)
    if q.device.type != "meta":
        empty = (q.sum(0) <= 0).nonzero().flatten().tolist()
        if empty:
            raise ValueError(
                f"components {empty} have no responsibility (their columns of q sum to 0): "
                "their means and covariances are undefined; drop them or use fewer components"
            )
    return _m_step(x, q, reg_covar)


def _m_step(x: torch.Tensor, q: torch.Tensor, reg_covar: float = 1e-6) -> GMMParams:
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
    _check_x(x)
    check_positive("k", k, integer=True)
    check_seed("seed", seed)
    if k > len(x):
        raise ValueError(f"k={k} components need at least k data points, got {len(x)}")
    if len(x) < 2:
        raise ValueError(
            f"x needs at least 2 points to estimate the data covariance, got {len(x)}"
        )
    return _init_params(x, k, seed)


def _init_params(x: torch.Tensor, k: int, seed: int = 0) -> GMMParams:
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
    checks.tensor("x", x, min_dim=0, non_empty=False)
    if x.ndim != 2:
        raise ValueError(f"x must have shape (N, D), got {tuple(x.shape)}")
    check_positive("k", k, integer=True)
    check_positive("n_iter", n_iter, integer=True)
    _check_reg_covar(reg_covar)
    check_seed("seed", seed)
    if k > len(x):
        raise ValueError(f"k={k} components need at least k data points, got {len(x)}")
    if init is not None and not isinstance(init, GMMParams):
        raise ValueError(f"init must be an em.GMMParams, got a {type(init).__name__}")
    params = init.clone() if init is not None else init_params(x, k, seed)
    if params.means.shape != (k, x.shape[1]):
        raise ValueError(
            f"init means have shape {tuple(params.means.shape)}, expected {(k, x.shape[1])}"
        )
    _check_params(x, params)
    result = EMResult(
        params, [_log_likelihood(x, params).mean().item()], [], [params.clone()]
    )
    for _ in range(n_iter):
        q = _e_step(x, params)
        params = _m_step(x, q, reg_covar)
        result.bound_after_m.append(_bound(x, q, params).mean().item())
        result.log_likelihood.append(_log_likelihood(x, params).mean().item())
        result.params_path.append(params.clone())
    result.params = params
    return result
