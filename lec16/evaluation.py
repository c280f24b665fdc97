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
from pathlib import Path

import numpy as np
import torch
from scipy import linalg
from torch import nn

from lec16 import data, train


@torch.no_grad()
def parzen_log_likelihood(samples: torch.Tensor, x: torch.Tensor, sigma: float, batch_size: int = 100) -> torch.Tensor:
    """log p(x) under the kernel density (1/M) sum_i N(x; s_i, sigma^2 I), per row of ``x``."""
    s, x = samples.flatten(1), x.flatten(1)
    d = s.shape[1]
    s_sq = (s * s).sum(1)
    out = []
    for xb in x.split(batch_size):
        sq = (xb * xb).sum(1, keepdim=True) - 2 * xb @ s.T + s_sq  # squared distances, (b, M)
        out.append(torch.logsumexp(-sq.clamp_min(0) / (2 * sigma ** 2), 1))
    return torch.cat(out) - math.log(len(s)) - 0.5 * d * math.log(2 * math.pi * sigma ** 2)


def select_parzen_sigma(samples: torch.Tensor, x_val: torch.Tensor, sigmas=None) -> tuple[float, dict]:
    """The width with the best mean validation log-likelihood, and the score of every candidate."""
    sigmas = sigmas if sigmas is not None else np.logspace(-1, 0, 10)
    scores = {float(sig): parzen_log_likelihood(samples, x_val, float(sig)).mean().item() for sig in sigmas}
    return max(scores, key=scores.get), scores


class MnistFeatureNet(nn.Module):
    """A small CNN classifier; ``features`` is its 128-dimensional penultimate layer."""

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(1, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(16, 32, 5), nn.ReLU(),
                                  nn.MaxPool2d(2), nn.Flatten(), nn.Linear(512, 128), nn.ReLU())
        self.head = nn.Linear(128, 10)

    def features(self, x):
        return self.body(x)

    def forward(self, x):
        return self.head(self.body(x))


def feature_net(device=None, path: Path | None = None, epochs: int = 2) -> tuple[MnistFeatureNet, float]:
    """The feature classifier and its test accuracy: loaded from ``path`` (default
    ``<data root>/classifiers/mnist_cnn.pt``) or trained on MNIST (seed 0) and cached there."""
    path = Path(path or data.data_root() / "classifiers" / "mnist_cnn.pt")
    net = MnistFeatureNet().to(device)
    x_test, y_test = data.load_mnist("test", device=device)
    if path.exists():
        state = train.load_checkpoint(path, map_location=device)
        try:
            net.load_state_dict(state["model"])
        except (RuntimeError, KeyError) as err:
            raise train.CheckpointError(f"{path} is not a MnistFeatureNet checkpoint ({err}); delete it to retrain") from None
    else:
        x_train, y_train = data.load_mnist("train", device=device)
        torch.manual_seed(0)
        opt = torch.optim.Adam(net.parameters(), lr=1e-3)
        train.fit(train.classification_step(net, opt), data.Batches(x_train, y_train, batch_size=128), epochs, modules={"net": net},
                  optimizers={"adam": opt}, desc="feature classifier")
        train.save_checkpoint(path, {"model": net.state_dict()})
    net.eval()
    with torch.no_grad():
        accuracy = torch.cat([net(x).argmax(1) for x in x_test.split(1000)]).eq(y_test).float().mean().item()
    return net, accuracy


@torch.no_grad()
def features(net: MnistFeatureNet, images: torch.Tensor, batch_size: int = 1000) -> np.ndarray:
    return torch.cat([net.features(x.reshape(-1, 1, 28, 28)) for x in images.split(batch_size)]).double().cpu().numpy()


def frechet_distance(feats_a: np.ndarray, feats_b: np.ndarray) -> float:
    """||mu_a - mu_b||^2 + tr(C_a + C_b - 2 (C_a C_b)^{1/2}) between Gaussian fits of two feature sets."""
    mu_a, mu_b = feats_a.mean(0), feats_b.mean(0)
    cov_a, cov_b = np.cov(feats_a, rowvar=False), np.cov(feats_b, rowvar=False)
    # dead ReLU features make the covariances singular; a tiny ridge keeps sqrtm well defined
    ridge = 1e-6 * np.eye(len(mu_a))
    cov_a, cov_b = cov_a + ridge, cov_b + ridge
    root = linalg.sqrtm(cov_a @ cov_b).real  # drop the tiny imaginary parts sqrtm leaves from rounding
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a + cov_b - 2 * root))


@torch.no_grad()
def sample_quality(samples: torch.Tensor, test_images: torch.Tensor, validation_images: torch.Tensor,
                   net: MnistFeatureNet) -> dict[str, float]:
    """Every metric the GAN chapters report for a set of generated ``samples`` (N, 1, 28, 28):

    * ``parzen`` (± ``parzen_se``, the standard error over test images): the mean Parzen log-likelihood of
      ``test_images``, the width ``sigma`` chosen on the first 1000 ``validation_images``;
    * ``frechet``: the Frechet distance between classifier features of the samples and of ``test_images``;
    * ``diversity``: the mean pairwise pixel distance among the first 1000 samples (a generator that
      collapsed onto a few images scores near 0), and ``real_diversity``, the same for the test images.
    """
    sigma, _ = select_parzen_sigma(samples, validation_images[:1000])
    ll = parzen_log_likelihood(samples, test_images, sigma)
    return {"parzen": ll.mean().item(), "parzen_se": (ll.std() / len(ll) ** 0.5).item(), "sigma": sigma,
            "frechet": frechet_distance(features(net, samples), features(net, test_images)),
            "diversity": torch.pdist(samples[:1000].flatten(1)).mean().item(),
            "real_diversity": torch.pdist(test_images[:1000].flatten(1)).mean().item()}
