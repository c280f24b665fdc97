"""The closing chapter's comparison: every trained digit model of the book, scored one way.

Each model is loaded through its own chapter's experiment (``train`` with only the parts it
needs, so a missing checkpoint is trained at the same scale) and scored here, from the models,
on the same test digits:

* **likelihood**, where the model has one, in two units never mixed: nats on the book's one
  binarization of the test digits (IWAE's importance-sampled L_k at one k for every model with
  an encoder; the Boltzmann machines with log Z by AIS, as in their chapters), and bits per
  dimension on dequantised 8-bit digits (NICE exactly; the diffusion model's bound K);
* **sample quality** for every generator: the Fréchet distance between the shared classifier's
  features of ``n_samples`` samples and of the first ``n_reference`` test digits, with one
  standard error from a bootstrap of the samples; the share the classifier labels
  with probability above 0.9; and the share of each digit class among the samples. A model
  that ends in a distribution over pixels is sampled as that distribution's mean (the grey
  levels of p(x | h)); GANs, NICE and the diffusion model output grey levels. The next
  ``n_samples`` test digits, which no model saw, are the reference row;
* **cost**: the parameters a model samples with, its training seconds from its own run
  records, and seconds per 1,000 samples measured here.

Every model is scored beside its untrained copy (the chapter's initial state where the chapter
keeps one, else the same architecture from ``torch.manual_seed(seed)``), sampled the same way.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn

import lec16
from lec16 import (
    data,
    dbm,
    dbn,
    diffusion,
    evaluation,
    experiments,
    flow_vae,
    flows,
    gan,
    gsn,
    iwae,
    lapgan,
    rbm,
    ssvae,
    vae,
)
from lec16.experiments import (
    boltzmann_machines,
    deep_belief_networks,
    deep_boltzmann_machines,
    diffusion_mnist,
    gan_mnist,
    generative_stochastic_networks,
    normalizing_flows,
    semi_supervised,
    vae_mnist,
    wake_sleep,
)
from lec16.experiments import iwae as iwae_chapter
from lec16.experiments import lapgan as lapgan_chapter
from lec16.results import Claim, Estimate, Result
from lec16.scales import check_positive, choose

EXACT, BOUND, IMPLICIT = FAMILIES = (
    "exact or AIS likelihood",
    "bound on the likelihood",
    "no likelihood",
)
LABELS = {EXACT: "exact or AIS", BOUND: "bound", IMPLICIT: "implicit"}
"""the families as a table's column and a legend show them"""
SES = 3  # a trained model beats its untrained copy by this many standard errors
# the classifier's probability above which a sample counts as recognised
CONFIDENT = 0.9


@dataclasses.dataclass(frozen=True, kw_only=True)
class Setup(experiments.Setup):
    n_samples: int
    """samples of every model, and real digits of the reference row"""
    n_reference: int
    """the first test digits the Fréchet distance compares samples with"""
    n_likelihood: int
    """the first test digits whose likelihood is estimated"""
    k: int
    """importance samples per digit of L_k"""
    chain_steps: int
    """steps from noise of every Markov chain that samples (the Boltzmann machines' Gibbs
    sweeps, the GSN's chain)"""

    def __post_init__(self):
        super().__post_init__()
        for name in ("n_samples", "n_reference", "n_likelihood", "k", "chain_steps"):
            check_positive(name, getattr(self, name), integer=True)
        if self.n_samples < 8:
            raise ValueError(
                f"n_samples={self.n_samples} must be at least 8: the Fréchet distance needs "
                "a covariance of the samples, and its standard error a bootstrap of them"
            )

    def with_epochs(self, epochs: int) -> Setup:
        raise ValueError(
            "model_comparison trains nothing of its own, so it has no epochs to change: "
            "train a chapter's models with `python -m lec16 train <that chapter> --epochs N`"
        )

    @classmethod
    def at(cls, scale: str, seed: int = 0) -> Setup:
        return choose(
            scale,
            smoke=cls(
                scale=scale,
                seed=seed,
                n_samples=200,
                n_reference=1000,
                n_likelihood=100,
                k=10,
                chain_steps=20,
            ),
            default=cls(
                scale=scale,
                seed=seed,
                n_samples=1000,
                n_reference=5000,
                n_likelihood=1000,
                k=100,
                chain_steps=1000,
            ),
            paper=cls(
                scale=scale,
                seed=seed,
                n_samples=5000,
                n_reference=5000,
                n_likelihood=10_000,
                k=5000,
                chain_steps=1000,
            ),
        )


