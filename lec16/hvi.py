"""MCMC inside variational inference: Hamiltonian variational inference (Salimans, Kingma &
Welling 2015; the slides' "Other extensions").

Start from a variational q_0(z | x) and refine its draw with T Markov transitions. The
transitions make the marginal q_T(z_T | x) intractable, so Salimans et al. bound log p(x) on the
space of the whole chain instead, with a learned *reverse* model r that explains the auxiliary
randomness backwards (their auxiliary-variable bound):

    log p(x) >= E_q[ log p(x, z_T) - log q_0(z_0 | x)
                     + sum_t ( log r_t(v'_t | x, z_t) - log q(v_t) ) ].

In their Hamiltonian variational inference (HVI), transition t draws a momentum
v_t ~ q(v) = N(0, I), runs ``n_leapfrog`` leapfrog steps of the dynamics of
H(z, v) = -log p(x, z) + |v|^2 / 2 from (z_{t-1}, v_t) to (z_t, v'_t), and keeps the move
without a Metropolis-Hastings test. Leapfrog maps preserve volume, so no Jacobian enters the
bound, and every step is differentiable: the step sizes and the reverse models
r_t(v' | z) = N(A_t z + a_t, L_t L_t^T) are trained on the bound by reparametrization, as in
the VAE. The bound equals log p(x) minus a KL divergence between the forward chain and the
reverse target p(z_T | x) prod_t r_t; with the best reverse model it is the ELBO of q_T itself.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

import torch
from torch import distributions as D
from torch import nn

from lec16 import checks, distributed, train
from lec16.scales import check_non_negative_int, check_positive, check_seed

__all__ = [
    "LogTarget",
    "score",
    "leapfrog",
    "ReverseModel",
    "HamiltonianVI",
    "log_weights",
    "HVIConfig",
    "fit_hvi",
]

LogTarget = Callable[[torch.Tensor], torch.Tensor]


def _check_log_target(log_target) -> None:
    if not callable(log_target):
        raise ValueError(
            "log_target must be a function z -> log p(x, z), one value per point, got a "
            f"{type(log_target).__name__}"
        )


def _check_q0(q0, dim: int) -> None:
    if not isinstance(q0, D.Distribution) or not q0.has_rsample:
        raise ValueError(
            "q0 must be a torch.distributions.Distribution with reparametrized samples "
            f"(e.g. Independent(Normal(...), 1)), got {q0!r}"
        )
    if tuple(q0.event_shape) != (dim,):
        raise ValueError(
            f"q0 must be a distribution of {dim}-dimensional points, event shape ({dim},), "
            f"got {tuple(q0.event_shape)}: wrap a factorised one as "
            "torch.distributions.Independent(q0, 1)"
        )


def score(log_target: LogTarget, z: torch.Tensor) -> torch.Tensor:
    """grad_z log_target(z) for every row of ``z``, kept differentiable (``create_graph``) so that
    the bound's gradient flows through the dynamics into the step sizes."""
    _check_log_target(log_target)
    checks.tensor("z", z, non_empty=False)
    if not z.requires_grad:  # a new leaf: the caller's tensor is left as it was
        z = z.detach().requires_grad_()
    value = log_target(z)
    if not isinstance(value, torch.Tensor) or not value.requires_grad:
        raise ValueError(
            "log_target(z) must be a tensor that depends differentiably on z (is it detached, "
            "or computed under torch.no_grad()?)"
        )
    return torch.autograd.grad(value.sum(), z, create_graph=True)[0]


