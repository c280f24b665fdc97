"""EM for Gaussian mixtures: monotone, tight after the E-step, equal to scikit-learn."""

import warnings

import numpy as np
import pytest
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture

from lec16 import em


@pytest.fixture
def x():
    g = torch.Generator().manual_seed(0)
    parts = [
        torch.randn(150, 2, generator=g) * 0.5 + torch.tensor([2.0, 0.0]),
        torch.randn(200, 2, generator=g) @ torch.tensor([[1.0, 0.6], [0.0, 0.4]]) - 1,
        torch.randn(100, 2, generator=g) * 0.3 + torch.tensor([0.0, 2.5]),
    ]
    return torch.cat(parts).double()


def test_log_likelihood_never_decreases_and_bound_sits_between(x):
    fit = em.fit_gmm(x, 3, n_iter=40, seed=3)
    ll = fit.log_likelihood
    assert all(b >= a - 1e-12 for a, b in zip(ll, ll[1:]))
    assert all(
        a - 1e-12 <= b <= c + 1e-12 for a, b, c in zip(ll, fit.bound_after_m, ll[1:])
    )
    assert ll[-1] > ll[0] + 0.5


def test_bound_is_tight_after_the_e_step_and_loose_otherwise(x):
    params = em.init_params(x, 3, seed=1)
    q = em.e_step(x, params)
    assert torch.allclose(
        em.bound(x, q, params), em.log_likelihood(x, params), atol=1e-10
    )
    other = torch.softmax(torch.randn(len(x), 3, dtype=x.dtype), 1)
    assert (em.bound(x, other, params) < em.log_likelihood(x, params)).all()


def test_agrees_with_scikit_learn_from_the_same_start(x):
    init = em.init_params(x, 3, seed=1)
    ours = em.fit_gmm(x, 3, n_iter=30, init=init)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ref = GaussianMixture(
            3,
            max_iter=30,
            tol=0,
            reg_covar=1e-6,
            weights_init=init.weights.numpy(),
            means_init=init.means.numpy(),
            precisions_init=np.linalg.inv(init.covariances.numpy()),
        ).fit(x.numpy())
    got = em.log_likelihood(x, ours.params).numpy()
    assert np.abs(ref.score_samples(x.numpy()) - got).max() < 1e-4
    assert np.allclose(ref.means_, ours.params.means.numpy(), atol=1e-6)
    assert np.allclose(ref.covariances_, ours.params.covariances.numpy(), atol=1e-6)


def test_m_step_maximises_q(x):
    """The closed-form M-step beats any perturbation of it on Q(theta, theta_old)."""
    params = em.init_params(x, 3, seed=2)
    q = em.e_step(x, params)
    best = em.m_step(x, q)
    objective = lambda p: (q * em.log_joint(x, p)).sum()
    g = torch.Generator().manual_seed(0)
    for _ in range(5):
        nudged = best.clone()
        nudged.means = nudged.means + 0.05 * torch.randn(
            nudged.means.shape, generator=g, dtype=x.dtype
        )
        assert objective(nudged) < objective(best)
        nudged = best.clone()
        nudged.weights = torch.softmax(
            nudged.weights.log() + 0.1 * torch.randn(3, generator=g, dtype=x.dtype), 0
        )
        assert objective(nudged) < objective(best)


def test_runs_on_the_input_device_and_dtype(x):
    fit = em.fit_gmm(x.float(), 2, n_iter=3)
    assert (
        fit.params.means.dtype == torch.float32 and fit.params.means.device == x.device
    )


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"k": 0}, "positive int"),
        ({"k": 1000}, "at least k data points"),
        ({"k": 2, "n_iter": 0}, "positive int"),
    ],
)
def test_bad_arguments(x, kwargs, match):
    with pytest.raises(ValueError, match=match):
        em.fit_gmm(x, **kwargs)


def test_bad_shapes(x):
    with pytest.raises(ValueError, match=r"shape \(N, D\)"):
        em.fit_gmm(x[:, 0], 2)
    with pytest.raises(ValueError, match="init means"):
        em.fit_gmm(x, 2, init=em.init_params(x, 3))
