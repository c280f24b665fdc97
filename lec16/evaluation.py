"""Sample-based evaluation of generative models that have no tractable likelihood (GANs).

* Parzen-window log-likelihood (Goodfellow et al. 2014, section 5, after Breuleux et al.): fit an
  isotropic Gaussian kernel density to generated samples, choose its width on a validation split,
  report the mean log-density of the test set. Known to be a weak, high-variance metric in high
  dimension; reported because it is the paper's own.
* A Frechet distance between Gaussian fits of features of real and generated images,
  ||mu_1 - mu_2||^2 + tr(C_1 + C_2 - 2 (C_1 C_2)^{1/2}), in the 128-dimensional penultimate layer of
  a small MNIST classifier trained and cached here. It follows the recipe of the FID but it is
  NOT the Inception FID: its numbers are comparable only with each other.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from scipy import linalg
from torch import nn

from lec16 import checkpoints, checks, data, distributed, settings, train
from lec16.scales import check_positive

__all__ = [
    "parzen_log_likelihood",
    "select_parzen_sigma",
    "error_rate",
    "misclassified",
    "MnistFeatureNet",
    "feature_net",
    "as_mnist_images",
    "features",
    "frechet_distance",
    "frechet_standard_error",
    "sample_quality",
    "parzen_protocol_split",
    "untrained_reference",
    "nearest_neighbours",
    "confident_share",
    "mmd",
]


@torch.no_grad()
def parzen_log_likelihood(
    samples: torch.Tensor, x: torch.Tensor, sigma: float, batch_size: int = 100
) -> torch.Tensor:
    """log p(x) under the kernel density (1/M) sum_i N(x; s_i, sigma^2 I), per row of ``x``.

    ``samples`` and ``x``: non-empty floating tensors (examples first) of one dtype and device."""
    check_positive("sigma", sigma)
    check_positive("batch_size", batch_size, integer=True)
    checks.tensor("samples", samples, min_dim=2)
    checks.tensor("x", x, min_dim=2)
    checks.like("x", x, samples, "samples")
    s, x = samples.flatten(1), x.flatten(1)
    if s.shape[1] != x.shape[1]:
        raise ValueError(
            f"samples have {s.shape[1]} values each and x has {x.shape[1]}: they must be the same images"
        )
    d = s.shape[1]
    s_sq = (s * s).sum(1)
    out = []
    for xb in x.split(batch_size):
        sq = (
            (xb * xb).sum(1, keepdim=True) - 2 * xb @ s.T + s_sq
        )  # squared distances, (b, M)
        out.append(torch.logsumexp(-sq.clamp_min(0) / (2 * sigma**2), 1))
    return (
        torch.cat(out) - math.log(len(s)) - 0.5 * d * math.log(2 * math.pi * sigma**2)
    )


def select_parzen_sigma(
    samples: torch.Tensor, x_val: torch.Tensor, sigmas=None
) -> tuple[float, dict]:
    """The width with the best mean validation log-likelihood, and the score of every candidate.

    ``sigmas``: a non-empty sequence of candidate widths (any iterable: it is read once)."""
    if sigmas is None:
        sigmas = np.logspace(-1, 0, 10)
    elif isinstance(sigmas, (int, float)) or (
        isinstance(sigmas, (torch.Tensor, np.ndarray)) and sigmas.ndim == 0
    ):
        raise ValueError(
            f"sigmas must be a sequence of candidate widths, e.g. [0.1, 0.2], got {sigmas!r}; "
            "for one width call parzen_log_likelihood"
        )
    else:
        sigmas = list(sigmas)
        if not sigmas:
            raise ValueError("sigmas is empty: pass at least one candidate width")
    for sig in sigmas:
        check_positive("every Parzen width sigma", float(sig))
    scores = {
        float(sig): parzen_log_likelihood(samples, x_val, float(sig)).mean().item()
        for sig in sigmas
    }
    return max(scores, key=scores.get), scores


@torch.no_grad()
def misclassified(
    logits: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    y: torch.Tensor,
    batch_size: int = 2000,
) -> torch.Tensor:
    """Per example of (x, y), 1.0 where a classifier (``logits``: a network, or e.g.
    ``model.classify``) gets it wrong (its argmax is not the label), else 0.0: what paired
    comparisons of two classifiers on the same examples need.

    ``y``: one class index per example (a 1-D integer tensor, not one-hot), each below the
    number of scores ``logits`` returns per example, on the device of those scores."""
    if not callable(logits):
        raise ValueError(
            f"logits must be a classifier (a function x -> scores of shape (N, classes)), got "
            f"a {type(logits).__name__}"
        )
    check_positive("batch_size", batch_size, integer=True)
    checks.tensor("x", x)

    def scores(i):
        out = logits(x[i : i + batch_size])
        if i == 0:  # the number of classes is that of the scores
            if not isinstance(out, torch.Tensor) or out.ndim != 2:
                got = (
                    f"shape {tuple(out.shape)}"
                    if isinstance(out, torch.Tensor)
                    else f"a {type(out).__name__}"
                )
                raise ValueError(
                    f"logits must return scores of shape (N, classes), got {got}: a single "
                    "logit per example has no argmax over classes"
                )
            checks.labels("y", y, n=len(x), n_classes=out.shape[-1])
            if y.device != out.device:
                raise ValueError(
                    f"y is on {y.device} but the scores on {out.device}: move y with "
                    f"y.to({str(out.device)!r})"
                )
        return out

    with torch.no_grad():
        return torch.cat(
            [
                (scores(i).argmax(-1) != y[i : i + batch_size]).double()
                for i in range(0, len(x), batch_size)
            ]
        )


def error_rate(
    logits: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    y: torch.Tensor,
    batch_size: int = 2000,
) -> float:
    """Error (%) of a classifier on (x, y): the mean of :func:`misclassified`."""
    return 100.0 * misclassified(logits, x, y, batch_size).mean().item()


class MnistFeatureNet(nn.Module):
    """A small CNN classifier; ``features`` is its 128-dimensional penultimate layer."""

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, 16, 5),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 5),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(512, 128),
            nn.ReLU(),
        )
        self.head = nn.Linear(128, 10)

    def _check(self, x) -> None:
        """Shapes, dtype and device only (it runs at every training step)."""
        checks.tensor("x", x, min_dim=0, non_empty=False)
        if x.ndim != 4 or x.shape[1:] != (1, 28, 28):
            raise ValueError(
                f"MnistFeatureNet expects grey 28x28 images (N, 1, 28, 28), got shape "
                f"{tuple(x.shape)}: convert them with lec16.evaluation.as_mnist_images"
            )
        checks.like("x", x, self.head.weight, "MnistFeatureNet")

    def features(self, x):
        self._check(x)
        return self.body(x)

    def forward(self, x):
        self._check(x)
        return self.head(self.body(x))


def feature_net(
    device=None, path: Path | None = None, epochs: int = 2
) -> tuple[MnistFeatureNet, float]:
    """The feature classifier and its test accuracy: loaded from ``path`` (default
    ``mnist_cnn.pt`` in :func:`lec16.settings.cache_dir`: beside the data, or in a cache folder
    when the data folder is read-only) or trained on MNIST (seed 0) and kept there."""
    check_positive("epochs", epochs, integer=True)
    try:
        device = torch.device(device) if device is not None else torch.device("cpu")
    except (RuntimeError, TypeError):
        raise ValueError(
            f"device={device!r} is not a torch device; use e.g. 'cpu', 'cuda' or 'cuda:0'"
        ) from None
    path = Path(path or settings.cache_dir() / "mnist_cnn.pt")
    net = MnistFeatureNet().to(device)
    x_test, y_test = data.load_mnist("test", device=device)
    if path.exists():
        state = checkpoints.load(path, map_location=device, required=("model",))
        try:
            net.load_state_dict(state["model"])
        except (RuntimeError, KeyError) as err:
            raise checkpoints.CheckpointError(
                f"{path} is not a MnistFeatureNet checkpoint ({err}); delete it to retrain"
            ) from None
    else:
        x_train, y_train = data.load_mnist("train", device=device)
        torch.manual_seed(0)
        opt = torch.optim.Adam(net.parameters(), lr=1e-3)
        parallel = distributed.wrap(net)  # under torchrun one net over the global batch
        train.fit(
            train.classification_step(parallel, opt),
            data.Batches(x_train, y_train, batch_size=128),
            epochs,
            modules={"net": parallel},
            optimizers={"adam": opt},
            desc="feature classifier",
        )
        if distributed.is_main():  # one writer
            checkpoints.save(path, {"model": net.state_dict()})
        distributed.barrier()
    net.eval()
    return net, 1 - error_rate(net, x_test, y_test, batch_size=1000) / 100


def as_mnist_images(images: torch.Tensor) -> torch.Tensor:
    """Images of any size as the classifier's input: grey (the mean over colour channels), resized
    to 28x28 (area-averaged down, bilinear up). Flattened 784-vectors are read as 28x28."""
    checks.tensor("images", images, min_dim=0, non_empty=False)
    if images.ndim == 2 and images.shape[1] == 784:
        images = images.reshape(-1, 1, 28, 28)
    if images.ndim != 4:
        raise ValueError(
            f"images must be (N, C, H, W) or flattened 28x28 (N, 784), got shape {tuple(images.shape)}"
        )
    images = images.mean(1, keepdim=True)
    if images.shape[-2:] != (28, 28):
        mode = "area" if min(images.shape[-2:]) > 28 else "bilinear"
        images = F.interpolate(images, size=(28, 28), mode=mode)
    return images


def _check_net(net, method: str) -> None:
    if not callable(getattr(net, method, None)):
        raise ValueError(
            f"net must be the feature classifier (evaluation.feature_net()[0]), with a "
            f"{method}(images) method; got a {type(net).__name__}"
        )


def _check_image_sets(min_images: int = 2, **images: torch.Tensor) -> None:
    """Each named set: floating intensities in [0, 1] (examples first), at least
    ``min_images`` of them (a covariance needs 2), on the first set's dtype and device."""
    first = None
    for name, x in images.items():
        checks.intensities(name, x, min_dim=2)
        if len(x) < min_images:
            raise ValueError(
                f"{name} has {len(x)} image(s); the metrics need at least {min_images} (the "
                "Frechet distance estimates a covariance): use thousands for stable numbers"
            )
        if first is None:
            first = name, x
        else:
            checks.like(name, x, first[1], first[0])