@dataclasses.dataclass
class Data:
    test_images: torch.Tensor
    """the 10,000 test digits, (N, 1, 28, 28) grey levels"""
    test_binary: torch.Tensor
    """the book's one binarization of them, flattened"""
    feature_net: evaluation.MnistFeatureNet


def load_data(setup: Setup) -> Data:
    device = lec16.device()
    data.fetch_mnist(quiet=True)
    images = data.load_mnist("test", device=device)[0]
    if setup.n_reference + setup.n_samples > len(images):
        raise ValueError(
            f"n_reference + n_samples = {setup.n_reference + setup.n_samples} must be at "
            f"most the {len(images)} test digits"
        )
    net, _ = evaluation.feature_net(device)
    return Data(images, data.binarized_test_set(images.flatten(1)), net)


@dataclasses.dataclass
class Model:
    """One row of the comparison: how to sample the model and its untrained copy, what it
    cost, and (when it has one) its likelihood."""

    name: str
    chapter: str
    """the slug of the chapter that trains it"""
    family: str
    """one of :data:`FAMILIES`"""
    sample: Callable[[int], torch.Tensor]
    """n -> n images in [0, 1], 784 pixels each (any shape)"""
    untrained_sample: Callable[[int], torch.Tensor]
    parameters: int
    """the parameters it samples with"""
    train_seconds: float
    """from its own run records"""
    likelihood: Callable[[], torch.Tensor] | None = None
    """() -> per-digit estimates on the first ``n_likelihood`` test digits, in ``unit``"""
    unit: str | None = None
    """``nats`` (log-likelihood, higher is better) or ``bits/dim`` (lower is better)"""
    estimator: str | None = None
    """how the likelihood is estimated, and the direction of its bias"""
    chain: bool = False
    """whether it samples by running a Markov chain (else in one pass through a network)"""


def _loaded(module, setup: Setup, root, parts, **data_options):
    """A chapter's set-up (this scale and seed), data and trained ``parts``."""
    chapter = module.Setup.at(setup.scale, setup.seed)
    chapter_data = module.load_data(chapter, **data_options)
    return chapter, chapter_data, module.train(chapter, chapter_data, root, parts)


def _count(*modules: nn.Module) -> int:
    return sum(p.numel() for m in modules for p in m.parameters())


def _seconds(*histories) -> float:
    return sum(h.last.get("seconds", math.nan) for h in histories)


def _fresh(build: Callable[[], nn.Module], seed: int) -> nn.Module:
    """An untrained copy: ``build()`` from ``torch.manual_seed(seed)``, on the book's device."""
    torch.manual_seed(seed)
    return build().to(lec16.device()).eval()


@torch.no_grad()
def _chain(step: Callable, state, steps: int, images: Callable) -> torch.Tensor:
    """``images(state)`` after ``steps`` applications of ``step``."""
    for _ in range(steps):
        state = step(state)
    return images(state)


L_K = "L_k by importance sampling: a lower bound, biased low"


def _importance(name, chapter, model, untrained, sampler_modules, seconds, setup, x):
    """A row of a model with an inference network: its likelihood is L_k."""
    return Model(
        name,
        chapter,
        BOUND,
        model.sample,
        untrained.sample,
        _count(*sampler_modules),
        seconds,
        lambda: iwae.log_likelihood(model, x, setup.k),
        "nats",
        L_K,
    )


def _vae(setup: Setup, root, x) -> list[Model]:
    _, _, trained = _loaded(vae_mnist, setup, root, ["z20"])
    model = trained.models[20]
    untrained = _fresh(lambda: vae.VAE(model.config), setup.seed)
    seconds = _seconds(trained.histories[20])
    return [
        _importance(
            "VAE", "vae_mnist", model, untrained, [model.decoder], seconds, setup, x
        )
    ]


def _iwae(setup: Setup, root, x) -> list[Model]:
    _, _, trained = _loaded(iwae_chapter, setup, root, ["iwae_k50"])
    model = trained.models[("iwae", 50)]
    untrained = _fresh(lambda: vae.VAE(model.config), setup.seed)
    seconds = _seconds(trained.histories[("iwae", 50)])
    return [
        _importance(
            "IWAE", "iwae", model, untrained, [model.decoder], seconds, setup, x
        )
    ]


