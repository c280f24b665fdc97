"""The LAPGAN chapter's three-level Laplacian pyramid of GANs on MNIST, and its DCGAN baseline.

Denton et al.'s shape of model on 28x28 digits: a fully connected GAN on the 7x7 images and a
convolutional conditional GAN for each finer level's residual, every level trained with Adam as
DCGAN from ``torch.manual_seed(seed)``. ``paper`` trains each level for 25 epochs with the GAN
chapter's paper-size MLP on 7x7; ``default`` (3, 4, 10) epochs (levels 0, 1, 2). The comparison
is the GAN chapter's DCGAN itself: its set-up (``Setup.gan``), its checkpoint and its samples.
Both are scored as the GAN chapter scores its models, beside their untrained generators.
"""

from __future__ import annotations

import copy
import dataclasses

import torch
from torch import nn

import lec16
from lec16 import evaluation, experiments, gan, lapgan
from lec16.experiments import gan_mnist
from lec16.results import Claim, Estimate, Result
from lec16.scales import choose
from lec16.train import History

PARTS = {
    "lapgan": "the three-level LAPGAN (Denton et al.)",
    "dcgan": "the GAN chapter's DCGAN, the comparison (the GAN chapter's checkpoint)",
}

Data = gan_mnist.Data  # the GAN chapter's MNIST splits and feature classifier


@dataclasses.dataclass(frozen=True, kw_only=True)
class Setup(experiments.Setup):
    levels: int = 3
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
    gan: gan_mnist.Setup = dataclasses.field(repr=False)
    """the GAN chapter's set-up at the same scale and seed: its DCGAN is the comparison"""
    calibration_digits: int = 2000
    """training digits whose coarse images calibrate the untrained residual generators"""

    @classmethod
    def at(cls, scale: str, seed: int = 0) -> Setup:
        return choose(
            scale,
            smoke=cls(
                scale=scale,
                seed=seed,
                n_train=10_000,
                coarse_hidden=64,
                residual_width=4,
                level_epochs=(2, 2, 2),
                n_samples=500,
                gan=gan_mnist.Setup.at(scale, seed),
            ),
            default=cls(
                scale=scale,
                seed=seed,
                n_train=50_000,
                coarse_hidden=512,
                residual_width=16,
                level_epochs=(3, 4, 10),
                n_samples=10_000,
                gan=gan_mnist.Setup.at(scale, seed),
            ),
            paper=cls(
                scale=scale,
                seed=seed,
                n_train=50_000,
                coarse_hidden=1200,
                residual_width=64,
                level_epochs=(25, 25, 25),
                n_samples=10_000,
                gan=gan_mnist.Setup.at(scale, seed),
            ),
        )

    def __post_init__(self):
        super().__post_init__()
        if len(self.level_epochs) != self.levels:
            raise ValueError(
                f"level_epochs needs one entry per level ({self.levels}), "
                f"got {self.level_epochs!r}"
            )

    def with_epochs(self, epochs: int) -> Setup:
        """Every level, and the DCGAN it is compared with, trained for ``epochs`` epochs."""
        return dataclasses.replace(
            self, level_epochs=(epochs,) * self.levels, gan=self.gan.with_epochs(epochs)
        )


def players(
    setup: Setup,
) -> tuple[tuple[nn.Module, nn.Module], list[tuple[nn.Module, nn.Module]]]:
    """The chapter's players, initialised from ``torch.manual_seed(setup.seed)``, as
    :func:`lec16.lapgan.train_lapgan` takes them: the coarsest level's MLP GAN (G_K, D_K) on 7x7
    images, and (G_k, D_k) for each residual level, finest first."""
    torch.manual_seed(setup.seed)
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
            lapgan.ResidualGenerator(width=setup.residual_width),
            lapgan.ResidualDiscriminator(side=28 // 2**k, width=setup.residual_width),
        )
        for k in range(setup.levels - 1)
    ]
    return coarse, residual


