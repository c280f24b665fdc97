"""Generative adversarial networks (slides "Generative Adversarial Networks" and "Generative
Adversarial Training"; Goodfellow et al. 2014; Radford et al. 2016).

The game is min_G max_D V(D, G) = E_data log D(x) + E_{x ~ p_g} log(1 - D(x)). For fixed G the best
discriminator is D*(x) = p_data(x) / (p_data(x) + p_g(x)), and V(D*, G) = -log 4 + 2 JSD(p_data || p_g),
minimal (= -log 4) exactly when p_g = p_data. Training alternates k discriminator steps with one
generator step; the generator uses the non-saturating loss -log D(G(z)) that the paper recommends.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from lec16 import checks, data, distributed, train
from lec16.scales import check_choice, check_positive, check_seed

__all__ = [
    "optimal_discriminator",
    "value",
    "jensen_shannon",
    "ToyGenerator",
    "ToyDiscriminator",
    "MLPGenerator",
    "Maxout",
    "MLPDiscriminator",
    "DCGANGenerator",
    "DCGANDiscriminator",
    "latent_size",
    "generate",
    "calibrate_batch_norm",
    "GANConfig",
    "discriminator_loss",
    "GENERATOR_LOSSES",
    "generator_loss",
    "ring_of_gaussians",
    "mode_coverage",
    "train_gan",
]

# --- Theory on density values -----------------------------------------------------------------


def _has_values(x: torch.Tensor) -> bool:
    return x.device.type != "meta" and x.numel() > 0


def _check_grid(grid: bool = True, **named: torch.Tensor) -> None:
    """Each named tensor holds floating-point values on one grid (one shape); with ``grid``, a
    non-empty one (the rectangle rule sums over it). Densities (``p_*``, ``p``, ``q``) must be
    >= 0 and a discriminator ``d`` must lie in [0, 1]; value checks are skipped on ``meta``."""
    shapes = {}
    for name, x in named.items():
        checks.tensor(name, x, min_dim=1 if grid else 0, non_empty=grid)
        shapes[name] = tuple(x.shape)
        if not _has_values(x):
            continue
        if name == "d":
            low, high = x.min().item(), x.max().item()
            if low < 0 or high > 1:
                raise ValueError(
                    f"d must hold probabilities D(x) in [0, 1], got values in [{low:.3g}, "
                    f"{high:.3g}]: pass torch.sigmoid(logits), not the logits"
                )
        elif x.min().item() < 0:
            raise ValueError(
                f"{name} must hold density values (>= 0), got a minimum of "
                f"{x.min().item():.3g}: pass densities, not log-densities (exp() them)"
            )
    if len(set(shapes.values())) > 1:
        listed = ", ".join(f"{name} {shape}" for name, shape in shapes.items())
        raise ValueError(
            f"the tensors must be values on one grid (one shape), got {listed}"
        )


def _check_spacing(dx) -> None:
    """The grid spacing: a positive finite number (or a 0-dim floating tensor holding one)."""
    if isinstance(dx, torch.Tensor):
        if dx.ndim != 0 or not dx.is_floating_point():
            raise ValueError(
                f"dx must be the grid spacing, a positive number, got a {dx.dtype} tensor of "
                f"shape {tuple(dx.shape)}; pass e.g. (grid[1] - grid[0]).item()"
            )
        if _has_values(dx) and not (dx.item() > 0 and math.isfinite(dx.item())):
            raise ValueError(f"dx must be a positive finite number, got {dx.item()!r}")
    else:
        check_positive("dx", dx)


def optimal_discriminator(p_data: torch.Tensor, p_g: torch.Tensor) -> torch.Tensor:
    """D*(x) = p_data(x) / (p_data(x) + p_g(x)) (Goodfellow et al. 2014, Proposition 1); 1/2 where both vanish.

    ``p_data`` and ``p_g`` are density values (>= 0) at the same points (one shape)."""
    _check_grid(grid=False, p_data=p_data, p_g=p_g)
    total = p_data + p_g
    return torch.where(
        total > 0,
        p_data / total.clamp_min(torch.finfo(total.dtype).tiny),
        torch.full_like(total, 0.5),
    )


def value(
    d: torch.Tensor, p_data: torch.Tensor, p_g: torch.Tensor, dx: float
) -> torch.Tensor:
    """V(D, G) = int p_data log D + p_g log(1 - D) dx, by the rectangle rule on a grid with spacing dx.

    ``xlogy`` takes 0 log 0 = 0 in any dtype (float32 included); a D that is 0 where p_data > 0
    gives -inf, the true value. ``d`` holds probabilities in [0, 1] (not logits), the densities
    values >= 0, all three on one grid (one shape)."""
    _check_grid(d=d, p_data=p_data, p_g=p_g)
    _check_spacing(dx)
    return (torch.special.xlogy(p_data, d) + torch.special.xlogy(p_g, 1 - d)).sum() * dx


def jensen_shannon(p: torch.Tensor, q: torch.Tensor, dx: float) -> torch.Tensor:
    """JSD(p || q) = 1/2 KL(p || m) + 1/2 KL(q || m), m = (p + q) / 2, on a grid (nats), in the
    dtype of the densities (m >= a / 2 > 0 wherever a > 0, so no term divides by zero).
    ``p`` and ``q`` are density values (>= 0) on one grid (one shape)."""
    _check_grid(p=p, q=q)
    _check_spacing(dx)
    m = (p + q) / 2
    kl = lambda a: (torch.special.xlogy(a, a) - torch.special.xlogy(a, m)).sum() * dx
    return 0.5 * kl(p) + 0.5 * kl(q)


# --- Networks ---------------------------------------------------------------------------------


def _check_sizes(**sizes: int) -> None:
    for name, size in sizes.items():
        check_positive(name, size, integer=True)


def _parameter(name: str, module) -> torch.Tensor:
    """A parameter of ``module`` (its dtype and device), or a clear error when ``module`` is no
    network with parameters."""
    if not isinstance(module, nn.Module):
        raise ValueError(
            f"{name} must be a torch.nn.Module, got a {type(module).__name__}"
        )
    parameter = next(module.parameters(), None)
    if parameter is None:
        raise ValueError(
            f"{name} ({type(module).__name__}) has no parameters, so no dtype or device to "
            "follow: pass a network with weights"
        )
    return parameter


def _check_input(module: nn.Module, name: str, x, shape: tuple, hint: str = "") -> None:
    """``x`` as ``module``'s forward takes it: a floating tensor of shape (N, *shape) with the
    module's dtype and device. Shapes only, no values (it runs at every step); an empty batch
    passes and gives an empty output, as in torch."""
    who = type(module).__name__
    checks.tensor(name, x, min_dim=0, non_empty=False)
    if x.ndim != len(shape) + 1 or tuple(x.shape[1:]) != tuple(shape):
        layout = ", ".join(["N", *map(str, shape)])
        raise ValueError(
            f"{who} expects {name} of shape ({layout}), got {tuple(x.shape)}{hint}"
        )
    checks.like(name, x, next(module.parameters()), who)


class ToyGenerator(nn.Module):
    """A generator for the toy problems: z ~ N(0, I_latent) -> x in R^dim, two ReLU layers."""

    def __init__(self, hidden: int = 32, dim: int = 1, latent: int = 1):
        _check_sizes(hidden=hidden, dim=dim, latent=latent)
        super().__init__()
        self.latent = latent
        self.net = nn.Sequential(
            nn.Linear(latent, hidden),
            nn.ReLU(),
            nn.Linear(hidden, hidden),
            nn.ReLU(),
            nn.Linear(hidden, dim),
        )

    def forward(self, z):
        _check_input(self, "z", z, (self.latent,), ": draw z = torch.randn(N, latent)")
        return self.net(z)


class ToyDiscriminator(nn.Module):
    """A discriminator for the toy problems: x in R^dim -> logit of "real", two LeakyReLU layers."""

    def __init__(self, hidden: int = 64, dim: int = 1):
        _check_sizes(hidden=hidden, dim=dim)
        super().__init__()
        self.dim = dim
        self.net = nn.Sequential(
            nn.Linear(dim, hidden),
            nn.LeakyReLU(0.2),
            nn.Linear(hidden, hidden),
            nn.LeakyReLU(0.2),
            nn.Linear(hidden, 1),
        )

    def forward(self, x):
        _check_input(
            self,
            "x",
            x,
            (self.dim,),
            f": points are rows, e.g. x.reshape(-1, {self.dim})",
        )
        return self.net(x).squeeze(-1)


class MLPGenerator(nn.Module):
    """z -> x: two ReLU hidden layers and a sigmoid output in [0, 1] (the MNIST generator of Goodfellow et al.).

    ``batch_norm`` (not in the 2014 paper) normalises the hidden layers: trained with Adam, the paper's
    plain generator collapses onto a few digits in our runs (the GAN chapter shows both).
    """

    def __init__(
        self,
        latent: int = 100,
        hidden: int = 1200,
        out: int = 784,
        out_shape=(1, 28, 28),
        batch_norm: bool = True,
    ):
        _check_sizes(latent=latent, hidden=hidden, out=out)
        if (
            not isinstance(out_shape, (tuple, list))
            or not all(
                isinstance(s, int) and not isinstance(s, bool) and s > 0
                for s in out_shape
            )
            or math.prod(out_shape) != out
        ):
            raise ValueError(
                f"out_shape must be the shape of one output of out={out} values (e.g. "
                f"(1, 28, 28) for 784), got {out_shape!r}"
            )
        super().__init__()
        self.latent, self.out_shape = latent, out_shape
        norm = (lambda: nn.BatchNorm1d(hidden)) if batch_norm else nn.Identity
        self.net = nn.Sequential(
            nn.Linear(latent, hidden),
            norm(),
            nn.ReLU(),
            nn.Linear(hidden, hidden),
            norm(),
            nn.ReLU(),
            nn.Linear(hidden, out),
            nn.Sigmoid(),
        )

    def forward(self, z):
        _check_input(self, "z", z, (self.latent,), ": draw z = torch.randn(N, latent)")
        return self.net(z).reshape(-1, *self.out_shape)


class Maxout(nn.Module):
    """A maxout layer (Goodfellow et al. 2013): ``units`` outputs, each the max over ``pieces`` linear maps."""

    def __init__(self, inputs: int, units: int, pieces: int):
        _check_sizes(inputs=inputs, units=units, pieces=pieces)
        super().__init__()
        self.inputs, self.units, self.pieces = inputs, units, pieces
        self.linear = nn.Linear(inputs, units * pieces)

    def forward(self, x):
        checks.tensor("x", x, non_empty=False)
        if x.shape[-1] != self.inputs:
            raise ValueError(
                f"Maxout expects x of shape (..., {self.inputs}) (inputs={self.inputs}), got "
                f"{tuple(x.shape)}"
            )
        checks.like("x", x, self.linear.weight, "Maxout")
        return self.linear(x).unflatten(-1, (self.units, self.pieces)).amax(-1)


class MLPDiscriminator(nn.Module):
    """x -> logit of "real": two maxout layers with dropout, as the paper's MNIST discriminator
    (240 units of 5 pieces; dropout on the input and the hidden layers)."""

    def __init__(
        self,
        inputs: int = 784,
        hidden: int = 240,
        pieces: int = 5,
        dropout: float = 0.5,
        input_dropout: float = 0.2,
    ):
        _check_sizes(inputs=inputs, hidden=hidden, pieces=pieces)
        super().__init__()
        self.inputs = inputs
        self.net = nn.Sequential(
            nn.Flatten(),
            nn.Dropout(input_dropout),
            Maxout(inputs, hidden, pieces),
            nn.Dropout(dropout),
            Maxout(hidden, hidden, pieces),
            nn.Dropout(dropout),
            nn.Linear(hidden, 1),
        )

    def forward(self, x):
        checks.tensor("x", x, min_dim=0, non_empty=False)
        if x.ndim < 2 or math.prod(x.shape[1:]) != self.inputs:
            raise ValueError(
                f"MLPDiscriminator expects examples of {self.inputs} values (inputs="
                f"{self.inputs}), got a tensor of shape {tuple(x.shape)}; examples come first "
                f"(N, ...), or build the model with inputs=<values per example>"
            )
        checks.like("x", x, next(self.parameters()), "MLPDiscriminator")
        return self.net(x).squeeze(-1)


class DCGANGenerator(nn.Module):
    """Radford et al. 2016 for 28x28: project z to 4w x 7 x 7, then fractionally strided convolutions
    with batch norm and ReLU, no batch norm on the output, which is a sigmoid (images in [0, 1])."""

    def __init__(self, latent: int = 100, width: int = 32, channels: int = 1):
        _check_sizes(latent=latent, width=width, channels=channels)
        super().__init__()
        self.latent = latent
        self.project = nn.Sequential(
            nn.Linear(latent, 4 * width * 49, bias=False),
            nn.BatchNorm1d(4 * width * 49),
            nn.ReLU(),
        )
        self.net = nn.Sequential(
            nn.ConvTranspose2d(4 * width, 2 * width, 4, 2, 1, bias=False),
            nn.BatchNorm2d(2 * width),
            nn.ReLU(),  # 14x14
            nn.ConvTranspose2d(2 * width, channels, 4, 2, 1),
            nn.Sigmoid(),
        )  # 28x28
        self.width = width

    def forward(self, z):
        _check_input(self, "z", z, (self.latent,), ": draw z = torch.randn(N, latent)")
        return self.net(self.project(z).reshape(-1, 4 * self.width, 7, 7))


class DCGANDiscriminator(nn.Module):
    """Strided convolutions with LeakyReLU(0.2), batch norm on all but the input layer, a linear logit."""

    def __init__(self, width: int = 32, channels: int = 1):
        _check_sizes(width=width, channels=channels)
        super().__init__()
        self.channels = channels
        self.net = nn.Sequential(
            nn.Conv2d(channels, 2 * width, 4, 2, 1),
            nn.LeakyReLU(0.2),  # 14x14
            nn.Conv2d(2 * width, 4 * width, 4, 2, 1, bias=False),
            nn.BatchNorm2d(4 * width),
            nn.LeakyReLU(0.2),  # 7x7
            nn.Flatten(),
            nn.Linear(4 * width * 49, 1),
        )

    def forward(self, x):
        checks.tensor("x", x, min_dim=0, non_empty=False)
        if x.ndim != 4 or x.shape[-2:] != (28, 28):
            raise ValueError(
                f"DCGANDiscriminator is built for (N, C, 28, 28) images, got shape {tuple(x.shape)}; "
                "resize them (torch.nn.functional.interpolate) or change the architecture"
            )
        if x.shape[1] != self.channels:
            raise ValueError(
                f"DCGANDiscriminator is built for {self.channels}-channel images (channels="
                f"{self.channels}), got shape {tuple(x.shape)}"
            )
        checks.like("x", x, next(self.parameters()), "DCGANDiscriminator")
        return self.net(x).squeeze(-1)


def latent_size(generator: nn.Module) -> int:
    """The size of a generator's noise vector, from its ``latent`` attribute, with a clear error."""
    latent = getattr(generator, "latent", None)
    if not isinstance(latent, int) or latent <= 0:
        raise ValueError(
            f"{type(generator).__name__} has no positive int attribute `latent` (the size of its "
            "noise vector z); set generator.latent = <size of z> before sampling or training it"
        )
    return latent