def _flow_vae(setup: Setup, root, x) -> list[Model]:
    chapter, _, trained = _loaded(normalizing_flows, setup, root, ["flow_vae"])
    k = chapter.flow_lengths[-1]
    model = trained.flow_vaes[f"K={k}"]
    untrained = _fresh(lambda: flow_vae.FlowVAE(model.config), setup.seed)
    seconds = _seconds(trained.flow_vae_histories[f"K={k}"])
    name = f"VAE, {k} planar flows"
    return [
        _importance(
            name,
            "normalizing_flows",
            model,
            untrained,
            [model.decoder],
            seconds,
            setup,
            x,
        )
    ]


def _m2(setup: Setup, root, x) -> list[Model]:
    chapter, _, trained = _loaded(semi_supervised, setup, root, ["m2"])
    key = ("M2", max(chapter.label_counts), 0)
    model = trained.models[key]
    untrained = _fresh(lambda: ssvae.M2(*dataclasses.astuple(model.config)), setup.seed)
    decoder = [model.dec_z, model.dec_y, model.dec_out]
    seconds = _seconds(trained.histories[key])
    name = f"M2 ({key[1]:,} labels)"
    return [
        _importance(
            name, "semi_supervised", model, untrained, decoder, seconds, setup, x
        )
    ]


def _helmholtz(setup: Setup, root, x) -> list[Model]:
    _, _, trained = _loaded(wake_sleep, setup, root, ["helmholtz"])
    model = trained.models["helmholtz"]
    row = _importance(
        "Helmholtz machine",
        "wake_sleep",
        model,
        trained.untrained["helmholtz"],
        [model.generative],
        _seconds(trained.histories["helmholtz"]),
        setup,
        x,
    )
    row.parameters += model.top_logits.numel()
    return [row]


def _coins(bias: torch.Tensor, n: int) -> torch.Tensor:
    """``n`` draws of independent units with the probabilities ``sigmoid(bias)``: where the
    Boltzmann machines' chains start (the chapters' base-rate start)."""
    return torch.bernoulli(torch.sigmoid(bias).expand(n, -1))


def _rbm(setup: Setup, root, x) -> list[Model]:
    chapter, chapter_data, trained = _loaded(boltzmann_machines, setup, root, ["PCD-1"])
    model, base_bias = trained.models["PCD-1"], chapter_data.base_bias

    def sampler(rbm_):
        def images(v):  # the mean of p(v | h) at the chain's last h
            return rbm_.visible_probs(torch.bernoulli(rbm_.hidden_probs(v)))

        return lambda n: _chain(
            lambda v: rbm_.gibbs_step(v)[0],
            _coins(base_bias, n),
            setup.chain_steps,
            images,
        )

    def likelihood():
        ais = rbm.ais_log_partition(model, chapter.n_runs, chapter.n_betas, base_bias)
        with torch.no_grad():
            return model.log_likelihood(x, ais.log_z)

    untrained = _fresh(
        lambda: rbm.at_base_rates(rbm.RBM(784, model.n_hidden), base_bias), setup.seed
    )
    return [
        Model(
            "RBM (PCD-1)",
            "boltzmann_machines",
            EXACT,
            sampler(model),
            sampler(untrained),
            _count(model),
            _seconds(trained.histories["PCD-1"]),
            likelihood,
            "nats",
            "log Z by AIS: the log of a mean weight is biased low, so log p is biased high",
            chain=True,
        )
    ]


