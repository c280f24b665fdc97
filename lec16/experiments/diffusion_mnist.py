"""The MNIST diffusion chapter's models: the paper's (mu, Sigma), and Ho et al.'s noise prediction.

Sohl-Dickstein et al. (2015) train on MNIST with T = 1000 steps and a dense network; the two
parts are that network read two ways (``lec16.diffusion.PARAMETRIZATIONS``). Both start from
``torch.manual_seed(seed)`` (the same initial network) and train one after the other, the
second continuing the first's random stream, as the chapter does. Each is scored on the first
``n_test`` test digits (dequantised, scaled to unit variance) by its bound K in bits per pixel
beside L_null (the digits under pi) and its untrained copy's, by the Fréchet distance of its
samples to the test digits beside real digits whose pixels are drawn independently (and its
untrained copy's samples), and by how often the chapter's classifier labels its inpainted
bottom halves as the digit they complete, beside its unconditional samples. ``paper``:
T = 1000 and the reference code's 1,700 "epochs" of 500 batches of 512 (about 8,700 passes over
50,000 digits); ``default``: T = 200 and 8 passes of Adam (2 CPU cores); ``smoke``: a smaller
network. The swiss roll of the chapter before is :mod:`lec16.experiments.diffusion`.
"""

from __future__ import annotations

import dataclasses
import math

import torch

import lec16
from lec16 import data, diffusion, evaluation, experiments, iwae
from lec16.results import Claim, Estimate, Result
from lec16.scales import check_positive, choose
from lec16.train import History

# the chapter's margins: a trained model's K must beat L_null, the test digits' likelihood
# under pi (what the model is before it learns a reverse step), by BOUND_SES standard errors
# of K; its samples must be nearer the test digits (Fréchet distance) than images whose pixels
# are drawn independently from the real digits' marginals (INDEPENDENT); and
# INPAINTING_MARGIN more of its inpainted digits than of its unconditional samples must be
# labelled as the digit they complete
BOUND_SES = 3
INPAINTING_MARGIN = 0.2
# the sample tables' row of pixel-wise shuffled real digits
INDEPENDENT = "independent pixels"
N_UNTRAINED_BOUND = 2000  # test digits of the untrained copies' bound
N_UNTRAINED_SAMPLES = 500  # the most samples of the untrained copies
REAL = "real held-out digits"  # the reference row of the sample tables


@dataclasses.dataclass(frozen=True)
class Model:
    """One of the chapter's MNIST models: its name in the tables and how the network is read."""

    title: str
    parametrization: str


MODELS = {
    "mean": Model("paper's (mu, Sigma)", "mean"),
    "epsilon": Model("Ho et al.'s eps", "epsilon"),
}
PARTS = {
    "mean": "the paper's (mu, Sigma) reverse trajectory, on its bound K",
    "epsilon": "the same network predicting the noise (Ho et al.); after mean, as in the "
    "chapter",
}


@dataclasses.dataclass(frozen=True, kw_only=True)
class Setup(experiments.Setup):
    steps: int
    """T of the MNIST models"""
    n_train: int
    """the first digits of the Parzen protocol's 50,000 training digits"""
    hidden: int
    """units of each dense layer of the MNIST network"""
    depth: int
    """its dense layers before the per-pixel ones"""
    config: diffusion.DiffusionConfig
    """the MNIST models' training"""
    n_samples: int
    """samples of each model for the Parzen estimate and the Fréchet distance"""
    n_test: int
    """the first test digits"""
    n_importance_digits: int
    """the first test digits whose log-likelihood is estimated by importance sampling"""
    n_trajectories: int
    """forward trajectories per digit of that estimate"""
    n_inpainted: int
    """test digits whose bottom half is inpainted"""

    def __post_init__(self):
        super().__post_init__()
        for name in (
            "steps",
            "n_train",
            "hidden",
            "depth",
            "n_samples",
            "n_test",
            "n_inpainted",
        ):
            check_positive(name, getattr(self, name), integer=True)
        if self.n_inpainted > self.n_test:
            raise ValueError(
                f"n_inpainted={self.n_inpainted} must be at most n_test={self.n_test}"
            )

    @classmethod
    def at(cls, scale: str, seed: int = 0) -> Setup:
        return choose(
            scale,
            smoke=cls(
                scale=scale,
                seed=seed,
                steps=20,
                n_train=2000,
                hidden=100,
                depth=2,
                config=diffusion.DiffusionConfig(
                    epochs=5, batch_size=32, lr=3e-3, eval_times=1, seed=seed
                ),
                n_samples=200,
                n_test=500,
                n_inpainted=200,
                n_importance_digits=20,
                n_trajectories=10,
            ),
            default=cls(
                scale=scale,
                seed=seed,
                steps=200,
                n_train=50_000,
                hidden=500,
                depth=3,
                config=diffusion.DiffusionConfig(epochs=8, seed=seed),
                n_samples=2000,
                n_test=10_000,
                n_inpainted=500,
                n_importance_digits=100,
                n_trajectories=50,
            ),
            paper=cls(
                scale=scale,
                seed=seed,
                steps=1000,
                n_train=50_000,
                hidden=500,
                depth=3,
                config=diffusion.DiffusionConfig(
                    epochs=8700, batch_size=512, seed=seed
                ),
                n_samples=10_000,
                n_test=10_000,
                n_inpainted=1000,
                n_importance_digits=1000,
                n_trajectories=1000,
            ),
        )

    def with_epochs(self, epochs: int) -> Setup:
        """The MNIST models trained for ``epochs`` epochs."""
        return dataclasses.replace(
            self, config=dataclasses.replace(self.config, epochs=epochs)
        )

    def model(self, parametrization: str) -> diffusion.DiffusionModel:
        """An MNIST model of this set-up (:func:`lec16.diffusion.mnist_model`), on the CPU."""
        return diffusion.mnist_model(
            self.steps, parametrization, hidden=self.hidden, depth=self.depth
        )

    @property
    def shown_times(self) -> list[int]:
        """The times of the reverse trajectory kept for the figures, T ... 0."""
        return [round(self.steps * f) for f in (1, 0.75, 0.5, 0.25, 0.1)] + [0]