def _check_sampling(
    generator: nn.Module, n: int, batch_size: int
) -> tuple[int, torch.device]:
    """The latent size and the device of a generator :func:`generate` can sample from."""
    check_positive("n", n, integer=True)
    check_positive("batch_size", batch_size, integer=True)
    device = _parameter("generator", generator).device
    return latent_size(generator), device


@torch.no_grad()
def generate(generator: nn.Module, n: int, batch_size: int = 1000) -> torch.Tensor:
    """n samples G(z), z ~ N(0, I_latent) on the generator's device, ``batch_size`` at a time."""
    latent, device = _check_sampling(generator, n, batch_size)
    return torch.cat(
        [
            generator(torch.randn(min(batch_size, n - i), latent, device=device))
            for i in range(0, n, batch_size)
        ]
    )


@torch.no_grad()
def calibrate_batch_norm(
    module: nn.Module, forward=None, n: int = 2000, batch_size: int = 500
) -> nn.Module:
    """Reset the batch-norm running statistics of ``module`` and re-estimate them (a cumulative
    average) in train mode from ``forward()`` (default: ``n`` samples of the generator
    ``module``); return it in eval mode. An untrained generator calibrated this way is the fair
    reference for a trained one, whose statistics were estimated during training: without it,
    statistics alone would pass for learning. The arguments are checked before any statistic
    is reset, and the momenta are put back even if ``forward`` fails."""
    if forward is None:
        _check_sampling(module, n, batch_size)
    else:
        _parameter("module", module)
        if not callable(forward):
            raise ValueError(
                f"forward must be a function of no argument that runs the module, got a "
                f"{type(forward).__name__}"
            )
    norms = [
        m for m in module.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)
    ]
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative moving average over the calibration batches
    module.train()
    try:
        if forward is None:
            generate(module, n, batch_size)
        else:
            forward()
    finally:
        for m, momentum in zip(norms, momenta):
            m.momentum = momentum
    return module.eval()


