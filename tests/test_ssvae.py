"""Semi-supervised VAEs: balanced labels, M2's bounds (batched = one label at a time, the unlabelled
identity), the classifier's gradient, training on two streams, and M1's codes."""

import math

import pytest
import torch
from torch import distributions as D

from lec16 import data, evaluation, ssvae, vae


def _tiny(likelihood="gaussian"):
    torch.manual_seed(0)
    return ssvae.M2(x_dim=6, y_dim=3, z_dim=2, hidden=8, likelihood=likelihood).double()


def test_balanced_labels_are_balanced_distinct_reproducible_and_on_the_labels_device():
    y = torch.arange(1000) % 10
    chosen = ssvae.balanced_labels(y, 100, seed=3)
    assert torch.bincount(y[chosen]).tolist() == [10] * 10
    assert len(chosen.unique()) == 100 and chosen.device == y.device
    assert torch.equal(chosen, ssvae.balanced_labels(y, 100, seed=3))
    assert not torch.equal(chosen, ssvae.balanced_labels(y, 100, seed=4))


@pytest.mark.parametrize("likelihood", ssvae.LIKELIHOODS)
def test_batched_class_bounds_equal_one_label_at_a_time(likelihood):
    m = _tiny(likelihood)
    x = torch.rand(5, 6, dtype=torch.float64).round()
    eps = torch.randn(5, 3, 2, dtype=torch.float64)
    batched = m.class_bounds(x, eps)
    for y in range(3):
        single = m.labelled_bound(x, torch.full((5,), y), eps[:, y])
        assert torch.allclose(batched[:, y], single, atol=1e-12)


def test_labelled_bound_is_the_elbo_with_the_uniform_label_prior():
    m = _tiny()
    x, y = torch.randn(4, 6, dtype=torch.float64), torch.tensor([0, 1, 2, 1])
    eps = torch.randn(4, 2, dtype=torch.float64)
    mu, logvar = m.encode(x, y)
    z = mu + (0.5 * logvar).exp() * eps
    kl = D.kl_divergence(D.Normal(mu, (0.5 * logvar).exp()), D.Normal(0.0, 1.0)).sum(-1)
    expected = m.decode(z, y).log_prob(x) - math.log(3) - kl  # log p(y) = -log 3
    assert torch.allclose(m.labelled_bound(x, y, eps), expected, atol=1e-12)


def test_unlabelled_bound_is_expected_labelled_bound_plus_entropy_and_below_logsumexp():
    m = _tiny()
    x = torch.randn(7, 6, dtype=torch.float64)
    eps = torch.randn(7, 3, 2, dtype=torch.float64)
    bounds = m.class_bounds(x, eps)
    q = D.Categorical(logits=m.classify(x))
    u = m.unlabelled_bound(x, eps)
    assert torch.allclose(u, (q.probs * bounds).sum(-1) + q.entropy(), atol=1e-12)
    assert (u <= torch.logsumexp(bounds, -1) + 1e-12).all()


def test_the_classifier_gets_gradient_only_from_unlabelled_data_or_the_alpha_term():
    m = _tiny()
    x, y = torch.randn(4, 6, dtype=torch.float64), torch.tensor([0, 1, 2, 1])
    m.labelled_bound(x, y).sum().backward()
    assert all(p.grad is None for p in m.classifier.parameters())
    m.zero_grad()
    m.unlabelled_bound(x).sum().backward()
    assert all(p.grad.abs().sum() > 0 for p in m.classifier.parameters())


def test_objective_weights_the_two_bounds_by_their_share_of_the_data():
    m = _tiny()
    x_l, y_l = torch.randn(4, 6, dtype=torch.float64), torch.tensor([0, 1, 2, 1])
    x_u = torch.randn(5, 6, dtype=torch.float64)
    torch.manual_seed(1)
    terms = ssvae.objective(m, x_l, y_l, x_u, n_labelled=10, n_unlabelled=90, alpha=0.3)
    bound = (10 * terms["labelled_bound"] + 90 * terms["unlabelled_bound"]) / 100
    assert torch.allclose(terms["loss"], -(bound + 0.3 * terms["log_q"]))


def test_train_m2_learns_two_separable_classes_from_four_labels(tmp_path):
    torch.manual_seed(0)
    centres = torch.tensor([[0.9] * 3 + [0.1] * 3, [0.1] * 3 + [0.9] * 3])
    y = torch.arange(400) % 2
    x = data.binarize_dynamic(centres[y], generator=torch.Generator().manual_seed(0))
    labelled = ssvae.balanced_labels(y, 4, seed=0, n_classes=2)
    model = ssvae.M2(x_dim=6, y_dim=2, z_dim=2, hidden=16)
    config = ssvae.SSLConfig(
        epochs=15, batch_size=50, labelled_batch=4, lr=1e-2, alpha=1.0
    )
    untrained = evaluation.error_rate(model.classify, x, y)
    history = ssvae.train_m2(
        model,
        (x[labelled], y[labelled]),
        x,
        (x, y),
        config,
        checkpoint=tmp_path / "m2.pt",
    )
    assert history.last["test_error"] < min(15, untrained)  # chance is 50 %
    # a rerun resumes from the checkpoint instead of training again
    again = ssvae.train_m2(
        ssvae.M2(x_dim=6, y_dim=2, z_dim=2, hidden=16),
        (x[labelled], y[labelled]),
        x,
        (x, y),
        config,
        checkpoint=tmp_path / "m2.pt",
    )
    assert again.last == history.last


def test_m1_codes_active_dims_and_sampling():
    torch.manual_seed(0)
    m1 = vae.VAE(vae.VAEConfig(hidden=8, latent=4))
    x = torch.rand(30, 784)
    codes = ssvae.m1_codes(m1, x, batch_size=7)
    mu, logvar = m1.encode(x)
    assert torch.allclose(codes, torch.cat([mu, logvar], -1).detach())
    keep = torch.tensor([True, False, True, False])
    kept = ssvae.keep_dims(codes, keep)
    # codes came in batches of 7, mu in one: equal up to the matmul kernels' rounding
    assert torch.allclose(ssvae.code_means(kept), mu[:, keep].detach())
    assert ssvae.sample_codes(kept).shape == (30, 2)
    spread = torch.cat([torch.randn(1000, 1), 0.01 * torch.randn(1000, 1)], 1)
    stats = torch.cat([spread, torch.zeros_like(spread)], -1)
    assert ssvae.active_dims(stats).tolist() == [True, False]
