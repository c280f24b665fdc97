"""Deep Boltzmann machines (Salakhutdinov & Hinton 2009; the slides' "Deep Boltzmann Machines").

Binary visible units v and two hidden layers h1, h2, with undirected connections between
neighbouring layers only (SH09 = Salakhutdinov & Hinton 2009; biases included):

    E(v, h1, h2) = -v^T W1 h1 - h1^T W2 h2 - b^T v - c1^T h1 - c2^T h2,    p = exp(-E) / Z.

Each layer given its neighbours factorises:

    p(h1_j = 1 | v, h2) = sigmoid(c1_j + v^T W1_{:j} + W2_{j:} h2),
    p(v_i = 1 | h1) = sigmoid(b_i + W1_{i:} h1),   p(h2_m = 1 | h1) = sigmoid(c2_m + h1^T W2_{:m}),

but, unlike the RBM's, the posterior p(h1, h2 | v) does not. The DBM's answer is the mean-field
chapter's: a factorised q(h1, h2) = prod_j Bernoulli(mu1_j) prod_m Bernoulli(mu2_m) and its
fixed-point iteration (SH09's variational approach to the data-dependent expectations)

    mu1 = sigmoid(c1 + W1^T v + W2 mu2),      mu2 = sigmoid(c2 + W2^T mu1),

each half-step the exact maximiser of the bound over one layer given the other (the layers'
units do not interact within a layer), so the bound

    log p(v) >= b^T v + c1^T mu1 + c2^T mu2 + v^T W1 mu1 + mu1^T W2 mu2 + H(mu1) + H(mu2) - log Z

never decreases along the iteration. Learning (SH09) follows the bound's gradient:
data statistics from mu, model statistics from persistent Gibbs chains, as PCD does for the RBM.

Given h1, the layers v and h2 are independent, so both can be summed out:

    log p*(h1) = c1^T h1 + sum_i softplus(b_i + W1_{i:} h1) + sum_m softplus(c2_m + h1^T W2_{:m}).

That gives log Z exactly by enumerating h1 alone (:meth:`DBM.exact_log_partition`, up to 25
units) and annealed importance sampling on h1 otherwise (:func:`ais_log_partition`, SH09's
evaluation of DBMs, with the RBM's schedule from :func:`lec16.rbm.ais_betas`).
"""

from __future__ import annotations

import dataclasses
import math

import torch
import torch.nn.functional as F
from torch import nn

from lec16 import checks, distributed, rbm, train
from lec16.rbm import check_batch_shapes, check_instance, check_log_partition
from lec16.scales import check_positive

__all__ = [
    "DBM",
    "DBMConfig",
    "FantasyParticles",
    "ais_log_partition",
    "ais_log_likelihood",
    "ais_log_weights",
    "contrastive_loss",
    "from_rbm",
    "mean_bound",
    "train_dbm",
    "train_on_rbm",
]