# --- Training ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class GANConfig:
    """Alternate ``k`` discriminator steps with one generator step; Adam(lr, (beta1, 0.999)) for both
    (Radford et al.: lr 2e-4, beta1 0.5)."""

    epochs: int = 5
    batch_size: int = 64
    k: int = 1
    lr: float = 2e-4
    beta1: float = 0.5
    seed: int = 0
    generator_loss: str = "non-saturating"
    """``non-saturating``: minimise -log D(G(z)); ``saturating``: minimise log(1 - D(G(z))),
    the min-max game as written (its gradient vanishes when D rejects the samples)."""

    def __post_init__(self):
        for name in ("epochs", "batch_size", "k"):
            check_positive(name, getattr(self, name), integer=True)
        check_choice("generator_loss", self.generator_loss, GENERATOR_LOSSES)
        check_positive("lr", self.lr)
        check_seed("seed", self.seed)
        if (
            isinstance(self.beta1, bool)
            or not isinstance(self.beta1, (int, float))
            or not 0 <= self.beta1 < 1
        ):
            raise ValueError(f"beta1 must be in [0, 1), got {self.beta1!r}")


def _check_logits(name: str, logits, like: torch.Tensor | None = None) -> None:
    """Logits of a batch: a non-empty floating tensor (a mean over no example is NaN), on the
    device of ``like`` when given. Shapes and dtypes only, no values."""
    checks.tensor(name, logits)
    if like is not None and logits.device != like.device:
        raise ValueError(
            f"{name} is on {logits.device} but d_real_logits on {like.device}: judge both "
            "batches with one discriminator on one device"
        )


