"""The GAN chapter's GANs: Goodfellow et al.'s MLP GAN (and ours, batch-normed) and the DCGAN.

The MLP GANs and a DCGAN train on MNIST, a second DCGAN on Fashion-MNIST, under Goodfellow et
al.'s protocol (their code): the models train on the first 50,000 training images (``smoke``:
10,000), the Parzen window's width is chosen on images 50,000 to 51,000, and the other 9,000 are
real images no model saw (the reference rows). ``paper`` is Goodfellow et al.'s
1200-unit generator and Radford et al.'s DCGAN width 64, for 50 epochs; ``default`` narrower
networks for 5 epochs. Every model starts from ``torch.manual_seed(seed)``; its samples are drawn
from ``torch.manual_seed(seed)`` too (the same latents for every model, and for the LAPGAN
chapter, which reuses this chapter's DCGAN), and scored beside the same generator untrained.
"""

from __future__ import annotations

import copy
import dataclasses
import math

import torch
from torch import nn

import lec16
from lec16 import data, evaluation, experiments, gan
from lec16.results import Claim, Result
from lec16.scales import check_choice, choose
from lec16.train import History

UNTRAINED_SHARE = 0.5
"""a trained generator's mean pixel must be less than this share as far from the data's as its
untrained copy's"""
MEMORISATION = 0.5
"""samples' median distance to their nearest training digit, over the test digits' median, must
exceed this (a memorising generator sits far closer to its training set)"""
PARTS = {
    "gan": "Goodfellow et al.'s MLP GAN (maxout discriminator, no batch norm)",
    "gan_batch_norm": "the same MLP GAN with batch norm in its generator (ours)",
    "dcgan": "the DCGAN (Radford et al.) on MNIST",
    "dcgan_fashion": "the DCGAN on Fashion-MNIST (a demonstration)",
}
TITLES = {
    "gan": "GAN (MLP as in the paper), MNIST",
    "gan_batch_norm": "GAN (MLP + batch norm, ours), MNIST",
    "dcgan": "DCGAN, MNIST",
    "dcgan_fashion": "DCGAN, Fashion-MNIST",
}
"""each part's name in the chapter's figures and tables"""
DATA_SETS = {
    "gan": "MNIST",
    "gan_batch_norm": "MNIST",
    "dcgan": "MNIST",
    "dcgan_fashion": "Fashion-MNIST",
}
SNAPSHOT_LATENTS = 64
"""fixed latents whose images each generator draws after every epoch"""


@dataclasses.dataclass(frozen=True, kw_only=True)
class Setup(experiments.Setup):
    n_train: int
    """images trained on, the first of Goodfellow et al.'s 50,000 (at most)"""
    mlp_hidden: int
    """the MLP generator's ReLU units per layer"""
    maxout_units: int
    """the MLP discriminator's maxout units (of 5 pieces)"""
    dcgan_width: int
    """the DCGAN players' base number of channels"""
    config: gan.GANConfig
    """every MNIST GAN's training"""
    fashion_epochs: int
    """the Fashion-MNIST DCGAN's epochs (a demonstration: fewer, to keep the page in budget)"""
    n_samples: int
    """samples for the Parzen window and the Frechet distance"""

    @classmethod
    def at(cls, scale: str, seed: int = 0) -> Setup:
        return choose(
            scale,
            smoke=cls(
                scale=scale,
                seed=seed,
                n_train=10_000,
                mlp_hidden=128,
                maxout_units=32,
                dcgan_width=8,
                config=gan.GANConfig(epochs=2, seed=seed),
                fashion_epochs=2,
                n_samples=500,
            ),
            default=cls(
                scale=scale,
                seed=seed,
                n_train=50_000,
                mlp_hidden=512,
                maxout_units=240,
                dcgan_width=16,
                config=gan.GANConfig(epochs=5, seed=seed),
                fashion_epochs=1,
                n_samples=10_000,
            ),
            paper=cls(
                scale=scale,
                seed=seed,
                n_train=50_000,
                mlp_hidden=1200,
                maxout_units=240,
                dcgan_width=64,
                config=gan.GANConfig(epochs=50, seed=seed),
                fashion_epochs=50,
                n_samples=10_000,
            ),
        )

    def with_epochs(self, epochs: int) -> Setup:
        """Every GAN of the chapter, Fashion-MNIST's included, trained for ``epochs`` epochs."""
        return dataclasses.replace(
            self,
            config=dataclasses.replace(self.config, epochs=epochs),
            fashion_epochs=epochs,
        )

    def config_of(self, part: str) -> gan.GANConfig:
        """The training of ``part``: :attr:`config`, with :attr:`fashion_epochs` for
        Fashion-MNIST's DCGAN."""
        check_choice("part", part, PARTS)
        if DATA_SETS[part] == "Fashion-MNIST":
            return dataclasses.replace(self.config, epochs=self.fashion_epochs)
        return self.config


