"""The autoencoder chapter's models: an autoencoder on a spiral, and a VAE trained briefly on MNIST.

The autoencoder (2 -> 1 -> 2, two tanh layers of 128 units) learns the spiral's one-dimensional
manifold from 2,000 noisy points, for ``ae_epochs`` epochs of Adam with a step-decayed learning
rate; its reconstruction error is compared with the distance to that manifold. The VAE (20
latents) trains for one epoch on the first ``vae_examples`` training digits: the model on which
the chapter checks the Monte Carlo estimator of the bound. Its test bound (the first 1,000 digits
of the book's one binarization of the test set) must beat the same network untrained, and the
same VAE trained the same way with the score-function gradient, paired over the digits.
"""

from __future__ import annotations

import dataclasses
import math

import torch

import lec16
from lec16 import autoencoder, experiments, vae
from lec16.data import Batches
from lec16.results import Claim, Estimate, Result
from lec16.scales import check_positive, choose
from lec16.train import History, fit, optimizer_step

MARGIN = 100  # nats per digit the VAE must gain over its untrained copy
N_SCORED = 1000  # the first test digits the VAE's bound is measured on
PARTS = {
    "autoencoder": "the autoencoder with a 1-D code on the 2-D spiral",
    "vae": "the VAE with 20 latents, one epoch on MNIST (the estimator's checks)",
    "vae_score_function": "the same VAE trained the same way with the score-function "
    "gradient: the reparametrization removed",
}
SES = 3  # the reparametrization's gain, in paired standard errors


@dataclasses.dataclass(frozen=True, kw_only=True)
class Setup(experiments.Setup):
    ae_epochs: int
    """the spiral autoencoder's epochs"""
    vae_examples: int
    """the first training digits the VAE sees"""
    vae_config: vae.TrainConfig
    """the VAE's training: one epoch of Adam at every scale"""

    def __post_init__(self):
        super().__post_init__()
        check_positive("ae_epochs", self.ae_epochs, integer=True)
        check_positive("vae_examples", self.vae_examples, integer=True)

    @classmethod
    def at(cls, scale: str, seed: int = 0) -> Setup:
        vae_config = vae.TrainConfig(epochs=1, seed=seed)
        return choose(
            scale,
            smoke=cls(
                scale=scale,
                seed=seed,
                ae_epochs=5,
                vae_examples=2000,
                vae_config=vae_config,
            ),
            default=cls(
                scale=scale,
                seed=seed,
                ae_epochs=150,
                vae_examples=20_000,
                vae_config=vae_config,
            ),
            paper=cls(
                scale=scale,
                seed=seed,
                ae_epochs=400,
                vae_examples=60_000,
                vae_config=vae_config,
            ),
        )

    def with_epochs(self, epochs: int) -> Setup:
        """Both models trained for ``epochs`` epochs."""
        return dataclasses.replace(
            self,
            ae_epochs=epochs,
            vae_config=dataclasses.replace(self.vae_config, epochs=epochs),
        )


@dataclasses.dataclass
class Data:
    x_spiral: torch.Tensor
    """2,000 noisy points around a spiral arc, (2000, 2): the same at every scale and seed"""
    x_train: torch.Tensor
    """the first ``vae_examples`` training digits, grey levels, flattened"""
    x_test_bin: torch.Tensor
    """the book's one binarization of the 10,000 test digits"""


def spiral(n: int = 2000, noise: float = 0.02, seed: int = 0) -> torch.Tensor:
    """``n`` points of the arc t (cos t, sin t) / 3 pi, t uniform in [pi/2, 2 pi], plus Gaussian
    noise of standard deviation ``noise`` (from a generator of their own, seeded ``seed``)."""
    g = torch.Generator().manual_seed(seed)
    t = 0.5 * math.pi + 1.5 * math.pi * torch.rand(n, generator=g)
    curve = torch.stack([t * torch.cos(t), t * torch.sin(t)], 1) / (3 * math.pi)
    return curve + noise * torch.randn(n, 2, generator=g)


def load_data(setup: Setup) -> Data:
    device = lec16.device()
    x_train, x_test_bin = experiments.binarized_mnist(setup.vae_examples, device)
    return Data(spiral().to(device), x_train, x_test_bin)


@dataclasses.dataclass
class Trained:
    ae: autoencoder.Autoencoder | None = None
    ae_history: History | None = None
    vae: vae.VAE | None = None
    vae_history: History | None = None
    vae_untrained_bound: float | None = None
    """the VAE's test bound before training: the reference to beat"""
    vae_score_function: vae.VAE | None = None
    """the same VAE, same seed and schedule, its encoder trained by the score function"""
    vae_score_function_history: History | None = None


