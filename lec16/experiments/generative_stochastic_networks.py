"""The MNIST DAE chains of the GSN chapter, walkback 1 and 2 (Bengio et al. 2013).

One-level denoising autoencoders of Bengio et al. (2013), 784 - 500 - 500 tanh units, on the
first ``n_train`` of Goodfellow et al.'s 50,000 training digits, one per walkback length, each
from ``torch.manual_seed(seed)``. Their samples (every 20th state of ``n_chains`` chains from
fair coins) are scored as the GAN chapters score generators (Parzen window in nats, Fréchet
distance of classifier features) and by the classifier's confident share, beside the same DAE
untrained. ``paper``: 100 epochs over the 50,000 digits (the 2013 paper does not state its
budget). The chapter's 2-D and 4-bit studies train in seconds in the notebook; their sizes are
here too (``ring_*``).
"""

from __future__ import annotations

import dataclasses
import math

import torch

import lec16
from lec16 import data, evaluation, experiments, gsn
from lec16.results import Claim, Result
from lec16.scales import check_positive, choose
from lec16.train import History

# nats a trained chain's Parzen log-likelihood must gain over untrained
PARZEN_MARGIN = 50
CONFIDENT_MARGIN = 0.1  # share of samples the classifier recognises, over untrained
PARTS = {
    "walkback1": "the DAE trained with walkback 1 (the ordinary denoising loss)",
    "walkback2": "the DAE trained with walkback 2",
}


@dataclasses.dataclass(frozen=True, kw_only=True)
class Setup(experiments.Setup):
    n_train: int
    """the first digits of Goodfellow et al.'s 50,000 training digits"""
    epochs: int
    """each MNIST DAE's epochs"""
    n_chains: int
    """chains run from noise to give the samples the chapter scores"""
    ring_walkbacks: tuple[int, ...]
    """the walkback lengths of the 2-D ring study"""
    ring_epochs: int
    """each 2-D DAE's epochs"""
    n_ring: int
    """training points drawn from the ring of eight Gaussians"""
    ring_chain_steps: int
    """steps of the 2-D chains"""
    walkbacks: tuple[int, ...] = (1, 2)
    """the MNIST DAEs' walkback lengths"""
    hidden: int = 500
    depth: int = 2
    noise: float = 0.4
    """salt-and-pepper noise of the MNIST DAEs"""
    chain_steps: int = 200
    keep_every: int = 20
    """the MNIST chains' samples: every ``keep_every``-th of ``chain_steps`` steps"""

    def __post_init__(self):
        super().__post_init__()
        for name in ("n_train", "epochs", "n_chains", "ring_epochs", "n_ring"):
            check_positive(name, getattr(self, name), integer=True)
        check_positive("ring_chain_steps", self.ring_chain_steps, integer=True)

    @classmethod
    def at(cls, scale: str, seed: int = 0) -> Setup:
        return choose(
            scale,
            smoke=cls(
                scale=scale,
                seed=seed,
                n_train=20_000,
                epochs=3,
                n_chains=200,
                ring_walkbacks=(1, 2),
                ring_epochs=5,
                n_ring=4000,
                ring_chain_steps=200,
            ),
            default=cls(
                scale=scale,
                seed=seed,
                n_train=50_000,
                epochs=5,
                n_chains=1000,
                ring_walkbacks=(1, 2, 4),
                ring_epochs=20,
                n_ring=10_000,
                ring_chain_steps=1000,
            ),
            paper=cls(
                scale=scale,
                seed=seed,
                n_train=50_000,
                epochs=100,
                n_chains=1000,
                ring_walkbacks=(1, 2, 4),
                ring_epochs=100,
                n_ring=10_000,
                ring_chain_steps=5000,
            ),
        )

    def with_epochs(self, epochs: int) -> Setup:
        """The same set-up with every DAE (MNIST and 2-D) trained for ``epochs`` epochs."""
        return dataclasses.replace(self, epochs=epochs, ring_epochs=epochs)

    def config(self, walkback: int) -> gsn.GSNConfig:
        """The training of the MNIST DAE with ``walkback`` corruptions per example."""
        return gsn.GSNConfig(epochs=self.epochs, walkback=walkback, seed=self.seed)

    def ring_config(self, walkback: int) -> gsn.GSNConfig:
        """The training of a 2-D DAE (real-valued data, no binarization)."""
        return gsn.GSNConfig(
            epochs=self.ring_epochs, walkback=walkback, binarize=False, seed=self.seed
        )


def dae(setup: Setup) -> gsn.DenoisingAutoencoder:
    """A DAE of ``setup``'s sizes on 784 binary pixels (initialised from torch's generator)."""
    return gsn.DenoisingAutoencoder(
        784, setup.hidden, noise=setup.noise, depth=setup.depth
    )


def chains(model: gsn.DenoisingAutoencoder, setup: Setup) -> torch.Tensor:
    """The chapter's samples of ``model``: ``n_chains`` chains started from one draw of fair
    coins (the same for every model), the reconstruction means at every ``keep_every``-th of
    ``chain_steps`` steps, shape (chain_steps / keep_every, n_chains, 784)."""
    return gsn.chains_from_noise(
        model, setup.n_chains, setup.chain_steps, setup.keep_every, setup.seed
    )