def load_data(setup: Setup) -> Data:
    """The GAN chapter's MNIST splits and feature classifier (no Fashion-MNIST)."""
    return gan_mnist.load_data(setup.gan, fashion=False)


@dataclasses.dataclass
class Trained:
    coarse_generator: nn.Module | None = None
    """G_K, on the 7x7 images"""
    coarse_discriminator: nn.Module | None = None
    residual_generators: list[nn.Module] = dataclasses.field(default_factory=list)
    """G_k for each residual level k, finest first (``residual_generators[0]`` makes 28x28 detail)"""
    residual_discriminators: list[nn.Module] = dataclasses.field(default_factory=list)
    histories: dict[int, History] = dataclasses.field(default_factory=dict)
    """by level"""
    untrained_coarse: nn.Module | None = None
    """the untrained generators: the reference a broken LAPGAN would not beat"""
    untrained_residuals: list[nn.Module] = dataclasses.field(default_factory=list)
    """coarsest first, as :func:`lec16.lapgan.sample` takes them"""
    dcgan: gan_mnist.Trained | None = None
    """the GAN chapter's DCGAN (part ``dcgan``)"""

    @property
    def has_lapgan(self) -> bool:
        """Whether the LAPGAN was trained (part ``lapgan``)."""
        return self.coarse_generator is not None

    def sampler(self) -> tuple[nn.Module, list[nn.Module]]:
        """(G_K, [G_{K-1}, ..., G_0]): the generators as :func:`lec16.lapgan.generate` takes them."""
        return self.coarse_generator, self.residual_generators[::-1]


def train(setup: Setup, data: Data, root=None, parts=None) -> Trained:
    """The LAPGAN's levels and the GAN chapter's DCGAN (``parts``, default both), each loaded
    from its checkpoint (the DCGAN's is the GAN chapter's) or trained."""
    parts = experiments.chosen(parts, PARTS)
    trained = Trained()
    if "dcgan" in parts:
        # first: each LAPGAN level starts from torch.manual_seed(seed), so the random
        # generators end as the LAPGAN leaves them, with or without the DCGAN
        trained.dcgan = gan_mnist.train(setup.gan, data, root, parts=["dcgan"])
    if "lapgan" in parts:
        device = lec16.device()
        coarse, residual = players(setup)
        coarse = tuple(m.to(device) for m in coarse)
        residual = [tuple(m.to(device) for m in pair) for pair in residual]
        trained.untrained_coarse = copy.deepcopy(coarse[0]).eval()
        trained.untrained_residuals = [
            copy.deepcopy(g).eval() for g, _ in reversed(residual)
        ]
        trained.histories = lapgan.train_lapgan(
            coarse,
            residual,
            data.mnist.fit[: setup.n_train],
            setup.level_epochs,
            seed=setup.seed,
            checkpoint=setup.checkpoint("lapgan", root),
        )
        trained.coarse_generator, trained.coarse_discriminator = coarse
        trained.residual_generators = [g for g, _ in residual]
        trained.residual_discriminators = [d for _, d in residual]
    return trained


def samples(setup: Setup, trained: Trained) -> dict[str, torch.Tensor]:
    """The chapter's samples of each trained model, each drawn from ``torch.manual_seed(seed)``:
    the DCGAN's are the GAN chapter's; LAPGAN's are clipped to [0, 1]."""
    drawn = {}
    if trained.dcgan is not None:
        drawn["DCGAN"] = gan_mnist.samples(setup.gan, trained.dcgan.generators["dcgan"])
    if trained.has_lapgan:
        torch.manual_seed(setup.seed)
        drawn["LAPGAN"] = lapgan.generate(*trained.sampler(), setup.n_samples)
    return drawn


