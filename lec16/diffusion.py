"""Diffusion probabilistic models (Sohl-Dickstein et al. 2015, the slides' "Diffusion and
non-equilibrium thermodynamics").

*Forward trajectory* (paper eq. 2, Table App.1): t = 1 ... T, t = 0 is the data,

    q(x_t | x_{t-1}) = N(sqrt(1 - beta_t) x_{t-1}, beta_t I),

which takes data of unit variance to the tractable pi = N(0, I). Its marginal and posterior are
Gaussian in closed form (:meth:`GaussianDiffusion.marginal`, :meth:`GaussianDiffusion.posterior`),
with alpha_bar_t = prod_{s <= t} (1 - beta_s).

*Reverse trajectory* (eq. 5): p(x_T) = pi, p(x_{t-1} | x_t) = N(mu(x_t, t), Sigma(x_t, t)) for
t = T ... 2, learned (:class:`ReverseNet`); the last step is fixed to the reversal of the first
forward step under pi, p(x_0 | x_1) = N(sqrt(1 - beta_1) x_1, beta_1 I) (Appendix B.2).

*The bound* (eq. 14 and Appendix B; per example, in nats):

    log p(x_0) >= K = E log p(x_0 | x_1)
                      - sum_{t=2}^T E KL(q(x_{t-1} | x_t, x_0) || p(x_{t-1} | x_t))
                      - KL(q(x_T | x_0) || pi),

which equals the paper's ``- sum KL + H_q(X_T|X_0) - H_q(X_1|X_0) - H_p(X_T)`` when the data have
unit variance (the cross-entropies to pi are then equal at every t), and holds for any data here.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Iterable, Sequence

import torch
from torch import distributions as D
from torch import nn

from lec16 import checks, data, distributed, iwae, train
from lec16.scales import check_choice, check_positive, check_seed

__all__ = [
    "PARAMETRIZATIONS",
    "TIME_SAMPLINGS",
    "sohl_dickstein_schedule",
    "linear_schedule",
    "GaussianDiffusion",
    "gaussian_kl",
    "temporal_basis",
    "NormalizedRBF",
    "ReverseNet",
    "swiss_roll_net",
    "leaky_rectifier",
    "dense_net",
    "TimeSampler",
    "DiffusionModel",
    "trajectory_log_ratio",
    "trajectory_log_ratios",
    "importance_log_likelihood",
    "Rescaling",
    "swiss_roll",
    "swiss_roll_log_density",
    "bits",
    "DiffusionConfig",
    "mean_bound",
    "dequantize",
    "mnist_model",
    "train_diffusion",
]

PARAMETRIZATIONS = ("mean", "epsilon")
TIME_SAMPLINGS = ("uniform", "importance")


def _is_number(value) -> bool:
    return (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and math.isfinite(value)
    )


def _check_rate(name: str, value) -> None:
    if not _is_number(value) or not 0 < value < 1:
        raise ValueError(f"{name} must be a number in (0, 1), got {value!r}")


def _check_times(t, first: int, T: int, x: torch.Tensor | None = None, device=None):
    """``t`` if it is a time in ``first`` ... ``T``: an int, or an integer tensor of shape ()
    or (B,), one time per example of ``x`` (a NumPy integer is taken as an int); otherwise a
    ValueError. Values of a tensor are checked except on the meta device (this reads them: the
    model's own training draws skip it)."""
    if isinstance(t, numbers.Integral) and not isinstance(t, bool):
        t = int(t)
        if not first <= t <= T:
            raise ValueError(f"t must be in {first} ... T = {T}, got {t}")
        return t
    if not isinstance(t, torch.Tensor):
        raise ValueError(
            f"t must be an int or an integer tensor of times {first} ... T = {T}, got {t!r}"
        )
    if t.is_floating_point() or t.is_complex() or t.dtype == torch.bool:
        raise ValueError(
            f"t must hold integer times {first} ... T = {T}, got a tensor of dtype "
            f"{t.dtype}: convert it with t.long()"
        )
    if t.ndim > 1 or (
        t.ndim == 1 and x is not None and (x.ndim == 0 or len(t) != len(x))
    ):
        examples = f" ({len(x)} here)" if x is not None and x.ndim else ""
        raise ValueError(
            f"t must be an int or a 1-D tensor of one time per example{examples}, got shape "
            f"{tuple(t.shape)}"
        )
    if device is not None and t.device != device and t.device.type != "cpu":
        raise ValueError(
            f"t is on {t.device} but the model is on {device}: move it with "
            f"t.to({str(device)!r})"
        )
    if t.device.type != "meta" and t.numel():
        low, high = int(t.min()), int(t.max())
        if low < first or high > T:
            raise ValueError(
                f"t must be in {first} ... T = {T}, got times from {low} to {high}"
            )
    return t


def _check_betas(betas: torch.Tensor) -> torch.Tensor:
    if not isinstance(betas, torch.Tensor):
        betas = torch.as_tensor(betas, dtype=torch.get_default_dtype())
    if betas.ndim != 1 or len(betas) < 2:
        raise ValueError(
            f"betas must be a 1-D tensor of T >= 2 diffusion rates beta_1 ... beta_T, "
            f"got shape {tuple(betas.shape)}"
        )
    if not betas.is_floating_point():
        betas = betas.to(torch.get_default_dtype())
    if betas.device.type != "meta" and not ((betas > 0) & (betas < 1)).all():
        raise ValueError(
            "every diffusion rate beta_t must be in (0, 1): q(x_t|x_{t-1}) = "
            "N(sqrt(1 - beta_t) x_{t-1}, beta_t I)"
        )
    return betas


def sohl_dickstein_schedule(
    T: int, first_step: float = 1e-3, first_beta: float | None = None, device=None
) -> torch.Tensor:
    """The reference code's beta_1 ... beta_T (``generate_beta_arr``, its learned perturbation at 0):
    beta_t = 1 / linspace(T, 2, T)_t, close to 1 / (T - t + 1), so that the signal's share
    alpha-bar_t = prod (1 - beta_s) falls nearly linearly, about 1/T of the *original* variance per
    step (the reference code's comment), to about 1/T at the end; beta_t rises from 1/T to 1/2.
    Kept in [1e-6, 1 - 1e-5], with ``first_step`` added to
    beta_1 as the floor on the variance of the model's last step. ``first_beta``: beta_1 fixed to
    this small constant instead (the paper, section 2.4.1: "beta_1 was fixed to a small constant
    to prevent overfitting"), which lets the model resolve finer detail than beta_1 ~ 1/T would."""
    check_positive("T", T, integer=True)
    if T < 2:
        raise ValueError(f"a diffusion needs T >= 2 steps, got T={T}")
    if not _is_number(first_step) or not 0 <= first_step < 1:
        raise ValueError(f"first_step must be a number in [0, 1), got {first_step!r}")
    if first_beta is not None:
        _check_rate("first_beta", first_beta)
    floor = torch.full((T,), 1e-6, dtype=torch.float64)
    floor[0] += first_step
    baseline = 1.0 / torch.linspace(T, 2.0, T, dtype=torch.float64)
    betas = floor + baseline * (1 - floor - 1e-5)
    if first_beta is not None:
        betas[0] = first_beta
    return betas.to(device=device, dtype=torch.get_default_dtype())


def linear_schedule(
    T: int, start: float = 1e-4, end: float = 0.02, device=None
) -> torch.Tensor:
    """Ho et al. (2020)'s schedule: beta_t linear from ``start`` to ``end`` (they take T = 1000)."""
    check_positive("T", T, integer=True)
    if T < 2:
        raise ValueError(f"a diffusion needs T >= 2 steps, got T={T}")
    _check_rate("start", start)
    _check_rate("end", end)
    return torch.linspace(start, end, T, device=device)


class GaussianDiffusion(nn.Module):
    """The forward trajectory of Gaussian diffusion with rates ``betas`` = (beta_1 ... beta_T).

    Times ``t`` are Python ints or integer tensors of shape (B,), one per example; the rates are
    buffers, so the module follows ``.to(device)`` with the model that holds it."""

    def __init__(self, betas: torch.Tensor):
        super().__init__()
        betas = _check_betas(betas)
        self.register_buffer("betas", betas)
        # alpha_bar_0 = 1 (t = 0 is the data), then cumulative products
        self.register_buffer(
            "alpha_bars", torch.cat([betas.new_ones(1), torch.cumprod(1 - betas, 0)])
        )

    @property
    def T(self) -> int:
        return len(self.betas)

    def _check_time(self, t, first: int, x: torch.Tensor | None = None):
        return _check_times(t, first, self.T, x, self.betas.device)

    def _check_data(self, name: str, x, min_dim: int = 1) -> torch.Tensor:
        """``x`` if it is a non-empty floating-point tensor on the rates' device."""
        checks.tensor(name, x, min_dim=min_dim)
        if x.device != self.betas.device:
            raise ValueError(
                f"{name} is on {x.device} but the diffusion is on {self.betas.device}: move "
                f"it with {name}.to({str(self.betas.device)!r})"
            )
        return x

    @staticmethod
    def _per_example(values: torch.Tensor, t, x: torch.Tensor) -> torch.Tensor:
        """values[t], shaped to broadcast against x (B, ...) when t holds one time per example."""
        v = values[t]
        return v if v.ndim == 0 else v.reshape(-1, *([1] * (x.ndim - 1)))

    # Every public method checks its times and data, then runs its unchecked twin (``_beta``,
    # ``_marginal``, ...): the model's training step calls the twins with the times it drew, so
    # that the check of a tensor of times (which reads its values) is not paid at every step.

    def beta(self, t, x: torch.Tensor) -> torch.Tensor:
        """beta_t shaped to broadcast against ``x`` (B, ...), t in 1 ... T."""
        checks.tensor("x", x, min_dim=0, non_empty=False)
        return self._beta(self._check_time(t, 1, x), x)

    def _beta(self, t, x: torch.Tensor) -> torch.Tensor:
        return self._per_example(self.betas, t - 1, x)

    def alpha_bar(self, t, x: torch.Tensor) -> torch.Tensor:
        """alpha_bar_t shaped to broadcast against ``x`` (B, ...), t in 0 ... T."""
        checks.tensor("x", x, min_dim=0, non_empty=False)
        return self._alpha_bar(self._check_time(t, 0, x), x)

    def _alpha_bar(self, t, x: torch.Tensor) -> torch.Tensor:
        return self._per_example(self.alpha_bars, t, x)

    def forward_step(self, x_prev: torch.Tensor, t) -> torch.Tensor:
        """A draw of x_t ~ q(x_t | x_{t-1} = ``x_prev``), one step of the chain."""
        self._check_data("x_prev", x_prev)
        beta = self._beta(self._check_time(t, 1, x_prev), x_prev)
        return (1 - beta).sqrt() * x_prev + beta.sqrt() * torch.randn_like(x_prev)

    def marginal(self, x0: torch.Tensor, t) -> tuple[torch.Tensor, torch.Tensor]:
        """(mean, var) of q(x_t | x_0) = N(sqrt(alpha_bar_t) x_0, (1 - alpha_bar_t) I)."""
        self._check_data("x0", x0)
        return self._marginal(x0, self._check_time(t, 0, x0))

    def _marginal(self, x0: torch.Tensor, t) -> tuple[torch.Tensor, torch.Tensor]:
        ab = self._alpha_bar(t, x0)
        mean = ab.sqrt() * x0
        return mean, (1 - ab).expand_as(mean)

    def sample_forward(
        self, x0: torch.Tensor, t, noise: torch.Tensor | None = None
    ) -> torch.Tensor:
        """x_t ~ q(x_t | x_0) in one jump (``noise`` = the standard normal draw, if given, of
        ``x0``'s shape)."""
        self._check_data("x0", x0)
        t = self._check_time(t, 0, x0)
        if noise is not None:
            checks.tensor("noise", noise, min_dim=0, non_empty=False)
            if noise.shape != x0.shape:
                raise ValueError(
                    f"noise must have x0's shape {tuple(x0.shape)}, got {tuple(noise.shape)}"
                )
        return self._sample_forward(x0, t, noise)

    def _sample_forward(
        self, x0: torch.Tensor, t, noise: torch.Tensor | None = None
    ) -> torch.Tensor:
        mean, var = self._marginal(x0, t)
        noise = torch.randn_like(x0) if noise is None else noise
        return mean + var.sqrt() * noise

    def posterior(
        self, x0: torch.Tensor, xt: torch.Tensor, t
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(mean, var) of q(x_{t-1} | x_t, x_0), t >= 1 (Bayes' rule on two Gaussians):
        var = beta_t (1 - alpha_bar_{t-1}) / (1 - alpha_bar_t), mean = [sqrt(alpha_bar_{t-1})
        beta_t x_0 + sqrt(1 - beta_t) (1 - alpha_bar_{t-1}) x_t] / (1 - alpha_bar_t)."""
        self._check_data("x0", x0)
        self._check_data("xt", xt)
        if xt.shape[1:] != x0.shape[1:]:
            raise ValueError(
                f"xt and x0 must hold examples of the same shape, got {tuple(xt.shape)} and "
                f"{tuple(x0.shape)}"
            )
        return self._posterior(x0, xt, self._check_time(t, 1, x0))

    def _posterior(
        self, x0: torch.Tensor, xt: torch.Tensor, t
    ) -> tuple[torch.Tensor, torch.Tensor]:
        beta, ab = self._beta(t, x0), self._alpha_bar(t, x0)
        ab_prev = self._per_example(self.alpha_bars, t - 1, x0)
        mean = (ab_prev.sqrt() * beta * x0 + (1 - beta).sqrt() * (1 - ab_prev) * xt) / (
            1 - ab
        )
        return mean, (beta * (1 - ab_prev) / (1 - ab)).expand_as(mean)

    def prior_kl(self, x0: torch.Tensor) -> torch.Tensor:
        """KL(q(x_T | x_0) || N(0, I)) per example (nats): how far T steps are from pi."""
        self._check_data("x0", x0, min_dim=2)
        return self._prior_kl(x0)

    def _prior_kl(self, x0: torch.Tensor) -> torch.Tensor:
        mean, var = self._marginal(x0, self.T)
        return (0.5 * (var + mean**2 - 1 - var.log())).flatten(1).sum(1)

    def first_step_log_likelihood(self, x0: torch.Tensor) -> torch.Tensor:
        """E_{x_1 ~ q(x_1|x_0)} log p(x_0 | x_1) per example (nats), in closed form, for the fixed
        last reverse step p(x_0 | x_1) = N(sqrt(1 - beta_1) x_1, beta_1 I): the residual
        x_0 - sqrt(1 - beta_1) x_1 has mean beta_1 x_0 and variance (1 - beta_1) beta_1."""
        self._check_data("x0", x0, min_dim=2)
        return self._first_step_log_likelihood(x0)

    def _first_step_log_likelihood(self, x0: torch.Tensor) -> torch.Tensor:
        b1 = self.betas[0]
        per_value = -0.5 * (torch.log(2 * math.pi * b1) + b1 * x0**2 + (1 - b1))
        return per_value.flatten(1).sum(1)


def gaussian_kl(
    mean_q: torch.Tensor, var_q: torch.Tensor, mean_p: torch.Tensor, var_p: torch.Tensor
) -> torch.Tensor:
    """KL(N(mean_q, var_q) || N(mean_p, var_p)) of diagonal Gaussians, summed per example (nats):
    tensors of shape (B, ...) that broadcast together, the variances positive."""
    for name, value in (
        ("mean_q", mean_q),
        ("var_q", var_q),
        ("mean_p", mean_p),
        ("var_p", var_p),
    ):
        checks.tensor(name, value, min_dim=2)
    try:
        torch.broadcast_shapes(mean_q.shape, var_q.shape, mean_p.shape, var_p.shape)
    except RuntimeError:
        raise ValueError(
            "mean_q, var_q, mean_p and var_p must broadcast together, got shapes "
            f"{tuple(mean_q.shape)}, {tuple(var_q.shape)}, {tuple(mean_p.shape)}, "
            f"{tuple(var_p.shape)}"
        ) from None
    for name, var in (("var_q", var_q), ("var_p", var_p)):
        if var.device.type != "meta" and not bool((var > 0).all()):
            raise ValueError(
                f"{name} must be positive (a variance, not a standard deviation or a log "
                f"variance), got values down to {var.min().item():.3g}"
            )
    return _gaussian_kl(mean_q, var_q, mean_p, var_p)


def _gaussian_kl(
    mean_q: torch.Tensor, var_q: torch.Tensor, mean_p: torch.Tensor, var_p: torch.Tensor
) -> torch.Tensor:
    kl = D.kl_divergence(D.Normal(mean_q, var_q.sqrt()), D.Normal(mean_p, var_p.sqrt()))
    return kl.flatten(1).sum(1)


def temporal_basis(T: int, n_basis: int | None = None, device=None) -> torch.Tensor:
    """(T, J) weights of the readout at t = 1 ... T (paper eq. 62-63): J Gaussian bumps with
    centres spread evenly over the trajectory and widths half their spacing, normalised to sum to
    1 at each t. ``n_basis=None``: the identity, a readout learned independently for each time step
    (the swiss roll's, Appendix D.1.1)."""
    check_positive("T", T, integer=True)
    if n_basis is None:
        return torch.eye(T, device=device)
    check_positive("n_basis", n_basis, integer=True)
    if n_basis < 2:
        raise ValueError(f"n_basis must be at least 2 bumps (or None), got {n_basis}")
    times = torch.linspace(-1, 1, T, device=device)[:, None]
    centres = torch.linspace(-1, 1, n_basis, device=device)
    width = (centres[1] - centres[0]) / 2
    bumps = torch.exp(-((times - centres) ** 2) / (2 * width**2))
    return bumps / bumps.sum(1, keepdim=True)


class NormalizedRBF(nn.Module):
    """A normalised radial-basis-function layer: unit j's output is
    exp(-|x - c_j|^2 / 2 s_j^2) / sum_k exp(-|x - c_k|^2 / 2 s_k^2), centres and widths learned
    (the swiss roll network of Appendix D.1.1 has one such layer of 16 units)."""

    def __init__(self, dim: int, units: int):
        super().__init__()
        check_positive("dim", dim, integer=True)
        check_positive("units", units, integer=True)
        self.centres = nn.Parameter(torch.randn(units, dim))
        self.log_widths = nn.Parameter(torch.zeros(units))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        checks.tensor("x", x, min_dim=0, non_empty=False)
        if x.ndim != 2 or x.shape[1] != self.centres.shape[1]:
            raise ValueError(
                f"NormalizedRBF expects points of shape (n, {self.centres.shape[1]}), got "
                f"{tuple(x.shape)}"
            )
        checks.like("x", x, self.centres, "the RBF layer")
        sq = ((x[:, None, :] - self.centres) ** 2).sum(-1)
        return torch.softmax(-sq / (2 * torch.exp(2 * self.log_widths)), -1)


class ReverseNet(nn.Module):
    """The two functions of each reverse step, (z_mu, z_Sigma)(x_t, t) (paper Appendix D), one
    value of each per coordinate of x_t (flattened).

    A trunk shared by every time step and both functions (``trunk``, with ``trunk_features``
    outputs), then a readout whose weights depend on t through :func:`temporal_basis`. With
    ``pixel_hidden=None`` the readout is linear in the trunk's features (the swiss roll's);
    otherwise the trunk gives ``trunk_features // dim`` features per coordinate which, with the
    coordinate's own value, go through a small network shared by all coordinates (one layer of
    ``pixel_hidden`` leaky rectifiers, the paper's 1x1 convolutions, Figure D.1; the reference
    code's ``n_layers_dense_upper=2`` counts this layer and the readout). The last layer starts at
    zero, so an untrained model's reverse step is the forward kernel's own (see
    :meth:`DiffusionModel.reverse`)."""

    def __init__(
        self,
        trunk: nn.Module,
        trunk_features: int,
        dim: int,
        T: int,
        n_basis: int | None = None,
        pixel_hidden: int | None = None,
    ):
        super().__init__()
        check_positive("dim", dim, integer=True)
        check_positive("trunk_features", trunk_features, integer=True)
        if pixel_hidden is not None:
            check_positive("pixel_hidden", pixel_hidden, integer=True)
        if not isinstance(trunk, nn.Module):
            raise ValueError(
                f"trunk must be a torch.nn.Module, got a {type(trunk).__name__}"
            )
        self.trunk, self.dim = trunk, dim
        self.register_buffer("basis", temporal_basis(T, n_basis))
        j = self.basis.shape[1]
        if pixel_hidden is None:
            self.pixel = None
            self.readout = nn.Linear(trunk_features, 2 * dim * j)
        else:
            if trunk_features % dim:
                raise ValueError(
                    f"trunk_features={trunk_features} must be a multiple of dim={dim} "
                    "(features per coordinate)"
                )
            c = trunk_features // dim
            self.pixel = nn.Sequential(
                nn.Linear(c + 1, pixel_hidden), leaky_rectifier()
            )
            self.readout = nn.Linear(pixel_hidden, 2 * j)
        nn.init.zeros_(self.readout.weight)
        nn.init.zeros_(self.readout.bias)

    def forward(self, xt: torch.Tensor, t) -> tuple[torch.Tensor, torch.Tensor]:
        """(z_mu, z_Sigma) at ``xt`` (B, dim) and times ``t`` in 1 ... T (an int or one per
        example)."""
        checks.tensor("xt", xt, min_dim=0, non_empty=False)
        if xt.ndim != 2 or xt.shape[1] != self.dim:
            raise ValueError(
                f"ReverseNet expects x_t of shape (B, {self.dim}), got {tuple(xt.shape)}: "
                "flatten each example"
            )
        checks.tensor("xt", xt)
        t = _check_times(t, 1, self.basis.shape[0], xt, self.basis.device)
        return self._forward(xt, t)

    def _forward(self, xt: torch.Tensor, t) -> tuple[torch.Tensor, torch.Tensor]:
        b, j = len(xt), self.basis.shape[1]
        h = self.trunk(xt)
        weights = self.basis[t - 1]
        weights = weights.expand(b, j) if weights.ndim == 1 else weights
        if self.pixel is None:  # J readouts per coordinate, mixed by the weights
            coefficients = self.readout(h).reshape(b, 2, self.dim, j)
            z = torch.einsum("bkdj,bj->bkd", coefficients, weights)
            return z[:, 0], z[:, 1]
        # Per pixel, the readout is linear, so its J outputs per function are mixed by the
        # temporal weights before it is applied: each example gets its own readout at its t,
        # and the J-fold wider output of every pixel is never formed (the same z; a training
        # step of the MNIST network 1.3x faster on 2 CPU cores).
        weight = self.readout.weight.reshape(2, j, self.readout.in_features)
        weight_t = torch.einsum("bj,kjf->bkf", weights, weight)
        bias_t = weights @ self.readout.bias.reshape(2, j).T
        per_pixel = torch.cat([h.reshape(b, self.dim, -1), xt[..., None]], -1)
        features = self.pixel(per_pixel).transpose(1, 2)  # (b, pixel_hidden, dim)
        z = torch.baddbmm(bias_t[..., None], weight_t, features)  # (b, 2, dim)
        return z[:, 0], z[:, 1]


def swiss_roll_net(T: int, units: int = 16) -> ReverseNet:
    """Appendix D.1.1: a normalised RBF layer of 16 units shared by every step and both
    functions, and a readout learned independently for each of the T steps."""
    return ReverseNet(NormalizedRBF(2, units), units, dim=2, T=T)


def leaky_rectifier() -> nn.Module:
    """The reference code's nonlinearity, ``dense_nonlinearity = LeakyRelu()``: slope 0.05 below
    zero (its tanh is commented out)."""
    return nn.LeakyReLU(0.05)


def dense_net(
    dim: int,
    T: int,
    hidden: int = 500,
    depth: int = 3,
    features_per_pixel: int = 2,
    pixel_hidden: int = 20,
    n_basis: int = 10,
) -> ReverseNet:
    """The paper's MNIST network (Figure D.1, "for MNIST the dense pathway was used to the
    exclusion of the multi-scale convolutional pathway"; sizes and nonlinearity from the reference
    code, whose dense pathway has ``n_layers_dense_lower=4`` layers): ``depth`` layers of
    ``hidden`` units on the whole image and a fourth to ``features_per_pixel`` outputs per pixel,
    every one followed by a :func:`leaky_rectifier`, then one per-pixel layer of
    ``pixel_hidden`` units and a readout over ``n_basis`` temporal bumps."""
    for name, value in (
        ("dim", dim),
        ("hidden", hidden),
        ("depth", depth),
        ("features_per_pixel", features_per_pixel),
    ):
        check_positive(name, value, integer=True)
    layers, width = [], dim
    for out in [hidden] * depth + [dim * features_per_pixel]:
        layers += [nn.Linear(width, out), leaky_rectifier()]
        width = out
    trunk = nn.Sequential(*layers)
    return ReverseNet(trunk, dim * features_per_pixel, dim, T, n_basis, pixel_hidden)


class TimeSampler(nn.Module):
    """The step t in 2 ... T at which each training example's loss term L_t is drawn, with the
    weight w_t = 1 / ((T - 1) p_t) that makes (T - 1) w_t L_t an unbiased estimate of
    sum_t L_t whatever the probabilities p_t are: the same objective, estimated more or less
    noisily.

    * ``"uniform"``: p_t = 1 / (T - 1), w_t = 1 (the paper's and Ho et al.'s).
    * ``"importance"`` (Nichol & Dhariwal 2021, section 3.3): p_t proportional to
      sqrt(E[L_t^2]), the p that minimises the estimate's variance, mixed with 0.1 % of the
      uniform one. E[L_t^2] is a running average of the squared losses drawn at t (``decay``
      0.9: about the last ten); p stays uniform until every t has been drawn ``warmup`` times.
      The bound's KL terms span orders of magnitude over t (the small-t steps, which remove the
      last noise, dominate), so uniform draws give a noisy gradient.

    The averages are buffers, so they are checkpointed with the model; under
    DistributedDataParallel every forward starts from rank 0's (DDP broadcasts buffers), so the
    ranks draw from the same p."""

    def __init__(
        self, T: int, kind: str = "uniform", warmup: int = 10, decay: float = 0.9
    ):
        super().__init__()
        check_positive("T", T, integer=True)
        if T < 2:
            raise ValueError(f"a diffusion needs T >= 2 steps, got T={T}")
        check_choice("time_sampling", kind, TIME_SAMPLINGS)
        check_positive("warmup", warmup, integer=True)
        if not _is_number(decay) or not 0 <= decay < 1:
            raise ValueError(f"decay must be in [0, 1), got {decay!r}")
        self.kind, self.warmup, self.decay = kind, warmup, decay
        self.register_buffer("second_moment", torch.zeros(T - 1))
        self.register_buffer("draws", torch.zeros(T - 1, dtype=torch.long))

    def extra_repr(self) -> str:  # part of a checkpoint's configuration
        return f"kind={self.kind!r}, warmup={self.warmup}, decay={self.decay}"

    def probabilities(self) -> torch.Tensor:
        """p_2 ... p_T (no host synchronisation: the warm-up is a ``torch.where``)."""
        n = len(self.draws)
        uniform = torch.full_like(self.second_moment, 1 / n)
        if self.kind == "uniform":
            return uniform
        root = self.second_moment.sqrt()
        learned = 0.999 * root / root.sum().clamp_min(1e-30) + 0.001 / n
        return torch.where((self.draws >= self.warmup).all(), learned, uniform)

    def draw(self, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        """``n`` times t in 2 ... T and their weights w_t = 1 / ((T - 1) p_t)."""
        check_positive("n", n, integer=True)
        device = self.draws.device
        if self.kind == "uniform":
            t = torch.randint(2, len(self.draws) + 2, (n,), device=device)
            return t, torch.ones(n, device=device)
        p = self.probabilities()
        index = torch.multinomial(p, n, replacement=True)
        return index + 2, 1 / (len(p) * p[index])

    @torch.no_grad()
    def record(self, t: torch.Tensor, losses: torch.Tensor) -> None:
        """Fold the per-example ``losses`` drawn at times ``t`` into the running averages (the
        mean of a step's squared losses when a batch drew it more than once): ``t`` a 1-D
        integer tensor of times in 2 ... T, ``losses`` a tensor of the same shape."""
        checks.tensor("losses", losses, non_empty=False)
        if not isinstance(t, torch.Tensor) or t.ndim != 1 or losses.shape != t.shape:
            shape = tuple(t.shape) if isinstance(t, torch.Tensor) else type(t).__name__
            raise ValueError(
                "t and losses must be 1-D tensors of one time and one loss per example, "
                f"got {shape} and {tuple(losses.shape)}"
            )
        t = _check_times(t, 2, len(self.draws) + 1, losses, self.draws.device)
        self._record(t, losses)

    @torch.no_grad()
    def _record(self, t: torch.Tensor, losses: torch.Tensor) -> None:
        if self.kind == "uniform":
            return
        index = t - 2
        squares = losses.detach().to(self.second_moment.dtype) ** 2
        total = torch.zeros_like(self.second_moment).index_add_(0, index, squares)
        count = torch.zeros_like(self.draws).index_add_(
            0, index, torch.ones_like(index)
        )
        mean = total / count.clamp_min(1)
        updated = torch.where(
            self.draws == 0,
            mean,
            self.decay * self.second_moment + (1 - self.decay) * mean,
        )
        self.second_moment.copy_(torch.where(count > 0, updated, self.second_moment))
        self.draws += count


class DiffusionModel(nn.Module):
    """A diffusion probabilistic model: the forward trajectory ``diffusion`` and a reverse network
    ``net`` read one of two ways.

    * ``parametrization="mean"`` (the paper's, as its reference code writes it): the reverse mean
      is a perturbation of the forward kernel's, mu = sqrt(1 - beta_t) x_t + sqrt(beta_t) z_mu, and
      the variance Sigma = sigmoid(z_Sigma + logit(beta_t)) (eq. 64); trained on the bound K.
    * ``parametrization="epsilon"`` (Ho et al. 2020, a later simplification, not the paper's): z_mu
      predicts the noise eps of x_t = sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) eps, the mean
      is (x_t - beta_t / sqrt(1 - alpha_bar_t) eps_hat) / sqrt(1 - beta_t), the variance is fixed at
      beta_t, and training minimises |eps - eps_hat|^2 ("L_simple").

    ``model(x0)`` is the training loss per example (so that DistributedDataParallel sees it), at
    times drawn by ``time_sampling`` (:class:`TimeSampler`); :meth:`bound` estimates K."""

    def __init__(
        self,
        diffusion: GaussianDiffusion,
        net: ReverseNet,
        parametrization="mean",
        time_sampling="uniform",
    ):
        super().__init__()
        check_choice("parametrization", parametrization, PARAMETRIZATIONS)
        if not isinstance(diffusion, GaussianDiffusion):
            raise ValueError(
                f"diffusion must be a GaussianDiffusion, got a {type(diffusion).__name__}"
            )
        if not isinstance(net, ReverseNet):
            raise ValueError(
                "net must be a ReverseNet (swiss_roll_net, dense_net), got a "
                f"{type(net).__name__}"
            )
        if net.basis.shape[0] != diffusion.T:
            raise ValueError(
                f"the network reads out {net.basis.shape[0]} time steps but the diffusion has "
                f"T = {diffusion.T}: build both with the same T"
            )
        self.diffusion, self.net, self.parametrization = diffusion, net, parametrization
        self.times = TimeSampler(diffusion.T, time_sampling)

    @property
    def T(self) -> int:
        return self.diffusion.T

    def reverse(self, xt: torch.Tensor, t) -> tuple[torch.Tensor, torch.Tensor]:
        """(mean, var) of the learned p(x_{t-1} | x_t), t = 2 ... T, for ``xt`` of shape
        (B, dim)."""
        checks.tensor("xt", xt, min_dim=0, non_empty=False)
        if xt.ndim != 2 or xt.shape[1] != self.net.dim:
            raise ValueError(
                f"xt must have shape (B, {self.net.dim}), got {tuple(xt.shape)}: flatten "
                "each example"
            )
        checks.tensor("xt", xt)
        checks.like("xt", xt, self.net.readout.weight, "the model")
        return self._reverse(xt, self.diffusion._check_time(t, 2, xt))

    def _reverse(self, xt: torch.Tensor, t) -> tuple[torch.Tensor, torch.Tensor]:
        z_mu, z_sigma = self.net._forward(xt, t)
        beta = self.diffusion._beta(t, xt)
        if self.parametrization == "mean":
            mean = (1 - beta).sqrt() * xt + beta.sqrt() * z_mu
            return mean, torch.sigmoid(z_sigma + torch.logit(beta))
        ab = self.diffusion._alpha_bar(t, xt)
        mean = (xt - beta / (1 - ab).sqrt() * z_mu) / (1 - beta).sqrt()
        return mean, beta.expand_as(mean)

    def _flat(self, x0: torch.Tensor, name: str = "x0") -> torch.Tensor:
        """``x0`` flattened to (B, dim) after checking it: a non-empty floating-point tensor of
        examples of ``dim`` values with the model's dtype and device (no check of its values:
        the model takes any real data, rescaled to unit variance)."""
        checks.tensor(name, x0, min_dim=2)
        shape = tuple(x0.shape)
        x0 = x0.flatten(1)
        if x0.shape[1] != self.net.dim:
            raise ValueError(
                f"the model takes examples of {self.net.dim} values, got {x0.shape[1]} "
                f"(input of shape {shape})"
            )
        checks.like(name, x0, self.net.readout.weight, "the model")
        return x0

    def _random_times(self, x0: torch.Tensor) -> torch.Tensor:
        return torch.randint(2, self.T + 1, (len(x0),), device=x0.device)

    def step_kl(self, x0: torch.Tensor, t) -> torch.Tensor:
        """KL(q(x_{t-1} | x_t, x_0) || p(x_{t-1} | x_t)) per example at x_t ~ q(x_t | x_0),
        t in 2 ... T."""
        x0 = self._flat(x0)
        return self._step_kl(x0, self.diffusion._check_time(t, 2, x0))

    def _step_kl(self, x0: torch.Tensor, t) -> torch.Tensor:
        xt = self.diffusion._sample_forward(x0, t)
        return _gaussian_kl(
            *self.diffusion._posterior(x0, xt, t), *self._reverse(xt, t)
        )

    def forward(self, x0: torch.Tensor) -> torch.Tensor:
        """The training loss per example, at one t in 2 ... T per example drawn by
        ``self.times`` with its weight w_t (1 for uniform draws): (T - 1) w_t KL_t, an unbiased
        estimate of the bound's learnable part (``mean``), or w_t |eps - eps_hat|^2
        (``epsilon``)."""
        x0 = self._flat(x0)
        t, weight = self.times.draw(len(x0))
        if self.parametrization == "mean":
            loss = (self.T - 1) * self._step_kl(x0, t)
        else:
            noise = torch.randn_like(x0)
            eps_hat, _ = self.net._forward(
                self.diffusion._sample_forward(x0, t, noise), t
            )
            loss = ((noise - eps_hat) ** 2).sum(1)
        self.times._record(t, loss)
        return weight.to(loss.dtype) * loss

    def bound(self, x0: torch.Tensor, n_times: int = 1) -> torch.Tensor:
        """An unbiased estimate of K per example (nats): the closed-form edge terms and the sum of
        the T - 1 KL terms estimated from ``n_times`` random steps per example."""
        check_positive("n_times", n_times, integer=True)
        x0 = self._flat(x0)
        kl = sum(self._step_kl(x0, self._random_times(x0)) for _ in range(n_times))
        return (
            self.diffusion._first_step_log_likelihood(x0)
            - (self.T - 1) * kl / n_times
            - self.diffusion._prior_kl(x0)
        )

    def bound_terms(self, x0: torch.Tensor) -> dict[str, torch.Tensor]:
        """Every term of K per example (nats), all T - 1 KL terms computed: ``first_step``
        E log p(x_0|x_1), ``kl`` (B, T - 1) for t = 2 ... T, ``prior`` KL(q(x_T|x_0) || pi), and
        ``bound`` = first_step - kl.sum(1) - prior."""
        x0 = self._flat(x0)
        kl = torch.stack([self._step_kl(x0, t) for t in range(2, self.T + 1)], 1)
        first = self.diffusion._first_step_log_likelihood(x0)
        prior = self.diffusion._prior_kl(x0)
        return {
            "first_step": first,
            "kl": kl,
            "prior": prior,
            "bound": first - kl.sum(1) - prior,
        }

    @torch.no_grad()
    def sample(
        self,
        n: int,
        known: torch.Tensor | None = None,
        mask: torch.Tensor | None = None,
        keep: Sequence[int] = (),
    ) -> tuple[torch.Tensor, dict[int, torch.Tensor]]:
        """``n`` draws of x_0 by the reverse trajectory from x_T ~ pi, true samples (the last step
        adds its noise too, as the paper's figures). With ``known`` (n, dim) and a boolean ``mask``
        (dim,) or (n, dim), the coordinates where mask is True are held at their known values at
        every step: a draw from the model's posterior given them, the paper's inpainting
        (section 2.5, r(x) a delta on the known data and constant elsewhere). Returns x_0 and the
        states at the times listed in ``keep`` (T ... 0). ``known`` is converted to the model's
        dtype and device, a 0/1 ``mask`` to booleans, and ``keep`` (any iterable of times) to
        a tuple."""
        check_positive("n", n, integer=True)
        dim = self.net.dim
        param = next(self.parameters())
        if (known is None) != (mask is None):
            raise ValueError("inpainting needs both `known` values and their `mask`")
        if isinstance(keep, (str, bytes)) or not isinstance(keep, Iterable):
            raise ValueError(
                f"keep must list the times (ints in 0 ... T = {self.T}) whose states to "
                f"return, got {keep!r}"
            )
        keep = tuple(keep)
        for t in keep:
            if (
                not isinstance(t, numbers.Integral)
                or isinstance(t, bool)
                or not 0 <= t <= self.T
            ):
                raise ValueError(
                    f"keep lists times in 0 ... T = {self.T} whose states to return, got "
                    f"{t!r}"
                )
        if known is not None:
            checks.tensor("known", known, floating=False, min_dim=2)
            checks.tensor("mask", mask, floating=False, min_dim=1)
            if mask.numel() not in (dim, n * dim):
                raise ValueError(
                    f"mask must hold one flag per value, shape ({dim},) or ({n}, {dim}), got "
                    f"{tuple(mask.shape)}"
                )
            if mask.device.type != "meta" and not bool(
                ((mask == 0) | (mask == 1)).all()
            ):
                raise ValueError(
                    "mask must be boolean (True where the value is known) or hold only 0 "
                    "and 1"
                )
            known, mask = known.flatten(1), mask.reshape(-1, dim).bool()
            if known.shape != (n, dim):
                raise ValueError(
                    f"known must hold {n} examples of {dim} values, got {tuple(known.shape)}"
                )
            known = known.to(param)
            mask = mask.to(param.device)

        def clamp(x):
            return x if known is None else torch.where(mask, known, x)

        x = clamp(torch.randn(n, dim, device=param.device, dtype=param.dtype))
        kept = {self.T: x} if self.T in keep else {}
        for t in range(self.T, 1, -1):
            # a few hundred rows at a time: the per-pixel features of thousands of images at
            # once spill out of the CPU's caches (1.5x slower at 2,000 MNIST rows on 2 cores)
            steps = [self._reverse(rows, t) for rows in x.split(256)]
            mean, var = (torch.cat(parts) for parts in zip(*steps))
            x = clamp(mean + var.sqrt() * torch.randn_like(x))
            if t - 1 in keep:
                kept[t - 1] = x
        b1 = self.diffusion.betas[0]
        x = clamp((1 - b1).sqrt() * x + b1.sqrt() * torch.randn_like(x))
        if 0 in keep:
            kept[0] = x
        return x, kept


@torch.no_grad()
def trajectory_log_ratio(model: DiffusionModel, x0: torch.Tensor) -> torch.Tensor:
    """One draw per example of log p(x_0 ... x_T) - log q(x_1 ... x_T | x_0) along a sampled
    forward trajectory: K's definition before any rearrangement (paper eq. 11-13), whose mean is
    the same K as :meth:`DiffusionModel.bound_terms`' closed forms, with Monte Carlo noise."""
    diffusion = model.diffusion
    states = [model._flat(x0)]
    log_ratio = torch.zeros(len(x0), device=x0.device, dtype=x0.dtype)
    for t in range(1, model.T + 1):
        beta = diffusion.beta(t, states[-1])
        states.append(diffusion.forward_step(states[-1], t))
        forward = D.Normal((1 - beta).sqrt() * states[-2], beta.sqrt())
        log_ratio -= forward.log_prob(states[-1]).sum(1)
    log_ratio -= 0.5 * (states[-1] ** 2 + math.log(2 * math.pi)).sum(1)  # log pi(x_T)
    for t in range(model.T, 1, -1):
        mean, var = model.reverse(states[t], t)
        log_ratio += D.Normal(mean, var.sqrt()).log_prob(states[t - 1]).sum(1)
    b1 = diffusion.betas[0]
    last = D.Normal((1 - b1).sqrt() * states[1], b1.sqrt())
    return log_ratio + last.log_prob(states[0]).sum(1)


def trajectory_log_ratios(
    model: DiffusionModel, x0: torch.Tensor, n_trajectories: int, batch_size: int = 4096
) -> torch.Tensor:
    """:func:`trajectory_log_ratio` along ``n_trajectories`` forward trajectories of every
    example, shape (n, n_trajectories); ``batch_size`` trajectories run at once."""
    if not isinstance(model, DiffusionModel):
        raise ValueError(
            f"model must be a DiffusionModel, got a {type(model).__name__}"
        )
    checks.tensor("x0", x0, min_dim=2)
    check_positive("n_trajectories", n_trajectories, integer=True)
    check_positive("batch_size", batch_size, integer=True)
    per_batch = max(1, batch_size // n_trajectories)
    with torch.no_grad():
        return torch.cat(
            [
                trajectory_log_ratio(
                    model, xb.repeat_interleave(n_trajectories, 0)
                ).view(len(xb), n_trajectories)
                for xb in x0.split(per_batch)
            ]
        )


def importance_log_likelihood(
    model: DiffusionModel, x0: torch.Tensor, n_trajectories: int, batch_size: int = 4096
) -> torch.Tensor:
    """Per example, log (1/M) sum_m p(x_0 ... x_T) / q(x_1 ... x_T | x_0) over M =
    ``n_trajectories`` forward trajectories (:func:`trajectory_log_ratios`): the paper's
    likelihood by importance sampling with the forward trajectory as the proposal (section 2.2,
    eq. 9; the slides' "annealed importance sampling"). Its expectation is a lower bound on
    log p(x_0) that rises with M towards it (as IWAE's L_k does); the mean of the same log
    ratios estimates K."""
    ratios = trajectory_log_ratios(model, x0, n_trajectories, batch_size)
    return iwae.iwae_bound(ratios, dim=1)


@dataclasses.dataclass(frozen=True)
class Rescaling:
    """The paper's preprocessing: data shifted and scaled by constants to variance 1 ("all
    datasets were scaled by a constant to give them variance 1"). ``log_det(dim)`` converts
    log-densities back to the original units: log p(x) = log p(scaled x) + dim log(scale)."""

    shift: float
    scale: float

    def __post_init__(self):
        if not _is_number(self.shift):
            raise ValueError(f"shift must be a finite number, got {self.shift!r}")
        check_positive("scale", self.scale)

    @classmethod
    def to_unit_variance(cls, x: torch.Tensor) -> Rescaling:
        """The constants that give ``x`` (the training data) mean 0 and variance 1 overall."""
        checks.tensor("x", x)
        if x.numel() < 2:
            raise ValueError(
                f"x must hold at least 2 values to estimate a variance, got shape "
                f"{tuple(x.shape)}"
            )
        mean, std = x.mean().item(), x.std().item()
        if not (math.isfinite(mean) and math.isfinite(std)):
            raise ValueError(
                "x holds NaN or infinite values: it cannot be scaled to variance 1"
            )
        if not std > 0:
            raise ValueError(
                "the data are constant: they cannot be scaled to variance 1"
            )
        return cls(shift=-mean / std, scale=1 / std)

    def apply(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale + self.shift

    def undo(self, y: torch.Tensor) -> torch.Tensor:
        return (y - self.shift) / self.scale

    def log_det(self, dim: int) -> float:
        check_positive("dim", dim, integer=True)
        return dim * math.log(self.scale)


def swiss_roll(
    n: int, noise: float = 0.5, generator: torch.Generator | None = None, device=None
) -> torch.Tensor:
    """n points of the 2-D swiss roll (scikit-learn's ``make_swiss_roll`` in its (x, z) plane):
    s = 1.5 pi (1 + 2u), u uniform, at (s cos s, s sin s), plus N(0, noise^2) on each coordinate."""
    check_positive("n", n, integer=True)
    if not _is_number(noise) or noise < 0:
        raise ValueError(f"noise must be a finite number >= 0, got {noise!r}")
    if generator is not None:
        wanted = torch.device(device if device is not None else "cpu").type
        if generator.device.type != wanted:
            raise ValueError(
                f"generator is on {generator.device} but the points are drawn on {wanted}: "
                f"pass a generator of that device (torch.Generator(device={wanted!r}))"
            )
    u = torch.rand(n, generator=generator, device=device)
    s = 1.5 * math.pi * (1 + 2 * u)
    roll = torch.stack([s * torch.cos(s), s * torch.sin(s)], 1)
    return roll + noise * torch.randn(n, 2, generator=generator, device=device)


@torch.no_grad()
def swiss_roll_log_density(
    x: torch.Tensor, noise: float = 0.5, n_grid: int = 4000
) -> torch.Tensor:
    """The exact log-density of :func:`swiss_roll`'s distribution at the points ``x`` (n, 2), in
    nats: p(x) = E_s N(x; (s cos s, s sin s), noise^2 I) over s uniform on [1.5 pi, 4.5 pi], the
    expectation by the midpoint rule on ``n_grid`` values of s (converged to 1e-6 at noise >= 0.1
    with the default grid). The ceiling every model's log-likelihood of these data lies under."""
    check_positive("noise", noise)
    check_positive("n_grid", n_grid, integer=True)
    checks.tensor("x", x, min_dim=0, non_empty=False)
    if x.ndim != 2 or x.shape[1] != 2:
        raise ValueError(f"x must hold 2-D points, shape (n, 2), got {tuple(x.shape)}")
    checks.tensor("x", x)
    s = 1.5 * math.pi * (1 + 2 * (torch.arange(n_grid, device=x.device) + 0.5) / n_grid)
    curve = torch.stack([s * torch.cos(s), s * torch.sin(s)], 1).to(x.dtype)
    nearby = [
        torch.logsumexp(-(torch.cdist(xb, curve) ** 2) / (2 * noise**2), 1)
        for xb in x.split(1000)  # 1000 x n_grid distances at a time
    ]
    return torch.cat(nearby) - math.log(n_grid) - math.log(2 * math.pi * noise**2)


def bits(nats: float | torch.Tensor, per: int = 1):
    """Nats to bits, divided by ``per`` (dimensions or pixels)."""
    check_positive("per", per, integer=True)
    return nats / (math.log(2) * per)


@dataclasses.dataclass(frozen=True)
class DiffusionConfig:
    """Training settings. The reference code: RMSprop at learning rate 1e-3 (decayed to 1e-5),
    batch 512, one t per minibatch. Here Adam, one t per example, and the engine's per-step hooks:
    ``clip_grad_norm`` (None: no clipping) and ``ema_decay`` (None: no average of the weights)."""

    epochs: int = 10
    batch_size: int = 128
    lr: float = 1e-3
    clip_grad_norm: float | None = 1.0
    ema_decay: float | None = 0.999
    eval_times: int = 4  # random steps per test example in the bound's estimate
    seed: int = 0

    def __post_init__(self):
        check_positive("epochs", self.epochs, integer=True)
        check_positive("batch_size", self.batch_size, integer=True)
        check_positive("lr", self.lr)
        check_positive("eval_times", self.eval_times, integer=True)
        if self.clip_grad_norm is not None:
            check_positive("clip_grad_norm", self.clip_grad_norm)
        if self.ema_decay is not None and not 0 < self.ema_decay < 1:
            raise ValueError(
                f"ema_decay must be in (0, 1) or None, got {self.ema_decay!r}"
            )
        check_seed("seed", self.seed)


@torch.no_grad()
def mean_bound(
    model: DiffusionModel, x: torch.Tensor, n_times: int = 4, batch_size: int = 256
) -> torch.Tensor:
    """K per example of ``x`` (nats), estimated with ``n_times`` random steps each."""
    if not isinstance(model, DiffusionModel):
        raise ValueError(
            f"model must be a DiffusionModel, got a {type(model).__name__}"
        )
    checks.tensor("x", x, min_dim=2)
    check_positive("batch_size", batch_size, integer=True)
    return torch.cat([model.bound(xb, n_times) for xb in x.split(batch_size)])


def dequantize(
    x: torch.Tensor, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Images in [0, 1] with uniform noise of one grey level added, as the reference code does to
    remove the 8-bit quantisation (``generator`` on the CPU: the same noise on every device).
    Pixels in 0 ... 255 are refused (divide them by 255 first)."""
    checks.intensities("x", x)
    if generator is not None and generator.device.type != "cpu":
        raise ValueError(
            f"generator must be a CPU torch.Generator (the same noise on every device), got "
            f"one on {generator.device}"
        )
    noise = torch.rand(x.shape, generator=generator, dtype=x.dtype).to(x.device)
    return x + (noise - 0.5) / 255


def mnist_model(
    T: int, parametrization: str = "mean", hidden: int = 500, depth: int = 3
) -> DiffusionModel:
    """The paper's MNIST model: its schedule with ``T`` steps and its dense network
    (:func:`dense_net`, ``depth`` layers of ``hidden`` units: the paper's 3 x 500), read with
    ``parametrization``. The paper's bound (``mean``) is trained at importance-sampled times
    (:class:`TimeSampler`: the same bound, a less noisy estimate of its T - 1 KL terms); Ho et
    al.'s loss at uniform times, as they do."""
    check_choice("parametrization", parametrization, PARAMETRIZATIONS)
    return DiffusionModel(
        GaussianDiffusion(sohl_dickstein_schedule(T)),
        dense_net(784, T, hidden=hidden, depth=depth),
        parametrization,
        time_sampling="importance" if parametrization == "mean" else "uniform",
    )


def train_diffusion(
    model: DiffusionModel,
    x_train: torch.Tensor,
    x_test: torch.Tensor,
    config: DiffusionConfig,
    checkpoint=None,
    desc: str = "diffusion",
) -> tuple[train.History, train.EMA | None]:
    """Minimise the model's loss (``model(x0)``) over ``x_train`` (already rescaled), one
    :func:`lec16.train.fit`; after each epoch the test bound K in nats per example (of the
    weight average when ``ema_decay`` is set). Returns the history and the :class:`~lec16.train.EMA`
    hook (its ``.module`` is the model to sample from), or None."""
    if not isinstance(model, DiffusionModel):
        raise ValueError(
            f"model must be a DiffusionModel, got a {type(model).__name__}"
        )
    if not isinstance(config, DiffusionConfig):
        raise ValueError(
            f"config must be a diffusion.DiffusionConfig, got a {type(config).__name__}"
        )
    param = next(model.parameters())
    for name, x in (("x_train", x_train), ("x_test", x_test)):
        checks.tensor(name, x, min_dim=2)
        if x[0].numel() != model.net.dim:
            raise ValueError(
                f"{name} has {x[0].numel()} values per example but the model takes "
                f"{model.net.dim}"
            )
        checks.like(name, x, param, "the model")
    parallel = distributed.wrap(model)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    batches = data.Batches(
        x_train.flatten(1), batch_size=config.batch_size, seed=config.seed
    )
    ema = train.EMA(model, config.ema_decay) if config.ema_decay else None

    def step(batch):
        loss = parallel(batch[0]).mean()
        train.optimizer_step(optimizer, loss, clip_grad_norm=config.clip_grad_norm)
        return {"loss": loss}

    def evaluate(epoch):
        evaluated = ema.module if ema is not None else model
        bound = mean_bound(evaluated, x_test.flatten(1), config.eval_times)
        return {"test_bound": bound.mean().item()}

    history = train.fit(
        step,
        batches,
        config.epochs,
        modules={"model": model},
        optimizers={"opt": optimizer},
        hooks={"ema": ema} if ema is not None else None,
        evaluate=evaluate,
        checkpoint=checkpoint,
        desc=desc,
        config={"train": config, "n_train": len(x_train)},
    )
    return history, ema
