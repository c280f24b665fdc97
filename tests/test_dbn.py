"""lec16.dbn: a top RBM initialised as the transpose of the one below leaves the distribution
unchanged and makes the bound exact; the bound's estimate has its enumerated expectation, which
lies below the DBN's exact log-likelihood."""

import math

import pytest
import torch

from lec16 import dbn, rbm


def _random_rbm(n_visible, n_hidden, scale=1.0):
    model = rbm.RBM(n_visible, n_hidden)
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0, scale)
    return model


@pytest.fixture
def bottom(float64):
    torch.manual_seed(0)
    return _random_rbm(6, 4)


def test_the_transpose_has_the_hidden_marginal_as_its_visible_one(bottom):
    h_states = rbm.all_states(4)
    v_states = rbm.all_states(6)
    joint = torch.stack(
        [-bottom.energy(v_states, h.expand(64, -1)) for h in h_states]
    )  # (16, 64)
    log_marginal = torch.logsumexp(joint, 1) - bottom.exact_log_partition()
    top = dbn.transposed(bottom)
    assert torch.allclose(
        top.log_likelihood(h_states, top.exact_log_partition()), log_marginal
    )


def test_the_bound_is_the_rbms_log_likelihood_for_every_draw_at_initialisation(bottom):
    net = dbn.DBN([bottom, dbn.transposed(bottom)])
    v = rbm.all_states(6).repeat(20, 1)
    log_z = bottom.exact_log_partition()
    with torch.no_grad():
        assert torch.allclose(
            net.bound(v, log_z), bottom.log_likelihood(v, log_z), atol=1e-10
        )


def test_the_sampled_bound_has_its_enumerated_expectation_below_log_p(bottom):
    torch.manual_seed(1)
    net = dbn.DBN([bottom, _random_rbm(4, 3)])
    v = rbm.all_states(6)[::9]  # 8 visible states
    expected, log_p = dbn.enumerated_bound(net, v)
    assert (expected < log_p - 1e-6).all(), "a random top RBM's bound is not tight"
    n = 20_000
    with torch.no_grad():
        draws = net.bound(v.repeat(n, 1), net.top.exact_log_partition()).view(n, -1)
    se = draws.std(0) / n**0.5
    assert ((draws.mean(0) - expected).abs() < 5 * se + 1e-9).all()


def test_a_dbn_samples_images_in_the_unit_interval(bottom):
    torch.manual_seed(2)
    net = dbn.DBN([bottom, dbn.transposed(bottom)])
    images = net.sample(torch.bernoulli(torch.full((5, 4), 0.5)), gibbs_steps=3)
    assert images.shape == (5, 6) and ((images >= 0) & (images <= 1)).all()


def test_the_top_layers_data_are_drawn_the_same_on_every_call():
    """dbn.top_layer_data: q(h_1 | v) of one binarization for training, one draw of h_1 per
    test row, on the inputs' device, the same for the same seed."""
    torch.manual_seed(0)
    bottom = rbm.RBM(6, 3)
    x = torch.rand(5, 6)
    h_train, h_test = dbn.top_layer_data(bottom, x, (x > 0.5).float(), seed=1)
    again = dbn.top_layer_data(bottom, x, (x > 0.5).float(), seed=1)
    assert torch.equal(h_train, again[0]) and torch.equal(h_test, again[1])
    assert h_train.shape == h_test.shape == (5, 3)
    assert ((h_train > 0) & (h_train < 1)).all()
    assert ((h_test == 0) | (h_test == 1)).all()
    assert dbn.initial_top(bottom, 3).weight.shape == (3, 3)
    top, log_z = dbn.base_rate_top(h_train, 4)
    assert (top.weight == 0).all() and log_z == pytest.approx(
        torch.nn.functional.softplus(top.visible_bias).sum().item() + 4 * math.log(2)
    )