class DBM(nn.Module):
    """A two-hidden-layer binary DBM: ``weight1`` (n_visible x n_hidden1), ``weight2``
    (n_hidden1 x n_hidden2), biases ``visible_bias``, ``hidden1_bias``, ``hidden2_bias``;
    initial weights N(0, 0.01^2) and zero biases, as :class:`lec16.rbm.RBM`."""

    def __init__(self, n_visible: int, n_hidden1: int, n_hidden2: int):
        super().__init__()
        for name, value in (
            ("n_visible", n_visible),
            ("n_hidden1", n_hidden1),
            ("n_hidden2", n_hidden2),
        ):
            check_positive(name, value, integer=True)
        self.weight1 = nn.Parameter(0.01 * torch.randn(n_visible, n_hidden1))
        self.weight2 = nn.Parameter(0.01 * torch.randn(n_hidden1, n_hidden2))
        self.visible_bias = nn.Parameter(torch.zeros(n_visible))
        self.hidden1_bias = nn.Parameter(torch.zeros(n_hidden1))
        self.hidden2_bias = nn.Parameter(torch.zeros(n_hidden2))

    @property
    def sizes(self) -> tuple[int, int, int]:
        """(n_visible, n_hidden1, n_hidden2)."""
        return (*self.weight1.shape, self.weight2.shape[1])

    def visible(
        self, v: torch.Tensor, name: str = "v", values=checks.intensities
    ) -> torch.Tensor:
        """``v`` flattened per example and cast to the weights' dtype, after checking it: a
        tensor of examples on the DBM's device, n_visible values each, passing ``values``
        (:func:`lec16.checks.intensities`: in [0, 1]; :func:`lec16.checks.binary`); integer
        and boolean states are accepted and converted."""
        v = self._visible(checks.tensor(name, v, floating=False), name)
        checks.like(name, v, self.weight1, "the DBM")
        return values(name, v)

    def _visible(self, v: torch.Tensor, name: str = "v") -> torch.Tensor:
        v = v.flatten(1) if v.dim() > 2 else v
        if v.shape[-1] != self.sizes[0]:
            raise ValueError(
                f"{name} has {v.shape[-1]} units in its last dimension but the DBM has "
                f"{self.sizes[0]} visible units"
            )
        return v.to(self.weight1.dtype)

    def hidden(self, h: torch.Tensor, name: str, layer: int) -> torch.Tensor:
        """States (or mean-field probabilities) ``h`` of hidden layer ``layer`` (1 or 2),
        checked: a tensor on the DBM's device with the layer's number of units in its last
        dimension and values in [0, 1]; returned cast to the weights' dtype."""
        size = self.sizes[layer]
        h = checks.tensor(name, h, floating=False)
        if h.shape[-1] != size:
            raise ValueError(
                f"{name} has {h.shape[-1]} units in its last dimension but the DBM's hidden "
                f"layer {layer} has {size}"
            )
        h = h.to(self.weight1.dtype)
        checks.like(name, h, self.weight1, "the DBM")
        return checks.intensities(name, h)

    def energy(self, v, h1, h2) -> torch.Tensor:
        """E(v, h1, h2) per row; with mean-field probabilities in place of h1 and h2 it is the
        expected energy under the factorised q (E is linear in each layer). Values in [0,
        1]."""
        check_batch_shapes(
            v=self.visible(v), h1=self.hidden(h1, "h1", 1), h2=self.hidden(h2, "h2", 2)
        )
        return self._energy(v, h1, h2)

    def _energy(self, v, h1, h2) -> torch.Tensor:
        v = self._visible(v)
        h1, h2 = h1.to(v.dtype), h2.to(v.dtype)
        return -(
            ((v @ self.weight1) * h1).sum(-1)
            + ((h1 @ self.weight2) * h2).sum(-1)
            + v @ self.visible_bias
            + h1 @ self.hidden1_bias
            + h2 @ self.hidden2_bias
        )

    def hidden1_probs(self, v: torch.Tensor, h2: torch.Tensor) -> torch.Tensor:
        """p(h1_j = 1 | v, h2) = sigmoid(c1_j + v^T W1_{:j} + W2_{j:} h2) (also the mean-field
        update of mu1 with mu2 in place of h2)."""
        check_batch_shapes(v=self.visible(v), h2=self.hidden(h2, "h2", 2))
        return self._hidden1_probs(v, h2)

    def _hidden1_probs(self, v: torch.Tensor, h2: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(
            self._visible(v) @ self.weight1
            + h2.to(self.weight2.dtype) @ self.weight2.T
            + self.hidden1_bias
        )

    def hidden2_probs(self, h1: torch.Tensor) -> torch.Tensor:
        """p(h2_m = 1 | h1) = sigmoid(c2_m + h1^T W2_{:m})."""
        self.hidden(h1, "h1", 1)
        return self._hidden2_probs(h1)

    def _hidden2_probs(self, h1: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(
            h1.to(self.weight2.dtype) @ self.weight2 + self.hidden2_bias
        )

    def visible_probs(self, h1: torch.Tensor) -> torch.Tensor:
        """p(v_i = 1 | h1) = sigmoid(b_i + W1_{i:} h1)."""
        self.hidden(h1, "h1", 1)
        return self._visible_probs(h1)

    def _visible_probs(self, h1: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(
            h1.to(self.weight1.dtype) @ self.weight1.T + self.visible_bias
        )

    def gibbs_step(
        self, v: torch.Tensor, h2: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """One sweep of the two-block Gibbs sampler: h1 ~ p(h1 | v, h2), then v and h2 (which
        are independent given h1); returns (v', h1, h2')."""
        check_batch_shapes(v=self.visible(v), h2=self.hidden(h2, "h2", 2))
        return self._gibbs_step(v, h2)

    def _gibbs_step(
        self, v: torch.Tensor, h2: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        h1 = torch.bernoulli(self._hidden1_probs(v, h2))
        return (
            torch.bernoulli(self._visible_probs(h1)),
            h1,
            torch.bernoulli(self._hidden2_probs(h1)),
        )

    def mean_field(
        self, v: torch.Tensor, steps: int = 30
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``steps`` rounds of the fixed-point iteration mu1 <- sigmoid(c1 + W1^T v + W2 mu2),
        mu2 <- sigmoid(c2 + W2^T mu1), started from the bottom-up pass mu1 = sigmoid(c1 + W1^T
        v) (that is, mu2 = 0 in the first update); returns (mu1, mu2). ``v`` in [0, 1]."""
        check_positive("steps", steps, integer=True)
        self.visible(v)
        return self._mean_field(v, steps)

    def _mean_field(
        self, v: torch.Tensor, steps: int = 30
    ) -> tuple[torch.Tensor, torch.Tensor]:
        v = self._visible(v)
        bottom_up = v @ self.weight1 + self.hidden1_bias  # the same in every round
        mu1 = torch.sigmoid(bottom_up)
        mu2 = self._hidden2_probs(mu1)
        for _ in range(steps - 1):
            mu1 = torch.sigmoid(bottom_up + mu2 @ self.weight2.T)
            mu2 = self._hidden2_probs(mu1)
        return mu1, mu2

    def mean_field_bound(
        self,
        v: torch.Tensor,
        mu1: torch.Tensor,
        mu2: torch.Tensor,
        log_partition: torch.Tensor | float = 0.0,
    ) -> torch.Tensor:
        """The variational bound -E_q[E(v, h1, h2)] + H(q) - log Z per row of ``v``, for the
        factorised q with means ``mu1``, ``mu2`` (nats; without ``log_partition`` the
        unnormalised bound). ``v`` binary; ``log_partition`` a number or a one-element
        tensor."""
        check_batch_shapes(
            v=self.visible(v, values=checks.binary),
            mu1=self.hidden(mu1, "mu1", 1),
            mu2=self.hidden(mu2, "mu2", 2),
        )
        check_log_partition("log_partition", log_partition)
        return self._mean_field_bound(v, mu1, mu2, log_partition)

    def _mean_field_bound(
        self,
        v: torch.Tensor,
        mu1: torch.Tensor,
        mu2: torch.Tensor,
        log_partition: torch.Tensor | float = 0.0,
    ) -> torch.Tensor:
        return (
            -self._energy(v, mu1, mu2)
            + _bernoulli_entropy(mu1)
            + _bernoulli_entropy(mu2)
            - log_partition
        )

    def log_marginal_h1(self, h1: torch.Tensor) -> torch.Tensor:
        """log p*(h1) = log sum_{v, h2} exp(-E(v, h1, h2)) = c1^T h1 + sum_i softplus(b_i +
        W1_{i:} h1) + sum_m softplus(c2_m + h1^T W2_{:m}), per row of ``h1``."""
        self.hidden(h1, "h1", 1)
        return _log_marginal_h1(h1.to(self.weight1.dtype), *self.parameter_tensors())

    def parameter_tensors(self, dtype: torch.dtype | None = None):
        """(W1, W2, b, c1, c2), cast to ``dtype`` when given (float64 for enumerations)."""
        if dtype is not None and not isinstance(dtype, torch.dtype):
            raise ValueError(
                f"dtype must be a torch.dtype such as torch.float64, or None; got {dtype!r}"
            )
        tensors = (
            self.weight1,
            self.weight2,
            self.visible_bias,
            self.hidden1_bias,
            self.hidden2_bias,
        )
        return tuple(t.to(dtype) for t in tensors) if dtype else tensors

    def exact_log_partition(self) -> torch.Tensor:
        """log Z = logsumexp over the 2^n_hidden1 states of h1 of :meth:`log_marginal_h1`, in
        float64 and in chunks; refused above 25 units of h1 (use :func:`ais_log_partition`)."""
        self._check_enumerable("exact_log_partition")
        parameters = self.parameter_tensors(torch.float64)
        chunks = [
            _log_marginal_h1(states, *parameters)
            for states in rbm.binary_states(self.sizes[1], self.weight1.device)
        ]
        return torch.logsumexp(torch.cat(chunks), 0)

    def exact_log_likelihood(self, v: torch.Tensor) -> torch.Tensor:
        """log p(v) per row of ``v``, by enumerating h1 (h2 summed out): b^T v + logsumexp_h1
        [c1^T h1 + v^T W1 h1 + sum_m softplus(c2_m + h1^T W2_{:m})] - log Z, in float64.
        The reference that the mean-field bound must not exceed. ``v`` binary."""
        self._check_enumerable("exact_log_likelihood")
        v = self.visible(v, values=checks.binary).double()
        W1, W2, b, c1, c2 = self.parameter_tensors(torch.float64)
        chunks = []
        for states in rbm.binary_states(self.sizes[1], W1.device):
            prior = states @ c1 + F.softplus(states @ W2 + c2).sum(-1)  # (S,)
            chunks.append(v @ W1 @ states.T + prior)  # (N, S)
        log_joint = torch.logsumexp(torch.cat(chunks, -1), -1)
        return v @ b + log_joint - self.exact_log_partition()

    def _check_enumerable(self, what: str) -> None:
        n = self.sizes[1]
        if n > rbm.MAX_ENUMERATED_UNITS:
            raise ValueError(
                f"{what} enumerates the 2^{n} states of h1, too many above "
                f"{rbm.MAX_ENUMERATED_UNITS} units; estimate log Z with "
                f"dbm.ais_log_partition(model, n_chains, n_betas) instead"
            )


def _log_marginal_h1(h1, W1, W2, b, c1, c2):
    return (
        h1 @ c1 + F.softplus(h1 @ W1.T + b).sum(-1) + F.softplus(h1 @ W2 + c2).sum(-1)
    )


def _bernoulli_entropy(p: torch.Tensor) -> torch.Tensor:
    """sum_j H(Bernoulli(p_j)) over the last dimension, 0 log 0 = 0."""
    return -(torch.xlogy(p, p) + torch.xlogy(1 - p, 1 - p)).sum(-1)


def from_rbm(model: rbm.RBM, n_hidden2: int) -> DBM:
    """The DBM whose bottom layers are the RBM ``model`` (W1 = W, b, c1 = c) with a second
    hidden layer of ``n_hidden2`` units and no connections to it (W2 = 0, c2 = 0). h2 is then
    independent of everything, so p(v) is the RBM's, log Z = log Z_RBM + n_hidden2 log 2, and
    the posterior of h1 factorises: the mean-field bound is the RBM's log-likelihood."""
    check_instance("model", model, rbm.RBM)
    dbm = DBM(model.n_visible, model.n_hidden, n_hidden2).to(model.weight)
    with torch.no_grad():
        dbm.weight1.copy_(model.weight)
        dbm.weight2.zero_()
        dbm.visible_bias.copy_(model.visible_bias)
        dbm.hidden1_bias.copy_(model.hidden_bias)
        dbm.hidden2_bias.zero_()
    return dbm


# --- Annealed importance sampling on h1 (SH09's evaluation) ----------------------------------


@torch.no_grad()
def ais_log_weights(
    model: DBM,
    n_chains: int = rbm.AIS_RUNS,
    n_betas: int = 14_500,
    base_bias: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """AIS runs from the base-rate model (no weights; visible biases ``base_bias``, zero when
    None; hidden biases zero) to ``model``, through p_beta(v, h1, h2) with every energy term
    scaled by beta and the base's visible biases by 1 - beta. The state is h1 (v and h2 are
    summed out in the weights, as in :meth:`DBM.log_marginal_h1`); each beta gets one Gibbs
    sweep (v and h2 given h1, then h1 given both). Returns the base model's log Z_A, the
    ``n_chains`` log importance weights (float64) and the chains' final visible states."""
    check_instance("model", model, DBM)
    check_positive("n_chains", n_chains, integer=True)
    W1, W2 = model.weight1, model.weight2
    b, c1, c2 = model.visible_bias, model.hidden1_bias, model.hidden2_bias
    base_bias = rbm.base_rate_visible_bias(base_bias, b, "DBM")
    betas = rbm.ais_betas(n_betas, device=b.device).to(b.dtype)
    # the base model's units are independent; its two hidden layers are uniform
    log_z_base = F.softplus(base_bias).sum().double() + (len(c1) + len(c2)) * math.log(
        2
    )

    def log_marginal(beta, down, up, h1_c1):  # log p_beta*(h1), in float64
        return (
            beta * h1_c1
            + F.softplus(beta * down + (1 - beta) * base_bias.double()).sum(-1)
            + F.softplus(beta * up).sum(-1)
        )

    h1 = torch.bernoulli(torch.full((n_chains, len(c1)), 0.5, device=b.device))
    log_w = torch.zeros(n_chains, dtype=torch.float64, device=b.device)
    v = torch.zeros(n_chains, len(b), device=b.device, dtype=b.dtype)
    for previous, beta in zip(betas[:-1], betas[1:]):
        # the inputs that h1 sends down to v and up to h2, shared by the weight and the sweep;
        # the weight in float64, as rbm.ais_log_weights (14,500 small differences are summed)
        down, up = h1 @ W1.T + b, h1 @ W2 + c2
        terms = (down.double(), up.double(), (h1 @ c1).double())
        log_w += log_marginal(beta.double(), *terms) - log_marginal(
            previous.double(), *terms
        )
        # one Gibbs sweep that leaves p_beta invariant: v and h2 given h1, then h1
        v = torch.bernoulli(torch.sigmoid(beta * down + (1 - beta) * base_bias))
        h2 = torch.bernoulli(torch.sigmoid(beta * up))
        h1 = torch.bernoulli(torch.sigmoid(beta * (v @ W1 + h2 @ W2.T + c1)))
    return log_z_base, log_w, v


def ais_log_partition(
    model: DBM,
    n_chains: int = rbm.AIS_RUNS,
    n_betas: int = 14_500,
    base_bias: torch.Tensor | None = None,
) -> rbm.AISResult:
    """log Z of the DBM by :func:`ais_log_weights`, summarised as for the RBM
    (:func:`lec16.rbm.summarize_ais`: log of the mean weight, mean -/+ 3 standard errors)."""
    return rbm.summarize_ais(*ais_log_weights(model, n_chains, n_betas, base_bias))


@torch.no_grad()
def ais_log_likelihood(
    model: DBM,
    x: torch.Tensor,
    log_partition: float,
    n_chains: int = 16,
    n_betas: int = 1000,
    steps: int = 30,
) -> torch.Tensor:
    """log p(v) per row of ``x`` (binary) by AIS on the posterior, as Salakhutdinov & Hinton
    estimate it for their test digits: with v clamped, Z(v) = sum_{h1, h2} exp(-E(v, h1, h2))
    is the partition function of an RBM between h1 and h2, so AIS runs on h1 (h2 summed out)
    from a factorised base at the mean-field posterior q(h1 | v) to it, ``n_chains`` runs per
    digit through ``n_betas`` temperatures (:func:`lec16.rbm.ais_betas`). Then log p(v) =
    b^T v + log Z(v) - ``log_partition`` (log Z, e.g. by :func:`ais_log_partition`). The
    estimate of log Z(v) is biased low, by about half its weights' relative variance; the
    mean-field bound is a deterministic lower bound on the same quantity."""
    check_instance("model", model, DBM)
    x = model.visible(x, "x", values=checks.binary)
    check_log_partition("log_partition", log_partition)
    check_positive("n_chains", n_chains, integer=True)
    W1, W2 = model.weight1, model.weight2
    b, c1, c2 = model.visible_bias, model.hidden1_bias, model.hidden2_bias
    betas = rbm.ais_betas(n_betas, device=b.device).to(b.dtype)
    mu1, _ = model._mean_field(x, steps)
    base = torch.logit(mu1.clamp(1e-3, 1 - 1e-3)).unsqueeze(1)  # (n, 1, H1)
    clamped = (x @ W1 + c1).unsqueeze(1)  # h1's input from the clamped v, (n, 1, H1)
    log_z_base = F.softplus(base).sum((1, 2)).double() + len(c2) * math.log(2)
    h1 = torch.bernoulli(torch.sigmoid(base).expand(-1, n_chains, -1).contiguous())
    log_w = torch.zeros(len(x), n_chains, dtype=torch.float64, device=b.device)
    for previous, beta in zip(betas[:-1], betas[1:]):
        up = (h1 @ W2 + c2).double()  # what h1 sends to h2
        log_w += (beta - previous).double() * ((clamped - base) * h1).sum(-1).double()
        log_w += (F.softplus(beta * up) - F.softplus(previous * up)).sum(-1)
        # one Gibbs sweep that leaves p_beta(h1, h2 | v) invariant: h2, then h1
        h2 = torch.bernoulli(torch.sigmoid(beta * up.to(b.dtype)))
        h1 = torch.bernoulli(
            torch.sigmoid((1 - beta) * base + beta * (clamped + h2 @ W2.T))
        )
    log_z_v = log_z_base + torch.logsumexp(log_w, 1) - math.log(n_chains)
    return (x @ b).double() + log_z_v - float(log_partition)


# --- Training: mean-field data statistics, persistent chains for the model's -----------------


@dataclasses.dataclass(frozen=True)
class DBMConfig:
    """Training settings (SH09's learning procedure): ``mean_field_steps`` rounds of the fixed point
    per batch for the data-dependent statistics; ``batch_size`` persistent chains advanced by
    ``k`` Gibbs sweeps per update for the model's; SGD with ``momentum`` and an L2
    ``weight_cost`` on the weights, the learning rate decayed linearly to 0 when ``anneal``.
    Data binarized afresh each batch, as :class:`lec16.rbm.RBMConfig`."""

    epochs: int = 10
    batch_size: int = 100
    lr: float = 0.05
    k: int = 1
    mean_field_steps: int = 10
    momentum: float = 0.5
    weight_cost: float = 2e-4
    anneal: bool = True
    seed: int = 0

    def __post_init__(self):
        check_positive("epochs", self.epochs, integer=True)
        check_positive("batch_size", self.batch_size, integer=True)
        check_positive("lr", self.lr)
        check_positive("k", self.k, integer=True)
        check_positive("mean_field_steps", self.mean_field_steps, integer=True)
        rbm.check_sgd_settings(self)


class FantasyParticles(nn.Module):
    """The persistent chains' states of v and h2 (h1 is redrawn from them at each sweep),
    buffers so that the engine checkpoints them."""

    def __init__(self, v: torch.Tensor, h2: torch.Tensor):
        super().__init__()
        checks.tensor("v", v)
        checks.tensor("h2", h2)
        if len(v) != len(h2):
            raise ValueError(f"v has {len(v)} chains but h2 has {len(h2)}")
        self.register_buffer("v", v.clone())
        self.register_buffer("h2", h2.clone())


def contrastive_loss(
    model: DBM,
    v_data: torch.Tensor,
    mu1: torch.Tensor,
    mu2: torch.Tensor,
    particles: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
) -> torch.Tensor:
    """mean E(v_data, mu1, mu2) - mean E(v, h1, h2) over the ``particles``, every state a
    constant: its gradient is minus SH09's update, E_q[-dE] on the data minus E_chains[-dE]
    (at a fixed point of mean field, the bound's gradient: the envelope theorem). States and
    means have values in [0, 1]; ``particles`` is the tuple (v, h1, h2)."""
    check_instance("model", model, DBM)
    check_batch_shapes(
        v_data=model.visible(v_data, "v_data"),
        mu1=model.hidden(mu1, "mu1", 1),
        mu2=model.hidden(mu2, "mu2", 2),
    )
    if not isinstance(particles, (tuple, list)) or len(particles) != 3:
        raise ValueError(
            "particles must be the tuple (v, h1, h2) of the persistent chains' states, got "
            f"{type(particles).__name__}"
            + (f" of {len(particles)}" if isinstance(particles, (tuple, list)) else "")
        )
    v, h1, h2 = particles
    check_batch_shapes(
        v=model.visible(v, "particles[0]"),
        h1=model.hidden(h1, "particles[1]", 1),
        h2=model.hidden(h2, "particles[2]", 2),
    )
    return _contrastive_loss(model, v_data, mu1, mu2, particles)


def _contrastive_loss(
    model: DBM,
    v_data: torch.Tensor,
    mu1: torch.Tensor,
    mu2: torch.Tensor,
    particles: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
) -> torch.Tensor:
    v, h1, h2 = (x.detach() for x in particles)
    return (
        model._energy(v_data, mu1.detach(), mu2.detach()).mean()
        - model._energy(v, h1, h2).mean()
    )


def train_dbm(
    model: DBM,
    x_train: torch.Tensor,
    x_test: torch.Tensor,
    config: DBMConfig,
    checkpoint=None,
    desc: str = "dbm",
) -> train.History:
    """SH09's learning procedure on ``x_train`` (grey levels in [0, 1], binarized afresh each
    batch), one :func:`lec16.train.fit`: per batch, mean field on the data and ``k`` sweeps of
    the persistent chains, then an SGD step on :func:`contrastive_loss`; after each epoch the
    test digits' mean unnormalised bound (the bound + log Z, to follow training without AIS).
    Under torchrun each rank takes its slice of every batch and of the fantasy particles
    (gathered on every rank after each step, as :func:`lec16.rbm.train_rbm`'s PCD chains), and
    DDP averages the gradients of the contrastive loss."""
    check_instance("model", model, DBM)
    check_instance("config", config, DBMConfig)
    x_train, x_test = rbm.check_training_data(
        x_train, x_test, model.weight1, model.sizes[0], "DBM"
    )
    optimizer, batches, step_schedulers = rbm.sgd_training(
        [model.weight1, model.weight2],
        [model.visible_bias, model.hidden1_bias, model.hidden2_bias],
        x_train,
        config,
    )
    with torch.no_grad():
        start = torch.bernoulli(x_train[: config.batch_size])
        particles = FantasyParticles(
            start, torch.bernoulli(model._mean_field(start)[1])
        )

    loss_of = distributed.wrap_loss(
        lambda *args: _contrastive_loss(model, *args), model.parameters()
    )

    def step(batch):
        v_data = batch[0]
        with torch.no_grad():
            mu1, mu2 = model._mean_field(v_data, config.mean_field_steps)
            v, h2 = (distributed.own_rows(s) for s in (particles.v, particles.h2))
            for _ in range(config.k):
                v, h1, h2 = model._gibbs_step(v, h2)
            particles.v.copy_(distributed.gather_rows(v))
            particles.h2.copy_(distributed.gather_rows(h2))
        loss = loss_of(v_data, mu1, mu2, (v, h1, h2))
        train.optimizer_step(optimizer, loss)
        return {"loss": loss}

    def evaluate(epoch):
        mu1, mu2 = model._mean_field(x_test, config.mean_field_steps)
        return {
            "test_unnormalised_bound": model._mean_field_bound(x_test, mu1, mu2)
            .mean()
            .item()
        }

    return train.fit(
        step,
        batches,
        config.epochs,
        modules={"dbm": model, "particles": particles},
        optimizers={"sgd": optimizer},
        step_schedulers=step_schedulers,
        evaluate=evaluate,
        checkpoint=checkpoint,
        desc=desc,
        config={"train": config, "n_train": len(x_train)},
    )


@torch.no_grad()
def mean_bound(
    model: DBM,
    x: torch.Tensor,
    log_partition: float,
    steps: int = 30,
    batch_size: int = 1000,
) -> tuple[float, float, torch.Tensor]:
    """The mean-field bound on log p(v) for every row of ``x`` (binary), with ``steps`` rounds
    of the fixed point: its mean, its standard error across rows (nats) and the values.
    ``log_partition`` is log Z (e.g. an AIS result's ``log_z``)."""
    check_instance("model", model, DBM)
    x = model.visible(x, "x", values=checks.binary)
    check_log_partition("log_partition", log_partition)
    check_positive("steps", steps, integer=True)
    check_positive("batch_size", batch_size, integer=True)
    values = torch.cat(
        [
            model._mean_field_bound(xb, *model._mean_field(xb, steps), log_partition)
            for xb in x.split(batch_size)
        ]
    )
    return values.mean().item(), values.std().item() / math.sqrt(len(values)), values


def train_on_rbm(
    sizes: tuple[int, int, int],
    x_train: torch.Tensor,
    x_test: torch.Tensor,
    rbm_config: rbm.RBMConfig,
    dbm_config: DBMConfig,
    checkpoints: tuple = (None, None),
) -> tuple[rbm.RBM, DBM, train.History, train.History]:
    """How the DBM chapter trains its DBMs: an RBM of ``sizes[:2]`` started at the base rates
    of ``x_train`` and trained by :func:`lec16.rbm.train_rbm`, then the DBM :func:`from_rbm`
    with h2 of ``sizes[2]`` units and W2 drawn from N(0, 0.01^2) (torch's generator), trained
    by :func:`train_dbm`; ``checkpoints`` are the two runs'. Returns (the RBM, the DBM, their
    histories). Everything is checked before the RBM trains."""
    if not isinstance(sizes, (tuple, list)) or len(sizes) != 3:
        raise ValueError(
            f"sizes must be (n_visible, n_hidden1, n_hidden2), got {sizes!r}"
        )
    for name, size in zip(("n_visible", "n_hidden1", "n_hidden2"), sizes):
        check_positive(f"sizes' {name}", size, integer=True)
    check_instance("rbm_config", rbm_config, rbm.RBMConfig)
    check_instance("dbm_config", dbm_config, DBMConfig)
    if not isinstance(checkpoints, (tuple, list)) or len(checkpoints) != 2:
        raise ValueError(
            "checkpoints must be a pair (the RBM's, the DBM's), each a path or None; got "
            f"{checkpoints!r}"
        )
    # the data as train_rbm and train_dbm will check them, before either trains
    checks.tensor("x_train", x_train, floating=False, min_dim=2)
    where = torch.empty(0, device=x_train.device)  # the RBM's device and default dtype
    rbm.check_training_data(x_train, x_test, where, sizes[0], "DBM")
    bottom = rbm.at_base_rates(
        rbm.RBM(*sizes[:2]).to(x_train.device), rbm.base_rate_bias(x_train)
    )
    rbm_history = rbm.train_rbm(
        bottom,
        x_train,
        x_test,
        rbm_config,
        checkpoint=checkpoints[0],
        desc=f"RBM {sizes[0]} x {sizes[1]}",
    )
    model = from_rbm(bottom, sizes[2])
    with torch.no_grad():
        model.weight2.normal_(0, 0.01)
    dbm_history = train_dbm(
        model,
        x_train,
        x_test,
        dbm_config,
        checkpoint=checkpoints[1],
        desc="DBM " + "-".join(map(str, sizes)),
    )
    return bottom, model, rbm_history, dbm_history
