"""The VAE: KL formula, reparametrization, the bound against an independent implementation, training."""

import math

import pytest
import torch
from torch import distributions as D

from lec16 import autoencoder, vae


def test_gaussian_kl_matches_torch_distributions():
    g = torch.Generator().manual_seed(0)
    mu, logvar = torch.randn(8, 5, generator=g), torch.randn(8, 5, generator=g)
    q = D.Independent(D.Normal(mu, (0.5 * logvar).exp()), 1)
    p = D.Independent(D.Normal(torch.zeros(5), torch.ones(5)), 1)
    assert torch.allclose(vae.gaussian_kl(mu, logvar), D.kl_divergence(q, p), atol=1e-5)
    assert torch.allclose(
        vae.gaussian_kl(torch.zeros(3, 4), torch.zeros(3, 4)), torch.zeros(3)
    )


def test_reparametrize_has_the_right_law_and_gradients():
    mu = torch.tensor([1.0, -2.0], requires_grad=True)
    logvar = torch.tensor([0.0, math.log(4.0)], requires_grad=True)
    torch.manual_seed(0)
    z = vae.reparametrize(mu, logvar, 100_000)
    assert torch.allclose(z.mean(0), mu.detach(), atol=0.03)
    assert torch.allclose(z.std(0), torch.tensor([1.0, 2.0]), atol=0.03)
    z.mean().backward()  # d mean(z)/d mu = 1/2 per coordinate
    assert torch.allclose(mu.grad, torch.tensor([0.5, 0.5]))


def _reference_bound(model, x, eps):
    """An independent transcription of the slide's estimator for a Bernoulli decoder with the same weights:
    -KL + log p(x | z) with z = mu + sigma * eps, written with plain tensor ops."""
    h = torch.tanh(x @ model.encoder[1].weight.T + model.encoder[1].bias)
    mu = h @ model.enc_mu.weight.T + model.enc_mu.bias
    logvar = h @ model.enc_logvar.weight.T + model.enc_logvar.bias
    z = mu + torch.exp(0.5 * logvar) * eps
    hd = torch.tanh(z @ model.decoder[0].weight.T + model.decoder[0].bias)
    p = torch.sigmoid(hd @ model.decoder[2].weight.T + model.decoder[2].bias)
    log_px = (x * torch.log(p) + (1 - x) * torch.log(1 - p)).sum(1)
    kl = -0.5 * (1 + logvar - mu**2 - torch.exp(logvar)).sum(1)
    return log_px - kl


def test_bound_equals_an_independent_implementation():
    torch.manual_seed(0)
    model = vae.VAE(vae.VAEConfig(x_dim=30, hidden=16, latent=3)).double()
    x = torch.bernoulli(torch.full((7, 30), 0.3, dtype=torch.float64))
    torch.manual_seed(1)
    ours = model(x)
    torch.manual_seed(1)
    eps = torch.randn(1, 7, 3, dtype=torch.float64)[0]
    assert torch.allclose(ours, _reference_bound(model, x, eps), atol=1e-10)


def test_bound_is_below_the_exact_log_likelihood_of_a_one_dimensional_vae():
    """With a 1-D latent, log p(x) = log int p(x|z) p(z) dz is computed by quadrature: L <= log p(x)."""
    torch.manual_seed(0)
    model = vae.VAE(vae.VAEConfig(x_dim=12, hidden=8, latent=1)).double()
    x = torch.bernoulli(torch.full((5, 12), 0.5, dtype=torch.float64))
    z = torch.linspace(-10, 10, 20001, dtype=torch.float64)[:, None]
    log_pxz = model.decode(z).log_prob(x[:, None, :]) + D.Normal(0.0, 1.0).log_prob(
        z[:, 0]
    )  # (5, grid)
    log_px = torch.logsumexp(log_pxz, 1) + math.log(z[1, 0] - z[0, 0])
    with torch.no_grad():
        bound = torch.stack([model(x, 1000) for _ in range(10)]).mean(0)
    assert (
        bound <= log_px + 0.05
    ).all()  # 0.05 nats: Monte Carlo error of the 10^4-sample estimate
    assert (log_px - bound).max() < 5  # and not absurdly loose