def train_autoencoder(setup: Setup, data: Data, root=None):
    """The spiral autoencoder from ``torch.manual_seed(seed)``, loaded or trained."""
    torch.manual_seed(setup.seed)
    ae = autoencoder.Autoencoder(x_dim=2, code_dim=1, hidden=128).to(lec16.device())
    optimizer = torch.optim.Adam(ae.parameters(), lr=3e-3)
    scheduler = torch.optim.lr_scheduler.StepLR(
        optimizer, step_size=max(1, setup.ae_epochs // 4), gamma=0.5
    )

    def step(batch):
        loss = (ae(batch[0]) - batch[0]).pow(2).sum(1).mean()
        optimizer_step(optimizer, loss)
        return {"loss": loss}

    history = fit(
        step,
        Batches(data.x_spiral, batch_size=100, seed=setup.seed),
        setup.ae_epochs,
        modules={"ae": ae},
        optimizers={"adam": optimizer},
        schedulers={"step": scheduler},
        checkpoint=setup.checkpoint("autoencoder", root),
        desc="autoencoder",
    )
    return ae.eval(), history


def train(setup: Setup, data: Data, root=None, parts=None) -> Trained:
    """The models of ``parts`` (default: both), each loaded from its checkpoint or trained."""
    parts = experiments.chosen(parts, PARTS)
    trained = Trained()
    if "autoencoder" in parts:
        trained.ae, trained.ae_history = train_autoencoder(setup, data, root)
    if "vae" in parts:
        torch.manual_seed(setup.seed)
        model = vae.VAE(vae.VAEConfig(latent=20)).to(lec16.device())
        x_scored = data.x_test_bin[:N_SCORED]
        trained.vae_untrained_bound = vae.elbo(model, x_scored).item()
        trained.vae_history = vae.train_vae(
            model,
            data.x_train,
            x_scored,
            setup.vae_config,
            checkpoint=setup.checkpoint("vae", root),
            desc="vae",
        )
        trained.vae = model.eval()
    if "vae_score_function" in parts:
        torch.manual_seed(setup.seed)
        model = vae.VAE(vae.VAEConfig(latent=20)).to(lec16.device())
        trained.vae_score_function_history = vae.train_vae(
            model,
            data.x_train,
            data.x_test_bin[:N_SCORED],
            setup.vae_config,
            objective=vae.score_function_bound,
            checkpoint=setup.checkpoint("vae_score_function", root),
            desc="vae, score-function gradient",
        )
        trained.vae_score_function = model.eval()
    return trained


@dataclasses.dataclass
class Score(Result):
    ae_loss: list[float] | None
    """the autoencoder's training loss per epoch (squared reconstruction error)"""
    vae_test_bound: float | None
    """nats per digit on the first 1,000 test digits, after training (one draw of q)"""
    vae_untrained_bound: float | None
    seconds: dict[str, float]
    """training seconds of each model"""
    reparametrization_gain: Estimate | None = None
    """the VAE's test bound minus the score-function VAE's, per digit (paired, one draw of q
    each): what the reparametrization buys in training"""
    scale: str = "default"
    """at ``smoke`` the reparametrization's claim is reported, not asserted"""

    def claims(self) -> list[Claim]:
        claims = []
        if self.ae_loss is not None:
            claims.append(
                Claim(
                    "autoencoder: training loss, last epoch",
                    self.ae_loss[-1],
                    self.ae_loss[0],
                    "its first epoch",
                    higher=False,
                )
            )
        if self.vae_test_bound is not None:
            claims.append(
                Claim(
                    "VAE: test bound",
                    self.vae_test_bound,
                    self.vae_untrained_bound,
                    "the same network untrained",
                    margin=MARGIN,
                    unit="nats",
                )
            )
        if self.reparametrization_gain is not None:
            gain = self.reparametrization_gain
            claims.append(
                Claim(
                    "VAE: test bound, reparametrization against the score function",
                    gain.mean,
                    0.0,
                    "the same VAE trained with the score-function gradient",
                    margin=SES * gain.se,
                    unit="nats",
                    asserted=self.scale != "smoke",
                )
            )
        return claims


def score(setup: Setup, data: Data, trained: Trained) -> Score:
    """The autoencoder's loss curve and the VAE's test bound (its last evaluation in training)
    beside the untrained network's, for the models ``trained`` holds."""
    ae_history, vae_history = trained.ae_history, trained.vae_history
    seconds = {}
    if ae_history is not None:
        seconds["autoencoder"] = ae_history.last["seconds"]
    if vae_history is not None:
        seconds["vae"] = vae_history.last["seconds"]
    gain = None
    if trained.vae is not None and trained.vae_score_function is not None:
        seconds["vae_score_function"] = trained.vae_score_function_history.last[
            "seconds"
        ]
        x_scored = data.x_test_bin[:N_SCORED]
        torch.manual_seed(setup.seed)
        with torch.no_grad():
            gain = Estimate.paired(
                trained.vae(x_scored), trained.vae_score_function(x_scored)
            )
    return Score(
        ae_loss=list(ae_history["loss"]) if ae_history is not None else None,
        vae_test_bound=(
            vae_history.last["test_elbo"] if vae_history is not None else None
        ),
        vae_untrained_bound=trained.vae_untrained_bound,
        seconds=seconds,
        reparametrization_gain=gain,
        scale=setup.scale,
    )
