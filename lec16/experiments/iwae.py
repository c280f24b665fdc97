"""The IWAE chapter's MNIST models: Burda et al.'s VAE trained on the k-sample ELBO and on L_k.

Burda, Grosse & Salakhutdinov (2016), Table 1 (one stochastic layer): the same network
(:data:`lec16.iwae.ARCHITECTURE`) trained on the VAE's k-sample ELBO for k = 1, 5, 50 and on
the IWAE bound L_k for k = 5, 50 (k = 1 is the same objective). ``paper``: their schedule,
3^i passes at learning rate 1e-3 * 10^(-i/7) for i = 0 ... 7 (3,280 passes), batch 20, Adam
eps 1e-4; ``default``: 3 passes at batch 100 (2 CPU cores). Every model starts from
``torch.manual_seed(seed)``; each is scored by its test NLL (L_5000 on the first ``n_test_nll``
digits of the book's one binarization of the test set) beside the same network untrained, and
by its active units.
"""

from __future__ import annotations

import dataclasses

import torch

import lec16
from lec16 import data, experiments, iwae, vae
from lec16.results import Claim, Estimate, Result
from lec16.scales import choose
from lec16.train import History

SES = 3  # paired standard errors by which an IWAE must beat the VAE of the same k
# nats per digit of NLL a trained model must gain over the untrained network
MARGIN = 100
RUNS = (("vae", 1), ("vae", 5), ("iwae", 5), ("vae", 50), ("iwae", 50))
"""(objective, k) of each model, in training order (``iwae`` with k = 1 is ``vae``)"""
PARTS = {
    "vae_k1": "the VAE trained on the ELBO (k = 1: the IWAE with k = 1 is the same model)",
    "vae_k5": "the VAE trained on the 5-sample ELBO",
    "iwae_k5": "the IWAE trained on L_5",
    "vae_k50": "the VAE trained on the 50-sample ELBO",
    "iwae_k50": "the IWAE trained on L_50 (the chapter's headline model)",
}


@dataclasses.dataclass(frozen=True, kw_only=True)
class Setup(experiments.Setup):
    n_train: int
    """the first training digits"""
    config: vae.TrainConfig
    """every model's training"""
    n_test_nll: int
    """test digits of the k = 5000 estimate of the NLL"""
    n_test_monitor: int = 1000
    """test digits whose ELBO is recorded after each epoch"""
    lk_ks: tuple[int, ...] = (1, 5, 50, 500, 5000)
    """the k of L_k measured on the trained models (independent draws for each)"""
    n_activity: int = 500
    """training digits of the unit-activity statistic (Burda et al.'s code: 500)"""

    @classmethod
    def at(cls, scale: str, seed: int = 0) -> Setup:
        return choose(
            scale,
            smoke=cls(
                scale=scale,
                seed=seed,
                n_train=1000,
                config=vae.TrainConfig(epochs=1, batch_size=100, seed=seed),
                n_test_nll=20,
            ),
            default=cls(
                scale=scale,
                seed=seed,
                n_train=60_000,
                config=vae.TrainConfig(epochs=3, batch_size=100, seed=seed),
                n_test_nll=100,
            ),
            paper=cls(
                scale=scale,
                seed=seed,
                n_train=60_000,
                config=vae.TrainConfig(
                    epochs=3280,
                    batch_size=20,
                    lr=1e-3,
                    adam_eps=1e-4,
                    lr_schedule="burda",
                    seed=seed,
                ),
                n_test_nll=10_000,
            ),
        )


@dataclasses.dataclass
class Data:
    x_train: torch.Tensor
    """the first ``n_train`` training digits, grey levels, flattened"""
    x_test_bin: torch.Tensor
    """the book's one binarization of the 10,000 test digits"""
    activity_digits: torch.Tensor
    """one binarization of the first ``n_activity`` training digits (the unit activity)"""


def load_data(setup: Setup) -> Data:
    device = lec16.device()
    x_train, x_test_bin = experiments.binarized_mnist(setup.n_train, device)
    activity_digits = data.binarize_dynamic(
        x_train[: setup.n_activity],
        generator=torch.Generator(device=device).manual_seed(setup.seed),
    )
    return Data(x_train, x_test_bin, activity_digits)


@dataclasses.dataclass
class Trained:
    models: dict[tuple[str, int], vae.VAE] = dataclasses.field(default_factory=dict)
    """(objective, k) -> the trained model, in eval mode"""
    histories: dict[tuple[str, int], History] = dataclasses.field(default_factory=dict)