def test_gaussian_decoder_and_sampling_shapes():
    model = vae.VAE(
        vae.VAEConfig(x_dim=560, hidden=20, latent=2, likelihood="gaussian")
    )
    x = torch.rand(4, 1, 28, 20)
    assert model(x, 3).shape == (4,)
    samples = model.sample(6)
    assert (
        samples.shape == (6, 560) and 0 <= samples.min() and samples.max() <= 1
    )  # sigmoid means


def test_training_improves_the_test_bound():
    g = torch.Generator().manual_seed(0)
    prototypes = (torch.rand(3, 64, generator=g) > 0.5).float()
    x = prototypes[torch.randint(0, 3, (600,), generator=g)]
    x = torch.where(torch.rand(x.shape, generator=g) < 0.05, 1 - x, x)
    torch.manual_seed(0)
    model = vae.VAE(vae.VAEConfig(x_dim=64, hidden=32, latent=2))
    before = vae.elbo(model, x[:100])
    history = vae.train_vae(
        model,
        x[100:],
        x[:100],
        vae.TrainConfig(epochs=8, batch_size=50, lr=1e-2, dynamic_binarization=False),
    )
    assert history["test_elbo"][-1] > before + 15
    assert history["examples_seen"] == [500 * e for e in range(1, 9)]


@pytest.mark.parametrize(
    "kwargs, match",
    [({"latent": 0}, "latent"), ({"likelihood": "poisson"}, "likelihood")],
)
def test_config_validation(kwargs, match):
    with pytest.raises(ValueError, match=match):
        vae.VAEConfig(**kwargs)
    with pytest.raises(ValueError, match="optimizer"):
        vae.TrainConfig(optimizer="sgd")


def test_autoencoder_reconstruction_error_bounds_distance():
    torch.manual_seed(0)
    model = autoencoder.Autoencoder(2, 1, hidden=8)
    x = torch.randn(50, 2)
    with torch.no_grad():
        curve = autoencoder.decoded_curve(model, model.encoder(x), n=20000, margin=0.0)
        assert (
            model.reconstruction_error(x)
            >= autoencoder.distance_to_manifold(x, curve) - 1e-3
        ).all()


def test_latent_grid_is_symmetric_quantiles():
    z = vae.latent_grid(5)
    assert z.shape == (25, 2)
    assert torch.allclose(z[:5, 0], -z[:5, 0].flip(0)) and torch.allclose(
        z[2::5, 0], torch.zeros(5), atol=1e-6
    )
    assert z[0, 1] > 0 > z[-1, 1]  # first row at the top of the figure


def test_exact_quantities_satisfy_the_kl_identity():
    torch.manual_seed(0)
    model = vae.VAE(vae.VAEConfig(x_dim=20, hidden=8, latent=2))
    x = torch.bernoulli(torch.full((20,), 0.4))
    e = vae.exact_quantities_2d(model, x, half_width=7, n=301)
    assert abs(e.log_px - (e.bound + e.kl_to_posterior)) < 1e-3
    assert e.kl_to_posterior > 0 and e.bound < e.log_px
    with torch.no_grad():
        mc = torch.stack([model(x[None], 1000) for _ in range(20)]).mean()
    assert (
        abs(mc.item() - e.bound) < 0.1
    )  # the Monte Carlo bound agrees with the quadrature bound


def test_burda_schedule_stages():
    # stage i lasts 3^i epochs: epochs 0 | 1-3 | 4-12 | 13-39 ...; 3280 epochs in 8 stages
    factors = [vae.burda_lr_factor(e) for e in (0, 1, 3, 4, 12, 13, 3279)]
    assert factors == [
        1.0,
        10 ** (-1 / 7),
        10 ** (-1 / 7),
        10 ** (-2 / 7),
        10 ** (-2 / 7),
        10 ** (-3 / 7),
        10 ** (-7 / 7),
    ]


def test_training_refuses_data_the_likelihood_cannot_score():
    model = vae.VAE(vae.VAEConfig(x_dim=4, hidden=3, latent=2))
    grey = torch.full((10, 4), 0.5)
    with pytest.raises(
        ValueError, match="x_test must be binary for a Bernoulli decoder"
    ):
        vae.train_vae(model, grey, grey, vae.TrainConfig(epochs=1))
    with pytest.raises(ValueError, match=r"x_train must hold intensities in \[0, 1\]"):
        vae.train_vae(model, grey * 255, torch.ones(10, 4), vae.TrainConfig(epochs=1))