@torch.no_grad()
def features(
    net: MnistFeatureNet, images: torch.Tensor, batch_size: int = 1000
) -> np.ndarray:
    """The classifier's 128 penultimate features for images of any size (:func:`as_mnist_images`),
    intensities in [0, 1]."""
    check_positive("batch_size", batch_size, integer=True)
    _check_net(net, "features")
    checks.intensities("images", images, min_dim=2)
    return _features(net, images, batch_size)


@torch.no_grad()
def _features(net, images, batch_size=1000):
    x = as_mnist_images(images)
    return (
        torch.cat([net.features(b) for b in x.split(batch_size)]).cpu().double().numpy()
    )


def frechet_distance(feats_a: np.ndarray, feats_b: np.ndarray) -> float:
    """||mu_a - mu_b||^2 + tr(C_a + C_b - 2 (C_a C_b)^{1/2}) between Gaussian fits of two feature sets."""
    feats_a, feats_b = np.asarray(feats_a), np.asarray(feats_b)
    if feats_a.ndim != 2 or feats_b.ndim != 2 or feats_a.shape[1] != feats_b.shape[1]:
        raise ValueError(
            f"Frechet distance needs two (n, d) feature arrays of the same d, got {feats_a.shape} "
            f"and {feats_b.shape}"
        )
    if min(len(feats_a), len(feats_b)) < 2:
        raise ValueError(
            f"Frechet distance needs at least 2 samples per set to estimate a covariance, got "
            f"{len(feats_a)} and {len(feats_b)}; use thousands for a stable estimate"
        )
    mu_a, mu_b = feats_a.mean(0), feats_b.mean(0)
    cov_a, cov_b = np.cov(feats_a, rowvar=False), np.cov(feats_b, rowvar=False)
    # dead ReLU features make the covariances singular; a tiny ridge keeps sqrtm well defined
    ridge = 1e-6 * np.eye(len(mu_a))
    cov_a, cov_b = cov_a + ridge, cov_b + ridge
    root = linalg.sqrtm(
        cov_a @ cov_b
    ).real  # drop the tiny imaginary parts sqrtm leaves from rounding
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a + cov_b - 2 * root))