def discriminator_loss(
    d_real_logits: torch.Tensor, d_fake_logits: torch.Tensor
) -> torch.Tensor:
    """-[log D(x) + log(1 - D(G(z)))], the negated inner objective of the slide's min-max, per batch mean.

    Both arguments are the discriminator's logits (not probabilities), each a non-empty batch."""
    _check_logits("d_real_logits", d_real_logits)
    _check_logits("d_fake_logits", d_fake_logits, like=d_real_logits)
    return _discriminator_loss(d_real_logits, d_fake_logits)


def _discriminator_loss(d_real_logits, d_fake_logits):
    return F.binary_cross_entropy_with_logits(
        d_real_logits, torch.ones_like(d_real_logits)
    ) + F.binary_cross_entropy_with_logits(
        d_fake_logits, torch.zeros_like(d_fake_logits)
    )


GENERATOR_LOSSES = ("non-saturating", "saturating")


def generator_loss(
    d_fake_logits: torch.Tensor, kind: str = "non-saturating"
) -> torch.Tensor:
    """The generator's loss, per batch mean. ``non-saturating``: -log D(G(z)) (Goodfellow et al.
    2014, section 3: strong gradients early on, when D rejects the samples); ``saturating``:
    log(1 - D(G(z))), the slide's min-max objective itself, whose gradient in the logit a is
    -sigmoid(a), which vanishes as D(G(z)) -> 0. ``d_fake_logits``: the discriminator's logits
    (not probabilities) of a non-empty batch."""
    check_choice("kind", kind, GENERATOR_LOSSES)
    _check_logits("d_fake_logits", d_fake_logits)
    return _generator_loss(d_fake_logits, kind)


