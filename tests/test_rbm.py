"""lec16.rbm: the factorised conditionals, the free energy, log Z by enumeration and by AIS, the
CD gradient's expectation, and training that beats the untrained RBM."""

import math

import pytest
import torch

from lec16 import rbm


@pytest.fixture
def tiny(float64):
    torch.manual_seed(0)
    model = rbm.RBM(6, 4)
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0, 1)
    return model


def _brute_force_log_z(model):
    """log of the sum of exp(-E(v, h)) over both layers' states."""
    v_states = rbm.all_states(model.n_visible)
    h_states = rbm.all_states(model.n_hidden)
    energies = torch.stack(
        [model.energy(v_states, h.expand(len(v_states), -1)) for h in h_states]
    )
    return torch.logsumexp(-energies.flatten(), 0)


def test_conditionals_factorise_as_derived(tiny):
    v = torch.bernoulli(torch.full((5, 6), 0.5))
    enumerated = rbm.enumerated_hidden_posterior(tiny, v)
    assert torch.allclose(enumerated.sum(-1), torch.ones(5, dtype=torch.float64))
    assert (enumerated - rbm.factorised_hidden_posterior(tiny, v)).abs().max() < 1e-12
    # a wrong sign in the conditional would not match
    tiny.hidden_bias.data.neg_()
    assert (enumerated - rbm.factorised_hidden_posterior(tiny, v)).abs().max() > 1e-3


def test_free_energy_sums_out_the_hidden_units(tiny):
    v = torch.bernoulli(torch.full((3, 6), 0.5))
    h_states = rbm.all_states(4)
    summed = torch.logsumexp(
        torch.stack([-tiny.energy(v, h.expand(3, -1)) for h in h_states], -1), -1
    )
    assert torch.allclose(-tiny.free_energy(v), summed, atol=1e-12)


@pytest.mark.parametrize("shape", [(6, 4), (4, 6)])
def test_exact_log_partition_enumerates_the_smaller_layer(shape, float64):
    torch.manual_seed(1)
    model = rbm.RBM(*shape)
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0, 1)
    assert torch.allclose(model.exact_log_partition(), _brute_force_log_z(model))


def test_log_likelihood_is_normalised(tiny):
    states = rbm.all_states(6)
    total = tiny.log_likelihood(states, tiny.exact_log_partition()).exp().sum()
    assert abs(total.item() - 1) < 1e-12


def test_ais_agrees_with_the_exact_log_partition_within_its_spread(tiny):
    torch.manual_seed(2)
    exact = tiny.exact_log_partition().item()
    result = rbm.ais_log_partition(tiny, n_chains=400, n_betas=1000)
    assert result.log_z_low <= exact <= result.log_z_high
    assert result.log_z_high - result.log_z_low < 0.1, "the spread is too wide to test"
    # a base model's log Z off by one nat is caught
    log_z_base, log_w, _ = rbm.ais_log_weights(tiny, 400, 1000)
    assert (
        abs(
            log_z_base.item()
            + 1
            + torch.logsumexp(log_w, 0).item()
            - math.log(400)
            - exact
        )
        > 0.5
    )


def test_ais_betas_follow_the_papers_three_segments():
    betas = rbm.ais_betas()
    assert len(betas) == 14_501 and betas[0] == 0 and betas[-1] == 1
    steps = betas.diff()
    assert torch.allclose(steps[:500], torch.tensor(1e-3, dtype=torch.float64))
    assert torch.allclose(steps[500:4500], torch.tensor(1e-4, dtype=torch.float64))
    assert torch.allclose(steps[4500:], torch.tensor(1e-5, dtype=torch.float64))
    assert (rbm.ais_betas(30).diff() > 0).all()


def test_exact_gradient_is_autograds_negative_log_likelihood(tiny):
    data_states = torch.bernoulli(torch.full((10, 6), 0.3))
    weights = torch.full((10,), 0.1, dtype=torch.float64)
    exact = rbm.exact_cd_gradient(tiny, data_states, weights, k=None)
    nll = -(
        tiny.log_likelihood(data_states, tiny.exact_log_partition()) * weights
    ).sum()
    autograd = torch.autograd.grad(nll, list(tiny.parameters()))
    for a, b in zip(exact, autograd):
        assert torch.allclose(a, b, atol=1e-12)


