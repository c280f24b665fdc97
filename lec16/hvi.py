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

from lec16 import distributed, train
from lec16.scales import check_positive, choose

LogTarget = Callable[[torch.Tensor], torch.Tensor]


def score(log_target: LogTarget, z: torch.Tensor) -> torch.Tensor:
    """grad_z log_target(z) for every row of ``z``, kept differentiable (``create_graph``) so that
    the bound's gradient flows through the dynamics into the step sizes."""
    if not z.requires_grad:  # a new leaf: the caller's tensor is left as it was
        z = z.detach().requires_grad_()
    return torch.autograd.grad(log_target(z).sum(), z, create_graph=True)[0]


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
        self.weight = nn.Parameter(torch.zeros(dim, dim))
        self.bias = nn.Parameter(torch.zeros(dim))
        self.log_diagonal = nn.Parameter(torch.zeros(dim))
        self.lower = nn.Parameter(torch.zeros(dim, dim))

    def scale_tril(self) -> torch.Tensor:
        return torch.diag_embed(self.log_diagonal.exp()) + self.lower.tril(-1)

    def forward(self, z: torch.Tensor) -> D.MultivariateNormal:
        return D.MultivariateNormal(
            z @ self.weight.T + self.bias, scale_tril=self.scale_tril()
        )

    @torch.no_grad()
    def set_gaussian(self, weight, bias, covariance) -> None:
        """Make r(v' | z) = N(weight z + bias, covariance) (e.g. the forward chain's exact
        conditional, for a Gaussian target)."""
        scale = torch.linalg.cholesky(covariance.to(self.weight))
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
        if not isinstance(n_transitions, int) or n_transitions < 0:
            raise ValueError(
                f"n_transitions must be a non-negative int, got {n_transitions!r}"
            )
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
        if z.shape[-1] != self.dim:
            raise ValueError(
                f"z has {z.shape[-1]} coordinates but the transitions act on {self.dim}"
            )
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
    their log-mean-exp is itself a (tighter, IWAE-style) bound."""
    check_positive("n", n, integer=True)
    z0 = q0.rsample((n,))
    z, log_ratio = model(z0, log_target)
    return log_target(z) - q0.log_prob(z0) + log_ratio


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
    if not model.n_transitions:
        raise ValueError(
            "an HVI with no transitions has nothing to train: its bound is q_0's ELBO"
        )
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    share = distributed.own_share(config.batch_size)
    negative_bound = distributed.wrap_loss(
        lambda: -log_weights(model, q0, log_target, share).mean(), model.parameters()
    )

    def step(_):
        loss = negative_bound()
        train.optimizer_step(optimizer, loss)
        return {"loss": loss}

    def evaluate():
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
        range(config.steps_per_epoch),
        config.steps // config.steps_per_epoch,
        modules={"hvi": model},
        optimizers={"adam": optimizer},
        evaluate=evaluate,
        checkpoint=checkpoint,
        desc=desc,
        config={"fit": config, "hvi": model},
    )


@dataclasses.dataclass(frozen=True)
class PpcaSetup:
    """The chapter's HVI runs at one scale (:func:`ppca_setup`): one chain for each number of
    ``transitions`` T, its step sizes started at ``step_size``, fitted by ``config`` to the
    posterior of the IWAE chapter's probabilistic PCA (:func:`lec16.iwae.example_ppca`)."""

    transitions: tuple[int, ...]
    config: HVIConfig
    step_size: float = 0.05


def ppca_setup(scale: str, seed: int = 0) -> PpcaSetup:
    """The chapter's chains at ``scale`` (the chapter and ``python -m lec16 train hvi``);
    ``paper``: T up to 32 and ten times the default's Adam steps."""
    return PpcaSetup(
        transitions=choose(
            scale, smoke=(1, 4), default=(1, 2, 4, 8, 16), paper=(1, 2, 4, 8, 16, 32)
        ),
        config=HVIConfig(
            steps=choose(scale, smoke=200, default=2000, paper=20_000),
            steps_per_epoch=choose(scale, smoke=100, default=500, paper=2000),
            lr=0.02,
            eval_samples=choose(scale, smoke=5000, default=20_000, paper=100_000),
            seed=seed,
        ),
    )


def fit_each_length(
    setup: PpcaSetup,
    q0: D.Distribution,
    log_target: LogTarget,
    scale: str,
    root=None,
) -> dict[int, dict]:
    """Train one chain of each length in ``setup`` (checkpoints ``hvi_T<T>`` under ``root``, see
    :func:`lec16.train.checkpoint_path`), each from seed ``setup.config.seed``. Returns, per T,
    the trained chain's ``bound`` (mean of ``eval_samples`` log weights, nats) and ``pm`` (its
    2 standard errors), the same chain's bound ``untrained``, the ``seconds`` of training and
    the ``model``."""
    seed, n = setup.config.seed, setup.config.eval_samples
    results = {}
    for T in setup.transitions:
        torch.manual_seed(seed)
        model = HamiltonianVI(q0.event_shape[-1], T, step_size=setup.step_size).to(
            q0.mean
        )
        torch.manual_seed(seed)
        # the bound before training: the reference a broken fit would not beat
        before = log_weights(model, q0, log_target, n).detach()
        history = fit_hvi(
            model,
            q0,
            log_target,
            setup.config,
            checkpoint=train.checkpoint_path(f"hvi_T{T}", scale, root),
            desc=f"HVI T={T}",
        )
        torch.manual_seed(seed)
        after = log_weights(model, q0, log_target, n).detach()
        results[T] = {
            "bound": after.mean().item(),
            "pm": 2 * after.std().item() / len(after) ** 0.5,
            "untrained": before.mean().item(),
            "seconds": history.last["seconds"],
            "model": model,
        }
    return results


def _chunks(total: int, size: int) -> list[int]:
    return [size] * (total // size) + ([total % size] if total % size else [])