def _generator_loss(d_fake_logits, kind):
    if kind == "saturating":
        return -F.binary_cross_entropy_with_logits(
            d_fake_logits, torch.zeros_like(d_fake_logits)
        )
    return F.binary_cross_entropy_with_logits(
        d_fake_logits, torch.ones_like(d_fake_logits)
    )


def ring_of_gaussians(
    n: int,
    modes: int = 8,
    radius: float = 2.0,
    std: float = 0.05,
    generator: torch.Generator | None = None,
    device=None,
) -> torch.Tensor:
    """``n`` points from an equal mixture of ``modes`` Gaussians (std ``std``) centred on a circle
    of ``radius``: the mode-collapse benchmark of Metz et al. 2017 (unrolled GANs), shape (n, 2)."""
    check_positive("n", n, integer=True)
    check_positive("modes", modes, integer=True)
    check_positive("radius", radius)
    if (
        isinstance(std, bool)
        or not isinstance(std, (int, float))
        or not 0 <= std < math.inf
    ):
        raise ValueError(f"std must be a finite number >= 0, got {std!r}")
    if generator is not None and not isinstance(generator, torch.Generator):
        raise ValueError(
            f"generator must be a torch.Generator or None, got a {type(generator).__name__}: "
            "pass torch.Generator().manual_seed(seed)"
        )
    which = torch.randint(modes, (n,), generator=generator)
    angle = 2 * math.pi * which / modes
    centres = radius * torch.stack([angle.cos(), angle.sin()], 1)
    return (centres + std * torch.randn(n, 2, generator=generator)).to(device)


