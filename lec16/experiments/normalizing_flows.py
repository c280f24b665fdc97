"""The flows chapter's models: flows fitted to four 2-D energies, NICE on MNIST, flow VAEs.

Three parts, each from ``torch.manual_seed(seed)`` per model:

* ``planar``: planar flows of K = 2, 8, 32 layers and a small NICE fitted to Rezende & Mohamed's
  energies U1-U4 (the chapter's normalisable versions, :func:`lec16.flows.enveloped_energy`),
  each scored by KL(q || p) in nats (its free energy plus log Z from a grid) beside the same
  flow untrained; ``paper``: their 500,000 RMSprop updates of batch 100, annealed;
* ``nice``: Dinh et al.'s NICE on dequantised MNIST, scored by its exact test log-likelihood
  beside the same NICE trained the same way with its couplings off (a factorised logistic with
  a learned scale per pixel) and the same network untrained; ``paper``: their 5 x 1000 ReLU
  couplings;
* ``flow_vae``: the VAE chapter's VAE with K planar flows in q(z|x) (K = 0 twice: with the KL
  in closed form and with the flows' sampled KL), scored by the test bound and L_5000 on the
  book's binarized test digits beside the same network untrained; ``paper``: Rezende &
  Mohamed's 40 latents, K up to 80 and 500,000 updates of 100 digits.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

import torch
from torch import nn

import lec16
from lec16 import data, experiments, flow_vae, flows, iwae, vae
from lec16.results import Claim, Estimate, Result
from lec16.scales import check_positive, choose
from lec16.train import History

FIT_KINDS = (2, 8, 32, "NICE")  # the fitted densities: K planar flows, or a small NICE
FIT_MARGIN = 0.1  # nats of KL(q || p) a fit must gain over the same flow untrained
MARGIN = 100  # nats per digit a MNIST model must gain over the same network untrained
NICE_SES = 3  # paired standard errors by which NICE must beat its couplings-off copy
NICE_TEST_SEED = 123  # the generator of the test digits' one dequantisation
PARTS = {
    "planar": "planar flows (K = 2, 8, 32) and a small NICE fitted to the 2-D energies U1-U4",
    "nice": "NICE on MNIST (Dinh et al.), and the same NICE with its couplings off",
    "flow_vae": "VAEs with K planar flows in q(z|x), K = 0 with both KL estimators",
}


def fit_label(energy: str, kind: int | str) -> str:
    """A fit's name in the logs, tables and scores: ``"U1 K=2"``, ``"U3 NICE"``."""
    return f"{energy} {'NICE' if kind == 'NICE' else f'K={kind}'}"