def _dbn(setup: Setup, root, x) -> list[Model]:
    chapter, chapter_data, trained = _loaded(deep_belief_networks, setup, root, None)
    net = dbn.DBN([trained.bottom, trained.top])
    top_bias = rbm.base_rate_bias(trained.h_train)

    def sampler(net_):
        return lambda n: net_.sample(_coins(top_bias, n), setup.chain_steps)

    def likelihood():
        top = trained.top
        ais = rbm.ais_log_partition(top, chapter.n_runs, chapter.n_betas, top_bias)
        return dbn.mean_bound(net, x, ais.log_z, chapter.n_draws)

    n_hidden, n_top = trained.bottom.n_hidden, trained.top.n_hidden
    bottom = _fresh(
        lambda: rbm.at_base_rates(rbm.RBM(784, n_hidden), chapter_data.base_bias),
        setup.seed,
    )
    untrained = dbn.DBN([bottom, _fresh(lambda: rbm.RBM(n_hidden, n_top), setup.seed)])
    return [
        Model(
            "DBN",
            "deep_belief_networks",
            BOUND,
            sampler(net),
            sampler(untrained),
            _count(net),
            _seconds(trained.bottom_history, trained.top_history),
            likelihood,
            "nats",
            "variational bound, the top RBM's log Z by AIS: below log p up to AIS's error",
            chain=True,
        )
    ]


def _dbm(setup: Setup, root, x) -> list[Model]:
    chapter, chapter_data, trained = _loaded(
        deep_boltzmann_machines, setup, root, ["dbm"]
    )
    model, base_bias = trained.model, chapter_data.base_bias

    def sampler(dbm_):
        def start(n):  # (v, h1, h2): h1 is drawn by the first sweep
            h2 = torch.zeros(n, dbm_.sizes[2], device=base_bias.device)
            return _coins(base_bias, n), None, h2

        return lambda n: _chain(
            lambda state: dbm_.gibbs_step(state[0], state[2]),
            start(n),
            setup.chain_steps,
            lambda state: dbm_.visible_probs(state[1]),
        )

    def likelihood():
        ais = dbm.ais_log_partition(model, chapter.n_runs, chapter.n_betas, base_bias)
        return dbm.mean_bound(model, x, ais.log_z)[2]

    untrained = _fresh(lambda: dbm.DBM(*model.sizes), setup.seed)
    with torch.no_grad():  # the base-rate start, as the RBM's and the DBN's copies
        untrained.visible_bias.copy_(base_bias)
    return [
        Model(
            "DBM",
            "deep_boltzmann_machines",
            BOUND,
            sampler(model),
            sampler(untrained),
            _count(model),
            _seconds(trained.rbm_history, trained.dbm_history),
            likelihood,
            "nats",
            "mean-field bound, log Z by AIS: below log p up to AIS's error",
            chain=True,
        )
    ]


def _nice(setup: Setup, root, x) -> list[Model]:
    chapter, chapter_data, trained = _loaded(normalizing_flows, setup, root, ["nice"])
    model = trained.nice

    def sampler(nice):
        return lambda n: nice.sample(n).clamp(0, 1)

    @torch.no_grad()
    def likelihood():
        digits = chapter_data.nice_test[: setup.n_likelihood]
        log_p = torch.cat([model.log_prob(batch) for batch in digits.split(1000)])
        return flows.bits_per_dim(log_p, 784)

    untrained = _fresh(
        lambda: flows.nice_mnist(chapter.nice_hidden, chapter.nice_depth), setup.seed
    )
    return [
        Model(
            "NICE",
            "normalizing_flows",
            EXACT,
            sampler(model),
            sampler(untrained),
            _count(model),
            _seconds(trained.nice_history),
            likelihood,
            "bits/dim",
            "exact density of the dequantised digits, by the change of variables",
        )
    ]


DIFFUSION = {"mean": "diffusion (paper's)", "epsilon": "diffusion (Ho et al.'s ε)"}


def _diffusion(setup: Setup, root, x) -> list[Model]:
    _, chapter_data, trained = _loaded(diffusion_mnist, setup, root, list(DIFFUSION))
    pixels = chapter_data.pixels

    def sampler(model):
        return lambda n: pixels.undo(model.sample(n)[0]).clamp(0, 1)

    def likelihood(model):
        # K bounds log p of the unit-variance data: back to [0, 1] by the scaling's Jacobian,
        # then to 8-bit digits in bins of width 1/255 (the chapter's dequantisation)
        def bits():
            digits = chapter_data.x_test[: setup.n_likelihood]
            log_p = diffusion.mean_bound(model, digits, n_times=4) + pixels.log_det(784)
            return -(log_p - 784 * math.log(255)) / (784 * math.log(2))

        return bits

    return [
        Model(
            name,
            "diffusion_mnist",
            BOUND,
            sampler(model),
            sampler(trained.untrained[title]),
            _count(model.net),
            _seconds(trained.histories[title]),
            likelihood(model),
            "bits/dim",
            "the bound K, 4 random steps a digit: above the true bits/dim",
            chain=True,
        )
        for (title, model), name in zip(trained.models.items(), DIFFUSION.values())
    ]