def mode_coverage(
    samples: torch.Tensor,
    modes: int = 8,
    radius: float = 2.0,
    std: float = 0.05,
    min_share: float = 0.2,
) -> tuple[int, float]:
    """(modes covered, fraction of high-quality samples) for samples of :func:`ring_of_gaussians`,
    as Metz et al. count them: a sample is high-quality within 3 std of its nearest centre; a mode
    is covered when it holds at least ``min_share`` of its fair share (1/modes) of the samples.
    ``samples``: at least one 2-D point, shape (n, 2) (integer points are read as floats)."""
    checks.tensor("samples", samples, floating=False)
    if samples.ndim != 2 or samples.shape[1] != 2:
        raise ValueError(
            f"samples must be 2-D points of shape (n, 2), got shape {tuple(samples.shape)}"
        )
    check_positive("modes", modes, integer=True)
    for name, number in (("radius", radius), ("std", std), ("min_share", min_share)):
        check_positive(name, number)
    angle = 2 * math.pi * torch.arange(modes, device=samples.device) / modes
    centres = radius * torch.stack([angle.cos(), angle.sin()], 1)
    distance, nearest = torch.cdist(samples.float(), centres.float()).min(1)
    good = distance < 3 * std
    counts = torch.bincount(nearest[good], minlength=modes)
    covered = int((counts >= min_share * len(samples) / modes).sum())
    return covered, good.float().mean().item()