@dataclasses.dataclass(frozen=True, kw_only=True)
class Setup(experiments.Setup):
    n_mc: int
    """Monte Carlo samples of the chapter's checks of the change of variables"""
    fit_config: flows.EnergyFitConfig
    """every fit of a flow to an energy"""
    nice_n_train: int
    """the first training digits of the MNIST NICE"""
    nice_hidden: int
    """ReLU units per layer of each of its couplings' networks"""
    nice_depth: int
    """layers of each coupling's network"""
    nice_config: flows.NiceConfig
    flow_lengths: tuple[int, ...]
    """the K of the flow VAEs; K = 0 is the VAE, trained twice (closed-form and sampled KL)"""
    latent: int
    """the flow VAEs' latent dimension"""
    vae_n_train: int
    """the first training digits of the flow VAEs, binarized afresh at every batch"""
    vae_config: vae.TrainConfig
    n_test_nll: int
    """test digits of the flow VAEs' L_5000"""

    def __post_init__(self):
        super().__post_init__()
        for name in ("n_mc", "nice_n_train", "nice_hidden", "nice_depth"):
            check_positive(name, getattr(self, name), integer=True)
        for name in ("latent", "vae_n_train", "n_test_nll"):
            check_positive(name, getattr(self, name), integer=True)

    @classmethod
    def at(cls, scale: str, seed: int = 0) -> Setup:
        return choose(
            scale,
            smoke=cls(
                scale=scale,
                seed=seed,
                n_mc=200_000,
                fit_config=flows.EnergyFitConfig(
                    steps=200,
                    steps_per_epoch=100,
                    anneal_steps=100,
                    lr=1e-2,
                    eval_samples=2000,
                    seed=seed,
                ),
                nice_n_train=5000,
                nice_hidden=100,
                nice_depth=2,
                nice_config=flows.NiceConfig(
                    epochs=3, lr=3e-3, betas=(0.9, 0.999), seed=seed
                ),
                flow_lengths=(0, 2),
                latent=20,
                vae_n_train=1000,
                vae_config=vae.TrainConfig(epochs=1, seed=seed),
                n_test_nll=20,
            ),
            default=cls(
                scale=scale,
                seed=seed,
                n_mc=1_000_000,
                fit_config=flows.EnergyFitConfig(
                    steps=2000,
                    batch_size=100,
                    steps_per_epoch=1000,
                    anneal_steps=1000,
                    lr=5e-3,
                    seed=seed,
                ),
                nice_n_train=50_000,
                nice_hidden=500,
                nice_depth=4,
                nice_config=flows.NiceConfig(
                    epochs=5, lr=3e-3, betas=(0.9, 0.999), seed=seed
                ),
                flow_lengths=(0, 4, 16),
                latent=20,
                vae_n_train=60_000,
                # 10 minutes on 2 CPU cores
                vae_config=vae.TrainConfig(epochs=6, seed=seed),
                n_test_nll=100,
            ),
            # Rezende & Mohamed: 500,000 RMSprop updates (lr 1e-5, momentum 0.9) of batch 100,
            # annealed; Dinh et al.: 5 x 1000 ReLU couplings and Adam (lr 1e-3, beta2 0.01,
            # eps 1e-4), for 1000 epochs (their number is not stated); the flow VAEs: 40
            # latents, K up to 80 and 500,000 updates of 100 digits (834 epochs; Adam, not
            # their annealed RMSprop)
            paper=cls(
                scale=scale,
                seed=seed,
                n_mc=1_000_000,
                fit_config=flows.EnergyFitConfig(
                    steps=500_000,
                    batch_size=100,
                    optimizer="rmsprop",
                    lr=1e-5,
                    steps_per_epoch=10_000,
                    seed=seed,
                ),
                nice_n_train=50_000,
                nice_hidden=1000,
                nice_depth=5,
                nice_config=flows.NiceConfig(epochs=1000, seed=seed),
                flow_lengths=(0, 10, 20, 40, 80),
                latent=40,
                vae_n_train=60_000,
                vae_config=vae.TrainConfig(epochs=834, seed=seed),
                n_test_nll=10_000,
            ),
        )

    def with_epochs(self, epochs: int) -> Setup:
        """Every training ``epochs`` long: NICE's and the flow VAEs' epochs, and the fits'
        evaluations of ``steps_per_epoch`` steps each."""
        fit = self.fit_config
        return dataclasses.replace(
            self,
            fit_config=dataclasses.replace(fit, steps=epochs * fit.steps_per_epoch),
            nice_config=dataclasses.replace(self.nice_config, epochs=epochs),
            vae_config=dataclasses.replace(self.vae_config, epochs=epochs),
        )

    def flow_vae_variants(self) -> dict[str, tuple[int, Callable | None]]:
        """The flow VAEs: name -> (K, the training objective: None for the model's own bound)."""
        variants = {
            "K=0": (0, None),
            "K=0, sampled KL": (0, flow_vae.sampled_kl_bound),
        }
        variants.update({f"K={k}": (k, None) for k in self.flow_lengths[1:]})
        return variants


@dataclasses.dataclass
class Data:
    nice_train: torch.Tensor
    """the first ``nice_n_train`` training digits, grey levels (dequantised afresh per batch)"""
    nice_test: torch.Tensor
    """the 10,000 test digits, dequantised once (generator seed ``NICE_TEST_SEED``),
    flattened"""
    vae_train: torch.Tensor
    """the first ``vae_n_train`` training digits, grey levels, flattened"""
    test_bin: torch.Tensor
    """the book's one binarization of the test digits, flattened (the VAE chapter's)"""


def load_data(setup: Setup) -> Data:
    device = lec16.device()
    data.fetch_mnist(quiet=True)
    mnist_train = data.load_mnist("train", device=device)[0]
    mnist_test = data.load_mnist("test", device=device)[0].flatten(1)
    nice_test = flows.dequantize(
        mnist_test, torch.Generator(device=device).manual_seed(NICE_TEST_SEED)
    )
    return Data(
        mnist_train[: setup.nice_n_train],
        nice_test,
        mnist_train[: setup.vae_n_train].flatten(1),
        data.binarized_test_set(mnist_test),
    )


