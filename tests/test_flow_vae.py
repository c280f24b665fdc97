"""The VAE with a planar-flow posterior (lec16.flow_vae): K = 0 is the VAE, the flow's density
is the change of variables per example, and q_K is a normalised density."""

import math

import torch

from lec16 import flow_vae, flows, iwae, vae


def _model(k, latent=2, seed=0, x_dim=6, hidden=8):
    torch.manual_seed(seed)
    config = flow_vae.FlowVAEConfig(x_dim=x_dim, hidden=hidden, latent=latent, flows=k)
    return flow_vae.FlowVAE(config).double()


def _binary(n, d, seed=1):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(n, d, generator=g, dtype=torch.float64) > 0.5).double()


def _scramble(model, scale=1.0, seed=2):
    """Move the flow head far from its identity start, so the flows bend q_0."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.enc_flow.parameters():
            p.add_(scale * torch.randn(p.shape, generator=g, dtype=p.dtype))
    return model


def test_zero_flows_is_the_vae():
    torch.manual_seed(0)
    plain = vae.VAE(vae.VAEConfig(x_dim=6, hidden=8, latent=2)).double()
    zero = _model(0)
    assert plain.state_dict().keys() == zero.state_dict().keys()
    for key, value in plain.state_dict().items():
        assert torch.equal(value, zero.state_dict()[key])
    x = _binary(5, 6)
    torch.manual_seed(3)
    expected = plain(x, 4)
    torch.manual_seed(3)
    assert torch.equal(zero(x, 4), expected)


def test_every_k_starts_from_the_same_networks_and_near_the_identity_flow():
    zero, four = _model(0), _model(4)
    for key, value in zero.state_dict().items():
        assert torch.equal(value, four.state_dict()[key])
    _, u_hat, _, _ = four.posterior(_binary(5, 6))
    assert u_hat.abs().max() < 0.05  # u_hat = 0 is the identity map


def test_log_det_is_the_jacobians_per_example():
    model = _scramble(_model(3))
    x = _binary(2, 6)
    _, u_hat, w, b = model.posterior(x)
    z0 = torch.randn(1, 2, 2, dtype=torch.float64)
    _, log_det = flows.planar_steps(z0, u_hat, w, b)
    for i in range(2):

        def one(z, i=i):
            return flows.planar_steps(
                z.view(1, 1, 2), u_hat[i : i + 1], w[i : i + 1], b[i : i + 1]
            )[0]

        jacobian = torch.autograd.functional.jacobian(
            lambda z: one(z).view(2), z0[0, i]
        )
        assert torch.allclose(
            log_det[0, i], torch.linalg.slogdet(jacobian)[1], atol=1e-10
        )


def test_flow_posterior_is_a_normalised_density():
    """E_{z ~ q_K}[g(z) / q_K(z)] = 1 for a density g: with log p(x, z) replaced by log g(z), the
    model's own log-weights are log g - log q_K. Fails if log q_K misses or flips the
    log-determinant (the flows are far from the identity here)."""
    model = _scramble(_model(4))
    x = _binary(1, 6)
    q0, u_hat, w, b = model.posterior(x)
    z0 = q0.sample((2000,))
    assert flows.planar_steps(z0, u_hat, w, b)[1].std() > 0.3  # the flows bend q_0
    # g narrower than q_K keeps the ratio g / q_K bounded (a wide g gives heavy tails)
    centre = flows.planar_steps(z0, u_hat, w, b)[0].mean((0, 1)).detach()
    g = torch.distributions.Independent(torch.distributions.Normal(centre, 0.5), 1)
    model.log_joint = lambda x, z: g.log_prob(z)
    torch.manual_seed(4)
    ratio = model.log_weights(x, 200_000).exp()
    assert abs(ratio.mean().item() - 1) < 4 * ratio.std().item() / math.sqrt(
        ratio.numel()
    )


def test_bound_and_importance_weighted_estimates():
    model = _scramble(_model(3, latent=2), scale=0.3)
    x = _binary(4, 6)
    torch.manual_seed(5)
    bound = model(x, 2000)
    torch.manual_seed(5)
    assert torch.allclose(bound, model.log_weights(x, 2000).mean(0))
    estimate = iwae.log_likelihood(model, x, k=2000, chunk=500)
    assert estimate.shape == (4,)
    assert (estimate >= bound - 0.05).all()  # L_k >= L_1 up to Monte Carlo error


def test_training_beats_the_untrained_copy():
    torch.manual_seed(0)
    x = (torch.rand(200, 12) > 0.5).float()
    x[:100, :6] = 1  # two clusters of patterns: something to learn
    x[100:, 6:] = 0
    config = flow_vae.FlowVAEConfig(x_dim=12, hidden=16, latent=2, flows=2)
    model = flow_vae.FlowVAE(config)
    untrained = vae.elbo(model, x, n_samples=50).item()
    vae.train_vae(
        model, x, x, vae.TrainConfig(epochs=20, batch_size=20, lr=3e-3), desc="test"
    )
    assert vae.elbo(model, x, n_samples=50).item() > untrained + 1.0