def test_a_checkpoint_of_another_objective_is_refused(tmp_path):
    """The objective is part of a run's identity: a VAE k=5 run never resumes as an IWAE."""
    from lec16 import checkpoints, iwae

    torch.manual_seed(0)
    model = vae.VAE(vae.VAEConfig(x_dim=20, hidden=8, latent=2))
    x = torch.bernoulli(torch.full((40, 20), 0.5))
    config = vae.TrainConfig(epochs=1, batch_size=20)
    path = tmp_path / "run.pt"

    def train(kind):
        return vae.train_vae(
            model,
            x,
            x[:10],
            config,
            objective=lambda m, xb: iwae.objective(m, xb, 5, kind),
            objective_name=f"{kind} k=5",
            checkpoint=path,
        )

    train("vae")
    train("vae")  # the same objective resumes
    with pytest.raises(checkpoints.CheckpointError, match="objective"):
        train("iwae")


def test_the_latent_size_claim_fails_when_the_larger_code_gains_nothing():
    from lec16.experiments import vae_mnist
    from lec16.results import Estimate

    bounds, untrained = {2: -155.0, 20: -104.0}, {2: -555.0, 20: -551.0}
    assert vae_mnist.Score(bounds, untrained, Estimate(51.2, 0.3)).passes()
    same_size = vae_mnist.Score(bounds, untrained, Estimate(0.4, 0.3))  # z=2 vs z=2
    assert [c.what for c in same_size.claims() if not c.passes()] == [
        "z = 20 against z = 2: test bound, paired"
    ]
    assert vae_mnist.Score(bounds, untrained, Estimate(0.4, 0.3), "smoke").passes()


def test_the_score_function_surrogate_is_the_sampled_bound_with_an_unbiased_gradient():
    """Its value is the sampled bound; its encoder gradient averages to the reparametrized
    one (both unbiased for the bound's gradient), with a far larger spread."""
    torch.manual_seed(0)
    model = vae.VAE(vae.VAEConfig(x_dim=6, hidden=5, latent=2))
    x = torch.bernoulli(torch.full((1, 6), 0.4))
    weight = model.enc_mu.weight

    def gradients(bound, n=4000):
        draws = []
        for _ in range(n):
            (grad,) = torch.autograd.grad(model(x, 1, bound=bound).sum(), weight)
            draws.append(grad.flatten())
        return torch.stack(draws)

    score, reparam = gradients("score_function"), gradients("vae")
    difference = score.mean(0) - reparam.mean(0)
    se = (score.var(0) / len(score) + reparam.var(0) / len(reparam)).sqrt()
    assert (difference.abs() < 4 * se).all(), difference / se
    assert (score.var(0) > reparam.var(0)).all()
    torch.manual_seed(1)
    value = torch.stack(
        [vae.score_function_bound(model, x) for _ in range(4000)]
    ).mean()
    torch.manual_seed(2)
    sampled = torch.stack([model(x, 1, bound="vae") for _ in range(4000)]).mean()
    assert abs(value - sampled) < 0.2


def test_the_reparametrization_claim_fails_when_it_buys_nothing():
    from lec16.experiments import autoencoders_and_reparametrization as chapter
    from lec16.results import Estimate

    def score(gain, scale="default"):
        return chapter.Score([2.0, 1.0], -145.0, -550.0, {}, gain, scale)

    assert score(Estimate(127.3, 1.8)).passes()
    assert not score(Estimate(1.0, 1.8)).passes()  # score function against itself
    assert score(Estimate(1.0, 1.8), "smoke").passes()  # reported there


def test_a_flow_vae_refuses_the_score_function_surrogate():
    from lec16 import flow_vae

    model = flow_vae.FlowVAE(
        flow_vae.FlowVAEConfig(x_dim=6, hidden=5, latent=2, flows=2)
    )
    with pytest.raises(ValueError, match="flows=0"):
        model(torch.zeros(1, 6), bound="score_function")
