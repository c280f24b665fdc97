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
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from lec16 import gan, train
from lec16.scales import check_positive, choose


def downsample(x: torch.Tensor) -> torch.Tensor:
    return F.avg_pool2d(x, 2)


def upsample(x: torch.Tensor) -> torch.Tensor:
    return F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)


def gaussian_pyramid(x: torch.Tensor, levels: int) -> list[torch.Tensor]:
    """[I_0, ..., I_{levels-1}] with I_{k+1} = d(I_k), for images x (N, C, H, W) whose sides divide by 2^(levels-1)."""
    check_positive("levels", levels, integer=True)
    side = 2 ** (levels - 1)
    if x.shape[-1] % side or x.shape[-2] % side:
        raise ValueError(
            f"image sides {tuple(x.shape[-2:])} must be divisible by 2^(levels-1) = {side}"
        )
    pyramid = [x]
    for _ in range(levels - 1):
        pyramid.append(downsample(pyramid[-1]))
    return pyramid


def laplacian_pyramid(x: torch.Tensor, levels: int) -> list[torch.Tensor]:
    """[h_0, ..., h_{levels-2}, I_{levels-1}] with h_k = I_k - u(I_{k+1}) (see :func:`gaussian_pyramid`)."""
    pairs, coarsest = training_pairs(x, levels)
    return [residual for residual, _ in pairs] + [coarsest]


def reconstruct(pyramid: list[torch.Tensor]) -> torch.Tensor:
    """Invert :func:`laplacian_pyramid`: I_k = u(I_{k+1}) + h_k from the coarsest level up."""
    x = pyramid[-1]
    for residual in reversed(pyramid[:-1]):
        x = upsample(x) + residual
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
    device = next(coarse_generator.parameters()).device
    coarse = coarse_generator(
        torch.randn(n, gan.latent_size(coarse_generator), device=device)
    )
    return refine(coarse, residual_generators)


def refine(coarse: torch.Tensor, residual_generators: list[nn.Module]):
    """The sampling procedure from a given coarse image I_{k+1} (generated, or real for the per-level
    ablation): I_j = u(I_{j+1}) + G_j(z_j, u(I_{j+1})) for each generator in ``residual_generators``
    (coarse to fine). Returns the images [I_{k+1}, ..., I_0] and the generated residuals."""
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
    """
    levels = len(residual) + 1
    if len(epochs) != levels:
        raise ValueError(
            f"epochs needs one entry per level ({levels}: {len(residual)} residual levels and "
            f"the coarsest), got {list(epochs)}"
        )
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


class ResidualGenerator(nn.Module):
    """G_k(z, l): a noise plane stacked on the coarse image l, three convolutions, a residual ``scale * tanh(.)``."""

    def __init__(self, width: int = 32, scale: float = 1.0):
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
        return self.scale * self.net(torch.cat([noise, coarse], 1))


class ResidualDiscriminator(nn.Module):
    """D_k(h, l): the residual h and the coarse image l as two channels, strided convolutions, a logit."""

    def __init__(self, side: int, width: int = 32):
        super().__init__()
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
        return self.net(torch.cat([residual, coarse], 1)).squeeze(-1)


@dataclass(frozen=True)
class MnistSetup:
    """The sizes of the LAPGAN chapter's MNIST run at one scale (see :func:`mnist_setup`)."""

    levels: int
    """pyramid levels: 28x28 -> 14x14 -> 7x7"""
    n_train: int
    """the first of Goodfellow et al.'s 50,000 training digits, as the GAN chapter"""
    coarse_hidden: int
    """the MLP GAN's units on the 7x7 level"""
    residual_width: int
    """channels of the per-level convnets"""
    level_epochs: tuple[int, ...]
    """epochs of levels 0 (28x28), 1, 2 (7x7)"""
    n_samples: int
    """samples for the Parzen window and the Frechet distance"""


def mnist_setup(scale: str) -> MnistSetup:
    """The LAPGAN chapter's MNIST run at ``scale`` (the chapter and ``python -m lec16 train
    lapgan``); ``paper``: 25 epochs per level, the GAN chapter's paper-size MLP on 7x7."""
    return MnistSetup(
        levels=3,
        n_train=choose(scale, smoke=10_000, default=50_000, paper=50_000),
        coarse_hidden=choose(scale, smoke=64, default=512, paper=1200),
        residual_width=choose(scale, smoke=4, default=16, paper=64),
        level_epochs=choose(
            scale, smoke=(2, 2, 2), default=(3, 4, 10), paper=(25, 25, 25)
        ),
        n_samples=choose(scale, smoke=500, default=10_000, paper=10_000),
    )


def mnist_players(
    setup: MnistSetup, seed: int = 0
) -> tuple[tuple[nn.Module, nn.Module], list[tuple[nn.Module, nn.Module]]]:
    """The chapter's players, initialised from ``seed``, as :func:`train_lapgan` takes them: the
    coarsest level's MLP GAN (G_K, D_K) on 7x7 images, and (G_k, D_k) for each residual level,
    finest first."""
    torch.manual_seed(seed)
    side = 28 // 2 ** (setup.levels - 1)
    coarse = (
        gan.MLPGenerator(
            hidden=setup.coarse_hidden, out=side * side, out_shape=(1, side, side)
        ),
        gan.MLPDiscriminator(
            inputs=side * side, hidden=max(16, setup.coarse_hidden // 4)
        ),
    )
    residual = [
        (
            ResidualGenerator(width=setup.residual_width),
            ResidualDiscriminator(side=28 // 2**k, width=setup.residual_width),
        )
        for k in range(setup.levels - 1)
    ]
    return coarse, residual


def calibrate_batch_norms(
    coarse_generator: nn.Module,
    residual_generators: list[nn.Module],
    images: torch.Tensor,
) -> None:
    """Re-estimate the batch-norm statistics of every level's generator, as training would
    (:func:`lec16.gan.calibrate_batch_norm`): the coarsest on its own samples, each residual
    generator (coarsest first, as :func:`sample` takes them) on the real conditions l_k of
    ``images``. The fair reference for a trained LAPGAN is its untrained copy calibrated so."""
    gan.calibrate_batch_norm(coarse_generator)
    levels = len(residual_generators) + 1
    finest_first = reversed(residual_generators)
    for (_, condition), generator in zip(
        training_pairs(images, levels)[0], finest_first
    ):
        gan.calibrate_batch_norm(
            generator, lambda g=generator, c=condition: g(torch.randn_like(c), c)
        )