def leapfrog(
    z: torch.Tensor,
    v: torch.Tensor,
    log_target: LogTarget,
    step_size: torch.Tensor | float,
    n_steps: int = 1,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``n_steps`` leapfrog steps of H(z, v) = -log_target(z) + |v|^2 / 2 with (per-coordinate)
    ``step_size``: half a step in v, whole steps in z and v, half a step in v. Each stage is a
    shear, so the map preserves volume, and it is reversible (negate v'; run again)."""
    check_positive("n_steps", n_steps, integer=True)
    checks.tensor("z", z, non_empty=False)
    checks.tensor("v", v, non_empty=False)
    if v.shape != z.shape:
        raise ValueError(
            f"v must have z's shape {tuple(z.shape)} (one momentum per coordinate), got "
            f"{tuple(v.shape)}"
        )
    if isinstance(step_size, torch.Tensor):
        checks.tensor("step_size", step_size, min_dim=0, non_empty=False)
    else:
        check_positive("step_size", step_size)
    v = v + 0.5 * step_size * score(log_target, z)
    for i in range(n_steps):
        z = z + step_size * v
        weight = 0.5 if i == n_steps - 1 else 1.0
        v = v + weight * step_size * score(log_target, z)
    return z, v


class ReverseModel(nn.Module):
    """r(v' | z) = N(A z + a, L L^T) with L lower triangular (positive diagonal), started at
    N(0, I): the reverse model of one transition."""

    def __init__(self, dim: int):
        super().__init__()
        check_positive("dim", dim, integer=True)
        self.weight = nn.Parameter(torch.zeros(dim, dim))
        self.bias = nn.Parameter(torch.zeros(dim))
        self.log_diagonal = nn.Parameter(torch.zeros(dim))
        self.lower = nn.Parameter(torch.zeros(dim, dim))

    def scale_tril(self) -> torch.Tensor:
        return torch.diag_embed(self.log_diagonal.exp()) + self.lower.tril(-1)

    def forward(self, z: torch.Tensor) -> D.MultivariateNormal:
        checks.tensor("z", z, non_empty=False)
        if z.shape[-1] != len(self.bias):
            raise ValueError(
                f"z has {z.shape[-1]} coordinates but the reverse model acts on "
                f"{len(self.bias)}"
            )
        checks.like("z", z, self.weight, "the reverse model")
        return D.MultivariateNormal(
            z @ self.weight.T + self.bias, scale_tril=self.scale_tril()
        )

    @torch.no_grad()
    def set_gaussian(self, weight, bias, covariance) -> None:
        """Make r(v' | z) = N(weight z + bias, covariance) (e.g. the forward chain's exact
        conditional, for a Gaussian target): ``weight`` and ``covariance`` (d, d), the latter
        symmetric positive definite, ``bias`` (d,). Arrays are converted to tensors."""
        d = len(self.bias)
        weight, bias, covariance = (
            v if isinstance(v, torch.Tensor) else torch.as_tensor(v)
            for v in (weight, bias, covariance)
        )
        for name, value, shape in (
            ("weight", weight, (d, d)),
            ("bias", bias, (d,)),
            ("covariance", covariance, (d, d)),
        ):
            if tuple(value.shape) != shape:
                raise ValueError(
                    f"{name} must have shape {shape}, got {tuple(value.shape)}"
                )
        if covariance.device.type != "meta" and not torch.allclose(
            covariance, covariance.mT
        ):
            raise ValueError("covariance must be symmetric")
        try:
            scale = torch.linalg.cholesky(covariance.to(self.weight))
        except torch.linalg.LinAlgError:
            raise ValueError(
                "covariance must be positive definite (its Cholesky factorisation failed)"
            ) from None
        self.weight.copy_(weight)
        self.bias.copy_(bias)
        self.log_diagonal.copy_(scale.diagonal().log())
        self.lower.copy_(scale.tril(-1))


class HamiltonianVI(nn.Module):
    """``n_transitions`` HVI transitions in ``dim`` dimensions, each with its own per-coordinate
    step sizes (started at ``step_size``) and :class:`ReverseModel`; ``n_leapfrog`` leapfrog
    steps per transition."""

    def __init__(
        self,
        dim: int,
        n_transitions: int,
        n_leapfrog: int = 1,
        step_size: float = 0.1,
    ):
        super().__init__()
        check_positive("dim", dim, integer=True)
        check_non_negative_int("n_transitions", n_transitions)
        check_positive("n_leapfrog", n_leapfrog, integer=True)
        check_positive("step_size", step_size)
        self.dim, self.n_leapfrog = dim, n_leapfrog
        self.log_step_size = nn.Parameter(
            torch.full((n_transitions, dim), math.log(step_size))
        )
        self.reverse = nn.ModuleList(ReverseModel(dim) for _ in range(n_transitions))

    @property
    def n_transitions(self) -> int:
        return len(self.reverse)

    def forward(
        self, z: torch.Tensor, log_target: LogTarget
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Run the transitions from ``z`` (draws of q_0, one per row); returns z_T and, per row,
        sum_t [log r_t(v'_t | z_t) - log N(v_t; 0, I)], the chain's part of the bound."""
        checks.tensor("z", z, non_empty=False)
        if z.shape[-1] != self.dim:
            raise ValueError(
                f"z has {z.shape[-1]} coordinates but the transitions act on {self.dim}"
            )
        checks.like("z", z, self.log_step_size, "the HVI model")
        _check_log_target(log_target)
        momentum = D.Independent(D.Normal(torch.zeros_like(z), torch.ones_like(z)), 1)
        log_ratio = torch.zeros(z.shape[:-1], dtype=z.dtype, device=z.device)
        for log_step, reverse in zip(self.log_step_size, self.reverse):
            v = momentum.sample()
            z_new, v_new = leapfrog(z, v, log_target, log_step.exp(), self.n_leapfrog)
            log_ratio = (
                log_ratio + reverse(z_new).log_prob(v_new) - momentum.log_prob(v)
            )
            z = z_new
        return z, log_ratio


def log_weights(
    model: HamiltonianVI, q0: D.Distribution, log_target: LogTarget, n: int
) -> torch.Tensor:
    """``n`` one-sample estimates of the auxiliary bound: log p(x, z_T) - log q_0(z_0) + the
    chain's log ratio, with z_0 = q0.rsample() (reparametrized). Their mean estimates the bound;
    their log-mean-exp is itself a (tighter, IWAE-style) bound. ``log_target`` returns one
    value per point (shape (n,))."""
    if not isinstance(model, HamiltonianVI):
        raise ValueError(f"model must be a HamiltonianVI, got a {type(model).__name__}")
    _check_q0(q0, model.dim)
    _check_log_target(log_target)
    check_positive("n", n, integer=True)
    z0 = q0.rsample((n,))
    z, log_ratio = model(z0, log_target)
    target = log_target(z)
    if not isinstance(target, torch.Tensor) or target.shape != log_ratio.shape:
        shape = tuple(target.shape) if isinstance(target, torch.Tensor) else target
        raise ValueError(
            f"log_target must return one value per point, shape {tuple(log_ratio.shape)}, "
            f"got {shape}: reduce over the coordinates (e.g. .sum(-1))"
        )
    return target - q0.log_prob(z0) + log_ratio


@dataclasses.dataclass(frozen=True)
class HVIConfig:
    """Adam on the bound estimated from ``batch_size`` chains per step, ``steps`` in all; the
    bound from ``eval_samples`` chains is recorded every ``steps_per_epoch`` steps."""

    steps: int = 2000
    batch_size: int = 256
    lr: float = 0.01
    steps_per_epoch: int = 500
    eval_samples: int = 20_000
    seed: int = 0

    def __post_init__(self):
        for name in ("steps", "batch_size", "steps_per_epoch", "eval_samples"):
            check_positive(name, getattr(self, name), integer=True)
        check_positive("lr", self.lr)
        if self.steps % self.steps_per_epoch:
            raise ValueError(
                f"steps ({self.steps}) must be a multiple of steps_per_epoch "
                f"({self.steps_per_epoch})"
            )
        check_seed("seed", self.seed)


def fit_hvi(
    model: HamiltonianVI,
    q0: D.Distribution,
    log_target: LogTarget,
    config: HVIConfig,
    checkpoint=None,
    desc: str = "hvi",
) -> train.History:
    """Maximise the auxiliary bound over the step sizes and reverse models (q_0 fixed) with
    Adam, one :func:`lec16.train.fit`; records ``bound``, the mean of ``eval_samples`` log
    weights (nats), after each epoch of ``steps_per_epoch`` steps. Under torchrun each rank
    runs its share of the ``batch_size`` chains of every step and DDP averages the
    gradients."""
    if not isinstance(model, HamiltonianVI):
        raise ValueError(f"model must be a HamiltonianVI, got a {type(model).__name__}")
    if not model.n_transitions:
        raise ValueError(
            "an HVI with no transitions has nothing to train: its bound is q_0's ELBO"
        )
    if not isinstance(config, HVIConfig):
        raise ValueError(
            f"config must be an hvi.HVIConfig, got a {type(config).__name__}"
        )
    _check_q0(q0, model.dim)
    _check_log_target(log_target)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    share = distributed.own_share(config.batch_size)
    negative_bound = distributed.wrap_loss(
        lambda: -log_weights(model, q0, log_target, share).mean(), model.parameters()
    )

    def step(_):
        loss = negative_bound()
        train.optimizer_step(optimizer, loss)
        return {"loss": loss}

    def evaluate(epoch):
        with torch.enable_grad():  # the dynamics need grad_z log p(x, z)
            values = torch.cat(
                [
                    log_weights(model, q0, log_target, n).detach()
                    for n in _chunks(config.eval_samples, 5000)
                ]
            )
        return {"bound": values.mean().item()}

    return train.fit(
        step,
        train.Steps(config.steps_per_epoch),
        config.steps // config.steps_per_epoch,
        modules={"hvi": model},
        optimizers={"adam": optimizer},
        evaluate=evaluate,
        checkpoint=checkpoint,
        desc=desc,
        config={"fit": config},
    )


def _chunks(total: int, size: int) -> list[int]:
    return [size] * (total // size) + ([total % size] if total % size else [])
