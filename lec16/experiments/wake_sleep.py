"""Helmholtz machines by wake-sleep on MNIST, and a VAE of the same shape (Hinton et al. 1995).

Four machines of one hidden layer (784 - 200): binary h by wake-sleep (Hinton et al. 1995),
Gaussian h by wake-sleep, the same Gaussian machine trained as a VAE by the reparametrized
ELBO (Kingma & Welling 2014 compare the two on shared networks, their Figure 2), and the
binary machine trained by the wake phase alone (the reference that isolates the sleep phase).
Each starts from ``torch.manual_seed(seed)`` and is scored by IWAE's L_k and the ELBO on the
first ``n_test`` digits of the book's one binarization of the test set, beside its untrained
copy's L_k. ``paper``: 500 epochs over the 60,000 digits and L_5000 on the 10,000 test digits.
"""

from __future__ import annotations

import copy
import dataclasses

import torch

import lec16
from lec16 import data, experiments, iwae
from lec16 import wake_sleep as ws
from lec16.results import Claim, Estimate, Result
from lec16.scales import check_positive, choose
from lec16.train import History

# nats per digit a trained machine's L_k must gain over its untrained copy's
MARGIN = 10
UNTRAINED_K = 100  # the most draws per digit in the untrained copy's L_k


@dataclasses.dataclass(frozen=True)
class Machine:
    """One of the chapter's machines: its title in the tables, its hidden units
    (``lec16.wake_sleep.LATENTS``) and its training rule (``lec16.wake_sleep.RULES``)."""

    title: str
    latent: str
    rule: str


MACHINES = {
    "helmholtz": Machine("Helmholtz machine, wake-sleep", "bernoulli", "wake-sleep"),
    "gaussian": Machine("Gaussian h, wake-sleep", "gaussian", "wake-sleep"),
    "vae": Machine("VAE, ELBO", "gaussian", "elbo"),
    "helmholtz_no_sleep": Machine(
        "Helmholtz machine, wake phase alone", "bernoulli", "wake"
    ),
}
PARTS = {
    "helmholtz": "the Helmholtz machine (binary h) by wake-sleep",
    "gaussian": "the machine with Gaussian h by wake-sleep",
    "vae": "the same Gaussian machine as a VAE, by the reparametrized ELBO",
    "helmholtz_no_sleep": "the Helmholtz machine trained without its sleep phase",
}
# the reference that isolates each wake-sleep machine's sleep phase (trained without it)
WITHOUT_SLEEP = {"helmholtz": "helmholtz_no_sleep"}
# paired standard errors by which wake-sleep must beat its machine without sleep
SES = 3


@dataclasses.dataclass(frozen=True, kw_only=True)
class Setup(experiments.Setup):
    n_train: int
    """the first training digits"""
    epochs: int
    """every machine's epochs"""
    k_eval: int
    """draws of q per test digit in the reported L_k"""
    n_test: int
    """the first test digits (the book's fixed binarization)"""
    n_mc: int
    """sampled dreams (and data points) of the wake and sleep gradients checked against
    enumeration on the 6-3-2 machine"""
    layers: tuple[int, ...] = (784, 200)
    """visible units, then one layer of latent units"""

    def __post_init__(self):
        super().__post_init__()
        for name in ("n_train", "epochs", "k_eval", "n_test", "n_mc"):
            check_positive(name, getattr(self, name), integer=True)

    @classmethod
    def at(cls, scale: str, seed: int = 0) -> Setup:
        return choose(
            scale,
            smoke=cls(
                scale=scale,
                seed=seed,
                n_train=2000,
                epochs=2,
                k_eval=100,
                n_test=500,
                n_mc=100_000,
            ),
            default=cls(
                scale=scale,
                seed=seed,
                n_train=60_000,
                epochs=10,
                k_eval=1000,
                n_test=1000,
                n_mc=400_000,
            ),
            paper=cls(
                scale=scale,
                seed=seed,
                n_train=60_000,
                epochs=500,
                k_eval=5000,
                n_test=10_000,
                n_mc=400_000,
            ),
        )

    def with_epochs(self, epochs: int) -> Setup:
        return dataclasses.replace(self, epochs=epochs)

    def config(self, rule: str) -> ws.WakeSleepConfig:
        """The training of a machine by ``rule``."""
        return ws.WakeSleepConfig(epochs=self.epochs, rule=rule, seed=self.seed)


@dataclasses.dataclass
class Data:
    x_train: torch.Tensor
    """the first ``n_train`` training digits, grey levels, flattened"""
    x_test: torch.Tensor
    """the first ``n_test`` test digits, binarized once, flattened"""


