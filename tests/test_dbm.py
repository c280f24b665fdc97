"""lec16.dbm against brute-force enumeration of tiny DBMs."""

import math

import pytest
import torch

from lec16 import dbm, rbm


def _random_dbm(sizes=(5, 4, 3), scale=1.0, seed=0):
    torch.manual_seed(seed)
    model = dbm.DBM(*sizes).double()
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0, scale)
    return model


def _joint(model):
    """Every state (v, h1, h2) and its unnormalised log-probability -E."""
    n_v, n_1, n_2 = model.sizes
    states = rbm.all_states(n_v + n_1 + n_2)
    v, h1, h2 = states.split([n_v, n_1, n_2], -1)
    return v, h1, h2, -model.energy(v, h1, h2)


def test_log_partition_and_likelihood_match_brute_force():
    model = _random_dbm()
    v, _, _, log_joint = _joint(model)
    log_z = torch.logsumexp(log_joint, 0)
    assert torch.allclose(model.exact_log_partition(), log_z, atol=1e-12)
    vs = rbm.all_states(5)
    codes = (v * 2 ** torch.arange(5)).sum(-1).long()
    brute = (
        torch.stack([torch.logsumexp(log_joint[codes == c], 0) for c in range(32)])
        - log_z
    )
    assert torch.allclose(model.exact_log_likelihood(vs), brute, atol=1e-12)


def test_conditionals_factorise_as_derived():
    model = _random_dbm()
    v, h1, h2, log_joint = _joint(model)
    # p(h1_j = 1 | v, h2): sum the joint over h1 for every (v, h2)
    key = torch.cat([v, h2], -1)
    codes = (key * 2 ** torch.arange(key.shape[1])).sum(-1).long()
    for c in codes.unique()[:6]:
        rows = codes == c
        p = torch.softmax(log_joint[rows], 0)
        expected = (p[:, None] * h1[rows]).sum(0)
        first = rows.nonzero()[0]
        got = model.hidden1_probs(v[first], h2[first])[0]
        assert torch.allclose(got, expected, atol=1e-12)


def test_mean_field_bound_is_below_log_p_by_the_kl_and_rises():
    model = _random_dbm(scale=0.7)
    vs = rbm.all_states(5)
    log_p = model.exact_log_likelihood(vs)
    log_z = model.exact_log_partition()
    bounds = [
        model.mean_field_bound(vs, *model.mean_field(vs, steps), log_z)
        for steps in (1, 2, 5, 50)
    ]
    for a, b in zip(bounds, bounds[1:]):
        assert (b >= a - 1e-12).all()
    mu1, mu2 = model.mean_field(vs, 50)
    h1s, h2s = rbm.all_states(4), rbm.all_states(3)
    h1 = h1s.repeat_interleave(8, 0)
    h2 = h2s.repeat(16, 1)
    for i in range(len(vs)):
        log_post = -model.energy(vs[i].expand(len(h1), -1), h1, h2)
        log_post = log_post - torch.logsumexp(log_post, 0)
        log_q = (
            rbm.states_probability(h1, mu1[i : i + 1])[0].log()
            + rbm.states_probability(h2, mu2[i : i + 1])[0].log()
        )
        kl = (log_q.exp() * (log_q - log_post)).sum()
        assert torch.isclose(log_p[i] - bounds[-1][i], kl, atol=1e-10)


def test_from_rbm_is_the_rbm():
    torch.manual_seed(1)
    model = rbm.RBM(6, 4).double()
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0, 1)
    deep = dbm.from_rbm(model, 3)
    v = rbm.all_states(6)
    log_z = deep.exact_log_partition()
    assert torch.isclose(log_z, model.exact_log_partition() + 3 * math.log(2))
    bound = deep.mean_field_bound(v, *deep.mean_field(v, 5), log_z)
    assert torch.allclose(bound, model.log_likelihood(v, model.exact_log_partition()))


def test_ais_agrees_with_the_exact_log_partition():
    # weights large enough that a sweep at the wrong temperature moves log Z out of the spread
    model = _random_dbm((8, 6, 5), scale=1.0).float()
    torch.manual_seed(0)
    result = dbm.ais_log_partition(model, n_chains=500, n_betas=2000)
    exact = model.exact_log_partition().item()
    assert result.log_z_low <= exact <= result.log_z_high
    assert result.log_z_high - result.log_z_low < 0.1


def test_ais_on_the_posterior_agrees_with_the_exact_log_likelihood():
    # the mean-field start and the annealing to the clamped posterior: each digit's estimate
    # within a few hundredths of a nat, and above the mean-field bound (which it must beat)
    model = _random_dbm((8, 6, 5), scale=1.0).float()
    v = torch.bernoulli(torch.full((20, 8), 0.5))
    log_z = model.exact_log_partition().item()
    torch.manual_seed(0)
    estimate = dbm.ais_log_likelihood(model, v, log_z, n_chains=200, n_betas=500)
    exact = model.exact_log_likelihood(v).double()
    assert (estimate - exact).abs().max() < 0.05
    bound = dbm.mean_bound(model, v, log_z)[2].double()
    assert (estimate > bound - 0.01).all()


def test_the_update_is_the_gradient_of_the_bound_at_the_fixed_point():
    """Envelope theorem: at a fixed point of mean field, the bound's gradient holding mu fixed
    (the data term of contrastive_loss) equals its total gradient through mu."""
    model = _random_dbm(scale=0.5)
    v = rbm.all_states(5)[::3]
    total = -model.mean_field_bound(v, *model.mean_field(v, 200)).mean()
    g_total = torch.autograd.grad(total, list(model.parameters()))
    with torch.no_grad():
        mu1, mu2 = model.mean_field(v, 200)
    partial = model.energy(v, mu1, mu2).mean()
    g_partial = torch.autograd.grad(partial, list(model.parameters()))
    for a, b in zip(g_total, g_partial):
        assert torch.allclose(a, b, atol=1e-10)


def test_train_dbm_runs_checkpoints_and_resumes(tmp_path):
    torch.manual_seed(0)
    x = torch.rand(40, 6)
    config = dbm.DBMConfig(epochs=2, batch_size=10, k=2)
    model = dbm.DBM(6, 4, 3)
    history = dbm.train_dbm(model, x, x.round(), config, checkpoint=tmp_path / "d.pt")
    assert len(history) == 2
    again = dbm.DBM(6, 4, 3)
    dbm.train_dbm(again, x, x.round(), config, checkpoint=tmp_path / "d.pt")
    assert torch.equal(again.weight1, model.weight1)


def test_refusals():
    with pytest.raises(ValueError, match="enumerates the 2\\^30 states of h1"):
        dbm.DBM(10, 30, 2).exact_log_partition()
    with pytest.raises(ValueError, match="v has 5 units"):
        dbm.DBM(6, 3, 2).mean_field(torch.zeros(2, 5))
