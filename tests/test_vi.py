"""Score-function and reparametrization gradients: unbiased, ordered variances, and they optimise."""

import pytest
import torch

from lec16 import vi

pytestmark = pytest.mark.usefixtures("float64")


@pytest.fixture(scope="module")
def models(float64):
    g = torch.Generator().manual_seed(0)
    gaussian = vi.ConjugateGaussian(torch.randn(15, 2, generator=g) + 1.0)
    x = torch.randn(40, 2, generator=g)
    y = torch.bernoulli(torch.sigmoid(x @ torch.tensor([2.0, -1.0])), generator=g)
    return {"gaussian": gaussian, "logistic": vi.BayesianLogisticRegression(x, y)}


BETA = torch.tensor([0.5, 0.2, -1.0, -0.5], dtype=torch.float64)


@pytest.mark.parametrize("estimator", vi.ESTIMATORS)
@pytest.mark.parametrize("name", ["gaussian", "logistic"])
def test_estimators_are_unbiased(models, name, estimator):
    model = models[name]
    exact = vi.exact_expectation_grad(model.expected_log_joint, BETA)
    torch.manual_seed(0)
    grads = vi.expectation_grad(model.log_joint, BETA.expand(4000, -1), 10, estimator)
    z = (grads.mean(0) - exact) / (grads.std(0) / 4000**0.5)
    assert z.abs().max() < 4


def test_a_biased_estimator_would_be_caught(models):
    """The unbiasedness check has power: a baseline that uses z_s itself, b_s = f(z_s) / 2, halves the
    expected gradient, and the same z-test flags it."""
    model = models["gaussian"]
    exact = vi.exact_expectation_grad(model.expected_log_joint, BETA)
    torch.manual_seed(0)
    grads = 0.5 * vi.expectation_grad(
        model.log_joint, BETA.expand(4000, -1), 10, "score"
    )  # = (f - f/2) score
    z = (grads.mean(0) - exact) / (grads.std(0) / 4000**0.5)
    assert z.abs().max() > 4


def test_variance_ordering(models):
    model = models["logistic"]
    variance = {}
    for estimator in vi.ESTIMATORS:
        torch.manual_seed(1)
        variance[estimator] = (
            vi.expectation_grad(model.log_joint, BETA.expand(3000, -1), 10, estimator)
            .var(0)
            .sum()
        )
    assert variance["reparam"] < variance["score+baseline"] < variance["score"]
    assert variance["score"] > 10 * variance["reparam"]


def test_conjugate_model_bound_is_tight_at_the_exact_posterior(models):
    model = models["gaussian"]
    mean, std = model.posterior()
    assert torch.isclose(
        vi.exact_elbo(model, torch.cat([mean, std.log()])),
        model.log_evidence(),
        atol=1e-9,
    )
    elsewhere = torch.cat([mean + 0.1, std.log()])
    assert vi.exact_elbo(model, elsewhere) < model.log_evidence()


def test_quadrature_matches_monte_carlo(models):
    model = models["logistic"]
    torch.manual_seed(2)
    z = vi.mean_field_gaussian(BETA).sample((200_000,))
    values = model.log_joint(z)
    assert (
        abs(values.mean() - model.expected_log_joint(BETA))
        < 4 * values.std() / 200_000**0.5
    )


# the plain score estimator's noise keeps Adam (fixed learning rate) hovering further from the optimum
@pytest.mark.parametrize(
    "estimator, gap, mean_error",
    [("score", 5.0, 0.8), ("score+baseline", 0.5, 0.3), ("reparam", 0.5, 0.3)],
)
def test_optimising_the_bound_approaches_the_optimum(
    models, estimator, gap, mean_error
):
    model = models["gaussian"]
    torch.manual_seed(3)
    mean, std = model.posterior()
    beta, trace = vi.fit_mean_field(model, torch.zeros(4), estimator, 10, 400, lr=0.05)
    assert trace[-1] > trace[0] + 10
    assert model.log_evidence() - sum(trace[-50:]) / 50 < gap
    assert (beta[:2] - mean).abs().max() < mean_error


def test_bad_arguments(models):
    model = models["gaussian"]
    with pytest.raises(ValueError, match="choose one of"):
        vi.expectation_grad(model.log_joint, BETA, 10, "reinforce")
    with pytest.raises(ValueError, match="n_samples >= 2"):
        vi.expectation_grad(model.log_joint, BETA, 1, "score+baseline")
    with pytest.raises(ValueError, match="positive int"):
        vi.expectation_grad(model.log_joint, BETA, 0, "reparam")