def train_gan(
    generator: nn.Module,
    discriminator: nn.Module,
    x_train: torch.Tensor,
    config: GANConfig,
    conditions: torch.Tensor | None = None,
    sample_every_epoch: torch.Tensor | None = None,
    checkpoint=None,
    desc: str = "gan",
    evaluate=None,
) -> train.History:
    """Train on ``x_train`` (N, C, H, W). Each step sees k mini-batches of real data: one discriminator
    update per mini-batch, then one generator update.

    Unconditional (``conditions`` None): G(z) with z ~ N(0, I_latent), D(x). Conditional (LAPGAN's
    levels): ``conditions`` holds one coarse image per example, G(noise plane, c) and D(x, c).
    Returns the history; if ``sample_every_epoch`` (fixed latents) is given, ``history.samples``
    holds the generator's images for them after each epoch trained in this call.

    Under torchrun both players are wrapped in DistributedDataParallel (:mod:`lec16.distributed`):
    each rank takes its slice of every global batch and draws its own noise, and DDP averages
    both players' gradients. On GPUs their batch norms become ``SyncBatchNorm``, so that the
    statistics are those of the global batch, as on one device; Gloo has no SyncBatchNorm, so on
    CPU processes each rank normalises with its own slice's statistics.

    Everything is checked before training: ``x_train`` (and ``conditions``, one per example)
    floating point, with the discriminator's dtype and device, at least one step's
    ``batch_size * k`` examples; ``sample_every_epoch`` only for an unconditional generator.
    """
    g_parameter = _parameter("generator", generator)
    d_parameter = _parameter("discriminator", discriminator)
    if conditions is None:
        latent = latent_size(generator)
    if not isinstance(config, GANConfig):
        raise ValueError(f"config must be a GANConfig, got a {type(config).__name__}")
    checks.tensor("x_train", x_train, min_dim=2)
    checks.like("x_train", x_train, d_parameter, "the discriminator")
    if len(x_train) < config.batch_size * config.k:
        raise ValueError(
            f"x_train has {len(x_train)} examples, fewer than one step's batch_size * k = "
            f"{config.batch_size} * {config.k}; pass more data or lower batch_size or k"
        )
    if conditions is not None:
        checks.tensor("conditions", conditions, min_dim=2)
        checks.like("conditions", conditions, g_parameter, "the generator")
        if len(conditions) != len(x_train):
            raise ValueError(
                f"conditions has {len(conditions)} rows for the {len(x_train)} examples of "
                "x_train: pass one condition per example"
            )
    if sample_every_epoch is not None:
        if conditions is not None:
            raise ValueError(
                "sample_every_epoch (fixed latents z) is for an unconditional generator; a "
                "conditional one draws its noise per condition: sample it after training "
                "(e.g. lapgan.refine)"
            )
        checks.tensor("sample_every_epoch", sample_every_epoch, min_dim=2)
        checks.like(
            "sample_every_epoch", sample_every_epoch, g_parameter, "the generator"
        )
        if sample_every_epoch.shape[1:] != (latent,):
            raise ValueError(
                f"sample_every_epoch must hold latents of shape (n, {latent}), got "
                f"{tuple(sample_every_epoch.shape)}"
            )
    if evaluate is not None and not callable(evaluate):
        raise ValueError(
            f"evaluate must be a function of the epoch or None, got a {type(evaluate).__name__}"
        )
    device = x_train.device
    opt_d = torch.optim.Adam(
        discriminator.parameters(), lr=config.lr, betas=(config.beta1, 0.999)
    )
    opt_g = torch.optim.Adam(
        generator.parameters(), lr=config.lr, betas=(config.beta1, 0.999)
    )
    # the optimizers hold the players' own parameters; the wrappers average their gradients
    parallel_g, parallel_d = (
        distributed.wrap(m, sync_batch_norm=True) for m in (generator, discriminator)
    )
    tensors = (x_train,) if conditions is None else (x_train, conditions)
    batches = data.Batches(
        *tensors,
        batch_size=config.batch_size * config.k,
        seed=config.seed,
        drop_last=True,
    )

    def generate(c, n):
        if c is None:
            return parallel_g(torch.randn(n, latent, device=device))
        return parallel_g(torch.randn_like(c), c)

    def judge(x, c):
        return parallel_d(x) if c is None else parallel_d(x, c)

    def step(batch):
        # k mini-batches (on several processes, each of this rank's slice of the global one)
        reals = batch[0].tensor_split(config.k)
        conds = (
            batch[1].tensor_split(config.k)
            if conditions is not None
            else [None] * len(reals)
        )
        for real, c in zip(reals, conds):
            with torch.no_grad():  # the discriminator's step does not differentiate G
                fake = generate(c, len(real))
            loss_d = _discriminator_loss(judge(real, c), judge(fake, c))
            train.optimizer_step(opt_d, loss_d)
        loss_g = _generator_loss(
            judge(generate(conds[0], len(reals[0])), conds[0]), config.generator_loss
        )
        train.optimizer_step(opt_g, loss_g)
        return {"loss": loss_d + loss_g, "loss_d": loss_d, "loss_g": loss_g}

    snapshots = train.Snapshots()  # checkpointed: a resumed run keeps every epoch's

    def on_epoch_end(epoch):
        metrics = dict(evaluate(epoch)) if evaluate is not None else {}
        if sample_every_epoch is not None:
            snapshots.append(generator(sample_every_epoch))
        return metrics

    history = train.fit(
        step,
        batches,
        config.epochs,
        modules={"generator": parallel_g, "discriminator": parallel_d},
        optimizers={"g": opt_g, "d": opt_d},
        hooks={"snapshots": snapshots} if sample_every_epoch is not None else None,
        evaluate=on_epoch_end,
        checkpoint=checkpoint,
        desc=desc,
        config={"gan": config, "n": len(x_train)},
    )
    history.samples = snapshots.images
    return history
