"""LAPGAN (slides "LAPGAN"; Denton, Chintala, Szlam & Fergus 2015): a Laplacian pyramid of images
and one conditional GAN per level.

Pyramid (an invertible linear multi-scale decomposition): with d = 2x2 average pooling and u = bilinear
2x upsampling, I_{k+1} = d(I_k) and h_k = I_k - u(I_{k+1}); the pyramid is (h_0, ..., h_{K-1}, I_K), and
I_k = u(I_{k+1}) + h_k rebuilds the image exactly (the same u on both sides).

Training: at each level k < K a generator G_k(z, l_k) produces a residual h_k from the coarse image
l_k = u(I_{k+1}) of a real digit, and a discriminator D_k(h, l_k) tells real residuals from generated
ones; the coarsest level I_K is an ordinary GAN. Sampling: draw I_K, then I_k = u(I_{k+1}) + G_k(z, u(I_{k+1})).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from lec16 import checks, gan, train
from lec16.scales import check_positive, check_seed

__all__ = [
    "downsample",
    "upsample",
    "gaussian_pyramid",
    "laplacian_pyramid",
    "reconstruct",
    "training_pairs",
    "sample",
    "refine",
    "generate",
    "train_lapgan",
    "ResidualGenerator",
    "ResidualDiscriminator",
    "calibrate_batch_norms",
]


def _images(name: str, x, non_empty: bool = False) -> torch.Tensor:
    """``x`` if it is a floating-point batch of images (N, C, H, W); shapes only, no values (the
    pyramid is linear: residuals and differences of images are valid input)."""
    checks.tensor(name, x, min_dim=0, non_empty=False)
    if x.ndim != 4:
        raise ValueError(
            f"{name} must be a batch of images (N, C, H, W), got shape {tuple(x.shape)}: grey "
            f"images (N, H, W) take {name}[:, None], one image (C, H, W) {name}[None]"
        )
    if non_empty and len(x) == 0:
        raise ValueError(
            f"{name} is empty (shape {tuple(x.shape)}): pass at least one image"
        )
    return x


def _generators(name: str, generators) -> None:
    """``generators``: a list (or tuple) of networks."""
    if not isinstance(generators, (list, tuple)):
        raise ValueError(
            f"{name} must be a list of generators (coarse to fine), got a "
            f"{type(generators).__name__}; one level takes [generator]"
        )
    for k, generator in enumerate(generators):
        gan._parameter(f"{name}[{k}]", generator)


def _check_sides(x: torch.Tensor, levels: int) -> None:
    side = 2 ** (levels - 1)
    if x.shape[-1] % side or x.shape[-2] % side:
        raise ValueError(
            f"image sides {tuple(x.shape[-2:])} must be divisible by 2^(levels-1) = {side}"
        )


def downsample(x: torch.Tensor) -> torch.Tensor:
    """d: 2x2 average pooling of images (N, C, H, W) with even sides."""
    _images("x", x)
    if x.shape[-1] % 2 or x.shape[-2] % 2:
        raise ValueError(
            f"x has sides {tuple(x.shape[-2:])}: 2x2 average pooling needs even sides (an odd "
            "one would lose its last row or column); crop or pad the images"
        )
    return F.avg_pool2d(x, 2)


def upsample(x: torch.Tensor) -> torch.Tensor:
    """u: bilinear 2x upsampling of images (N, C, H, W)."""
    _images("x", x)
    return F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)


def gaussian_pyramid(x: torch.Tensor, levels: int) -> list[torch.Tensor]:
    """[I_0, ..., I_{levels-1}] with I_{k+1} = d(I_k), for images x (N, C, H, W) whose sides divide by 2^(levels-1)."""
    check_positive("levels", levels, integer=True)
    _images("x", x)
    _check_sides(x, levels)
    pyramid = [x]
    for _ in range(levels - 1):
        pyramid.append(downsample(pyramid[-1]))
    return pyramid


def laplacian_pyramid(x: torch.Tensor, levels: int) -> list[torch.Tensor]:
    """[h_0, ..., h_{levels-2}, I_{levels-1}] with h_k = I_k - u(I_{k+1}) (see :func:`gaussian_pyramid`)."""
    pairs, coarsest = training_pairs(x, levels)
    return [residual for residual, _ in pairs] + [coarsest]


def reconstruct(pyramid: list[torch.Tensor]) -> torch.Tensor:
    """Invert :func:`laplacian_pyramid`: I_k = u(I_{k+1}) + h_k from the coarsest level up.

    ``pyramid`` is a non-empty list, finest level first, each level twice the size of the next."""
    if not isinstance(pyramid, (list, tuple)) or not pyramid:
        raise ValueError(
            "pyramid must be a non-empty list [h_0, ..., h_{K-1}, I_K] (finest first, as "
            "laplacian_pyramid returns it), got "
            + (
                "an empty one"
                if isinstance(pyramid, (list, tuple))
                else f"a {type(pyramid).__name__}"
            )
        )
    for k, level in enumerate(pyramid):
        _images(f"pyramid[{k}]", level)
    x = pyramid[-1]
    for k in reversed(range(len(pyramid) - 1)):
        residual, up = pyramid[k], upsample(x)
        if up.shape != residual.shape:
            raise ValueError(
                f"pyramid[{k}] has shape {tuple(residual.shape)} but the level above it "
                f"upsamples to {tuple(up.shape)}: pass the levels finest first, each twice the "
                "size of the next, as laplacian_pyramid returns them"
            )
        x = up + residual
    return x


def training_pairs(
    images: torch.Tensor, levels: int
) -> tuple[list[tuple[torch.Tensor, torch.Tensor]], torch.Tensor]:
    """The data of the slides' training procedure: for each level k = 0..levels-2 the real residual h_k
    and its condition l_k = u(I_{k+1}) (finest level first), and the coarsest images I_{levels-1}."""
    gaussian = gaussian_pyramid(images, levels)
    conditions = [upsample(coarse) for coarse in gaussian[1:]]
    return [
        (fine - condition, condition) for fine, condition in zip(gaussian, conditions)
    ], gaussian[-1]


@torch.no_grad()
def sample(coarse_generator: nn.Module, residual_generators: list[nn.Module], n: int):
    """The slides' sampling procedure: I_K = G_K(z_K), then I_k = u(I_{k+1}) + G_k(z_k, u(I_{k+1})).

    ``residual_generators`` run coarse to fine (G_{K-1}, ..., G_0). Returns the images [I_K, ..., I_0]
    and the generated residuals [h_{K-1}, ..., h_0], so a figure can show every stage.
    """
    check_positive("n", n, integer=True)
    device = gan._parameter("coarse_generator", coarse_generator).device
    _generators("residual_generators", residual_generators)
    coarse = coarse_generator(
        torch.randn(n, gan.latent_size(coarse_generator), device=device)
    )
    return refine(coarse, residual_generators)


def refine(coarse: torch.Tensor, residual_generators: list[nn.Module]):
    """The sampling procedure from a given coarse image I_{k+1} (generated, or real for the per-level
    ablation): I_j = u(I_{j+1}) + G_j(z_j, u(I_{j+1})) for each generator in ``residual_generators``
    (coarse to fine). Returns the images [I_{k+1}, ..., I_0] and the generated residuals."""
    _images("coarse", coarse)
    _generators("residual_generators", residual_generators)
    images, residuals = [coarse], []
    for generator in residual_generators:
        condition = upsample(images[-1])
        residuals.append(generator(torch.randn_like(condition), condition))
        images.append(condition + residuals[-1])
    return images, residuals


@torch.no_grad()
def generate(
    coarse_generator: nn.Module,
    residual_generators: list[nn.Module],
    n: int,
    batch_size: int = 1000,
) -> torch.Tensor:
    """n finished images of :func:`sample` (the finest stage, clipped to the pixel range [0, 1]: a
    sum of residuals can leave it), ``batch_size`` at a time."""
    check_positive("n", n, integer=True)
    check_positive("batch_size", batch_size, integer=True)
    images = [
        sample(coarse_generator, residual_generators, min(batch_size, n - i))[0][-1]
        for i in range(0, n, batch_size)
    ]
    return torch.cat(images).clamp(0, 1)


def train_lapgan(
    coarse: tuple[nn.Module, nn.Module],
    residual: Sequence[tuple[nn.Module, nn.Module]],
    images: torch.Tensor,
    epochs: Sequence[int],
    seed: int = 0,
    checkpoint: str | Path | None = None,
    batch_size: int = 64,
) -> dict[int, train.History]:
    """The slides' training procedure, level by level (each level an independent conditional GAN,
    trained with :func:`lec16.gan.train_gan`, Adam as DCGAN).

    ``coarse`` is (G_K, D_K) for the coarsest images I_K; ``residual[k]`` is (G_k, D_k) for the
    residual h_k given l_k = u(I_{k+1}), finest level first, so ``levels = len(residual) + 1``;
    ``epochs[k]`` is level k's number of epochs (``len(epochs) == levels``). Level k's checkpoint is
    ``<checkpoint stem>_level<k>.pt`` beside ``checkpoint``. Returns each level's history.
    Every argument is checked before the first level trains.
    """
    for name, value in (("residual", residual), ("epochs", epochs)):
        if not isinstance(value, (list, tuple)):
            raise ValueError(f"{name} must be a list, got a {type(value).__name__}")
    levels = len(residual) + 1
    if len(epochs) != levels:
        raise ValueError(
            f"epochs needs one entry per level ({levels}: {len(residual)} residual levels and "
            f"the coarsest), got {list(epochs)}"
        )
    for k, level_epochs in enumerate(epochs):
        check_positive(f"epochs[{k}]", level_epochs, integer=True)
    check_seed("seed", seed)
    check_positive("batch_size", batch_size, integer=True)
    for name, pair in [("coarse", coarse)] + [
        (f"residual[{k}]", pair) for k, pair in enumerate(residual)
    ]:
        if not isinstance(pair, (list, tuple)) or len(pair) != 2:
            raise ValueError(
                f"{name} must be a pair (generator, discriminator), got a "
                f"{type(pair).__name__}"
                + (f" of {len(pair)}" if isinstance(pair, (list, tuple)) else "")
            )
        gan._parameter(f"{name}'s generator", pair[0])
        gan._parameter(f"{name}'s discriminator", pair[1])
    _images("images", images, non_empty=True)
    pairs, coarsest = training_pairs(images, levels)
    path = Path(checkpoint) if checkpoint is not None else None

    def level_checkpoint(k):
        return (
            None
            if path is None
            else path.with_name(f"{path.stem}_level{k}{path.suffix or '.pt'}")
        )

    jobs = [(levels - 1, *coarse, coarsest, None)]
    jobs += [
        (k, g, d, h, l)
        for k, ((g, d), (h, l)) in reversed(list(enumerate(zip(residual, pairs))))
    ]
    histories = {}
    for k, generator, discriminator, x, condition in jobs:
        torch.manual_seed(seed)
        side = x.shape[-1]
        histories[k] = gan.train_gan(
            generator,
            discriminator,
            x,
            gan.GANConfig(epochs=epochs[k], batch_size=batch_size, seed=seed),
            conditions=condition,
            checkpoint=level_checkpoint(k),
            desc=f"LAPGAN level {k} ({side}x{side})",
        )
        generator.eval()
        discriminator.eval()
    return histories


def _check_pair(module: nn.Module, *named, side: int | None = None) -> None:
    """The two inputs of a level's network: grey images (N, 1, H, W) of one shape (H = W = ``side``
    when given), with the network's dtype and device. Shapes only (it runs at every step)."""
    who, parameter = type(module).__name__, next(module.parameters())
    (name_a, a), (name_b, b) = named
    for name, x in named:
        checks.tensor(name, x, min_dim=0, non_empty=False)
        size = "H, W" if side is None else f"{side}, {side}"
        if (
            x.ndim != 4
            or x.shape[1] != 1
            or (side is not None and x.shape[2:] != (side, side))
        ):
            raise ValueError(
                f"{who} expects {name} of shape (N, 1, {size}), got {tuple(x.shape)}"
            )
        checks.like(name, x, parameter, who)
    if a.shape != b.shape:
        raise ValueError(
            f"{who}: {name_a} {tuple(a.shape)} and {name_b} {tuple(b.shape)} must have one "
            f"shape (the {name_b} image upsampled to the level's size)"
        )