@dataclasses.dataclass
class Data:
    x_fit: torch.Tensor
    """the first ``n_train`` digits of the Parzen protocol's training set, dequantised and
    scaled to unit variance, flattened"""
    x_test: torch.Tensor
    """the first ``n_test`` test digits, the same way (the dequantisation noise continues
    ``x_fit``'s generator)"""
    pixels: diffusion.Rescaling
    """the scaling to unit variance, fitted on the training digits"""
    test_images: torch.Tensor
    """the first ``n_test`` test digits, (n, 1, 28, 28) in [0, 1]"""
    test_labels: torch.Tensor
    """their labels"""
    validation: torch.Tensor
    """the Parzen protocol's 1,000 digits that choose its width"""
    held_out: torch.Tensor
    """the Parzen protocol's 9,000 digits no model saw"""
    feature_net: evaluation.MnistFeatureNet
    """the MNIST classifier of :func:`lec16.evaluation.feature_net`"""
    classifier_accuracy: float


def load_data(setup: Setup) -> Data:
    device = lec16.device()
    data.fetch_mnist(quiet=True)
    mnist_train = data.load_mnist("train", device=device)[0]
    mnist_test, test_labels = data.load_mnist("test", device=device)
    fit, validation, held_out = evaluation.parzen_protocol_split(mnist_train)
    fit, test_images = fit[: setup.n_train], mnist_test[: setup.n_test]
    noise = torch.Generator().manual_seed(setup.seed)  # the dequantisation noise
    pixels = diffusion.Rescaling.to_unit_variance(fit)
    x_fit = pixels.apply(diffusion.dequantize(fit, noise)).flatten(1)
    x_test = pixels.apply(diffusion.dequantize(test_images, noise)).flatten(1)
    net, accuracy = evaluation.feature_net(device)
    return Data(
        x_fit,
        x_test,
        pixels,
        test_images,
        test_labels[: setup.n_test],
        validation,
        held_out,
        net,
        accuracy,
    )


@dataclasses.dataclass
class Trained:
    models: dict[str, diffusion.DiffusionModel]
    """the weight averages of the trained networks, by title: the models scored and sampled"""
    networks: dict[str, diffusion.DiffusionModel]
    """the networks the optimizer trained (their own :class:`~lec16.diffusion.TimeSampler`)"""
    untrained: dict[str, diffusion.DiffusionModel]
    """each network as it was initialised: the reference to beat"""
    histories: dict[str, History]