def _gsn(setup: Setup, root, x) -> list[Model]:
    _, _, trained = _loaded(generative_stochastic_networks, setup, root, ["walkback2"])
    steps = setup.chain_steps

    def sampler(dae):  # n chains from fair coins; the last step's reconstruction means
        return lambda n: gsn.chains_from_noise(dae, n, steps, steps, setup.seed)[-1]

    model = trained.daes[2]
    return [
        Model(
            "GSN (walkback 2)",
            "generative_stochastic_networks",
            IMPLICIT,
            sampler(model),
            sampler(trained.untrained[2]),
            _count(model),
            _seconds(trained.histories[2]),
            chain=True,
        )
    ]


GANS = {"gan": "GAN (MLP, the paper's)", "dcgan": "DCGAN"}


def _gans(setup: Setup, root, x) -> list[Model]:
    _, _, trained = _loaded(gan_mnist, setup, root, list(GANS), fashion=False)

    def sampler(generator):
        return lambda n: gan.generate(generator, n)

    return [
        Model(
            name,
            "gan_mnist",
            IMPLICIT,
            sampler(trained.generators[part]),
            sampler(gan.calibrate_batch_norm(trained.untrained[part])),
            _count(trained.generators[part]),
            _seconds(trained.histories[part]),
        )
        for part, name in GANS.items()
    ]


def _lapgan(setup: Setup, root, x) -> list[Model]:
    chapter, chapter_data, trained = _loaded(lapgan_chapter, setup, root, ["lapgan"])
    coarse, residuals = trained.sampler()
    untrained = trained.untrained_coarse, trained.untrained_residuals
    lapgan.calibrate_batch_norms(
        *untrained, chapter_data.mnist.fit[: chapter.calibration_digits]
    )
    return [
        Model(
            "LAPGAN",
            "lapgan",
            IMPLICIT,
            lambda n: lapgan.generate(coarse, residuals, n),
            lambda n: lapgan.generate(*untrained, n),
            _count(coarse, *residuals),
            _seconds(*trained.histories.values()),
        )
    ]


ROWS = (
    _vae,
    _iwae,
    _flow_vae,
    _m2,
    _helmholtz,
    _rbm,
    _dbn,
    _dbm,
    _nice,
    _diffusion,
    _gsn,
    _gans,
    _lapgan,
)
"""the models' loaders, in the book's order within the three families"""


def train(setup: Setup, data: Data, root=None, parts=None) -> list[Model]:
    """Every chapter's models: each loaded through its chapter's experiment (trained there,
    at this scale, if its checkpoint is missing). ``parts`` must be None: the chapter trains
    nothing of its own."""
    experiments.chosen(parts, ())
    x = data.test_binary[: setup.n_likelihood]
    return [model for load in ROWS for model in load(setup, root, x)]


@dataclasses.dataclass
class Row:
    """A model's scores (the real digits' row has no likelihood, cost or untrained copy)."""

    chapter: str
    family: str
    frechet: Estimate
    """Fréchet distance to the reference digits, one SE by a bootstrap of the samples"""
    confident: Estimate
    """share the classifier labels with probability above :data:`CONFIDENT`, binomial SE"""
    classes: list[float]
    """share of the samples the classifier puts in each digit class"""
    untrained_frechet: Estimate | None = None
    likelihood: Estimate | None = None
    unit: str | None = None
    estimator: str | None = None
    parameters: int | None = None
    train_seconds: float | None = None
    sample_seconds: float | None = None
    """seconds per 1,000 samples, measured here"""
    chain: bool | None = None
    """whether the model samples by a Markov chain"""