def players(setup: Setup, part: str) -> tuple[nn.Module, nn.Module]:
    """(generator, discriminator) of one of the chapter's GANs, initialised from
    ``torch.manual_seed(setup.seed)``: Goodfellow et al.'s MLP generator (``gan``: without batch
    norm, as in the paper; ``gan_batch_norm``: with it) against their maxout discriminator, or the
    DCGAN players (``dcgan``, ``dcgan_fashion``)."""
    check_choice("part", part, PARTS)
    torch.manual_seed(setup.seed)
    if part.startswith("dcgan"):
        return (
            gan.DCGANGenerator(width=setup.dcgan_width),
            gan.DCGANDiscriminator(width=setup.dcgan_width),
        )
    generator = gan.MLPGenerator(
        hidden=setup.mlp_hidden, batch_norm=part == "gan_batch_norm"
    )
    return generator, gan.MLPDiscriminator(hidden=setup.maxout_units)


@dataclasses.dataclass
class Images:
    """One data set under Goodfellow et al.'s protocol, images (N, 1, 28, 28) in [0, 1]."""

    fit: torch.Tensor
    """the first 50,000 training images: the models train on the first ``n_train``"""
    validation: torch.Tensor
    """training images 50,000 to 51,000: they choose the Parzen window's width"""
    held_out: torch.Tensor
    """training images 51,000 to 60,000, which no model saw: the reference rows"""
    test: torch.Tensor
    """the 10,000 test images"""


@dataclasses.dataclass
class Data:
    mnist: Images
    fashion: Images | None
    """None when Fashion-MNIST could not be loaded (its run is then skipped)"""
    feature_net: evaluation.MnistFeatureNet
    """the MNIST classifier whose features the Frechet distance compares"""
    classifier_accuracy: float
    """its test accuracy"""

    def sets(self) -> dict[str, Images]:
        """The data sets loaded, by name (``MNIST``, ``Fashion-MNIST``)."""
        named = {"MNIST": self.mnist, "Fashion-MNIST": self.fashion}
        return {name: images for name, images in named.items() if images is not None}

    def images(self, part: str) -> Images | None:
        """The data set ``part`` trains on (None when it is missing)."""
        return self.sets().get(DATA_SETS[part])


def _splits(load) -> Images:
    fit, validation, held_out = evaluation.parzen_protocol_split(load("train")[0])
    return Images(fit, validation, held_out, load("test")[0])


def load_data(setup: Setup, fashion: bool = True) -> Data:
    """MNIST (and, when ``fashion``, Fashion-MNIST if it can be loaded) split as Goodfellow et al.
    split it, and the feature classifier (loaded, or trained and cached, on every process)."""
    device = lec16.device()
    data.fetch_mnist(quiet=True)
    mnist = _splits(lambda split: data.load_mnist(split, device=device))
    fashion_images = None
    if fashion:
        try:
            data.fetch_fashion_mnist(quiet=True)
            fashion_images = _splits(
                lambda split: data.load_fashion_mnist(split, device=device)
            )
        except data.DataError as err:
            print(f"Fashion-MNIST is not available, so its run is skipped:\n{err}")
    net, accuracy = evaluation.feature_net(device)
    return Data(mnist, fashion_images, net, accuracy)


@dataclasses.dataclass
class Trained:
    generators: dict[str, nn.Module]
    """by part, in eval mode"""
    discriminators: dict[str, nn.Module]
    histories: dict[str, History]
    """each run's history; ``history.samples``: the fixed latents' images after each epoch
    trained in this call (none when loaded from a finished checkpoint)"""
    untrained: dict[str, nn.Module]
    """each generator's untrained copy: the reference a broken generator would not beat"""


def train(setup: Setup, data: Data, root=None, parts=None) -> Trained:
    """Each GAN of ``parts`` (default: all), loaded from its checkpoint or trained; Fashion-MNIST's
    is skipped when its data are missing."""
    parts = experiments.chosen(parts, PARTS)
    device = lec16.device()
    fixed_z = torch.randn(
        SNAPSHOT_LATENTS,
        100,  # the generators' latent size
        device=device,
        generator=torch.Generator(device=device).manual_seed(1),
    )
    trained = Trained({}, {}, {}, {})
    for part in PARTS:
        images = data.images(part)
        if part not in parts or images is None:
            continue
        generator, discriminator = (m.to(device) for m in players(setup, part))
        trained.untrained[part] = copy.deepcopy(generator).eval()
        trained.histories[part] = gan.train_gan(
            generator,
            discriminator,
            images.fit[: setup.n_train],
            setup.config_of(part),
            sample_every_epoch=fixed_z,
            checkpoint=setup.checkpoint(part, root),
            desc=TITLES[part],
        )
        trained.generators[part] = generator.eval()
        trained.discriminators[part] = discriminator.eval()
    return trained


def samples(setup: Setup, generator: nn.Module) -> torch.Tensor:
    """The chapter's ``n_samples`` samples of ``generator``, drawn from
    ``torch.manual_seed(seed)``: the same latents for every model of this chapter and the
    LAPGAN chapter's."""
    torch.manual_seed(setup.seed)
    return gan.generate(generator, setup.n_samples)