def train(setup: Setup, data: Data, root=None, parts=None) -> Trained:
    """The models of ``parts`` (default: both), each loaded from its checkpoint or trained.
    Every model is built from ``torch.manual_seed(seed)`` first, then they train in turn, each
    continuing the random stream (as the chapter does): ``epsilon`` trained without ``mean``
    starts from another random state than in the chapter."""
    parts = experiments.chosen(parts, PARTS)
    device = lec16.device()
    trained = Trained({}, {}, {}, {})
    for part, model in MODELS.items():
        if part not in parts:
            continue
        torch.manual_seed(setup.seed)  # the same initial network for both
        network = setup.model(model.parametrization).to(device)
        untrained = setup.model(model.parametrization).to(device)
        untrained.load_state_dict(network.state_dict())
        trained.networks[model.title] = network
        trained.untrained[model.title] = untrained
    for part, model in MODELS.items():
        if part not in parts:
            continue
        history, ema = diffusion.train_diffusion(
            trained.networks[model.title],
            data.x_fit,
            data.x_test[:1000],
            setup.config,
            checkpoint=setup.checkpoint(part, root),
            desc=f"MNIST, {model.parametrization}",
        )
        trained.histories[model.title] = history
        average = ema.module if ema is not None else trained.networks[model.title]
        trained.models[model.title] = average
    return trained


@dataclasses.dataclass
class Score(Result):
    bound: dict[str, Estimate]
    """K in bits per pixel of the unit-variance data, on the ``n_test`` test digits (random
    steps, 4 per digit), by title"""
    untrained_bound: dict[str, Estimate]
    """the untrained copy's, on the first 2,000"""
    null_bound: float
    """L_null: the log-likelihood of the test digits under pi = N(0, I), bits per pixel"""
    confident: dict[str, Estimate]
    """the share of images the classifier labels with p > 0.9 (binomial SE): the real
    held-out digits, each model's samples, its untrained copy's (``"<title>, untrained"``)"""
    frechet: dict[str, float]
    """the Fréchet distance of the same images to the test digits"""
    parzen: dict[str, Estimate]
    """the Parzen log-likelihood of the test digits (nats) from the real held-out digits and
    from each model's samples"""
    inpainting: dict[str, float]
    """the share of completed test digits the classifier labels as their digit: the known half
    alone, and per model ``"<title>, inpainted"`` and ``"<title>, unconditional"``"""
    seconds: dict[str, float]
    """training seconds, by title"""
    importance: dict[str, Estimate] = dataclasses.field(default_factory=dict)
    """log p(x) by importance sampling over ``n_trajectories`` forward trajectories, bits per
    pixel, on the first ``n_importance_digits`` test digits, by title"""
    importance_bound: dict[str, Estimate] = dataclasses.field(default_factory=dict)
    """K on the same digits, from the same trajectories (their mean log-ratio)"""
    importance_gain: dict[str, Estimate] = dataclasses.field(default_factory=dict)
    """the importance-sampled estimate minus that K, paired over the digits"""
    images: dict[str, torch.Tensor] = dataclasses.field(
        default_factory=dict, repr=False
    )
    """what the score drew, for the chapter's figures (not recorded), per title:
    ``"<title> samples"`` (all of them), ``"<title> chains"`` (6 chains at ``shown_times``)
    and ``"<title> inpainted"`` (8 inpainted digits, then 8 more draws of the same)"""

    def claims(self) -> list[Claim]:
        claims = []
        for title, bound in self.bound.items():
            claims += [
                Claim(
                    f"{title}: K",
                    bound.mean,
                    self.null_bound,
                    "L_null, the test digits under pi = N(0, I)",
                    margin=BOUND_SES * bound.se,
                    unit="bits/pixel",
                ),
                Claim(
                    f"{title}: Fréchet distance of its samples to the test digits",
                    self.frechet[title],
                    self.frechet[INDEPENDENT],
                    "real digits with each pixel drawn independently",
                    higher=False,
                ),
                Claim(
                    f"{title}: inpainted digits labelled as the truth",
                    self.inpainting[f"{title}, inpainted"],
                    self.inpainting[f"{title}, unconditional"],
                    "its unconditional samples",
                    margin=INPAINTING_MARGIN,
                ),
            ]
        return claims

    def record(self, slug, directory=None, **extra) -> None:
        """:meth:`lec16.results.Result.record`, without the images."""
        Result.record(dataclasses.replace(self, images={}), slug, directory, **extra)


def _bits_per_pixel(model: diffusion.DiffusionModel, x: torch.Tensor) -> Estimate:
    """K per digit in bits per pixel (4 random steps per digit): mean and standard error."""
    values = diffusion.bits(diffusion.mean_bound(model, x, n_times=4), per=784)
    return Estimate(values.mean().item(), values.std().item() / len(values) ** 0.5)


def _share(images: torch.Tensor, share: float) -> Estimate:
    """A share of ``images`` and its binomial standard error."""
    return Estimate(share, math.sqrt(share * (1 - share) / len(images)))