def test_the_sampled_cd_gradient_has_the_enumerated_expectation(tiny):
    """The Gibbs sampler and the surrogate loss, averaged over many chains, give the expectation
    computed through the Gibbs kernel; CD-1's expectation is biased, CD-k's bias shrinks."""
    torch.manual_seed(3)
    data_states = torch.bernoulli(torch.full((10, 6), 0.3))
    weights = torch.full((10,), 0.1, dtype=torch.float64)
    n = 200_000
    v_data = data_states[torch.randint(0, 10, (n,))]
    loss = rbm.contrastive_loss(tiny, v_data, tiny.gibbs_chain(v_data, 1))
    sampled = torch.autograd.grad(loss, list(tiny.parameters()))
    cd1 = rbm.exact_cd_gradient(tiny, data_states, weights, k=1)
    for a, b in zip(sampled, cd1):
        assert (a - b).abs().max() < 0.01
    true = rbm.exact_cd_gradient(tiny, data_states, weights, k=None)

    def bias(k):
        cd = rbm.exact_cd_gradient(tiny, data_states, weights, k=k)
        return sum((a - b).norm() ** 2 for a, b in zip(cd, true)).sqrt().item()

    assert bias(1) > 0.05 and bias(1) > bias(5) > bias(50)
    assert bias(200) < 1e-3


def test_training_beats_the_untrained_rbm(float64):
    """CD-1 and PCD on draws of a random "teacher" RBM raise the exact log-likelihood of held-out
    draws from the untrained RBM's 10 log(1/2) to within a nat of the teacher's entropy (the
    best any model can do)."""
    torch.manual_seed(4)
    teacher = rbm.RBM(10, 3)
    with torch.no_grad():
        teacher.weight.normal_(0, 2)
        teacher.visible_bias.fill_(-1.0)
    states = rbm.all_states(10)
    with torch.no_grad():
        p = teacher.log_likelihood(states, teacher.exact_log_partition()).exp()
    entropy = -(p * p.log()).sum().item()
    x = states[torch.multinomial(p, 600, replacement=True)]
    x_train, x_test = x[:500], x[500:]
    for method in rbm.METHODS:
        model = rbm.RBM(10, 4)
        with torch.no_grad():
            untrained = model.log_likelihood(x_test, model.exact_log_partition()).mean()
        config = rbm.RBMConfig(epochs=20, batch_size=50, lr=0.1, method=method)
        history = rbm.train_rbm(model, x_train, x_test, config)
        with torch.no_grad():
            trained = model.log_likelihood(x_test, model.exact_log_partition()).mean()
        assert trained > untrained + 1.5 and trained > -entropy - 1, method
        assert history.last["test_reconstruction"] < history["test_reconstruction"][0]


def test_pcd_checkpoints_its_chains(tmp_path, float64):
    torch.manual_seed(5)
    x = torch.bernoulli(torch.full((200, 8), 0.4))
    config = rbm.RBMConfig(epochs=2, batch_size=50, method="pcd")
    path = tmp_path / "pcd.pt"
    model = rbm.RBM(8, 3)
    rbm.train_rbm(model, x, x[:50], config, checkpoint=path)
    saved = torch.load(path, weights_only=False)
    assert saved["modules"]["chains"]["state"].shape == (50, 8)


def test_the_base_rate_model_is_the_rbm_without_weights(float64):
    """rbm.base_rate_log_likelihood is the log-likelihood of an RBM with W = 0 whose visible
    biases at_base_rates set to the data's log-odds (its hidden units carry nothing)."""
    torch.manual_seed(6)
    x = torch.bernoulli(torch.full((40, 6), 0.3))
    bias = rbm.base_rate_bias(x)
    model = rbm.at_base_rates(rbm.RBM(6, 3), bias)
    assert torch.equal(model.visible_bias.detach(), bias)
    with torch.no_grad():
        model.weight.zero_()
        exact = model.log_likelihood(x, model.exact_log_partition()).mean().item()
    assert rbm.base_rate_log_likelihood(x, bias) == pytest.approx(exact, abs=1e-10)
    # the base rates fit better than any other independent-pixel model, e.g. p = 1/2
    assert rbm.base_rate_log_likelihood(x, bias) > rbm.base_rate_log_likelihood(
        x, torch.zeros(6)
    )