@dataclasses.dataclass
class Trained:
    fits: dict[str, nn.Module] = dataclasses.field(default_factory=dict)
    """the fitted densities, by :func:`fit_label`"""
    fit_histories: dict[str, History] = dataclasses.field(default_factory=dict)
    untrained_kl: dict[str, float] = dataclasses.field(default_factory=dict)
    """each fit's KL(q || p) before training: the reference to beat"""
    log_z: dict[str, float] = dataclasses.field(default_factory=dict)
    """log Z of each energy, by the midpoint rule on a grid"""
    nice: flows.NICE | None = None
    nice_history: History | None = None
    nice_untrained_ll: float | None = None
    """the MNIST NICE's test log-likelihood before training"""
    nice_no_couplings: flows.NICE | None = None
    """the same NICE trained the same way with its couplings off (m = 0)"""
    nice_no_couplings_history: History | None = None
    flow_vaes: dict[str, flow_vae.FlowVAE] = dataclasses.field(default_factory=dict)
    """by the names of :meth:`Setup.flow_vae_variants`"""
    flow_vae_histories: dict[str, History] = dataclasses.field(default_factory=dict)
    flow_vae_untrained: dict[str, float] = dataclasses.field(default_factory=dict)
    """each flow VAE's test bound before training"""

    def update(self, other: Trained) -> Trained:
        """Add the models of ``other`` (what another call of :func:`train` made, e.g. of
        another part) to these; returns ``self``."""
        for field in dataclasses.fields(self):
            value = getattr(other, field.name)
            if isinstance(value, dict):
                getattr(self, field.name).update(value)
            elif value is not None:
                setattr(self, field.name, value)
        return self


def train(setup: Setup, data: Data, root=None, parts=None) -> Trained:
    """The models of ``parts`` (default: all), each loaded from its checkpoint or trained,
    each from ``torch.manual_seed(seed)``: the parts do not depend on one another."""
    parts = experiments.chosen(parts, PARTS)
    device = lec16.device()
    trained = Trained()
    if "planar" in parts:
        config = setup.fit_config
        for energy in flows.ENERGIES:
            target = flows.enveloped_energy(energy)
            trained.log_z[energy] = flows.grid_log_partition(target, device)
        for energy in flows.ENERGIES:
            target = flows.enveloped_energy(energy)
            for kind in FIT_KINDS:
                label = fit_label(energy, kind)
                torch.manual_seed(setup.seed)
                q = flows.energy_fit_model(kind, device)
                with torch.no_grad():
                    untrained = flows.free_energy(q, target, config.eval_samples).item()
                trained.untrained_kl[label] = untrained + trained.log_z[energy]
                trained.fit_histories[label] = flows.fit_to_energy(
                    q,
                    target,
                    config,
                    checkpoint=setup.checkpoint(_fit_checkpoint(label), root),
                    desc=label,
                )
                trained.fits[label] = q
    if "nice" in parts:
        torch.manual_seed(setup.seed)
        model = flows.nice_mnist(setup.nice_hidden, setup.nice_depth).to(device)
        trained.nice_untrained_ll = flows.mean_log_likelihood(
            model, data.nice_test
        ).item()
        trained.nice_history = flows.train_nice(
            model,
            data.nice_train,
            data.nice_test,
            setup.nice_config,
            checkpoint=setup.checkpoint("nice", root),
        )
        trained.nice = model
        # the reference: the same NICE and schedule with its couplings switched off
        torch.manual_seed(setup.seed)
        plain = flows.nice_mnist(setup.nice_hidden, setup.nice_depth).to(device)
        plain.freeze_couplings()
        trained.nice_no_couplings_history = flows.train_nice(
            plain,
            data.nice_train,
            data.nice_test,
            setup.nice_config,
            checkpoint=setup.checkpoint("nice_no_couplings", root),
            desc="NICE, couplings off",
        )
        trained.nice_no_couplings = plain
    if "flow_vae" in parts:
        for name, (k, objective) in setup.flow_vae_variants().items():
            torch.manual_seed(setup.seed)
            config = flow_vae.FlowVAEConfig(latent=setup.latent, flows=k)
            model = flow_vae.FlowVAE(config).to(device)
            trained.flow_vae_untrained[name] = vae.elbo(model, data.test_bin).item()
            trained.flow_vae_histories[name] = vae.train_vae(
                model,
                data.vae_train,
                data.test_bin,
                setup.vae_config,
                objective=objective,
                checkpoint=setup.checkpoint(_vae_checkpoint(k, objective), root),
                desc=f"VAE, {name}",
            )
            trained.flow_vaes[name] = model.eval()
    return trained


def _fit_checkpoint(label: str) -> str:
    """``"U1 K=2"`` -> ``"u1-k2"``."""
    return label.lower().replace(" ", "-").replace("=", "")


def _vae_checkpoint(k: int, objective: Callable | None) -> str:
    return f"vae-k{k}" + ("-sampled-kl" if objective else "")