FRECHET_RESAMPLES = 20  # bootstrap resamples behind a Fréchet distance's standard error


def frechet_standard_error(
    feats_a: np.ndarray, feats_b: np.ndarray, resamples: int = FRECHET_RESAMPLES
) -> float:
    """One standard error of :func:`frechet_distance` ``(feats_a, feats_b)`` for the draw of
    the samples ``feats_a``: the spread of the distance over ``resamples`` bootstrap resamples
    of them (numpy's generator seeded 0, so the same resamples every run), ``feats_b`` held
    fixed. A resample repeats some samples, so its covariance is a little narrower: the spread
    is an estimate of the error, not an exact one."""
    check_positive("resamples", resamples, integer=True)
    if resamples < 2:
        raise ValueError(
            f"resamples must be at least 2 to have a spread, got {resamples}"
        )
    feats_a = np.asarray(feats_a)
    draws = np.random.default_rng(0).integers(
        len(feats_a), size=(resamples, len(feats_a))
    )
    values = [frechet_distance(feats_a[d], feats_b) for d in draws]
    return float(np.std(values, ddof=1))


@torch.no_grad()
def sample_quality(
    samples: torch.Tensor,
    test_images: torch.Tensor,
    validation_images: torch.Tensor,
    net: MnistFeatureNet,
) -> dict[str, float]:
    """Every metric the GAN chapters report for a set of generated ``samples`` (N, C, H, W, any size
    for the Frechet distance; the Parzen window compares them with images of the same size):

    * ``parzen`` (± ``parzen_se``, the standard error over test images): the mean Parzen log-likelihood of
      ``test_images``, the width ``sigma`` chosen on the first 1000 ``validation_images``;
    * ``frechet`` (± ``frechet_se``, :func:`frechet_standard_error`): the Frechet distance between
      classifier features of the samples and of ``test_images``;
    * ``diversity``: the mean pairwise pixel distance among the first 1000 samples (a generator that
      collapsed onto a few images scores near 0), and ``real_diversity``, the same for the test images;
    * ``mean_intensity`` and ``real_mean_intensity``: the mean pixel of the samples and of the test
      images, the first thing a generator learns (an untrained one outputs grey), so the check that
      even a few training steps must pass.

    All images are intensities in [0, 1] (divide 8-bit pixels by 255), at least 2 per set, of
    one dtype and device.
    """
    _check_net(net, "features")
    _check_image_sets(
        samples=samples, test_images=test_images, validation_images=validation_images
    )
    pixels = {
        name: x[0].numel()
        for name, x in (
            ("samples", samples),
            ("test_images", test_images),
            ("validation_images", validation_images),
        )
    }
    if len(set(pixels.values())) > 1:
        raise ValueError(
            f"the Parzen window compares images of one size; pixels per image: {pixels} "
            "(resize the samples or compare them only by the Frechet distance)"
        )
    sigma, _ = select_parzen_sigma(samples, validation_images[:1000])
    ll = parzen_log_likelihood(samples, test_images, sigma)
    sample_features, test_features = (
        _features(net, samples),
        _features(net, test_images),
    )
    return {
        "parzen": ll.mean().item(),
        "parzen_se": (ll.std() / len(ll) ** 0.5).item(),
        "sigma": sigma,
        "frechet": frechet_distance(sample_features, test_features),
        "frechet_se": frechet_standard_error(sample_features, test_features),
        "diversity": torch.pdist(samples[:1000].flatten(1)).mean().item(),
        "real_diversity": torch.pdist(test_images[:1000].flatten(1)).mean().item(),
        "mean_intensity": samples.mean().item(),
        "real_mean_intensity": test_images.mean().item(),
    }