def load_data(setup: Setup) -> Data:
    device = lec16.device()
    data.fetch_mnist(quiet=True)
    x_train = data.load_mnist("train", device=device)[0][: setup.n_train].flatten(1)
    x_test = data.load_mnist("test", device=device)[0][: setup.n_test].flatten(1)
    return Data(x_train, data.binarized_test_set(x_test))


@dataclasses.dataclass
class Trained:
    models: dict[str, ws.HelmholtzMachine]
    """the trained machines, by part"""
    untrained: dict[str, ws.HelmholtzMachine]
    """each machine as it was initialised: the reference to beat"""
    histories: dict[str, History]


def train(setup: Setup, data: Data, root=None, parts=None) -> Trained:
    """Each machine of ``parts`` (default: all), loaded from its checkpoint or trained."""
    parts = experiments.chosen(parts, PARTS)
    device = lec16.device()
    trained = Trained({}, {}, {})
    for part, machine in MACHINES.items():
        if part not in parts:
            continue
        torch.manual_seed(setup.seed)
        model = ws.HelmholtzMachine(setup.layers, machine.latent).to(device)
        trained.untrained[part] = copy.deepcopy(model)
        trained.histories[part] = ws.train_helmholtz(
            model,
            data.x_train,
            data.x_test,
            setup.config(machine.rule),
            checkpoint=setup.checkpoint(part, root),
            desc=machine.title,
        )
        trained.models[part] = model
    return trained


@dataclasses.dataclass
class Score(Result):
    elbo: dict[str, Estimate]
    """the test ELBO L_1 per digit (one draw of q per digit), by part"""
    lk: dict[str, Estimate]
    """IWAE's test L_k per digit, k = ``k``"""
    untrained_lk: dict[str, float]
    """the untrained copy's L_k, k = min(``k``, 100)"""
    k: int
    seconds: dict[str, float]
    """training seconds"""
    lk_minus_vae: dict[str, Estimate] = dataclasses.field(default_factory=dict)
    """each wake-sleep machine's L_k minus the VAE's, paired over the same test digits"""
    sleep_gain: dict[str, Estimate] = dataclasses.field(default_factory=dict)
    """each wake-sleep machine's L_k minus the same machine's trained without its sleep
    phase, paired over the same test digits"""

    def claims(self) -> list[Claim]:
        claims = [
            Claim(
                f"{MACHINES[part].title}: test L_k",
                lk.mean,
                self.untrained_lk[part],
                "the same machine untrained",
                margin=MARGIN,
                unit="nats",
            )
            for part, lk in self.lk.items()
        ]
        # the chapter's ingredient, the sleep phase: the machine trained without it
        claims += [
            Claim(
                f"{MACHINES[part].title}: test L_k",
                self.lk[part].mean,
                self.lk[WITHOUT_SLEEP[part]].mean,
                f"the same machine trained without its sleep phase, + {SES} paired SE",
                margin=SES * gain.se,
                unit="nats",
            )
            for part, gain in self.sleep_gain.items()
        ]
        return claims


def _estimate(values: torch.Tensor) -> Estimate:
    """The mean of per-digit values and its standard error, in the values' own precision."""
    return Estimate(values.mean().item(), values.std().item() / len(values) ** 0.5)


def score(setup: Setup, data: Data, trained: Trained) -> Score:
    """Each trained machine's test ELBO and L_k, and its untrained copy's L_k: per machine
    from ``torch.manual_seed(seed)``."""
    result = Score({}, {}, {}, setup.k_eval, {})
    per_digit = {}
    for part, model in trained.models.items():
        torch.manual_seed(setup.seed)
        elbo, bound = iwae.bounds_by_k(model, data.x_test, (1, setup.k_eval))
        per_digit[part] = bound
        untrained = iwae.bounds_by_k(
            trained.untrained[part], data.x_test, (min(setup.k_eval, UNTRAINED_K),)
        )[0]
        result.elbo[part], result.lk[part] = _estimate(elbo), _estimate(bound)
        result.untrained_lk[part] = untrained.mean().item()
        result.seconds[part] = trained.histories[part].last["seconds"]
    if "vae" in per_digit:
        for part, bound in per_digit.items():
            if part != "vae" and part not in WITHOUT_SLEEP.values():
                result.lk_minus_vae[part] = _estimate(bound - per_digit["vae"])
    for part, reference in WITHOUT_SLEEP.items():
        if part in per_digit and reference in per_digit:
            result.sleep_gain[part] = _estimate(per_digit[part] - per_digit[reference])
    return result