def score(setup: Setup, data: Data, trained: Trained) -> Score:
    """Each trained model's bound (continuing the training's random stream, as the chapter
    does), then from ``torch.manual_seed(seed)`` per model: its samples (Parzen, Fréchet,
    confident share), its untrained copy's samples, and its inpainting."""
    x_test, pixels, net = data.x_test, data.pixels, data.feature_net
    null = diffusion.bits(-0.5 * (x_test**2 + math.log(2 * math.pi)).mean()).item()
    result = Score({}, {}, null, {}, {}, {}, {}, {})
    if not trained.models:
        return result
    for title, model in trained.models.items():
        result.bound[title] = _bits_per_pixel(model, x_test)
        result.untrained_bound[title] = _bits_per_pixel(
            trained.untrained[title], x_test[:N_UNTRAINED_BOUND]
        )
        result.seconds[title] = trained.histories[title].last["seconds"]
        torch.manual_seed(setup.seed)
        few = x_test[: setup.n_importance_digits]
        ratios = diffusion.trajectory_log_ratios(model, few, setup.n_trajectories)
        importance = diffusion.bits(iwae.iwae_bound(ratios, dim=1), per=784)
        bound = diffusion.bits(ratios.mean(1), per=784)
        result.importance[title] = Estimate.of(importance)
        result.importance_bound[title] = Estimate.of(bound)
        result.importance_gain[title] = Estimate.paired(importance, bound)

    def as_images(x):  # rows of the unit-variance data as clipped 28 x 28 grey images
        return pixels.undo(x).clamp(0, 1).reshape(-1, 1, 28, 28)

    for title, model in trained.models.items():
        torch.manual_seed(setup.seed)
        samples, states = model.sample(setup.n_samples, keep=setup.shown_times)
        result.images[f"{title} samples"] = as_images(samples)
        chains = torch.stack([states[t][:6] for t in setup.shown_times], 1)
        result.images[f"{title} chains"] = as_images(chains)

    def judge(name, images, quality=None, frechet=None):
        share = evaluation.confident_share(net, images)
        result.confident[name] = _share(images, share)
        result.frechet[name] = quality["frechet"] if quality else frechet
        if quality:
            result.parzen[name] = Estimate(quality["parzen"], quality["parzen_se"])

    def sample_quality(images):
        return evaluation.sample_quality(images, data.test_images, data.validation, net)

    real = data.held_out[: setup.n_samples]
    judge(REAL, real, sample_quality(real))
    # the floor a sampler with no structure reaches: each pixel of each image drawn from
    # that pixel's values in the real digits, independently of the other pixels
    torch.manual_seed(setup.seed)
    flat = real.flatten(1)
    pick = torch.randint(len(flat), flat.shape, device=flat.device)
    shuffled = flat.gather(0, pick).reshape(real.shape)
    judge(INDEPENDENT, shuffled, sample_quality(shuffled))
    for title in trained.models:
        samples = result.images[f"{title} samples"]
        judge(title, samples, sample_quality(samples))
        torch.manual_seed(setup.seed)
        noise, _ = trained.untrained[title].sample(
            min(setup.n_samples, N_UNTRAINED_SAMPLES)
        )
        noise = as_images(noise)
        untrained = evaluation.untrained_reference(noise, data.test_images, net)
        judge(f"{title}, untrained", noise, frechet=untrained["untrained_frechet"])

    known = x_test[: setup.n_inpainted]
    truth = data.test_labels[: setup.n_inpainted]
    top_half = torch.zeros(28, 28, dtype=torch.bool, device=x_test.device)
    top_half[:14] = True
    bottom = ~top_half.flatten()

    def labelled_as_truth(x):
        """The share of completed digits the classifier labels as the digit they complete."""
        return 1 - evaluation.error_rate(net, as_images(x), truth) / 100

    black = pixels.apply(torch.zeros((), device=x_test.device))
    result.inpainting["known half alone"] = labelled_as_truth(
        known.masked_fill(bottom, black)
    )
    for title, model in trained.models.items():
        torch.manual_seed(setup.seed)
        inpainted, _ = model.sample(
            setup.n_inpainted, known=known, mask=top_half.flatten()
        )
        again, _ = model.sample(8, known=known[:8], mask=top_half.flatten())
        unconditional, _ = model.sample(setup.n_inpainted)
        result.images[f"{title} inpainted"] = torch.cat(
            [as_images(inpainted[:8]), as_images(again)]
        )
        result.inpainting[f"{title}, inpainted"] = labelled_as_truth(inpainted)
        result.inpainting[f"{title}, unconditional"] = labelled_as_truth(unconditional)
    return result