def train(setup: Setup, data: Data, root=None, parts=None) -> Trained:
    """Each model of ``parts`` (default: all), loaded from its checkpoint or trained, from
    ``torch.manual_seed(seed)``."""
    parts = experiments.chosen(parts, PARTS)
    device = lec16.device()
    trained = Trained()
    for kind, k in RUNS:
        name = f"{kind}_k{k}"
        if name not in parts:
            continue
        torch.manual_seed(setup.seed)
        model = vae.VAE(iwae.ARCHITECTURE).to(device)
        trained.histories[(kind, k)] = vae.train_vae(
            model,
            data.x_train,
            data.x_test_bin[: setup.n_test_monitor],
            setup.config,
            objective=lambda m, x, k=k, kind=kind: iwae.objective(m, x, k, kind),
            objective_name=f"{kind} k={k}",
            checkpoint=setup.checkpoint(name, root),
            desc=f"{kind.upper()} k={k}",
        )
        trained.models[(kind, k)] = model.eval()
    return trained


@dataclasses.dataclass
class Score(Result):
    nll: dict[str, dict[int, Estimate]]
    """objective -> k -> the test NLL, -L_5000 (nats per digit, one SE over the digits)"""
    untrained_nll: float
    """the same network untrained: the reference"""
    lk_ks: tuple[int, ...]
    lk_means: dict[str, dict[int, list[float]]]
    """objective -> k -> L_k' on the test digits for each k' of ``lk_ks`` (fresh draws)"""
    active_units: dict[str, dict[int, int]]
    activity: dict[str, dict[int, list[float]]]
    """objective -> k -> Cov_x(E_q[u]) of each latent unit u (active above 1e-2)"""
    iwae_minus_vae: dict[int, Estimate]
    """k -> NLL(IWAE) - NLL(VAE) on the same digits (paired SE), for each k > 1 with both"""
    seconds: dict[str, dict[int, float]]
    """objective -> k -> training seconds"""
    scale: str = "default"
    """the set-up's scale: at ``smoke`` the runs are too short for the objectives to part, so
    the IWAE-against-VAE claims are reported there, not asserted"""

    def claims(self) -> list[Claim]:
        claims = [
            Claim(
                f"{kind.upper()}, k = {k}: test NLL",
                nll.mean,
                self.untrained_nll,
                "the same network untrained",
                margin=MARGIN,
                unit="nats",
                higher=False,
            )
            for kind, by_k in self.nll.items()
            for k, nll in by_k.items()
        ]
        # the chapter's ingredient, the importance-weighted objective: each IWAE against the
        # VAE trained with the same k samples, data and budget, paired over the test digits
        claims += [
            Claim(
                f"IWAE, k = {k}: test NLL",
                self.nll["iwae"][k].mean,
                self.nll["vae"][k].mean,
                f"the VAE trained with the same k, less {SES} paired SE",
                margin=SES * gap.se,
                unit="nats",
                higher=False,
                asserted=self.scale != "smoke",
            )
            for k, gap in self.iwae_minus_vae.items()
        ]
        return claims


def score(setup: Setup, data: Data, trained: Trained) -> Score:
    """Each trained model's L_k (independent draws for each k of ``lk_ks``) on the first
    ``n_test_nll`` test digits, from ``torch.manual_seed(seed)`` in the order of :data:`RUNS`,
    its active units, and the untrained network's L_5000 (after them)."""
    device = lec16.device()
    x = data.x_test_bin[: setup.n_test_nll]
    torch.manual_seed(setup.seed)
    untrained = vae.VAE(iwae.ARCHITECTURE).to(device).eval()
    torch.manual_seed(setup.seed)
    lk, nll, lk_means, active, activity, seconds = {}, {}, {}, {}, {}, {}
    for (kind, k), model in trained.models.items():
        lk[(kind, k)] = iwae.bounds_by_k(model, x, setup.lk_ks)
        last = lk[(kind, k)][-1]
        nll.setdefault(kind, {})[k] = Estimate(
            -last.mean().item(), last.std().item() / len(x) ** 0.5
        )
        lk_means.setdefault(kind, {})[k] = lk[(kind, k)].mean(1).tolist()
        units, unit_activity = iwae.active_units(model, data.activity_digits)
        active.setdefault(kind, {})[k] = units
        activity.setdefault(kind, {})[k] = unit_activity.tolist()
        seconds.setdefault(kind, {})[k] = trained.histories[(kind, k)].last["seconds"]
    untrained_nll = -iwae.log_likelihood(untrained, x, k=5000).mean().item()
    paired = {}
    for kind, k in RUNS:
        if kind == "iwae" and ("vae", k) in lk and ("iwae", k) in lk:
            gap = lk[("vae", k)][-1] - lk[("iwae", k)][-1]
            paired[k] = Estimate(gap.mean().item(), gap.std().item() / len(x) ** 0.5)
    return Score(
        nll,
        untrained_nll,
        tuple(setup.lk_ks),
        lk_means,
        active,
        activity,
        paired,
        seconds,
        scale=setup.scale,
    )