class ResidualGenerator(nn.Module):
    """G_k(z, l): a noise plane stacked on the coarse image l, three convolutions, a residual ``scale * tanh(.)``."""

    def __init__(self, width: int = 32, scale: float = 1.0):
        check_positive("width", width, integer=True)
        check_positive("scale", scale)
        super().__init__()
        self.scale = scale  # MNIST residuals reach about +-0.8; the noise is a full plane the size of the image
        self.net = nn.Sequential(
            nn.Conv2d(2, width, 3, padding=1),
            nn.BatchNorm2d(width),
            nn.ReLU(),
            nn.Conv2d(width, width, 3, padding=1),
            nn.BatchNorm2d(width),
            nn.ReLU(),
            nn.Conv2d(width, 1, 3, padding=1),
            nn.Tanh(),
        )

    def forward(self, noise: torch.Tensor, coarse: torch.Tensor) -> torch.Tensor:
        _check_pair(self, ("noise", noise), ("coarse", coarse))
        return self.scale * self.net(torch.cat([noise, coarse], 1))


class ResidualDiscriminator(nn.Module):
    """D_k(h, l): the residual h and the coarse image l as two channels, strided convolutions, a logit."""

    def __init__(self, side: int, width: int = 32):
        checks.count("side", side, minimum=4)
        check_positive("width", width, integer=True)
        super().__init__()
        self.side = side
        self.net = nn.Sequential(
            nn.Conv2d(2, width, 4, 2, 1),
            nn.LeakyReLU(0.2),
            nn.Conv2d(width, 2 * width, 4, 2, 1),
            nn.BatchNorm2d(2 * width),
            nn.LeakyReLU(0.2),
            nn.Flatten(),
            nn.Linear(2 * width * (side // 4) ** 2, 1),
        )

    def forward(self, residual: torch.Tensor, coarse: torch.Tensor) -> torch.Tensor:
        _check_pair(self, ("residual", residual), ("coarse", coarse), side=self.side)
        return self.net(torch.cat([residual, coarse], 1)).squeeze(-1)


def calibrate_batch_norms(
    coarse_generator: nn.Module,
    residual_generators: list[nn.Module],
    images: torch.Tensor,
) -> None:
    """Re-estimate the batch-norm statistics of every level's generator, as training would
    (:func:`lec16.gan.calibrate_batch_norm`): the coarsest on its own samples, each residual
    generator (coarsest first, as :func:`sample` takes them) on the real conditions l_k of
    ``images``. The fair reference for a trained LAPGAN is its untrained copy calibrated so.
    The arguments are checked before any statistic is reset."""
    _generators("residual_generators", residual_generators)
    _images("images", images, non_empty=True)
    _check_sides(images, len(residual_generators) + 1)
    for k, generator in enumerate(residual_generators):
        checks.like(
            "images", images, next(generator.parameters()), f"residual_generators[{k}]"
        )
    gan.calibrate_batch_norm(coarse_generator)
    levels = len(residual_generators) + 1
    finest_first = reversed(residual_generators)
    for (_, condition), generator in zip(
        training_pairs(images, levels)[0], finest_first
    ):
        gan.calibrate_batch_norm(
            generator, lambda g=generator, c=condition: g(torch.randn_like(c), c)
        )