PARZEN_TRAIN = 50_000
PARZEN_VALIDATION = 1_000


def parzen_protocol_split(
    images: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Goodfellow et al.'s splits of a 60,000-image training set (their code): the models train on
    the first 50,000 images, the Parzen width is chosen on the next 1,000, and the remaining
    9,000 are real images no model saw, the reference row of the GAN tables. Returns
    (train, validation, held_out)."""
    checks.tensor("images", images, floating=False)
    if len(images) <= PARZEN_TRAIN + PARZEN_VALIDATION:
        raise ValueError(
            f"the Parzen protocol needs the full training set (more than "
            f"{PARZEN_TRAIN + PARZEN_VALIDATION} images), got {len(images)}"
        )
    end = PARZEN_TRAIN + PARZEN_VALIDATION
    return images[:PARZEN_TRAIN], images[PARZEN_TRAIN:end], images[end:]


def untrained_reference(
    samples: torch.Tensor, test_images: torch.Tensor, net: MnistFeatureNet
) -> dict[str, float]:
    """What a generator's untrained copy scores (the reference a broken generator would not beat):
    the Frechet distance of its ``samples`` to ``test_images`` and their mean pixel. Estimate its
    batch-norm statistics first (:func:`lec16.gan.calibrate_batch_norm`), as training would, so
    that statistics alone cannot pass for learning. Images: intensities in [0, 1], at least
    2 per set."""
    _check_net(net, "features")
    _check_image_sets(samples=samples)
    _check_image_sets(test_images=test_images)
    return {
        "untrained_frechet": frechet_distance(
            _features(net, samples), _features(net, test_images)
        ),
        "untrained_mean_intensity": samples.mean().item(),
    }


@torch.no_grad()
def nearest_neighbours(
    queries: torch.Tensor, reference: torch.Tensor, batch_size: int = 500
) -> tuple[torch.Tensor, torch.Tensor]:
    """For each query image, the Euclidean pixel distance to its nearest ``reference`` image and
    that image's index (Goodfellow et al.'s Figure 2 check that samples are not memorised).
    Both are non-empty floating tensors (examples first) of one dtype, device and image size."""
    check_positive("batch_size", batch_size, integer=True)
    checks.tensor("queries", queries, min_dim=2)
    checks.tensor("reference", reference, min_dim=2)
    checks.like("queries", queries, reference, "reference")
    if queries[0].numel() != reference[0].numel():
        raise ValueError(
            f"queries have {queries[0].numel()} values each and reference "
            f"{reference[0].numel()}: they must be images of one size"
        )
    reference = reference.flatten(1)
    best = [
        torch.cdist(q.flatten(1), reference).min(1) for q in queries.split(batch_size)
    ]
    return torch.cat([b.values for b in best]), torch.cat([b.indices for b in best])


@torch.no_grad()
def confident_share(
    net: MnistFeatureNet, images: torch.Tensor, threshold: float = 0.9
) -> float:
    """The share of ``images`` (N, 1, 28, 28) in [0, 1] that the MNIST classifier ``net`` labels
    with probability above ``threshold``: recognisable digits score near the test set's own share,
    noise near 0."""
    if (
        isinstance(threshold, bool)
        or not isinstance(threshold, (int, float))
        or not 0 < threshold < 1
    ):
        raise ValueError(f"threshold must be in (0, 1), got {threshold!r}")
    checks.intensities("images", images, min_dim=2)
    probabilities = torch.softmax(net(as_mnist_images(images)), -1)
    return (probabilities.max(-1).values > threshold).float().mean().item()


def mmd(
    x: torch.Tensor, y: torch.Tensor, bandwidths: tuple[float, ...] = (0.1, 0.3, 1.0)
) -> torch.Tensor:
    """The unbiased estimate of the squared maximum mean discrepancy between the samples ``x``
    (n, d) and ``y`` (m, d) (Gretton et al. 2012), with a sum of Gaussian kernels of the given
    ``bandwidths``: about 0 when both come from one distribution (it can go slightly negative).
    ``x`` and ``y``: floating tensors of one dtype and device (1-D points as (n, 1))."""
    for name, points in (("x", x), ("y", y)):
        checks.tensor(name, points, min_dim=0, non_empty=False)
        if points.ndim < 2:
            raise ValueError(
                f"mmd needs points of shape (n, d), got {name} of shape {tuple(points.shape)}: "
                f"write {name}[:, None] for 1-D points"
            )
    checks.like("y", y, x, "x")
    if not isinstance(bandwidths, (tuple, list)) or not bandwidths:
        raise ValueError(
            f"bandwidths must be a non-empty sequence of kernel widths, e.g. (0.1, 0.3, 1.0), "
            f"got {bandwidths!r}"
        )
    for k, width in enumerate(bandwidths):
        check_positive(f"bandwidths[{k}]", width)
    if x.shape[1:] != y.shape[1:] or len(x) < 2 or len(y) < 2:
        raise ValueError(
            f"mmd needs two sets of at least 2 points of one dimension, got shapes "
            f"{tuple(x.shape)} and {tuple(y.shape)}"
        )

    def kernel(a, b):
        sq = torch.cdist(a.flatten(1), b.flatten(1)) ** 2
        return sum(torch.exp(-sq / (2 * w**2)) for w in bandwidths)

    def within(a):
        n = len(a)
        return (kernel(a, a).sum() - n * len(bandwidths)) / (n * (n - 1))

    return within(x) + within(y) - 2 * kernel(x, y).mean()