@dataclasses.dataclass
class Data:
    x_train: torch.Tensor
    """the first ``n_train`` of the 50,000 training digits, grey levels (binarized afresh
    while training)"""
    validation: torch.Tensor
    """the 1,000 digits that choose the Parzen width"""
    held_out: torch.Tensor
    """the 9,000 training digits no model saw: the real samples' reference row"""
    x_test: torch.Tensor
    """the 10,000 test digits, grey levels"""
    feature_net: evaluation.MnistFeatureNet
    """the classifier whose features and confidence score samples"""


def load_data(setup: Setup) -> Data:
    device = lec16.device()
    data.fetch_mnist(quiet=True)
    x_train = data.load_mnist("train", device=device)[0]
    x_test = data.load_mnist("test", device=device)[0]
    fit, validation, held_out = evaluation.parzen_protocol_split(x_train)
    net, _ = evaluation.feature_net(device)
    return Data(fit[: setup.n_train], validation, held_out, x_test, net)


@dataclasses.dataclass
class Trained:
    daes: dict[int, gsn.DenoisingAutoencoder]
    """the trained DAEs, by walkback length"""
    untrained: dict[int, gsn.DenoisingAutoencoder]
    """each DAE's untrained copy (drawn right after it): the reference to beat"""
    histories: dict[int, History]


def train(setup: Setup, data: Data, root=None, parts=None) -> Trained:
    """Each DAE of ``parts`` (default: all), loaded from its checkpoint or trained."""
    parts = experiments.chosen(parts, PARTS)
    device = lec16.device()
    trained = Trained({}, {}, {})
    for walkback in setup.walkbacks:
        if f"walkback{walkback}" not in parts:
            continue
        torch.manual_seed(setup.seed)
        model = dae(setup).to(device)
        trained.untrained[walkback] = dae(setup).to(device)
        trained.histories[walkback] = gsn.train_gsn(
            model,
            data.x_train,
            setup.config(walkback),
            checkpoint=setup.checkpoint(f"walkback{walkback}", root),
            desc=f"MNIST DAE, walkback {walkback}",
        )
        trained.daes[walkback] = model
    return trained


def sample_scores(images: torch.Tensor, data: Data) -> dict[str, float]:
    """The GAN chapters' metrics of ``images`` (any shape of 784 pixels each) and the share
    the classifier recognises (``confident``)."""
    images = images.reshape(-1, 1, 28, 28)
    quality = evaluation.sample_quality(
        images, data.x_test, data.validation, data.feature_net
    )
    quality["confident"] = evaluation.confident_share(data.feature_net, images)
    return quality


@dataclasses.dataclass
class Score(Result):
    quality: dict[int, dict[str, float]]
    """each chain's samples, by walkback: ``parzen`` (± ``parzen_se``, nats), ``frechet``,
    ``confident`` and the rest of :func:`lec16.evaluation.sample_quality`"""
    untrained: dict[int, dict[str, float]]
    """the same of each DAE's untrained copy"""
    real: dict[str, float]
    """the same of the held-out real digits"""
    seconds: dict[int, float]
    """training seconds"""
    scale: str = "default"
    """the set-up's scale: at ``smoke`` the chains are too short for walkback to tell, so the
    walkback claims are reported there, not asserted"""

    def claims(self) -> list[Claim]:
        claims = []
        for walkback, q in self.quality.items():
            reference = self.untrained[walkback]
            name, against = f"walkback {walkback}", "the same DAE untrained"
            claims += [
                Claim(
                    f"{name}: Parzen log-likelihood",
                    q["parzen"],
                    reference["parzen"],
                    against,
                    margin=PARZEN_MARGIN,
                    unit="nats",
                ),
                Claim(
                    f"{name}: Fréchet distance",
                    q["frechet"],
                    reference["frechet"],
                    against,
                    higher=False,
                ),
                Claim(
                    f"{name}: confident share",
                    q["confident"],
                    reference["confident"],
                    against,
                    margin=CONFIDENT_MARGIN,
                ),
            ]
        # the chapter's ingredient, walkback: each longer walkback against the DAE trained
        # without it (walkback 1), by one standard error of their difference
        plain = self.quality.get(1)
        for walkback, q in self.quality.items() if plain is not None else ():
            if walkback == 1:
                continue
            claims.append(
                Claim(
                    f"walkback {walkback}: Parzen log-likelihood",
                    q["parzen"],
                    plain["parzen"],
                    "the same DAE trained without walkback (walkback 1)",
                    margin=math.hypot(q["parzen_se"], plain["parzen_se"]),
                    unit="nats",
                    asserted=self.scale != "smoke",
                )
            )
        return claims


def score(setup: Setup, data: Data, trained: Trained) -> Score:
    """Each trained chain's samples and its untrained copy's, scored beside the held-out
    digits."""
    result = Score({}, {}, {}, {}, scale=setup.scale)
    for walkback, model in trained.daes.items():
        result.quality[walkback] = sample_scores(chains(model, setup), data)
        result.untrained[walkback] = sample_scores(
            chains(trained.untrained[walkback], setup), data
        )
        result.seconds[walkback] = trained.histories[walkback].last["seconds"]
    result.real = sample_scores(data.held_out, data)
    return result
