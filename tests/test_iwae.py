"""The importance-weighted bound: stable, monotone in k on a tractable model, and the estimator."""

import math

import pytest
import torch

from lec16 import iwae, vae


def test_iwae_bound_is_log_mean_exp_and_stable_for_very_negative_weights():
    log_w = torch.tensor(
        [[-1.0, -2.0], [-3.0, -0.5], [-2.0, -4.0]], dtype=torch.float64
    )
    assert torch.allclose(iwae.iwae_bound(log_w, dim=0), log_w.exp().mean(0).log())
    far = torch.tensor([-1e4, -1e4 - 1, -1e4 - 3], dtype=torch.float64)
    assert torch.isinf(
        far.exp().mean().log()
    )  # what a naive implementation would return
    assert (
        abs(
            iwae.iwae_bound(far).item()
            - (-1e4 + math.log((1 + math.exp(-1) + math.exp(-3)) / 3))
        )
        < 1e-9
    )
    assert iwae.iwae_bound(torch.full((7,), -12345.0)).item() == pytest.approx(-12345.0)


@pytest.fixture(scope="module")
def ppca():
    g = torch.Generator().manual_seed(0)
    model = iwae.LinearGaussian(
        torch.randn(6, 2, generator=g, dtype=torch.float64),
        torch.randn(6, generator=g, dtype=torch.float64),
        sigma=0.5,
    )
    return model, 2 * torch.randn(6, generator=g, dtype=torch.float64)


def test_linear_gaussian_posterior_and_marginal_are_consistent(ppca):
    model, x = ppca
    z = torch.randn(5, 2, dtype=torch.float64)
    # Bayes: log p(x) = log p(x, z) - log p(z | x) for every z
    assert torch.allclose(
        model.log_joint(x, z) - model.posterior(x).log_prob(z),
        model.log_marginal(x).expand(5),
    )


def test_bound_is_monotone_in_k_and_converges_to_log_px(ppca):
    model, x = ppca
    q = model.proposal(x)
    torch.manual_seed(0)
    means, cis = [], []
    for k in (1, 5, 50, 1000):
        draws = model.bound_samples(x, q, k, replicates=max(200, 100_000 // k))
        means.append(draws.mean().item())
        cis.append(3 * draws.std().item() / len(draws) ** 0.5)
    assert all(
        b + cb > a - ca and b > a
        for a, b, ca, cb in zip(means, means[1:], cis, cis[1:])
    )
    log_px = model.log_marginal(x).item()
    assert all(m - c < log_px for m, c in zip(means, cis))
    assert log_px - means[-1] < 0.1 < log_px - means[0]


def test_exact_proposal_makes_every_bound_tight(ppca):
    model, x = ppca
    post = model.posterior(x)
    draws = model.bound_samples(x, post, 3, replicates=10)
    assert torch.allclose(draws, model.log_marginal(x).expand(10))  # w = p(x) exactly


def test_objectives_and_estimator_on_a_vae():
    torch.manual_seed(0)
    model = vae.VAE(vae.VAEConfig(x_dim=16, hidden=8, latent=2, depth=2))
    x = torch.bernoulli(torch.full((4, 16), 0.5))
    assert iwae.objective(model, x, 5, "iwae").shape == (4,)
    with torch.no_grad():
        torch.manual_seed(1)
        k1 = torch.stack(
            [iwae.objective(model, x, 1, "iwae") for _ in range(2000)]
        ).mean(0)
        torch.manual_seed(1)
        k1_vae = torch.stack(
            [iwae.objective(model, x, 1, "vae") for _ in range(2000)]
        ).mean(0)
        l50 = torch.stack(
            [iwae.objective(model, x, 50, "iwae") for _ in range(200)]
        ).mean(0)
        ll = iwae.log_likelihood(model, x, k=2000, chunk=300, batch_size=3)
    assert torch.allclose(k1, k1_vae)  # with k = 1 the two objectives coincide
    assert (l50 > k1).all() and (ll >= l50 - 0.05).all()
    # the analytic-KL ELBO of the VAE estimates the same L_1
    with torch.no_grad():
        elbo = torch.stack([model(x, 100) for _ in range(20)]).mean(0)
    assert torch.allclose(elbo, k1, atol=0.3)


def test_the_objectives_go_through_the_models_forward():
    """iwae.objective is VAE.forward's bound of the model's own log-weights (so that
    DistributedDataParallel, which wraps forward, sees the IWAE objective), draw for draw."""
    torch.manual_seed(0)
    model = vae.VAE(vae.VAEConfig(x_dim=16, hidden=8, latent=2))
    x = torch.bernoulli(torch.full((4, 16), 0.5))
    for kind, of_weights in (
        ("iwae", iwae.iwae_bound),
        ("vae", lambda log_w: log_w.mean(0)),
    ):
        torch.manual_seed(3)
        through_forward = iwae.objective(model, x, 7, kind)
        torch.manual_seed(3)
        assert torch.equal(through_forward, of_weights(model.log_weights(x, 7)))


def test_bounds_by_k_are_independent_and_rise_with_k():
    torch.manual_seed(0)
    model = vae.VAE(vae.VAEConfig(x_dim=6, hidden=8, latent=2)).eval()
    x = torch.bernoulli(torch.full((5, 6), 0.5))
    rows = iwae.bounds_by_k(model, x, ks=(1, 10, 1000), chunk=300, batch_size=2)
    assert rows.shape == (3, 5) and rows.isfinite().all()
    # independent draws: averaged over many, L_1 < L_10 and L_1 < L_1000 (Burda et al.,
    # Theorem 1); L_10 and L_1000 are both within noise of log p(x) on this tiny model
    torch.manual_seed(4)
    means = torch.stack(
        [iwae.bounds_by_k(model, x, ks=(1, 10, 1000)) for _ in range(40)]
    ).mean((0, 2))
    assert means[0] < means[1] and means[0] < means[2]
    assert abs(means[2] - means[1]) < 0.05
    with pytest.raises(ValueError, match="positive int"):
        iwae.bounds_by_k(model, x, ks=(0, 5))


def test_active_units_counts_varying_encoder_means():
    model = vae.VAE(vae.VAEConfig(x_dim=4, hidden=3, latent=3))
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
        model.encoder[1].weight[0, 0] = 5.0  # only hidden unit 0 sees pixel 0
        model.enc_mu.weight[1, 0] = 1.0  # only latent 1 listens to it
    x = torch.bernoulli(torch.full((500, 4), 0.5))
    count, activity = iwae.active_units(model, x)
    assert count == 1 and activity[1] > 0.1 and activity[0] == 0 and activity[2] == 0


def test_bad_arguments():
    model = vae.VAE(vae.VAEConfig(x_dim=4, hidden=3, latent=2))
    x = torch.ones(2, 4)
    with pytest.raises(ValueError, match="choose one of"):
        iwae.objective(model, x, 5, "rws")
    with pytest.raises(ValueError, match="positive int"):
        iwae.log_weights(model, x, 0)