@dataclasses.dataclass
class Score(Result):
    rows: dict[str, Row]
    """by model, in the book's order; the last is ``real digits``"""
    images: dict[str, torch.Tensor] = dataclasses.field(default_factory=dict)
    """the first samples of every model, for the figure (not recorded)"""
    scale: str = "default"
    """at ``smoke`` (seconds of training) the untrained-copy claims are reported, not
    asserted: a GAN trained for two epochs can still be worse than its initial state"""

    def claims(self) -> list[Claim]:
        claims = []
        for name, row in self.models().items():
            margin = SES * math.hypot(row.frechet.se, row.untrained_frechet.se)
            claims.append(
                Claim(
                    f"{name}: Fréchet distance",
                    row.frechet.mean,
                    row.untrained_frechet.mean,
                    "its untrained copy",
                    margin=margin,
                    higher=False,
                    asserted=self.scale != "smoke",
                )
            )
        best = min(self.models().items(), key=lambda item: item[1].frechet.mean)
        claims.append(
            Claim(
                "real digits: Fréchet distance",
                self.rows[REAL].frechet.mean,
                best[1].frechet.mean,
                f"the best model, {best[0]}",
                margin=SES * math.hypot(self.rows[REAL].frechet.se, best[1].frechet.se),
                higher=False,
            )
        )
        return claims

    def models(self) -> dict[str, Row]:
        return {name: row for name, row in self.rows.items() if name != REAL}

    def record(self, slug, directory=None, **extra) -> None:
        """:meth:`lec16.results.Result.record`, without the images."""
        Result.record(dataclasses.replace(self, images={}), slug, directory, **extra)


REAL = "real digits"
N_SHOWN = 10  # samples of each model kept for the figure


def sample_scores(images: torch.Tensor, reference: np.ndarray, net) -> dict[str, Any]:
    """Fréchet distance (± :func:`lec16.evaluation.frechet_standard_error`), confident share
    and class shares of ``images`` (784 pixels each, in [0, 1])."""
    images = images.reshape(-1, 1, 28, 28).clamp(0, 1)
    features = evaluation.features(net, images)
    with torch.no_grad():
        probabilities = torch.softmax(net(images), -1)
    confident = (probabilities.max(-1).values > CONFIDENT).double()
    labels = probabilities.argmax(-1)
    classes = torch.bincount(labels, minlength=10).double() / len(labels)
    return {
        "frechet": Estimate(
            evaluation.frechet_distance(features, reference),
            evaluation.frechet_standard_error(features, reference),
        ),
        "confident": Estimate.of(confident),
        "classes": classes.tolist(),
    }


def _timed(sample: Callable, n: int) -> tuple[torch.Tensor, float]:
    """``sample(n)`` from ``torch.manual_seed(seed)`` and its seconds per 1,000 samples, after
    a warm-up call of 2 samples (the first call of a network pays for setting it up); on a GPU
    the clock stops when the samples are computed, not when they are queued."""
    sample(2)
    tic = time.perf_counter()
    samples = sample(n)
    if samples.is_cuda:
        torch.cuda.synchronize(samples.device)
    return samples, (time.perf_counter() - tic) * 1000 / n


def score(setup: Setup, data: Data, trained: list[Model]) -> Score:
    """Every model's likelihood (where it has one), samples and cost, from
    ``torch.manual_seed(seed)`` each; then the held-out real digits' row."""
    net, n = data.feature_net, setup.n_samples
    reference = evaluation.features(net, data.test_images[: setup.n_reference])
    rows, images = {}, {}
    for model in trained:
        torch.manual_seed(setup.seed)
        with torch.no_grad():
            samples, seconds = _timed(model.sample, n)
        torch.manual_seed(setup.seed)
        with torch.no_grad():
            untrained = model.untrained_sample(n)
        scores = sample_scores(samples, reference, net)
        likelihood = None
        if model.likelihood is not None:
            torch.manual_seed(setup.seed)
            likelihood = Estimate.of(model.likelihood())
        rows[model.name] = Row(
            model.chapter,
            model.family,
            **scores,
            untrained_frechet=sample_scores(untrained, reference, net)["frechet"],
            likelihood=likelihood,
            unit=model.unit,
            estimator=model.estimator,
            parameters=model.parameters,
            train_seconds=model.train_seconds,
            sample_seconds=seconds,
            chain=model.chain,
        )
        images[model.name] = samples[:N_SHOWN].reshape(-1, 1, 28, 28).clamp(0, 1)
    real = data.test_images[setup.n_reference : setup.n_reference + n]
    rows[REAL] = Row("", "", **sample_scores(real, reference, net))
    images[REAL] = real[:N_SHOWN]
    return Score(rows, images, setup.scale)
