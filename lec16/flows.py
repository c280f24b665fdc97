"""Normalizing flows: planar and radial flows (Rezende & Mohamed 2015), NICE (Dinh, Krueger &
Bengio 2015), and the test energies of Rezende & Mohamed's Table 1.

Slide "Normalizing Flows": a density q_0 pushed through invertible maps z_k = f_k(z_{k-1}) has

    log q_K(z_K) = log q_0(z_0) - sum_k log |det df_k / dz_{k-1}|,

so every flow here returns its output *and* the log-absolute-determinant of its Jacobian, per
example, from a closed form (the tests compare each with autograd's Jacobian).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import distributions as D
from torch import nn

from lec16 import checks, data, distributed, train
from lec16.scales import (
    check_choice,
    check_non_negative_int,
    check_positive,
    check_seed,
)

__all__ = [
    "ENERGIES",
    "planar_u_hat",
    "PlanarFlow",
    "PlanarCascade",
    "planar_steps",
    "RadialFlow",
    "Flow",
    "planar_flow",
    "FlowDistribution",
    "logistic",
    "NICE",
    "energy",
    "free_energy",
    "EnergyFitConfig",
    "fit_to_energy",
    "ENVELOPE",
    "enveloped_energy",
    "grid_log_partition",
    "FIT_FAMILIES",
    "energy_fit_model",
    "blockwise",
    "Seeds",
    "dequantize",
    "bits_per_dim",
    "NiceConfig",
    "mean_log_likelihood",
    "train_nice",
    "nice_mnist",
]

ENERGIES = ("U1", "U2", "U3", "U4")


def _check_points(
    z: torch.Tensor,
    dim: int,
    who: str,
    name: str = "z",
    reference: torch.Tensor | None = None,
) -> torch.Tensor:
    """``z`` if it is a non-empty floating-point batch of shape (n, ``dim``) (with the dtype and
    device of ``reference``, a parameter of the flow ``who``, when given); else a ValueError."""
    checks.tensor(name, z, min_dim=0, non_empty=False)
    if z.ndim != 2 or z.shape[1] != dim:
        raise ValueError(
            f"{who} expects a batch of {dim}-dimensional points, shape (n, {dim}); got "
            f"{tuple(z.shape)}"
        )
    checks.tensor(name, z)  # at least one point
    if reference is not None:
        checks.like(name, z, reference, who)
    return z


def _check_rsample_with_log_prob(name: str, q) -> None:
    if not callable(getattr(q, "rsample_with_log_prob", None)):
        raise ValueError(
            f"{name} must have a method rsample_with_log_prob(n) (a FlowDistribution or a "
            f"NICE), got a {type(q).__name__}"
        )


def _check_callable(name: str, fn) -> None:
    if not callable(fn):
        raise ValueError(
            f"{name} must be a function of the points z (n, d) -> (n,), got a "
            f"{type(fn).__name__}"
        )


def planar_u_hat(u: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """u_hat = u + (m(w^T u) - w^T u) w / ||w||^2, m(x) = -1 + softplus(x), for parameters of
    shape (..., d): then w^T u_hat = m(w^T u) > -1 (Rezende & Mohamed 2015, appendix A.1)."""
    checks.tensor("u", u, non_empty=False)
    checks.tensor("w", w, non_empty=False)
    if u.shape != w.shape:
        raise ValueError(
            f"u and w must have the same shape (..., d), got {tuple(u.shape)} and "
            f"{tuple(w.shape)}"
        )
    wu = (w * u).sum(-1, keepdim=True)
    return u + (F.softplus(wu) - 1 - wu) * w / w.pow(2).sum(-1, keepdim=True)


def _planar_init(
    shape: tuple[int, ...], init_scale: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """(u, w) with u = log(e - 1) w / ||w||^2 + noise: then w^T u = log(e - 1), m(w^T u) = 0 and
    u_hat = 0, so the flow starts at the identity (plus ``init_scale`` noise) whatever ||w||. A
    small random u would not: u_hat then gains -0.31 w / ||w||^2, huge for a small w."""
    w = torch.randn(shape) / math.sqrt(shape[-1])
    u = math.log(math.e - 1) * w / w.pow(2).sum(-1, keepdim=True)
    return u + init_scale * torch.randn(shape), w


class PlanarFlow(nn.Module):
    """f(z) = z + u_hat h(w^T z + b) with h = tanh (Rezende & Mohamed 2015, eq. 10), and

        log |det df/dz| = log |1 + u_hat^T psi(z)|,  psi(z) = h'(w^T z + b) w   (eq. 11-12).

    f is invertible when w^T u_hat >= -1 (appendix A.1). The free parameter u is mapped to
    u_hat = u + (m(w^T u) - w^T u) w / ||w||^2 with m(x) = -1 + softplus(x), so that
    w^T u_hat = m(w^T u) > -1 for every u and w (note the *squared* norm). One layer, for reading
    and checking; :class:`PlanarCascade` runs K of them faster.
    """

    def __init__(self, dim: int, init_scale: float = 0.01):
        super().__init__()
        check_positive("dim", dim, integer=True)
        self.dim = dim
        u, w = _planar_init((dim,), init_scale)
        self.u, self.w = nn.Parameter(u), nn.Parameter(w)
        self.b = nn.Parameter(torch.zeros(()))

    def u_hat(self) -> torch.Tensor:
        return planar_u_hat(self.u, self.w)

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        _check_points(z, self.dim, "PlanarFlow", reference=self.w)
        u_hat = self.u_hat()
        a = torch.tanh(z @ self.w + self.b)  # (n,)
        psi = (1 - a.pow(2)).unsqueeze(-1) * self.w  # h'(w^T z + b) w
        return z + a.unsqueeze(-1) * u_hat, torch.log((1 + psi @ u_hat).abs())


class PlanarCascade(nn.Module):
    """K planar flows (:class:`PlanarFlow`, the same maps) with their parameters stacked, (K, d):
    every u_hat and w^T u_hat = m(w^T u) is computed in one pass, each layer then costs a
    matrix-vector product and a few elementwise operations, and log |1 + (1 - a^2) w^T u_hat| of
    all layers is taken at once. About 2-3 times faster than K separate layers on a CPU
    (``bench/flows.py``)."""

    def __init__(self, dim: int, k: int, init_scale: float = 0.01):
        super().__init__()
        check_positive("dim", dim, integer=True)
        check_non_negative_int("k", k, "the number of flows")
        self.dim, self.k = dim, k
        u, w = _planar_init((k, dim), init_scale)
        self.u, self.w = nn.Parameter(u), nn.Parameter(w)
        self.b = nn.Parameter(torch.zeros(k))

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        _check_points(z, self.dim, "PlanarCascade", reference=self.w)
        if self.k == 0:
            return z, z.new_zeros(len(z))
        return planar_steps(z, planar_u_hat(self.u, self.w), self.w, self.b)


def planar_steps(
    z: torch.Tensor, u_hat: torch.Tensor, w: torch.Tensor, b: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """K planar maps z <- z + u_hat_k tanh(w_k^T z + b_k) and sum_k log |1 + u_hat_k^T psi_k(z)|.

    Parameters have shape (..., K, d) for u_hat and w, (..., K) for b, and broadcast against z of
    shape (..., d): (K, d) is one flow shared by every point (:class:`PlanarCascade`), (B, K, d)
    with z of shape (S, B, d) is one flow per example, as an inference network outputs them
    (:mod:`lec16.flow_vae`). The constraint w^T u_hat > -1 is the caller's (use ``u_hat`` from
    :func:`planar_u_hat`)."""
    for name, value in (("z", z), ("u_hat", u_hat), ("w", w), ("b", b)):
        checks.tensor(name, value, non_empty=False)
    if u_hat.shape != w.shape or w.ndim < 2:
        raise ValueError(
            f"u_hat and w must have the same shape (..., K, d), got {tuple(u_hat.shape)} "
            f"and {tuple(w.shape)}"
        )
    if b.shape[-1] != w.shape[-2]:
        raise ValueError(
            f"b must hold one bias per flow, shape (..., K) with K = {w.shape[-2]}, got "
            f"{tuple(b.shape)}"
        )
    if z.shape[-1] != w.shape[-1]:
        raise ValueError(
            f"z has {z.shape[-1]} coordinates but the flows act on {w.shape[-1]}"
        )
    w_u_hat = (w * u_hat).sum(-1)  # = m(w^T u) > -1
    dets = []
    layers = zip(w.unbind(-2), b.unbind(-1), u_hat.unbind(-2), w_u_hat.unbind(-1))
    for w_k, b_k, u_hat_k, c_k in layers:
        # a shared w_k is a matrix-vector product, faster than the broadcast product and sum
        a = torch.tanh((z @ w_k if w_k.ndim == 1 else (z * w_k).sum(-1)) + b_k)
        z = torch.addcmul(z, a.unsqueeze(-1), u_hat_k)
        dets.append(1 + (1 - a * a) * c_k)  # 1 + u_hat^T psi(z)
    return z, torch.stack(dets, -1).abs().log().sum(-1)


class RadialFlow(nn.Module):
    """f(z) = z + beta h(alpha, r) (z - z0) with h = 1 / (alpha + r), r = ||z - z0||
    (Rezende & Mohamed 2015, eq. 14), and

        log |det df/dz| = (d - 1) log(1 + beta h) + log(1 + beta h + beta h'(alpha, r) r).

    Invertible when beta >= -alpha (appendix A.2): alpha = softplus(a) > 0 and
    beta = -alpha + softplus(b) for free parameters a, b.
    """

    def __init__(self, dim: int, init_scale: float = 0.01):
        super().__init__()
        check_positive("dim", dim, integer=True)
        self.dim = dim
        self.z0 = nn.Parameter(init_scale * torch.randn(dim))
        self.alpha_raw = nn.Parameter(init_scale * torch.randn(()))
        self.beta_raw = nn.Parameter(init_scale * torch.randn(()))

    def alpha_beta(self) -> tuple[torch.Tensor, torch.Tensor]:
        alpha = F.softplus(self.alpha_raw)
        return alpha, -alpha + F.softplus(self.beta_raw)

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        _check_points(z, self.dim, "RadialFlow", reference=self.z0)
        alpha, beta = self.alpha_beta()
        diff = z - self.z0
        r = diff.norm(dim=-1)
        h = 1 / (alpha + r)
        bh = beta * h
        log_det = (self.dim - 1) * torch.log1p(bh) + torch.log1p(
            bh - beta * h.pow(2) * r
        )
        return z + bh.unsqueeze(-1) * diff, log_det


class Flow(nn.Module):
    """A cascade f_K o ... o f_1: ``forward(z0)`` returns z_K and sum_k log |det df_k/dz_{k-1}|."""

    def __init__(self, layers):
        super().__init__()
        self.layers = nn.ModuleList(layers)

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        checks.tensor("z", z)
        total = z.new_zeros(len(z))
        for layer in self.layers:
            z, log_det = layer(z)
            total = total + log_det
        return z, total


def planar_flow(dim: int, k: int) -> PlanarCascade:
    """K planar flows in a row (K = 0: the identity)."""
    return PlanarCascade(dim, k)


class FlowDistribution(nn.Module):
    """q_K: a base distribution q_0 pushed through a :class:`Flow`, sampled with its density

        log q_K(z_K) = log q_0(z_0) - sum_k log |det df_k/dz_{k-1}|   (slide "Normalizing Flows").

    Planar and radial flows have no closed-form inverse, so the density is known at the points
    the flow produces: :meth:`rsample_with_log_prob` returns both (reparametrized).
    """

    def __init__(self, base: D.Distribution, flow: nn.Module):
        super().__init__()
        if not isinstance(base, D.Distribution) or not base.has_rsample:
            raise ValueError(
                "base must be a torch.distributions.Distribution with reparametrized samples "
                f"(e.g. Independent(Normal(...), 1)), got {base!r}"
            )
        if not isinstance(flow, nn.Module):
            raise ValueError(
                f"flow must be a torch.nn.Module (a Flow, planar_flow(...)), got a "
                f"{type(flow).__name__}"
            )
        self.base, self.flow = base, flow

    def rsample_with_log_prob(self, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.push(self.noise(n))

    def noise(self, n: int) -> torch.Tensor:
        """``n`` draws z_0 of the base distribution."""
        check_positive("n", n, integer=True)
        return self.base.rsample((n,))

    def push(self, z0: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """z_K = f(z_0) and log q_K(z_K) for base draws ``z0`` (what :class:`Seeds` maps over)."""
        log_q0 = self.base.log_prob(z0)
        if log_q0.ndim == 2:  # a factorised base without Independent
            log_q0 = log_q0.sum(-1)
        z, log_det = self.flow(z0)
        return z, log_q0 - log_det

    def sample(self, n: int) -> torch.Tensor:
        with torch.no_grad():
            return self.rsample_with_log_prob(n)[0]


def logistic(device=None, dtype=None) -> D.Distribution:
    """The standard logistic distribution (NICE's prior for MNIST), log p(h) = -softplus(h) -
    softplus(-h): a uniform pushed through the logit, with torch.distributions."""
    zero = torch.zeros((), device=device, dtype=dtype or torch.get_default_dtype())
    return D.TransformedDistribution(
        D.Uniform(zero, zero + 1), [D.transforms.SigmoidTransform().inv]
    )


class NICE(nn.Module):
    """NICE (Dinh, Krueger & Bengio 2015): ``n_couplings`` additive coupling layers with
    alternating partitions (odd and even coordinates), y_2 = x_2 + m(x_1) (eq. 4), each m an MLP of
    ``depth`` ReLU layers of ``hidden`` units (the paper's MNIST model: 4 couplings, 5 x 1000),
    then the diagonal scaling h = exp(s) * y (section 3.3). log |det dh/dx| = sum_d s_d; the
    couplings are volume preserving. The prior is the standard logistic per coordinate (the
    paper's MNIST choice) or the standard Gaussian (its choice elsewhere).
    """

    PRIORS = ("logistic", "gaussian")

    def __init__(
        self,
        dim: int,
        n_couplings: int = 4,
        hidden: int = 1000,
        depth: int = 5,
        prior: str = "logistic",
    ):
        super().__init__()
        for name, value in (
            ("dim", dim),
            ("n_couplings", n_couplings),
            ("hidden", hidden),
            ("depth", depth),
        ):
            check_positive(name, value, integer=True)
        self.prior_name = check_choice("prior", prior, self.PRIORS)
        if dim < 2:
            raise ValueError(
                f"NICE needs dim >= 2 to split the coordinates in two, got {dim}"
            )
        self.dim = dim
        coordinates = torch.arange(dim)
        self.register_buffer("even", coordinates[0::2])
        self.register_buffer("odd", coordinates[1::2])
        self.couplings = nn.ModuleList()
        for i in range(n_couplings):
            kept, changed = self._halves(i)
            sizes = [len(kept)] + [hidden] * depth
            layers = [
                module
                for a, b in zip(sizes, sizes[1:])
                for module in (nn.Linear(a, b), nn.ReLU())
            ]
            self.couplings.append(
                nn.Sequential(*layers, nn.Linear(hidden, len(changed)))
            )
        self.log_scale = nn.Parameter(torch.zeros(dim))
        self.couplings_frozen = False

    def freeze_couplings(self) -> NICE:
        """Switch the couplings off: every m is set to 0 and frozen, so only the diagonal scaling
        learns, and the model is a factorised logistic with a learned scale per coordinate (the
        reference that isolates what the couplings add). Returns ``self``."""
        for coupling in self.couplings:
            last = coupling[-1]
            with torch.no_grad():
                last.weight.zero_()
                last.bias.zero_()
            coupling.requires_grad_(False)
        self.couplings_frozen = True
        return self

    def _halves(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(kept, changed) coordinates of coupling i: the partitions alternate."""
        return (self.even, self.odd) if i % 2 == 0 else (self.odd, self.even)

    def _couple(self, i: int, x: torch.Tensor, sign: int) -> torch.Tensor:
        kept, changed = self._halves(i)
        shift = self.couplings[i](x.index_select(1, kept))
        return x.index_copy(1, changed, x.index_select(1, changed) + sign * shift)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """h = f(x) and log |det df/dx| per example."""
        _check_points(x, self.dim, "NICE", "x", self.log_scale)
        for i in range(len(self.couplings)):
            x = self._couple(i, x, +1)
        h = x * self.log_scale.exp()
        return h, self.log_scale.sum().expand(len(x))

    def inverse(self, h: torch.Tensor) -> torch.Tensor:
        """x = f^{-1}(h): undo the scaling, then the couplings in reverse order."""
        _check_points(h, self.dim, "NICE.inverse", "h", self.log_scale)
        x = h * (-self.log_scale).exp()
        for i in reversed(range(len(self.couplings))):
            x = self._couple(i, x, -1)
        return x

    def prior(self) -> D.Distribution:
        """p_H, one factor per coordinate."""
        ref = self.log_scale
        if self.prior_name == "logistic":
            return logistic(ref.device, ref.dtype)
        zero = torch.zeros((), device=ref.device, dtype=ref.dtype)
        return D.Normal(zero, zero + 1)

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """log p(x) = sum_d log p_H(f_d(x)) + log |det df/dx| (the paper's eq. 3), in nats."""
        h, log_det = self(x)
        return self.prior().log_prob(h).sum(-1) + log_det

    def rsample_with_log_prob(self, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        """x = f^{-1}(h) with h ~ p_H, and log p(x) = log p_H(h) + sum_d s_d (reparametrized)."""
        return self.push(self.noise(n))

    def noise(self, n: int) -> torch.Tensor:
        """``n`` draws h of the prior."""
        check_positive("n", n, integer=True)
        return self.prior().rsample((n, self.dim))

    def push(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x = f^{-1}(h) and log p(x) for prior draws ``h`` (what :class:`Seeds` maps over)."""
        return self.inverse(h), self.prior().log_prob(h).sum(-1) + self.log_scale.sum()

    @torch.no_grad()
    def sample(self, n: int) -> torch.Tensor:
        return self.rsample_with_log_prob(n)[0]


class _Pushed(nn.Module):
    """A density model whose ``forward`` is its ``push`` (``torch.func.functional_call`` calls
    ``forward``)."""

    def __init__(self, q: nn.Module):
        super().__init__()
        self.q = q

    def forward(self, noise: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.q.push(noise)


class Seeds(nn.Module):
    """Copies of one density model (a :class:`FlowDistribution` or a :class:`NICE`), one per
    seed, trained as one: their parameters are stacked on a leading axis and every draw is mapped
    over it with ``torch.func.vmap``. Small 2-D models spend their steps on per-operation
    overhead, so three seeds cost about twice one fit, not three times.

    ``rsample_with_log_prob(n)`` returns points (R, n, d) and log-densities (R, n), each seed's
    from its own draws; :meth:`unstack` writes each seed's parameters back into its model.
    """

    def __init__(self, models):
        super().__init__()
        models = list(models) if isinstance(models, (list, tuple)) else [models]
        if not all(callable(getattr(m, "push", None)) for m in models):
            raise ValueError(
                "Seeds needs a list of density models with push(noise) (FlowDistribution or "
                f"NICE), got {[type(m).__name__ for m in models]}"
            )
        shapes = {
            tuple((k, v.shape) for k, v in m.state_dict().items()) for m in models
        }
        if len(shapes) != 1:
            raise ValueError("Seeds needs copies of one model: their parameters differ")
        # plain tuples: the models are not submodules, their stacked parameters are
        self._pushed = tuple(_Pushed(m) for m in models)
        params, _ = torch.func.stack_module_state(list(self._pushed))
        self._names = tuple(params)
        self.stacked = nn.ParameterList(params.values())
        self._skeleton = (copy.deepcopy(self._pushed[0]),)
        self._shared_buffers = dict(
            self._pushed[0].named_buffers()
        )  # equal in every seed

    def __len__(self) -> int:
        return len(self._pushed)

    def rsample_with_log_prob(self, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        noise = torch.stack([pushed.q.noise(n) for pushed in self._pushed])
        skeleton = self._skeleton[0]

        def push(params, noise):
            return torch.func.functional_call(
                skeleton, (params, self._shared_buffers), (noise,)
            )

        return torch.func.vmap(push)(dict(zip(self._names, self.stacked)), noise)

    @torch.no_grad()
    def unstack(self) -> list[nn.Module]:
        """Each seed's model, with its trained parameters."""
        for i, pushed in enumerate(self._pushed):
            for name, stacked in zip(self._names, self.stacked):
                pushed.get_parameter(name).copy_(stacked[i])
        return [pushed.q for pushed in self._pushed]


def energy(name: str, z: torch.Tensor) -> torch.Tensor:
    """The unnormalised densities p(z) ∝ exp(-U(z)) of Rezende & Mohamed (2015), Table 1, exactly:

    U1 = 1/2 ((||z|| - 2) / 0.4)^2 - ln(e^{-1/2 ((z1 - 2)/0.6)^2} + e^{-1/2 ((z1 + 2)/0.6)^2})
    U2 = 1/2 ((z2 - w1(z)) / 0.4)^2
    U3 = -ln(e^{-1/2 ((z2 - w1)/0.35)^2} + e^{-1/2 ((z2 - w1 + w2)/0.35)^2})
    U4 = -ln(e^{-1/2 ((z2 - w1)/0.4)^2} + e^{-1/2 ((z2 - w1 + w3)/0.35)^2})

    with w1 = sin(2 pi z1 / 4), w2 = 3 exp(-1/2 ((z1 - 1)/0.6)^2), w3 = 3 sigma((z1 - 1)/0.3).
    U2-U4 are not normalisable on R^2 (they do not grow along z1): bound the domain outside.
    """
    check_choice("name", name, ENERGIES)
    _check_points(z, 2, f"energy {name!r}")
    z1, z2 = z[:, 0], z[:, 1]
    w1 = torch.sin(2 * math.pi * z1 / 4)
    if name == "U1":
        ring = 0.5 * ((z.norm(dim=-1) - 2) / 0.4).pow(2)
        modes = torch.stack(
            [-0.5 * ((z1 - 2) / 0.6).pow(2), -0.5 * ((z1 + 2) / 0.6).pow(2)]
        )
        return ring - torch.logsumexp(modes, 0)
    if name == "U2":
        return 0.5 * ((z2 - w1) / 0.4).pow(2)
    if name == "U3":
        w2 = 3 * torch.exp(-0.5 * ((z1 - 1) / 0.6).pow(2))
        branches = [
            -0.5 * ((z2 - w1) / 0.35).pow(2),
            -0.5 * ((z2 - w1 + w2) / 0.35).pow(2),
        ]
    else:
        w3 = 3 * torch.sigmoid((z1 - 1) / 0.3)
        branches = [
            -0.5 * ((z2 - w1) / 0.4).pow(2),
            -0.5 * ((z2 - w1 + w3) / 0.35).pow(2),
        ]
    return -torch.logsumexp(torch.stack(branches), 0)


# --- Fitting q_K to an unnormalised density (Rezende & Mohamed 2015, section 6.1) -------------


def free_energy(
    q: nn.Module,
    energy_fn: Callable[[torch.Tensor], torch.Tensor],
    n: int,
    beta: float = 1.0,
) -> torch.Tensor:
    """F = E_q[log q(z) + beta U(z)] from ``n`` reparametrized samples of ``q`` (anything with
    ``rsample_with_log_prob``; one F per seed of a :class:`Seeds`); at beta = 1,
    F = KL(q || p) - log Z, with p = exp(-U) / Z.
    ``energy_fn`` must return one energy per sample, shape (n,)."""
    _check_rsample_with_log_prob("q", q)
    _check_callable("energy_fn", energy_fn)
    check_positive("n", n, integer=True)
    if (
        isinstance(beta, bool)
        or not isinstance(beta, (int, float))
        or not math.isfinite(beta)
        or beta < 0
    ):
        raise ValueError(
            f"beta must be a finite number >= 0 (the inverse temperature), got {beta!r}"
        )
    z, log_q = q.rsample_with_log_prob(n)
    points = z.reshape(-1, z.shape[-1])  # the seeds' draws of a Seeds in one batch
    energies = energy_fn(points)
    if not isinstance(energies, torch.Tensor) or energies.shape != points.shape[:1]:
        shape = (
            tuple(energies.shape) if isinstance(energies, torch.Tensor) else energies
        )
        raise ValueError(
            f"energy_fn must return one energy per sample, shape {tuple(points.shape[:1])}, "
            f"got {shape}: reduce over the coordinates (e.g. .sum(-1)), not over the samples"
        )
    return (log_q + beta * energies.reshape(log_q.shape)).mean(-1)


@dataclass(frozen=True)
class EnergyFitConfig:
    """How to fit q_K to exp(-U): minimise the free energy with the paper's annealing
    beta_t = min(1, 0.01 + t / anneal_steps) (they use 10,000 and RMSprop, lr 1e-5, momentum 0.9,
    for 500,000 updates of batch 100)."""

    steps: int = 10_000
    batch_size: int = 100
    lr: float = 1e-3
    optimizer: str = "adam"  # or "rmsprop" (the paper's, with momentum 0.9)
    anneal_steps: int = 10_000
    steps_per_epoch: int = (
        1000  # how often the free energy is evaluated and checkpointed
    )
    eval_samples: int = 10_000
    seed: int = 0

    def __post_init__(self):
        for name in (
            "steps",
            "batch_size",
            "anneal_steps",
            "steps_per_epoch",
            "eval_samples",
        ):
            check_positive(name, getattr(self, name), integer=True)
        check_positive("lr", self.lr)
        check_choice("optimizer", self.optimizer, ("adam", "rmsprop"))
        check_seed("seed", self.seed)
        if self.steps % self.steps_per_epoch:
            raise ValueError(
                f"steps={self.steps} must be a multiple of steps_per_epoch={self.steps_per_epoch}"
            )


def fit_to_energy(
    q: nn.Module,
    energy_fn: Callable[[torch.Tensor], torch.Tensor],
    config: EnergyFitConfig,
    checkpoint=None,
    desc: str = "flow",
) -> train.History:
    """Minimise :func:`free_energy` of ``q`` against ``energy_fn`` with annealing; the free energy
    at beta = 1 from ``eval_samples`` samples is recorded after each epoch (``free_energy``).
    The steps are numbered globally (:class:`lec16.train.Steps`), so a resumed fit continues its
    annealing where it stopped.
    Under torchrun each rank draws its share of the ``batch_size`` samples of every step and
    DDP averages the gradients."""
    if not isinstance(q, nn.Module):
        raise ValueError(
            f"q must be a torch.nn.Module to train (a FlowDistribution or a NICE), got a "
            f"{type(q).__name__}"
        )
    _check_rsample_with_log_prob("q", q)
    _check_callable("energy_fn", energy_fn)
    if not isinstance(config, EnergyFitConfig):
        raise ValueError(
            f"config must be a flows.EnergyFitConfig, got a {type(config).__name__}"
        )
    if config.optimizer == "adam":
        optimizer = torch.optim.Adam(q.parameters(), lr=config.lr)
    else:
        optimizer = torch.optim.RMSprop(q.parameters(), lr=config.lr, momentum=0.9)

    share = distributed.own_share(config.batch_size)
    annealed_free_energy = distributed.wrap_loss(
        lambda beta: free_energy(q, energy_fn, share, beta), q.parameters()
    )

    def step(t):
        beta = min(1.0, 0.01 + t / config.anneal_steps)
        loss = annealed_free_energy(beta).sum()  # the seeds' gradients are their own
        train.optimizer_step(optimizer, loss)
        return {"loss": loss}

    return train.fit(
        step,
        train.Steps(config.steps_per_epoch),
        config.steps // config.steps_per_epoch,
        modules={"q": q},
        optimizers={"opt": optimizer},
        evaluate=lambda epoch: _free_energies(
            free_energy(q, energy_fn, config.eval_samples)
        ),
        checkpoint=checkpoint,
        desc=desc,
        config={"fit": config},
    )


def _free_energies(f: torch.Tensor) -> dict[str, torch.Tensor]:
    """A fit's record: ``free_energy``, and for a :class:`Seeds` each seed's, ``free_energy_i``,
    and ``free_energy`` their mean."""
    if f.ndim == 0:
        return {"free_energy": f}
    return {"free_energy": f.mean(), **{f"free_energy_{i}": v for i, v in enumerate(f)}}


def blockwise(
    energy_fns: list[Callable[[torch.Tensor], torch.Tensor]],
) -> Callable[[torch.Tensor], torch.Tensor]:
    """One energy function of many: the points are split into ``len(energy_fns)`` equal
    consecutive blocks and block i gets energy i. For a :class:`Seeds` of models fitted to
    different targets, replicas ``i * m`` to ``(i + 1) * m - 1`` fit target i."""
    for fn in energy_fns:
        _check_callable("each energy function", fn)

    def energy_fn(z: torch.Tensor) -> torch.Tensor:
        if len(z) % len(energy_fns):
            raise ValueError(
                f"{len(z)} points do not split into {len(energy_fns)} equal blocks"
            )
        blocks = z.chunk(len(energy_fns))
        return torch.cat([fn(block) for fn, block in zip(energy_fns, blocks)])

    return energy_fn


# the standard deviation of the chapter's Gaussian envelope in z1 for U2, U3, U4
ENVELOPE = 2.0


def enveloped_energy(name: str) -> Callable[[torch.Tensor], torch.Tensor]:
    """The chapter's targets: :func:`energy` ``name``, times a Gaussian envelope of standard
    deviation :data:`ENVELOPE` in z1 for U2, U3 and U4 (normalisable; the paper leaves their
    normalisation unstated)."""
    check_choice("name", name, ENERGIES)

    def target(z: torch.Tensor) -> torch.Tensor:
        u = energy(name, z)
        return u if name == "U1" else u + 0.5 * (z[:, 0] / ENVELOPE) ** 2

    return target


def grid_log_partition(
    energy_fn: Callable[[torch.Tensor], torch.Tensor],
    device=None,
    half_width: float = 20.0,
) -> float:
    """log Z = log of the integral of exp(-U) over the plane, by the midpoint rule on a grid of
    2001 x 2001 points over [-half_width, half_width]^2 in float64 (the chapter's targets are
    negligible beyond 20)."""
    _check_callable("energy_fn", energy_fn)
    check_positive("half_width", half_width)
    axis = torch.linspace(
        -half_width, half_width, 2001, dtype=torch.float64, device=device
    )
    grid = torch.stack(torch.meshgrid(axis, axis, indexing="ij"), -1).reshape(-1, 2)
    cell = 2 * math.log(axis[1] - axis[0])
    return (torch.logsumexp(-energy_fn(grid), 0) + cell).item()


FIT_FAMILIES = ("planar", "radial", "NICE")


def energy_fit_model(family: str, k: int, device=None) -> nn.Module:
    """One of the chapter's fitted densities in 2-D (torch's generator): ``k`` planar or radial
    flows on N(0, I) (Rezende & Mohamed's section 6.1), or a NICE of ``k`` additive couplings of
    one 16-unit layer with a Gaussian prior (their "NICE" columns of Figure 3)."""
    check_choice("family", family, FIT_FAMILIES)
    check_positive("k", k, integer=True)
    if family == "NICE":
        return NICE(2, n_couplings=k, hidden=16, depth=1, prior="gaussian").to(device)
    base = D.Independent(D.Normal(torch.zeros(2, device=device), 1.0), 1)
    if family == "planar":
        flow = planar_flow(2, k)
    else:
        flow = Flow(RadialFlow(2) for _ in range(k))
    return FlowDistribution(base, flow.to(device))


# --- NICE on MNIST (Dinh et al. 2015, section 5.1) --------------------------------------------

LOG_256 = math.log(256)


def dequantize(
    x: torch.Tensor, generator: torch.Generator | None = None
) -> torch.Tensor:
    """The paper's dequantisation: 8-bit intensities ``x`` in {0, 1/255, ..., 1} become
    (255 x + u) / 256 with u ~ U(0, 1), a continuous variable in [0, 1]. Pixels in 0 ... 255
    are refused (divide them by 255 first)."""
    checks.intensities("x", x)
    return _dequantize(x, generator)


def _dequantize(
    x: torch.Tensor, generator: torch.Generator | None = None
) -> torch.Tensor:
    """:func:`dequantize` without its check of ``x`` (:func:`train_nice` checks its data once,
    not every batch)."""
    noise = torch.rand(x.shape, generator=generator, device=x.device, dtype=x.dtype)
    return (torch.round(x * 255) + noise) / 256


def bits_per_dim(log_likelihood: float, dim: int) -> float:
    """Bits per dimension of 8-bit data from a log-likelihood in nats of its dequantised version in
    [0, 1]^dim: the density on [0, 1] is 256^dim times the one on [0, 256], so
    bits/dim = -(log p - dim log 256) / (dim log 2)."""
    check_positive("dim", dim, integer=True)
    return -(log_likelihood - dim * LOG_256) / (dim * math.log(2))


@dataclass(frozen=True)
class NiceConfig:
    """How to train NICE by maximum likelihood (the paper: Adam, lr 1e-3, beta1 0.9, beta2 0.01,
    eps 1e-4, batch 200, on dequantised data)."""

    epochs: int = 10
    batch_size: int = 200
    lr: float = 1e-3
    betas: tuple[float, float] = (0.9, 0.01)
    eps: float = 1e-4
    seed: int = 0

    def __post_init__(self):
        for name in ("epochs", "batch_size"):
            check_positive(name, getattr(self, name), integer=True)
        check_positive("lr", self.lr)
        check_positive("eps", self.eps)
        betas = self.betas
        if (
            not isinstance(betas, (tuple, list))
            or len(betas) != 2
            or not all(
                isinstance(b, (int, float)) and not isinstance(b, bool) and 0 <= b < 1
                for b in betas
            )
        ):
            raise ValueError(
                f"betas must be two numbers in [0, 1) (Adam's beta1, beta2), got {betas!r}"
            )
        check_seed("seed", self.seed)


@torch.no_grad()
def mean_log_likelihood(
    model: NICE, x: torch.Tensor, batch_size: int = 1000
) -> torch.Tensor:
    """Mean log p(x) in nats over ``x`` (already dequantised), in batches."""
    if not callable(getattr(model, "log_prob", None)):
        raise ValueError(
            f"model must have a method log_prob(x) (a NICE), got a {type(model).__name__}"
        )
    checks.tensor("x", x, min_dim=2)
    check_positive("batch_size", batch_size, integer=True)
    return torch.cat(
        [model.log_prob(x[i : i + batch_size]) for i in range(0, len(x), batch_size)]
    ).mean()


def train_nice(
    model: NICE,
    x_train: torch.Tensor,
    x_test: torch.Tensor,
    config: NiceConfig,
    checkpoint=None,
    desc: str = "NICE",
) -> train.History:
    """Maximise the mean log-likelihood of freshly dequantised training images (one `fit`); the
    test log-likelihood (nats, ``x_test`` dequantised once by the caller) after each epoch.
    Under torchrun the model is wrapped in DistributedDataParallel: the loss goes through its
    ``forward`` (h = f(x) and the log-determinant), whose gradients DDP averages.

    ``x_train`` holds 8-bit intensities in [0, 1] (dequantised here, afresh at every batch) and
    ``x_test`` dequantised ones, also in [0, 1], both with the model's dtype and device; each is
    checked once, before training."""
    if not isinstance(model, NICE):
        raise ValueError(f"model must be a flows.NICE, got a {type(model).__name__}")
    if not isinstance(config, NiceConfig):
        raise ValueError(
            f"config must be a flows.NiceConfig, got a {type(config).__name__}"
        )
    for name, x in (("x_train", x_train), ("x_test", x_test)):
        checks.intensities(name, x, min_dim=2)
        if x[0].numel() != model.dim:
            raise ValueError(
                f"{name} has {x[0].numel()} values per example but the NICE model has "
                f"dim={model.dim}"
            )
        checks.like(name, x, model.log_scale, "the model")
    parallel = distributed.wrap(model)
    optimizer = torch.optim.Adam(
        model.parameters(), lr=config.lr, betas=config.betas, eps=config.eps
    )
    batches = data.Batches(
        x_train.flatten(1),
        batch_size=config.batch_size,
        seed=config.seed,
        transform=_dequantize,
    )

    def step(batch):
        h, log_det = parallel(batch[0])  # model.log_prob, through the wrapper's forward
        loss = -(model.prior().log_prob(h).sum(-1) + log_det).mean()
        train.optimizer_step(optimizer, loss)
        return {"loss": loss}

    return train.fit(
        step,
        batches,
        config.epochs,
        modules={"model": parallel},
        optimizers={"opt": optimizer},
        evaluate=lambda epoch: {
            "test_ll": mean_log_likelihood(model, x_test.flatten(1))
        },
        checkpoint=checkpoint,
        desc=desc,
        # a NICE with its couplings off is another model: never resumed from a NICE's run
        config={"train": config, "n_train": len(x_train)}
        | ({"couplings": "frozen at zero"} if model.couplings_frozen else {}),
    )


def nice_mnist(hidden: int = 1000, depth: int = 5) -> NICE:
    """Dinh et al.'s MNIST NICE: 784 dimensions, four additive couplings whose networks have
    ``depth`` ReLU layers of ``hidden`` units (the paper's: 5 x 1000), a logistic prior."""
    return NICE(784, n_couplings=4, hidden=hidden, depth=depth)