def mean_pixel_claim(name: str, metrics: dict[str, float]) -> Claim:
    """The chapter's check of a generator (and the LAPGAN chapter's): its samples' mean pixel
    is nearer the data's than ``UNTRAINED_SHARE`` of its untrained copy's distance."""
    gap, untrained_gap = (
        abs(metrics[key] - metrics["real_mean_intensity"])
        for key in ("mean_intensity", "untrained_mean_intensity")
    )
    return Claim(
        f"{name}: |mean pixel - the data's|",
        gap,
        UNTRAINED_SHARE * untrained_gap,
        f"{UNTRAINED_SHARE:g} x the untrained generator's",
        higher=False,
    )


INGREDIENTS = (
    ("gan_batch_norm", "gan", "the same GAN without batch norm"),
    ("dcgan", "gan_batch_norm", "the MLP GAN with batch norm, no convolutions"),
)
"""(part, the part without its ingredient, what that reference is)"""
# an ingredient's gain in Fréchet distance, in standard errors of the difference
SES = 3


def frechet_claim(
    name: str,
    metrics: dict[str, float],
    reference: dict[str, float],
    against: str,
    asserted: bool = True,
) -> Claim:
    """A generator's Fréchet distance below ``reference``'s by :data:`SES` standard errors
    of the difference (each from :func:`lec16.evaluation.frechet_standard_error`; the two
    sets of samples are independent)."""
    return Claim(
        f"{name}: Fréchet distance",
        metrics["frechet"],
        reference["frechet"],
        against,
        margin=SES * math.hypot(metrics["frechet_se"], reference["frechet_se"]),
        higher=False,
        asserted=asserted,
    )


@dataclasses.dataclass
class Score(Result):
    metrics: dict[str, dict[str, float]]
    """by part: :func:`lec16.evaluation.sample_quality` of its samples, and
    :func:`lec16.evaluation.untrained_reference` of its untrained copy's (batch norm calibrated)"""
    references: dict[str, dict[str, float]]
    """by data set: its 9,000 held-out real images scored as if they were samples"""
    memorisation: dict[str, float]
    """MNIST parts: median distance of 1,000 samples to their nearest training digit, over the
    same for 1,000 test digits"""
    seconds: dict[str, float]
    """each part's training time"""
    scale: str = "default"
    """at ``smoke`` (two epochs) the ingredient claims are reported, not asserted"""

    def claims(self) -> list[Claim]:
        claims = [mean_pixel_claim(TITLES[part], m) for part, m in self.metrics.items()]
        for part, ratio in self.memorisation.items():
            claims.append(
                Claim(
                    f"{TITLES[part]}: nearest-training-digit distance / test digits'",
                    ratio,
                    MEMORISATION,
                    "a generator that memorised its training digits",
                )
            )
        return claims + self.ingredient_claims()

    def ingredient_claims(self) -> list[Claim]:
        """Each ingredient against the same GAN without it, by the Fréchet distance: batch
        norm (the MLP GAN with it against the paper's without), then the convolutions (the
        DCGAN against the MLP GAN with batch norm)."""
        return [
            frechet_claim(
                TITLES[part],
                self.metrics[part],
                self.metrics[reference],
                against,
                asserted=self.scale != "smoke",
            )
            for part, reference, against in INGREDIENTS
            if part in self.metrics and reference in self.metrics
        ]


def score(setup: Setup, data: Data, trained: Trained) -> Score:
    """Each trained GAN's sample quality beside its untrained copy's, the held-out real images
    of each data set it used, and how close the MNIST samples sit to their training digits."""
    metrics, memorisation = {}, {}
    train_digits = data.mnist.fit[: setup.n_train]
    test_distance = None
    for part, generator in trained.generators.items():
        images = data.images(part)
        drawn = samples(setup, generator)
        m = metrics[part] = evaluation.sample_quality(
            drawn, images.test, images.validation, data.feature_net
        )
        untrained = gan.calibrate_batch_norm(trained.untrained[part])
        m.update(
            evaluation.untrained_reference(
                gan.generate(untrained, setup.n_samples), images.test, data.feature_net
            )
        )
        if images is data.mnist:
            if test_distance is None:
                test_distance = evaluation.nearest_neighbours(
                    data.mnist.test[:1000], train_digits
                )[0]
            distance = evaluation.nearest_neighbours(drawn[:1000], train_digits)[0]
            memorisation[part] = (distance.median() / test_distance.median()).item()
    references = {
        name: evaluation.sample_quality(
            images.held_out, images.test, images.validation, data.feature_net
        )
        for name, images in data.sets().items()
        if any(DATA_SETS[part] == name for part in trained.generators)
    }
    seconds = {part: h.last["seconds"] for part, h in trained.histories.items()}
    return Score(metrics, references, memorisation, seconds, setup.scale)