@dataclasses.dataclass
class Score(Result):
    metrics: dict[str, dict[str, float]]
    """``LAPGAN`` and ``DCGAN``: :func:`lec16.evaluation.sample_quality` of the samples and
    :func:`lec16.evaluation.untrained_reference` of the untrained generators' (batch norm
    calibrated)"""
    reference: dict[str, float]
    """the 9,000 held-out real digits scored as if they were samples"""
    seconds: dict[str, float]
    """training time: LAPGAN's levels together, and the DCGAN's"""
    scale: str = "default"
    """at ``smoke`` the pyramid's claim is reported, not asserted"""
    parzen_gain: Estimate | None = None
    """LAPGAN's Parzen log-likelihood minus the DCGAN's, per test digit (paired; each with
    its own width)"""

    def claims(self) -> list[Claim]:
        claims = [gan_mnist.mean_pixel_claim(n, m) for n, m in self.metrics.items()]
        if self.parzen_gain is not None:
            claims += self.pyramid_claims()
        return claims

    def pyramid_claims(self) -> list[Claim]:
        """The paper's claim, LAPGAN against one GAN on the whole image (the DCGAN), on each
        protocol: Denton et al.'s Parzen estimate (asserted, by three SE of the paired
        difference over the test digits), and the Fréchet distance (reported: it fails at
        this budget)."""
        lap, one_scale = self.metrics["LAPGAN"], self.metrics["DCGAN"]
        against = "the DCGAN, one scale"
        gain = self.parzen_gain
        return [
            Claim(
                "LAPGAN: Parzen log-likelihood, paired",
                gain.mean,
                0.0,
                against,
                margin=gan_mnist.SES * gain.se,
                unit="nats",
                asserted=self.scale != "smoke",
            ),
            gan_mnist.frechet_claim("LAPGAN", lap, one_scale, against, asserted=False),
        ]


def score(setup: Setup, data: Data, trained: Trained) -> Score:
    """LAPGAN's and the DCGAN's sample quality, each beside its untrained generators', and the
    held-out real digits'."""
    mnist, net = data.mnist, data.feature_net
    drawn = samples(setup, trained)
    metrics = {
        name: evaluation.sample_quality(drawn[name], mnist.test, mnist.validation, net)
        for name in ("LAPGAN", "DCGAN")
        if name in drawn
    }
    # the untrained generators, their batch-norm statistics estimated as training would
    untrained = {}
    if trained.dcgan is not None:
        untrained["DCGAN"] = gan.calibrate_batch_norm(trained.dcgan.untrained["dcgan"])
    if trained.has_lapgan:
        lapgan.calibrate_batch_norms(
            trained.untrained_coarse,
            trained.untrained_residuals,
            mnist.fit[: setup.calibration_digits],
        )
        untrained["LAPGAN"] = lapgan.generate(
            trained.untrained_coarse, trained.untrained_residuals, setup.n_samples
        )
    if "DCGAN" in untrained:
        untrained["DCGAN"] = gan.generate(untrained["DCGAN"], setup.n_samples)
    for name, m in metrics.items():
        m.update(evaluation.untrained_reference(untrained[name], mnist.test, net))
    parzen_gain = None
    if {"LAPGAN", "DCGAN"} <= set(metrics):
        per_digit = {  # each model's Parzen log-likelihood of every test digit, at its width
            name: evaluation.parzen_log_likelihood(
                drawn[name], mnist.test, metrics[name]["sigma"]
            )
            for name in ("LAPGAN", "DCGAN")
        }
        parzen_gain = Estimate.paired(per_digit["LAPGAN"], per_digit["DCGAN"])
    seconds = {}
    if trained.has_lapgan:
        seconds["LAPGAN"] = sum(h.last["seconds"] for h in trained.histories.values())
    if trained.dcgan is not None:
        seconds["DCGAN"] = trained.dcgan.histories["dcgan"].last["seconds"]
    reference = evaluation.sample_quality(
        mnist.held_out, mnist.test, mnist.validation, net
    )
    return Score(metrics, reference, seconds, setup.scale, parzen_gain)