@dataclasses.dataclass
class Score(Result):
    log_z: dict[str, float] = dataclasses.field(default_factory=dict)
    """log Z of each energy"""
    kl: dict[str, float] = dataclasses.field(default_factory=dict)
    """KL(q || p) in nats of each fit (its last free energy, ``eval_samples`` samples, plus
    log Z), by :func:`fit_label`"""
    untrained_kl: dict[str, float] = dataclasses.field(default_factory=dict)
    nice_ll: float | None = None
    """the MNIST NICE's exact test log-likelihood, nats per digit of [0, 1]^784"""
    nice_untrained_ll: float | None = None
    nice_no_couplings_ll: float | None = None
    """the same NICE with its couplings off, trained the same way"""
    nice_gain: Estimate | None = None
    """NICE's log-likelihood minus the couplings-off NICE's, paired over the test digits"""
    flow_vae_bound: dict[str, Estimate] = dataclasses.field(default_factory=dict)
    """each flow VAE's bound, one draw of q per test digit, over the 10,000 digits"""
    flow_vae_log_lik: dict[str, Estimate] = dataclasses.field(default_factory=dict)
    """each flow VAE's L_5000 on the first ``n_test_nll`` test digits"""
    flow_vae_bound_gain: dict[str, Estimate] = dataclasses.field(default_factory=dict)
    """``"K=2 over K=0"``: the bound's difference, paired over the same digits (over each
    K = 0 model, of every other model)"""
    flow_vae_log_lik_gain: dict[str, Estimate] = dataclasses.field(default_factory=dict)
    """the same for L_5000"""
    flow_vae_untrained: dict[str, float] = dataclasses.field(default_factory=dict)
    seconds: dict[str, float] = dataclasses.field(default_factory=dict)
    """training seconds: of each fit (by its label), ``"NICE"``, each flow VAE (by name)"""

    def claims(self) -> list[Claim]:
        claims = [
            Claim(
                f"{label}: KL(q || p)",
                kl,
                self.untrained_kl[label],
                "the same flow untrained",
                margin=FIT_MARGIN,
                unit="nats",
                higher=False,
            )
            for label, kl in self.kl.items()
        ]
        if self.nice_ll is not None:
            claims.append(
                Claim(
                    "NICE on MNIST: test log-likelihood",
                    self.nice_ll,
                    self.nice_no_couplings_ll,
                    "the same NICE with its couplings off, trained the same way",
                    margin=NICE_SES * self.nice_gain.se,
                    unit="nats",
                )
            )
        claims += [
            Claim(
                f"flow VAE, {name}: test bound",
                bound.mean,
                self.flow_vae_untrained[name],
                "the same network untrained",
                margin=MARGIN,
                unit="nats",
            )
            for name, bound in self.flow_vae_bound.items()
        ]
        return claims


def _estimate(values: torch.Tensor) -> Estimate:
    """The mean of per-digit values and its standard error, in the values' own precision."""
    return Estimate(values.mean().item(), values.std().item() / math.sqrt(len(values)))


def score(setup: Setup, data: Data, trained: Trained) -> Score:
    """The KL of every fit, NICE's test log-likelihood and each flow VAE's test bound (one draw
    of q per digit) and L_5000, the flow VAEs from ``torch.manual_seed(seed)``."""
    result = Score(log_z=dict(trained.log_z), untrained_kl=dict(trained.untrained_kl))
    for label, history in trained.fit_histories.items():
        energy = label.split()[0]
        result.kl[label] = history.last["free_energy"] + trained.log_z[energy]
        result.seconds[label] = history.last["seconds"]
    if trained.nice_history is not None:
        result.nice_ll = trained.nice_history.last["test_ll"]
        result.nice_untrained_ll = trained.nice_untrained_ll
        result.seconds["NICE"] = trained.nice_history.last["seconds"]
        with torch.no_grad():  # per test digit, for the paired difference
            gain = torch.cat(
                [
                    trained.nice.log_prob(x) - trained.nice_no_couplings.log_prob(x)
                    for x in data.nice_test.split(1000)
                ]
            )
        result.nice_no_couplings_ll = trained.nice_no_couplings_history.last["test_ll"]
        result.nice_gain = _estimate(gain)
    if trained.flow_vaes:
        torch.manual_seed(setup.seed)
        bounds, log_liks = {}, {}
        for name, model in trained.flow_vaes.items():
            with torch.no_grad():  # one sample of q per test digit
                bounds[name] = torch.cat(
                    [model(batch) for batch in data.test_bin.split(1000)]
                )
            log_liks[name] = iwae.log_likelihood(
                model, data.test_bin[: setup.n_test_nll], k=5000
            )
        for name in bounds:
            result.flow_vae_bound[name] = _estimate(bounds[name])
            result.flow_vae_log_lik[name] = _estimate(log_liks[name])
            result.flow_vae_untrained[name] = trained.flow_vae_untrained[name]
            result.seconds[name] = trained.flow_vae_histories[name].last["seconds"]
        for reference in ("K=0", "K=0, sampled KL"):
            if reference not in bounds:
                continue
            for name in bounds:
                if name != reference:
                    pair = f"{name} over {reference}"
                    result.flow_vae_bound_gain[pair] = _estimate(
                        bounds[name] - bounds[reference]
                    )
                    result.flow_vae_log_lik_gain[pair] = _estimate(
                        log_liks[name] - log_liks[reference]
                    )
    return result
