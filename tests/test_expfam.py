"""Exponential families: closed forms against torch.distributions, autograd and numerical duality."""

import math

import pytest
import torch

from lec16.expfam import BERNOULLI, CATEGORICAL, FAMILIES, GAUSSIAN

pytestmark = pytest.mark.usefixtures("float64")


def _theta(family, g):
    if family is BERNOULLI:
        return 3 * torch.randn((), generator=g)
    if family is CATEGORICAL:
        return torch.randn(4, generator=g)
    m, s = torch.randn((), generator=g), 0.3 + torch.rand((), generator=g)
    return torch.stack([m / s**2, -1 / (2 * s**2)])


@pytest.mark.parametrize("family", FAMILIES, ids=lambda f: f.name)
def test_gradient_of_log_partition_is_the_mean(family):
    g = torch.Generator().manual_seed(0)
    for _ in range(5):
        theta = _theta(family, g).requires_grad_(True)
        (grad,) = torch.autograd.grad(family.log_partition(theta), theta)
        assert torch.allclose(grad, family.mean(theta.detach()), atol=1e-10)


@pytest.mark.parametrize("family", FAMILIES, ids=lambda f: f.name)
def test_conjugate_is_negative_entropy_and_natural_inverts_mean(family):
    g = torch.Generator().manual_seed(1)
    for _ in range(5):
        theta = _theta(family, g)
        mu = family.mean(theta)
        assert torch.allclose(
            family.conjugate(mu), -family.distribution(theta).entropy(), atol=1e-10
        )
        back = family.natural(mu)
        if (
            family is CATEGORICAL
        ):  # over-complete: theta only up to an additive constant
            back, theta = back - back.mean(), theta - theta.mean()
        assert torch.allclose(back, theta, atol=1e-8)


@pytest.mark.parametrize("family", FAMILIES, ids=lambda f: f.name)
def test_fenchel_young_inequality_with_equality_at_the_mean(family):
    """A(theta) + A*(mu) >= <theta, mu> for every mu; equality iff mu = grad A(theta)."""
    g = torch.Generator().manual_seed(2)
    theta = _theta(family, g)
    for _ in range(20):
        mu = family.mean(_theta(family, g))
        assert (
            family.log_partition(theta) + family.conjugate(mu)
            >= (theta * mu).sum() - 1e-12
        )
    mu = family.mean(theta)
    assert torch.isclose(
        family.log_partition(theta) + family.conjugate(mu),
        (theta * mu).sum(),
        atol=1e-10,
    )


def test_log_densities_match_torch():
    g = torch.Generator().manual_seed(3)
    theta = _theta(GAUSSIAN, g)
    xs = torch.linspace(-3, 3, 11)
    assert torch.allclose(
        GAUSSIAN.log_density(xs, theta),
        GAUSSIAN.distribution(theta).log_prob(xs),
        atol=1e-12,
    )
    theta = _theta(CATEGORICAL, g)
    assert torch.allclose(
        CATEGORICAL.log_density(torch.eye(4), theta).exp().sum(), torch.tensor(1.0)
    )
    assert torch.allclose(
        BERNOULLI.log_density(torch.tensor([0.0, 1.0]), torch.tensor(0.7)).exp().sum(),
        torch.tensor(1.0),
    )


def test_gaussian_log_partition_is_infinite_outside_omega():
    assert GAUSSIAN.log_partition(torch.tensor([0.1, 0.0])) == math.inf
    assert GAUSSIAN.log_partition(torch.tensor([0.1, 0.3])) == math.inf
    assert math.isfinite(GAUSSIAN.log_partition(torch.tensor([0.1, -0.3])))


def test_bernoulli_conjugate_handles_the_boundary():
    assert (
        BERNOULLI.conjugate(torch.tensor(0.0)) == 0
        and BERNOULLI.conjugate(torch.tensor(1.0)) == 0
    )
