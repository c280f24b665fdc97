"""Restricted Boltzmann machines (slide "Other directed models"; Smolensky 1986, Hinton 2002).

Binary visible units v (the slide's x) and hidden units h (its z), and the joint

    p(v, h) = exp(<W, v h^T> + <b, v> + <c, h> - log Z),      E(v, h) = -v^T W h - b^T v - c^T h,

the slide's exp(<theta_1, x z^T> + <theta_2, x> + <theta_3, z> - log A(theta)) with theta_1 = W
(``weight``, n_visible x n_hidden), theta_2 = b (``visible_bias``), theta_3 = c (``hidden_bias``).
No connections within a layer, so both conditionals factorise,

    p(h_j = 1 | v) = sigmoid(c_j + v^T W_{:j}),     p(v_i = 1 | h) = sigmoid(b_i + W_{i:} h),

and summing out h gives the free energy F(v) = -b^T v - sum_j softplus(c_j + v^T W_{:j}), with
p(v) = exp(-F(v)) / Z. The log-likelihood gradient is E_data[-dF/dtheta] - E_model[-dF/dtheta];
contrastive divergence (CD-k, Hinton 2002) replaces the model's expectation by k Gibbs steps from
the data, persistent CD (PCD, Tieleman 2008) by chains carried from one update to the next.
Z itself is a sum over 2^min(n_visible, n_hidden) states: :meth:`RBM.exact_log_partition` when
that is small, annealed importance sampling (:func:`ais_log_partition`, Salakhutdinov & Murray
2008) otherwise.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from lec16 import checks, data, distributed, train
from lec16.scales import (
    check_choice,
    check_non_negative_int,
    check_positive,
    check_seed,
)

__all__ = [
    "AIS_RUNS",
    "AISResult",
    "METHODS",
    "PersistentChains",
    "RBM",
    "RBMConfig",
    "ais_betas",
    "ais_log_partition",
    "ais_log_weights",
    "all_states",
    "at_base_rates",
    "base_rate_bias",
    "base_rate_log_likelihood",
    "binary_states",
    "contrastive_loss",
    "enumerated_hidden_posterior",
    "exact_cd_gradient",
    "factorised_hidden_posterior",
    "mean_log_likelihood",
    "reconstruction_error",
    "states_probability",
    "summarize_ais",
    "train_rbm",
]

METHODS = ("cd", "pcd")
MAX_ENUMERATED_UNITS = 25  # 2^25 states of the smaller layer, summed in chunks
AIS_RUNS = 100  # Salakhutdinov & Murray's runs of AIS
MAX_BINARY_STATE_BITS = 62  # binary_states codes its states as int64


def check_instance(name: str, value: Any, kind: type) -> Any:
    """``value`` if it is a ``kind`` (a model or a config of lec16); otherwise a ValueError
    naming the class to build."""
    if not isinstance(value, kind):
        raise ValueError(
            f"{name} must be a {kind.__module__}.{kind.__qualname__}, got a "
            f"{type(value).__name__}"
        )
    return value


def check_log_partition(name: str, value: Any) -> Any:
    """``value`` if it is log Z as one finite number (a float, or a tensor of one element);
    otherwise a ValueError (an :class:`AISResult` is told to pass its ``log_z``)."""
    if isinstance(value, AISResult):
        raise ValueError(
            f"{name} is an AISResult: pass its estimate of log Z, {name}.log_z"
        )
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            raise ValueError(
                f"{name} must be one number (log Z), got a tensor of shape "
                f"{tuple(value.shape)}"
            )
        finite = value.device.type == "meta" or math.isfinite(value.item())
    elif isinstance(value, numbers.Real) and not isinstance(value, bool):
        finite = math.isfinite(value)
    else:
        raise ValueError(
            f"{name} must be log Z as a number or a one-element tensor, got a "
            f"{type(value).__name__}"
        )
    if not finite:
        raise ValueError(
            f"{name} must be a finite log Z, got {value!r} (an AIS bound such as log_z_low "
            "can be -inf: pass log_z)"
        )
    return value


def check_batch_shapes(**tensors: torch.Tensor) -> None:
    """The batch shapes (all but the last dimension) of ``tensors`` must broadcast."""
    try:
        torch.broadcast_shapes(*(t.shape[:-1] for t in tensors.values()))
    except RuntimeError:
        shapes = ", ".join(f"{n} {tuple(t.shape)}" for n, t in tensors.items())
        raise ValueError(
            f"the batch shapes of {shapes} do not match: pass one row of each per example"
        ) from None


def _check_non_negative(name: str, value: Any) -> Any:
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Real)
        or not math.isfinite(value)
        or value < 0
    ):
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return value


class RBM(nn.Module):
    """A binary RBM with ``n_visible`` x ``n_hidden`` weights; initial weights N(0, 0.01^2) and
    zero biases (Hinton's practical guide, section 8; set the visible bias to the data's log-odds
    with :func:`base_rate_bias` as it recommends)."""

    def __init__(self, n_visible: int, n_hidden: int):
        super().__init__()
        check_positive("n_visible", n_visible, integer=True)
        check_positive("n_hidden", n_hidden, integer=True)
        self.weight = nn.Parameter(0.01 * torch.randn(n_visible, n_hidden))
        self.visible_bias = nn.Parameter(torch.zeros(n_visible))
        self.hidden_bias = nn.Parameter(torch.zeros(n_hidden))

    @property
    def n_visible(self) -> int:
        return self.weight.shape[0]

    @property
    def n_hidden(self) -> int:
        return self.weight.shape[1]

    def check_units(
        self,
        name: str,
        x: Any,
        layer: str = "visible",
        values=checks.intensities,
        batched: bool = False,
        owner: str = "the RBM",
    ) -> torch.Tensor:
        """``x`` as states (or probabilities) of the RBM's ``layer`` ("visible" or "hidden"),
        checked once at a public entry point: a tensor of one example per row (exactly (N,
        units) when ``batched``) with the layer's number of units in its last dimension, on
        the RBM's device, its values passing ``values`` (:func:`lec16.checks.intensities`:
        in [0, 1]; :func:`lec16.checks.binary`); returned cast to the weights' dtype (integer
        and boolean states are accepted and converted, as the methods always did)."""
        size = self.n_visible if layer == "visible" else self.n_hidden
        x = checks.tensor(name, x, floating=False)
        if x.shape[-1] != size:
            raise ValueError(
                f"{name} has {x.shape[-1]} units in its last dimension but {owner} has "
                f"{size} {layer} units"
            )
        if batched and x.ndim != 2:
            raise ValueError(
                f"{name} must be a batch of examples of shape (N, {size}), got shape "
                f"{tuple(x.shape)}"
            )
        x = x.to(self.weight.dtype)
        checks.like(name, x, self.weight, owner)
        return values(name, x)

    def _visible(self, v: torch.Tensor) -> torch.Tensor:
        return v.to(self.weight.dtype)

    def energy(self, v: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        """E(v, h) = -v^T W h - b^T v - c^T h, per row of ``v`` and ``h`` (states, or
        probabilities for the expected energy: values in [0, 1])."""
        checked_v = self.check_units("v", v)
        check_batch_shapes(v=checked_v, h=self.check_units("h", h, "hidden"))
        return self._energy(v, h)

    def _energy(self, v: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        v = self._visible(v)
        h = h.to(v.dtype)
        return (
            -((v @ self.weight) * h).sum(-1)
            - v @ self.visible_bias
            - h @ self.hidden_bias
        )

    def free_energy(self, v: torch.Tensor) -> torch.Tensor:
        """F(v) = -log sum_h exp(-E(v, h)) = -b^T v - sum_j softplus(c_j + v^T W_{:j})
        (``v`` with values in [0, 1])."""
        self.check_units("v", v)
        return self._free_energy(v)

    def _free_energy(self, v: torch.Tensor) -> torch.Tensor:
        v = self._visible(v)
        return -(v @ self.visible_bias) - F.softplus(
            v @ self.weight + self.hidden_bias
        ).sum(-1)

    def hidden_probs(self, v: torch.Tensor) -> torch.Tensor:
        """p(h_j = 1 | v) = sigmoid(c_j + v^T W_{:j}), for every j (``v`` in [0, 1])."""
        self.check_units("v", v)
        return self._hidden_probs(v)

    def _hidden_probs(self, v: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self._visible(v) @ self.weight + self.hidden_bias)

    def visible_probs(self, h: torch.Tensor) -> torch.Tensor:
        """p(v_i = 1 | h) = sigmoid(b_i + W_{i:} h), for every i (``h`` in [0, 1])."""
        self.check_units("h", h, "hidden")
        return self._visible_probs(h)

    def _visible_probs(self, h: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(
            h.to(self.weight.dtype) @ self.weight.T + self.visible_bias
        )

    def gibbs_step(self, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One block-Gibbs sweep v -> h ~ p(h | v) -> v' ~ p(v | h); returns (v', h)."""
        self.check_units("v", v)
        return self._gibbs_step(v)

    def _gibbs_step(self, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = torch.bernoulli(self._hidden_probs(v))
        return torch.bernoulli(self._visible_probs(h)), h

    def gibbs_chain(self, v: torch.Tensor, steps: int) -> torch.Tensor:
        """``steps`` Gibbs sweeps from ``v`` (states or probabilities in [0, 1]); the last
        visible state."""
        check_positive("steps", steps, integer=True)
        self.check_units("v", v)
        return self._gibbs_chain(v, steps)

    def _gibbs_chain(self, v: torch.Tensor, steps: int) -> torch.Tensor:
        """:meth:`gibbs_chain` without the checks (a trainer's inner loop)."""
        for _ in range(steps):
            v, _ = self._gibbs_step(v)
        return v

    def exact_log_partition(self) -> torch.Tensor:
        """log Z by enumerating the 2^m states of the smaller layer (m = min(n_visible,
        n_hidden)), in float64 and in chunks: log Z = logsumexp_h [c^T h + sum_i softplus(b_i +
        W_{i:} h)] when the hidden layer is the smaller, logsumexp_v [-F(v)] otherwise. Refused
        above 25 units; use :func:`ais_log_partition` there."""
        m = min(self.n_visible, self.n_hidden)
        if m > MAX_ENUMERATED_UNITS:
            raise ValueError(
                f"exact_log_partition enumerates 2^{m} states of the smaller layer, too many "
                f"above {MAX_ENUMERATED_UNITS} units; estimate log Z with "
                f"rbm.ais_log_partition(model, n_chains, n_betas) instead"
            )
        W = self.weight.double()
        b, c = self.visible_bias.double(), self.hidden_bias.double()
        chunks = []
        for states in binary_states(m, W.device):
            if self.n_hidden <= self.n_visible:  # states are h
                chunks.append(states @ c + F.softplus(states @ W.T + b).sum(-1))
            else:  # states are v
                chunks.append(states @ b + F.softplus(states @ W + c).sum(-1))
        return torch.logsumexp(torch.cat(chunks), 0)

    def log_likelihood(self, v: torch.Tensor, log_partition: torch.Tensor | float):
        """log p(v) = -F(v) - log Z per row of binary ``v``, given log Z (exact or estimated:
        a number or a one-element tensor, e.g. an :class:`AISResult`'s ``log_z``)."""
        self.check_units("v", v, values=checks.binary)
        check_log_partition("log_partition", log_partition)
        return self._log_likelihood(v, log_partition)

    def _log_likelihood(self, v: torch.Tensor, log_partition: torch.Tensor | float):
        return -self._free_energy(v) - log_partition


def binary_states(m: int, device, chunk: int = 1 << 14):
    """All 2^m binary vectors of length m (float64), in chunks of ``chunk`` rows (m an int
    in [0, 62]: the states are coded as int64; checked when called, not when iterated)."""
    check_non_negative_int("m", m, "the length of the binary vectors")
    if m > MAX_BINARY_STATE_BITS:
        raise ValueError(
            f"binary_states codes its 2^m states as int64, so m must be at most "
            f"{MAX_BINARY_STATE_BITS}, got {m} (and enumerating is practical only up to "
            f"about {MAX_ENUMERATED_UNITS} units)"
        )
    check_positive("chunk", chunk, integer=True)
    return _binary_states(m, device, chunk)


def _binary_states(m: int, device, chunk: int):
    bits = 2 ** torch.arange(m, device=device)
    for start in range(0, 2**m, chunk):
        index = torch.arange(start, min(start + chunk, 2**m), device=device)
        yield ((index[:, None] & bits) > 0).double()


def base_rate_bias(x: torch.Tensor, smoothing: float = 0.05) -> torch.Tensor:
    """The log-odds log(p_i / (1 - p_i)) of each visible unit's mean over ``x``, pulled towards
    1/2 by ``smoothing`` pseudo-examples' worth (Salakhutdinov & Murray's base-rate model;
    Hinton's initial visible biases). ``x``: (N, ...) floating point, binary or grey levels
    in [0, 1]."""
    checks.intensities("x", x, min_dim=2)
    _check_non_negative("smoothing", smoothing)
    p = (x.flatten(1).mean(0) * len(x) + smoothing * 0.5) / (len(x) + smoothing)
    p = p.clamp(1e-6, 1 - 1e-6)
    return torch.log(p) - torch.log1p(-p)


def base_rate_log_likelihood(x: torch.Tensor, base_bias: torch.Tensor) -> float:
    """The mean log-likelihood of binary ``x`` (one example per row) under the base-rate
    model, independent pixels of log-odds ``base_bias`` (:func:`base_rate_bias`; an RBM with
    W = 0): the reference that the Boltzmann machines' chapters must beat, in nats. ``x`` of
    shape (N, ...) is flattened per example; ``base_bias`` has one entry per pixel."""
    x = checks.binary("x", x, min_dim=2).flatten(1)
    base_bias = checks.tensor("base_bias", base_bias)
    if base_bias.shape != x.shape[1:]:
        raise ValueError(
            f"base_bias has shape {tuple(base_bias.shape)} but x has {x.shape[1]} pixels per "
            "example: pass rbm.base_rate_bias of the training data"
        )
    checks.like("x", x, base_bias, "base_bias")
    return (x @ base_bias - F.softplus(base_bias).sum()).mean().item()


def at_base_rates(model: RBM, base_bias: torch.Tensor) -> RBM:
    """``model`` with its visible biases set to ``base_bias`` (in place; returned), as Hinton's
    practical guide starts an RBM: it then begins as the base-rate model, up to its small
    random weights. ``base_bias`` (one entry per visible unit) is converted to the model's
    dtype and device."""
    check_instance("model", model, RBM)
    _check_bias_shape(base_bias, model.visible_bias, "RBM")
    with torch.no_grad():
        model.visible_bias.copy_(base_bias)
    return model


# --- Annealed importance sampling (Salakhutdinov & Murray 2008, section 4.1) -----------------


def ais_betas(n_betas: int = 14_500, device=None) -> torch.Tensor:
    """The inverse temperatures 0 = beta_0 < ... < beta_K = 1 of Salakhutdinov & Murray: steps of
    1e-3 up to 0.5, 1e-4 up to 0.9, 1e-5 up to 1 (14,500 intermediate distributions); another
    ``n_betas`` keeps the three segments' shares of the steps."""
    check_positive("n_betas", n_betas, integer=True)
    if n_betas < 3:
        raise ValueError(f"n_betas must be at least 3 (one per segment), got {n_betas}")
    shares = (500, 4000, 10_000)
    counts = [max(1, round(n_betas * s / sum(shares))) for s in shares]
    counts[-1] = n_betas - counts[0] - counts[1]
    edges = (0.0, 0.5, 0.9, 1.0)
    pieces = [torch.zeros(1, dtype=torch.float64)]
    for (lo, hi), n in zip(zip(edges, edges[1:]), counts):
        pieces.append(torch.linspace(lo, hi, n + 1, dtype=torch.float64)[1:])
    return torch.cat(pieces).to(device)


def base_rate_visible_bias(
    base_bias: torch.Tensor | None, visible_bias: torch.Tensor, model_name: str
) -> torch.Tensor:
    """The visible biases of AIS's base-rate model (zero when None), checked against the
    model's ``visible_bias`` and put on its device and dtype; shared by the RBM's and the
    DBM's AIS."""
    if base_bias is None:
        return torch.zeros_like(visible_bias)
    _check_bias_shape(base_bias, visible_bias, model_name)
    return base_bias.to(device=visible_bias.device, dtype=visible_bias.dtype)


def _check_bias_shape(
    base_bias: Any, visible_bias: torch.Tensor, model_name: str
) -> None:
    checks.tensor("base_bias", base_bias)
    if base_bias.shape != visible_bias.shape:
        raise ValueError(
            f"base_bias has shape {tuple(base_bias.shape)}; the {model_name} has "
            f"{len(visible_bias)} visible units"
        )


@dataclasses.dataclass
class AISResult:
    """An AIS estimate of log Z: ``log_z`` = log of the mean importance weight, and
    ``log_z_low`` / ``log_z_high`` = log(mean -/+ 3 standard errors of the weights), the spread
    Salakhutdinov's code reports (``log_z_low`` is -inf when 3 errors exceed the mean);
    ``log_weights`` per chain, ``samples`` the chains' final states (draws of the RBM)."""

    log_z: float
    log_z_low: float
    log_z_high: float
    log_weights: torch.Tensor
    samples: torch.Tensor


@torch.no_grad()
def ais_log_weights(
    model: RBM,
    n_chains: int = AIS_RUNS,
    n_betas: int = 14_500,
    base_bias: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The runs of AIS from a base-rate RBM (no weights, visible biases ``base_bias``, zero when
    None; get them from the data with :func:`base_rate_bias`) to ``model``, through
    p_k*(v) = exp((1 - beta_k) b_A^T v) exp(beta_k b^T v) prod_j (1 + exp(beta_k (c_j +
    v^T W_{:j}))) with one Gibbs sweep at each beta_k (:func:`ais_betas`). Returns the base
    model's log Z_A, the ``n_chains`` log importance weights (float64) and the final states
    (draws of ``model``, approximately): Z ~ Z_A mean(w)."""
    check_instance("model", model, RBM)
    check_positive("n_chains", n_chains, integer=True)
    W, b, c = model.weight, model.visible_bias, model.hidden_bias
    base_bias = base_rate_visible_bias(base_bias, b, "RBM")
    betas = ais_betas(n_betas, device=b.device).to(b.dtype)
    # the base model's visible units are independent and its hidden factor is 2^H
    log_z_base = F.softplus(base_bias).sum().double() + model.n_hidden * math.log(2)

    v = torch.bernoulli(torch.sigmoid(base_bias).expand(n_chains, -1).contiguous())
    log_w = torch.zeros(n_chains, dtype=torch.float64, device=b.device)
    for previous, beta in zip(betas[:-1], betas[1:]):
        vW = v @ W
        # log p_beta*(v) - log p_previous*(v), in float64: 14,500 small differences of
        # terms of hundreds of nats are summed, which float32 rounds to about 1e-4 nats each
        inputs = (vW + c).double()
        log_w += (beta - previous).double() * (v @ (b - base_bias)).double()
        log_w += (
            F.softplus(beta.double() * inputs) - F.softplus(previous.double() * inputs)
        ).sum(-1)
        # one Gibbs sweep that leaves p_beta invariant
        h = torch.bernoulli(torch.sigmoid(beta * (vW + c)))
        v = torch.bernoulli(
            torch.sigmoid((1 - beta) * base_bias + beta * (h @ W.T + b))
        )
    return log_z_base, log_w, v


def ais_log_partition(
    model: RBM,
    n_chains: int = AIS_RUNS,
    n_betas: int = 14_500,
    base_bias: torch.Tensor | None = None,
) -> AISResult:
    """Salakhutdinov & Murray's estimate of log Z (:func:`ais_log_weights`, summarised): the
    mean importance weight is unbiased for Z / Z_A, so its log is biased low, by about half the
    weights' relative variance; the spread is theirs, mean -/+ 3 standard errors."""
    return summarize_ais(*ais_log_weights(model, n_chains, n_betas, base_bias))


def summarize_ais(
    log_z_base: torch.Tensor, log_w: torch.Tensor, samples: torch.Tensor
) -> AISResult:
    """The :class:`AISResult` of AIS runs with log weights ``log_w`` (one per run, 1-D) from a
    base model with log partition function ``log_z_base`` (a one-element tensor; a number is
    accepted and converted): log Z_A + log mean(w) and log(mean -/+ 3 SE)."""
    if not isinstance(log_z_base, torch.Tensor):
        log_z_base = torch.as_tensor(
            check_log_partition("log_z_base", log_z_base), dtype=torch.float64
        )
    check_log_partition("log_z_base", log_z_base)
    checks.tensor("log_w", log_w)
    if log_w.ndim != 1:
        raise ValueError(
            f"log_w must hold one log weight per AIS run (1-D), got shape "
            f"{tuple(log_w.shape)}"
        )
    shift = log_w.max()
    w = (log_w - shift).exp()
    mean, se = w.mean(), w.std() / math.sqrt(len(w))
    offset = log_z_base.item() + shift.item()
    low = (mean - 3 * se).item()
    return AISResult(
        log_z=offset + math.log(mean.item()),
        log_z_low=offset + math.log(low) if low > 0 else -math.inf,
        log_z_high=offset + math.log((mean + 3 * se).item()),
        log_weights=log_w,
        samples=samples,
    )


# --- Training: CD-k and persistent CD on the engine -------------------------------------------


def check_sgd_settings(config) -> None:
    """The SGD settings that :class:`RBMConfig` and :class:`lec16.dbm.DBMConfig` share:
    momentum in [0, 1), a finite non-negative weight cost, ``anneal`` a bool and a seed of
    NumPy's range."""
    momentum = config.momentum
    if (
        isinstance(momentum, bool)
        or not isinstance(momentum, numbers.Real)
        or not 0 <= momentum < 1
    ):
        raise ValueError(f"momentum must be in [0, 1), got {momentum!r}")
    _check_non_negative("weight_cost", config.weight_cost)
    if not isinstance(config.anneal, bool):
        raise ValueError(f"anneal must be True or False, got {config.anneal!r}")
    check_seed("seed", config.seed)


@dataclasses.dataclass(frozen=True)
class RBMConfig:
    """Training settings: ``method`` "cd" (chains restarted at the data each update) or "pcd"
    (``batch_size`` persistent chains); ``k`` Gibbs sweeps per update; SGD with ``momentum`` and
    an L2 ``weight_cost`` on W (Hinton's rbm.m: 0.0002), the learning rate decayed linearly to 0
    over the run when ``anneal`` (as Tieleman 2008 does for PCD). Data are binarized afresh each
    batch (:func:`lec16.data.binarize_dynamic`)."""

    epochs: int = 10
    batch_size: int = 100
    lr: float = 0.05
    k: int = 1
    method: str = "cd"
    momentum: float = 0.5
    weight_cost: float = 2e-4
    anneal: bool = False
    seed: int = 0

    def __post_init__(self):
        check_positive("epochs", self.epochs, integer=True)
        check_positive("batch_size", self.batch_size, integer=True)
        check_positive("lr", self.lr)
        check_positive("k", self.k, integer=True)
        check_choice("method", self.method, METHODS)
        check_sgd_settings(self)


class PersistentChains(nn.Module):
    """The visible states of PCD's chains, a buffer so that the engine checkpoints them."""

    def __init__(self, start: torch.Tensor):
        super().__init__()
        checks.tensor("start", start)
        self.register_buffer("state", start.clone())


def contrastive_loss(model: RBM, v_data: torch.Tensor, v_model: torch.Tensor):
    """mean F(v_data) - mean F(v_model), with ``v_model`` a constant: its gradient is minus the
    (CD or PCD) estimate of the log-likelihood gradient, E_data[dF] - E_chains[dF]. Both
    hold visible states (values in [0, 1])."""
    check_instance("model", model, RBM)
    model.check_units("v_data", v_data)
    model.check_units("v_model", v_model)
    return _contrastive_loss(model, v_data, v_model)


def _contrastive_loss(model: RBM, v_data: torch.Tensor, v_model: torch.Tensor):
    return (
        model._free_energy(v_data).mean() - model._free_energy(v_model.detach()).mean()
    )


def reconstruction_error(model: RBM, v: torch.Tensor) -> torch.Tensor:
    """Mean squared error of the mean-field reconstruction p(v | E[h | v]) per pixel: a cheap
    training monitor, not a likelihood (Hinton's practical guide, section 5). ``v`` in [0,
    1]; integer or boolean states are converted to the model's dtype."""
    check_instance("model", model, RBM)
    checked = model.check_units("v", v)
    return _reconstruction_error(model, v if v.is_floating_point() else checked)


def _reconstruction_error(model: RBM, v: torch.Tensor) -> torch.Tensor:
    return (model._visible_probs(model._hidden_probs(v)) - v).pow(2).mean()


def check_training_data(
    x_train: torch.Tensor,
    x_test: torch.Tensor,
    param: torch.Tensor,
    n_visible: int,
    model_name: str,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The training and test data of a Boltzmann machine (or a Helmholtz machine), refused with
    a clear message when they are no tensors of examples, are on another device than its
    parameter ``param``, have other than ``n_visible`` values per example, or when the
    training data are not grey levels in [0, 1] (they are binarized afresh each batch) or the
    test data not binary; returned flattened, in the parameters' dtype (integer or boolean
    data are converted)."""
    for name, x in (("x_train", x_train), ("x_test", x_test)):
        checks.tensor(name, x, floating=False, min_dim=2)
        if x.device != param.device:
            raise ValueError(
                f"{name} is on {x.device} but the {model_name} is on {param.device}: "
                "move one of them"
            )
        if x[0].numel() != n_visible:
            raise ValueError(
                f"{name} has {x[0].numel()} values per example but the {model_name} has "
                f"{n_visible} visible units"
            )
    x_train, x_test = (
        x_train.flatten(1).to(param.dtype),
        x_test.flatten(1).to(param.dtype),
    )
    checks.intensities("x_train", x_train)
    checks.binary("x_test", x_test)
    return x_train, x_test


def sgd_training(weights, biases, x_train: torch.Tensor, config):
    """What RBMs and DBMs train with (``config`` an :class:`RBMConfig` or
    :class:`lec16.dbm.DBMConfig`): SGD with momentum and the weight cost on ``weights`` only,
    the batches of ``x_train`` binarized afresh, and the linear annealing of the learning rate
    to 0 over the run when ``config.anneal``. Returns (optimizer, batches, step_schedulers)."""
    optimizer = torch.optim.SGD(
        [
            {"params": list(weights), "weight_decay": config.weight_cost},
            {"params": list(biases), "weight_decay": 0.0},
        ],
        lr=config.lr,
        momentum=config.momentum,
    )
    batches = data.Batches(
        x_train,
        batch_size=config.batch_size,
        seed=config.seed,
        transform=data.binarize_dynamic,
    )
    total_steps = config.epochs * len(batches)
    step_schedulers = (
        {
            "anneal": torch.optim.lr_scheduler.LambdaLR(
                optimizer, lambda s: max(0.0, 1 - s / total_steps)
            )
        }
        if config.anneal
        else None
    )
    return optimizer, batches, step_schedulers


def train_rbm(
    model: RBM,
    x_train: torch.Tensor,
    x_test: torch.Tensor,
    config: RBMConfig,
    checkpoint=None,
    desc: str = "rbm",
) -> train.History:
    """CD-k or PCD-k on ``x_train`` (grey levels in [0, 1], binarized afresh each batch), one
    :func:`lec16.train.fit`; the step minimises :func:`contrastive_loss` with SGD; after each
    epoch the test reconstruction error (``x_test`` already binary). Under torchrun each rank
    takes its slice of every batch and of PCD's chains (the whole set is gathered on every
    rank after each step, so the checkpoint holds all of them), and DDP averages the
    gradients of the contrastive loss."""
    check_instance("model", model, RBM)
    check_instance("config", config, RBMConfig)
    x_train, x_test = check_training_data(
        x_train, x_test, model.weight, model.n_visible, "RBM"
    )
    optimizer, batches, step_schedulers = sgd_training(
        [model.weight], [model.visible_bias, model.hidden_bias], x_train, config
    )
    modules = {"rbm": model}
    if config.method == "pcd":
        start = torch.bernoulli(x_train[: config.batch_size])
        chains = modules["chains"] = PersistentChains(start)
    loss_of = distributed.wrap_loss(
        lambda v_data, v_model: _contrastive_loss(model, v_data, v_model),
        [model.weight, model.visible_bias, model.hidden_bias],
    )

    def step(batch):
        v_data = batch[0]
        with torch.no_grad():
            if config.method == "pcd":
                v_model = model._gibbs_chain(
                    distributed.own_rows(chains.state), config.k
                )
                chains.state.copy_(distributed.gather_rows(v_model))
            else:
                v_model = model._gibbs_chain(v_data, config.k)
        loss = loss_of(v_data, v_model)
        train.optimizer_step(optimizer, loss)
        return {"loss": loss}

    def evaluate(epoch):
        return {"test_reconstruction": _reconstruction_error(model, x_test).item()}

    return train.fit(
        step,
        batches,
        config.epochs,
        modules=modules,
        optimizers={"sgd": optimizer},
        step_schedulers=step_schedulers,
        evaluate=evaluate,
        checkpoint=checkpoint,
        desc=desc,
        config={"train": config, "n_train": len(x_train)},
    )


@torch.no_grad()
def mean_log_likelihood(
    model: RBM, x: torch.Tensor, log_partition: float, batch_size: int = 1000
) -> tuple[float, float]:
    """The mean of log p(v) = -F(v) - log Z over the rows of ``x`` (binary, (N, ...) flattened
    per example), and its standard error across the rows, in nats; ``log_partition`` is log Z
    (e.g. an :class:`AISResult`'s ``log_z``)."""
    check_instance("model", model, RBM)
    model.check_units(
        "x",
        checks.tensor("x", x, floating=False, min_dim=2).flatten(1),
        values=checks.binary,
    )
    check_log_partition("log_partition", log_partition)
    check_positive("batch_size", batch_size, integer=True)
    values = torch.cat(
        [
            model._log_likelihood(xb, log_partition)
            for xb in x.flatten(1).split(batch_size)
        ]
    )
    return values.mean().item(), values.std().item() / math.sqrt(len(values))


def all_states(m: int, device=None, dtype=torch.float64) -> torch.Tensor:
    """The 2^m binary vectors of length m, as the rows of one (2^m, m) tensor (m <= 16 here: the
    enumerations of tiny RBMs; :meth:`RBM.exact_log_partition` goes up to 25 in chunks)."""
    check_non_negative_int("m", m, "the length of the binary vectors")
    if not isinstance(dtype, torch.dtype):
        raise ValueError(
            f"dtype must be a torch.dtype such as torch.float64, got {dtype!r}"
        )
    if m > 16:
        raise ValueError(f"all_states builds 2^{m} rows at once; use m <= 16")
    return torch.cat(list(binary_states(m, device))).to(dtype)


def _where(model: RBM) -> tuple[torch.device, torch.dtype]:
    return model.weight.device, model.weight.dtype


def states_probability(states: torch.Tensor, probs: torch.Tensor) -> torch.Tensor:
    """prod_i p_i^s_i (1 - p_i)^(1 - s_i) for every row of ``probs`` (N, m) and every binary row
    of ``states`` (S, m): an (N, S) matrix of factorised Bernoulli probabilities."""
    checks.binary("states", states, floating=False)
    checks.intensities("probs", probs)
    if states.ndim != 2 or probs.ndim != 2 or states.shape[1] != probs.shape[1]:
        raise ValueError(
            f"states (S, m) and probs (N, m) must be two matrices of the same m, got shapes "
            f"{tuple(states.shape)} and {tuple(probs.shape)}"
        )
    if states.device != probs.device:
        raise ValueError(
            f"states is on {states.device} but probs on {probs.device}: move one of them"
        )
    return _states_probability(states, probs)


def _states_probability(states: torch.Tensor, probs: torch.Tensor) -> torch.Tensor:
    return (
        states[None] * probs[:, None] + (1 - states[None]) * (1 - probs[:, None])
    ).prod(-1)


def exact_cd_gradient(
    model: RBM, data_states: torch.Tensor, data_weights: torch.Tensor, k: int | None
) -> list[torch.Tensor]:
    """On an RBM small enough to enumerate (n_visible, n_hidden <= 16): the exact expectation of
    the gradient of :func:`contrastive_loss` under CD-k, chains started at data drawn from
    ``data_weights`` over the binary rows ``data_states``, through the k-th power of the Gibbs
    kernel T[v, v'] = sum_h p(h | v) p(v' | h) over visible states; ``k=None``: the chains at
    equilibrium, i.e. the true gradient of the mean negative log-likelihood. Returns the
    gradients of (weight, visible_bias, hidden_bias). ``data_weights``: one non-negative
    weight per row of ``data_states`` (normally summing to 1); ``k`` an int >= 1 or None."""
    check_instance("model", model, RBM)
    if max(model.n_visible, model.n_hidden) > 16:
        raise ValueError(
            "exact_cd_gradient enumerates every visible and hidden state; use an RBM with "
            f"at most 16 units per layer, got {model.n_visible} x {model.n_hidden}"
        )
    model.check_units("data_states", data_states, values=checks.binary, batched=True)
    checks.tensor("data_weights", data_weights)
    if data_weights.shape != (len(data_states),):
        raise ValueError(
            f"data_weights must hold one weight per row of data_states, shape "
            f"({len(data_states)},), got {tuple(data_weights.shape)}"
        )
    if data_weights.device != model.weight.device:
        raise ValueError(
            f"data_weights is on {data_weights.device} but the RBM on "
            f"{model.weight.device}: move it with .to({str(model.weight.device)!r})"
        )
    if data_weights.device.type != "meta" and bool((data_weights < 0).any()):
        raise ValueError(
            "data_weights must be non-negative (a distribution over the rows)"
        )
    if k is not None:
        checks.count("k", k)
    states = all_states(model.n_visible, *_where(model))
    codes = (
        data_states.long() * 2 ** torch.arange(model.n_visible, device=states.device)
    ).sum(-1)
    p_data = torch.zeros(len(states), dtype=states.dtype, device=states.device)
    p_data.index_add_(0, codes, data_weights.to(states.dtype))
    with torch.no_grad():
        if k is None:
            p_chain = torch.softmax(-model._free_energy(states), 0)
        else:
            hidden = all_states(model.n_hidden, *_where(model))
            kernel = _states_probability(hidden, model._hidden_probs(states)) @ (
                _states_probability(states, model._visible_probs(hidden))
            )
            p_chain = p_data @ torch.linalg.matrix_power(kernel, k)
    free = model._free_energy(states)
    surrogate = (p_data * free).sum() - (p_chain * free).sum()
    return list(
        torch.autograd.grad(
            surrogate, (model.weight, model.visible_bias, model.hidden_bias)
        )
    )


def enumerated_hidden_posterior(model: RBM, v: torch.Tensor) -> torch.Tensor:
    """p(h | v) for every hidden state (rows of ``v`` x 2^n_hidden) from the joint: exp(-E(v, h))
    normalised over the enumerated h. The check of :meth:`RBM.hidden_probs`'s factorisation,
    whose product form is :func:`factorised_hidden_posterior`. ``v``: (N, n_visible)."""
    check_instance("model", model, RBM)
    model.check_units("v", v, batched=True)
    hidden = all_states(model.n_hidden, *_where(model))
    energies = torch.stack([model._energy(v, h.expand(len(v), -1)) for h in hidden], -1)
    return torch.softmax(-energies, -1)


def factorised_hidden_posterior(model: RBM, v: torch.Tensor) -> torch.Tensor:
    """p(h | v) as prod_j Bernoulli(h_j; sigmoid(c_j + v^T W_{:j})), for every hidden state
    (``v``: (N, n_visible))."""
    check_instance("model", model, RBM)
    model.check_units("v", v, batched=True)
    return _states_probability(
        all_states(model.n_hidden, *_where(model)), model._hidden_probs(v)
    )
