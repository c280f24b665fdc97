"""lec16.gsn: the corruptions, the walkback loss, the chain's exact transition matrix and its
stationary distribution."""

import pytest
import torch

from lec16 import gsn, rbm

F64 = {"dtype": torch.float64}


def test_salt_and_pepper_replaces_a_pixel_by_a_coin_with_probability_noise():
    dae = gsn.DenoisingAutoencoder(4, 8, noise=0.3)
    x = torch.tensor([[0.0, 1.0, 0.0, 1.0]]).expand(200_000, 4)
    torch.manual_seed(0)
    share_on = dae.corruption(x).sample().mean(0)
    # a 0 turns on with probability 0.3 / 2, a 1 stays on with 0.7 + 0.3 / 2
    expected = torch.tensor([0.15, 0.85, 0.15, 0.85])
    assert (share_on - expected).abs().max() < 0.005


def test_the_true_conditional_s_chain_keeps_p_and_a_dae_chain_is_stochastic():
    torch.manual_seed(0)
    states = torch.cat(list(rbm.binary_states(3, "cpu")))
    p = torch.softmax(2 * torch.randn(8, **F64), 0)
    dae = gsn.DenoisingAutoencoder(3, 8, noise=0.5).to(**F64)
    corrupt = dae.corruption(states.unsqueeze(1)).log_prob(states).exp()
    joint = p[:, None] * corrupt
    exact_chain = corrupt @ (joint / joint.sum(0, keepdim=True)).T
    assert (gsn.stationary_distribution(exact_chain) - p).abs().max() < 1e-12
    transition = gsn.transition_matrix(dae, states, states)
    assert (transition.sum(1) - 1).abs().max() < 1e-12
    pi = gsn.stationary_distribution(transition)
    assert (pi @ transition - pi).abs().max() < 1e-12
    # a conditional of another distribution (a plausible bug: the wrong weights) does not
    # keep p, and the check sees it
    other = corrupt / corrupt.sum(0, keepdim=True)  # P(x | x~) for a uniform P(x)
    assert (gsn.stationary_distribution(corrupt @ other.T) - p).abs().max() > 0.05


def test_walkback_of_one_is_the_denoising_loss():
    torch.manual_seed(0)
    dae = gsn.DenoisingAutoencoder(5, 8, noise=0.4)
    x = (torch.rand(6, 5) > 0.5).float()
    torch.manual_seed(1)
    loss = dae(x, walkback=1)
    torch.manual_seed(1)
    x_tilde = dae.corruption(x).sample()
    assert torch.allclose(loss, -dae.reconstruction(x_tilde).log_prob(x))
    torch.manual_seed(1)
    assert dae(x, walkback=3).shape == (6,)


def test_training_lowers_the_loss_and_resumes(tmp_path):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(500, 2, generator=g) * 0.1 + torch.tensor([1.0, -1.0])
    config = gsn.GSNConfig(epochs=3, batch_size=50, lr=0.01, binarize=False)
    torch.manual_seed(0)
    dae = gsn.DenoisingAutoencoder(2, 16, corruption="gaussian", noise=0.2)
    history = gsn.train_gsn(dae, x, config, checkpoint=tmp_path / "g.pt")
    assert history["loss"][-1] < history["loss"][0] - 0.5
    torch.manual_seed(0)
    again = gsn.DenoisingAutoencoder(2, 16, corruption="gaussian", noise=0.2)
    gsn.train_gsn(again, x, config, checkpoint=tmp_path / "g.pt")
    assert torch.equal(again.net[0].weight, dae.net[0].weight)
    states, means = dae.chain(torch.zeros(100, 2), 50, keep_every=25)
    assert states.shape == means.shape == (2, 100, 2)
    assert (states[-1].mean(0) - torch.tensor([1.0, -1.0])).abs().max() < 0.3


def test_refusals():
    with pytest.raises(ValueError, match="probability in \\(0, 1\\]"):
        gsn.DenoisingAutoencoder(4, 8, noise=1.5)
    with pytest.raises(ValueError, match="binarize=True needs binary data"):
        gsn.train_gsn(
            gsn.DenoisingAutoencoder(2, 4, corruption="gaussian"),
            torch.zeros(10, 2),
            gsn.GSNConfig(),
        )
    with pytest.raises(ValueError, match="has 4 inputs"):
        gsn.DenoisingAutoencoder(4, 8)(torch.zeros(3, 5))


def test_chains_from_noise_start_from_seeded_coins_and_repeat():
    torch.manual_seed(0)
    dae = gsn.DenoisingAutoencoder(6, 8, noise=0.3)
    means = gsn.chains_from_noise(dae, 5, 6, keep_every=3, seed=2)
    assert means.shape == (2, 5, 6)
    assert torch.equal(means, gsn.chains_from_noise(dae, 5, 6, keep_every=3, seed=2))
    coins = torch.full((5, 6), 0.5)
    start = torch.bernoulli(coins, generator=torch.Generator().manual_seed(2))
    torch.manual_seed(2)
    assert torch.equal(means, dae.chain(start, 6, keep_every=3)[1])
    with pytest.raises(ValueError, match="n_chains"):
        gsn.chains_from_noise(dae, 0, 6)
