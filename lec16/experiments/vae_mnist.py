"""The VAE chapter's MNIST VAEs: one per latent dimension, and one with a Gaussian decoder.

Kingma & Welling (2014) train with Adagrad on up to 10^8 examples (about 1,700 epochs): that is
``paper``. On 2 CPU cores ``default`` uses Adam for 8 epochs; ``smoke`` one epoch on 1,000 digits.
Every model starts from ``torch.manual_seed(seed)``; its test bound is scored on the book's one
binarization of the 10,000 test digits, beside the same network untrained.
"""

from __future__ import annotations

import dataclasses

import torch

import lec16
from lec16 import data, experiments, vae
from lec16.results import Claim, Estimate, Result
from lec16.scales import choose
from lec16.train import History

MARGIN = 100  # nats per digit a trained model must gain over its untrained copy
SES = 3  # the largest code beats the smallest by this many paired standard errors
PARTS = {
    "z2": "the VAE with a 2-D latent (the manifold figure)",
    "z5": "the VAE with 5 latents",
    "z10": "the VAE with 10 latents",
    "z20": "the VAE with 20 latents (the chapter's headline model)",
    "gaussian": "the VAE with a Gaussian decoder on grey levels (regression to the mean)",
}


@dataclasses.dataclass(frozen=True, kw_only=True)
class Setup(experiments.Setup):
    n_train: int
    """the first training digits"""
    config: vae.TrainConfig
    """the Bernoulli VAEs' training"""
    gaussian_epochs: int
    """the Gaussian VAE's epochs"""
    frey_epochs: int
    """the Frey Face VAE's epochs (online only)"""
    latents: tuple[int, ...] = (2, 5, 10, 20)
    score_draws: int = 10
    """draws of q per test digit in the scored test bound"""

    @classmethod
    def at(cls, scale: str, seed: int = 0) -> Setup:
        return choose(
            scale,
            smoke=cls(
                scale=scale,
                seed=seed,
                n_train=1000,
                config=vae.TrainConfig(epochs=1, seed=seed),
                gaussian_epochs=1,
                frey_epochs=2,
            ),
            default=cls(
                scale=scale,
                seed=seed,
                n_train=60_000,
                config=vae.TrainConfig(epochs=8, seed=seed),
                gaussian_epochs=4,
                frey_epochs=200,
            ),
            paper=cls(
                scale=scale,
                seed=seed,
                n_train=60_000,
                config=vae.TrainConfig(
                    epochs=1700, optimizer="adagrad", lr=0.02, seed=seed
                ),
                gaussian_epochs=200,
                frey_epochs=2000,
            ),
        )

    def gaussian_config(self) -> vae.TrainConfig:
        """The Gaussian VAE's training: on the grey levels themselves."""
        return vae.TrainConfig(
            epochs=self.gaussian_epochs, dynamic_binarization=False, seed=self.seed
        )


@dataclasses.dataclass
class Data:
    x_train: torch.Tensor
    """the first ``n_train`` training digits, grey levels, flattened"""
    x_test: torch.Tensor
    """the 10,000 test digits, grey levels, flattened"""
    x_test_bin: torch.Tensor
    """the book's one binarization of the test digits"""
    y_test: torch.Tensor


def load_data(setup: Setup) -> Data:
    device = lec16.device()
    data.fetch_mnist(quiet=True)
    x_train = data.load_mnist("train", device=device)[0]
    x_test, y_test = data.load_mnist("test", device=device)
    x_test = x_test.flatten(1)
    return Data(
        x_train[: setup.n_train].flatten(1),
        x_test,
        data.binarized_test_set(x_test),
        y_test,
    )


@dataclasses.dataclass
class Trained:
    models: dict[int, vae.VAE]
    """the Bernoulli VAEs by latent dimension"""
    histories: dict[int, History]
    untrained_bounds: dict[int, float]
    """each network's test bound before training: the reference to beat"""
    gaussian: vae.VAE | None = None
    gaussian_history: History | None = None


def train(setup: Setup, data: Data, root=None, parts=None) -> Trained:
    """Each VAE of ``parts`` (default: all), loaded from its checkpoint or trained."""
    parts = experiments.chosen(parts, PARTS)
    device = lec16.device()
    trained = Trained({}, {}, {})
    for latent in setup.latents:
        if f"z{latent}" not in parts:
            continue
        torch.manual_seed(setup.seed)
        model = vae.VAE(vae.VAEConfig(latent=latent)).to(device)
        trained.untrained_bounds[latent] = vae.elbo(model, data.x_test_bin).item()
        trained.histories[latent] = vae.train_vae(
            model,
            data.x_train,
            data.x_test_bin,
            setup.config,
            checkpoint=setup.checkpoint(f"z{latent}", root),
            desc=f"VAE z={latent}",
        )
        trained.models[latent] = model.eval()
    if "gaussian" in parts:
        torch.manual_seed(setup.seed)
        model = vae.VAE(vae.VAEConfig(latent=20, likelihood="gaussian")).to(device)
        trained.gaussian_history = vae.train_vae(
            model,
            data.x_train,
            data.x_test[:2000],
            setup.gaussian_config(),
            checkpoint=setup.checkpoint("gaussian", root),
            desc="Gaussian VAE",
        )
        trained.gaussian = model.eval()
    return trained


@dataclasses.dataclass
class Score(Result):
    test_bound: dict[int, float]
    """nats per test digit, the mean of ``score_draws`` draws of q per digit"""
    untrained_bound: dict[int, float]
    latent_gain: Estimate | None = None
    """the largest code's test bound minus the smallest's, per digit (paired): what the size of
    the code buys"""
    scale: str = "default"
    """at ``smoke`` (one epoch on 1,000 digits) the latent claim is reported, not asserted"""

    def claims(self) -> list[Claim]:
        claims = [
            Claim(
                f"z = {latent}: test bound",
                bound,
                self.untrained_bound[latent],
                "the same network untrained",
                margin=MARGIN,
                unit="nats",
            )
            for latent, bound in self.test_bound.items()
        ]
        if self.latent_gain is not None:
            large, small = max(self.test_bound), min(self.test_bound)
            claims.append(
                Claim(
                    f"z = {large} against z = {small}: test bound, paired",
                    self.latent_gain.mean,
                    0.0,
                    f"the same VAE with z = {small}",
                    margin=SES * self.latent_gain.se,
                    unit="nats",
                    asserted=self.scale != "smoke",
                )
            )
        return claims


def score(setup: Setup, data: Data, trained: Trained) -> Score:
    """The Bernoulli VAEs' test bounds (the Gaussian VAE is the chapter's illustration only),
    per digit the mean of ``score_draws`` draws, and the largest code's gain over the
    smallest's, paired over the same digits."""
    torch.manual_seed(setup.seed)
    per_digit = {}
    for latent, model in trained.models.items():
        draws = [vae.bounds(model, data.x_test_bin) for _ in range(setup.score_draws)]
        per_digit[latent] = torch.stack(draws).mean(0)
    gain = None
    if len(per_digit) > 1:
        gain = Estimate.paired(per_digit[max(per_digit)], per_digit[min(per_digit)])
    return Score(
        {latent: values.mean().item() for latent, values in per_digit.items()},
        dict(trained.untrained_bounds),
        gain,
        setup.scale,
    )
