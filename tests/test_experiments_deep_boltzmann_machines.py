"""lec16.experiments.deep_boltzmann_machines: the DBM chapter's numbers at each scale, its parts
(the old command line's ``dbm``), and a tiny run of train and score on random digits, where the
DBM made from the RBM scores as that RBM."""

import dataclasses

import pytest
import torch

import lec16
from lec16 import dbm, rbm
from lec16.experiments import deep_boltzmann_machines as experiment


def test_the_setup_keeps_the_chapters_numbers(tmp_path):
    expected = {  # n_train, n_hidden1, n_hidden2, RBM epochs, DBM epochs, k, n_betas
        "smoke": (3000, 64, 64, 5, 3, 1, 1000),
        "default": (60_000, 500, 500, 6, 8, 1, 14_500),
        "paper": (60_000, 500, 1000, 100, 300, 5, 14_500),
    }
    for scale, numbers in expected.items():
        s = experiment.Setup.at(scale, seed=2)
        assert (
            s.n_train,
            s.n_hidden1,
            s.n_hidden2,
            s.rbm_config.epochs,
            s.dbm_config.epochs,
            s.dbm_config.k,
            s.n_betas,
        ) == numbers
        assert s.sizes == (784, numbers[1], numbers[2])
        assert s.rbm_config == rbm.RBMConfig(
            epochs=numbers[3], method="pcd", anneal=True, seed=2
        )
        assert s.dbm_config == dbm.DBMConfig(
            epochs=numbers[4], lr=0.01, k=numbers[5], mean_field_steps=10, seed=2
        )
        assert s.small_sizes == (784, 15, 20) and s.n_runs == 100
        assert s.small_rbm_config == rbm.RBMConfig(
            epochs=2, method="pcd", anneal=True, seed=2
        )
        assert s.small_dbm_config == dbm.DBMConfig(epochs=1, lr=0.01, seed=2)
    longer = experiment.Setup.at("smoke").with_epochs(7)
    configs = ("rbm_config", "dbm_config", "small_rbm_config", "small_dbm_config")
    assert {getattr(longer, c).epochs for c in configs} == {7}
    path = tmp_path / "smoke/deep_boltzmann_machines/dbm.pt"
    assert longer.checkpoint("dbm", tmp_path) == path
    assert "dbm" in experiment.PARTS


def test_train_and_score_a_tiny_dbm(tmp_path):
    smoke = experiment.Setup.at("smoke")
    setup = dataclasses.replace(
        smoke.with_epochs(1), n_hidden1=6, n_hidden2=4, n_betas=30, n_runs=5
    )
    setup = dataclasses.replace(setup, small_sizes=(784, 3, 2))
    g = torch.Generator().manual_seed(0)
    x_train = torch.rand(200, 784, generator=g).to(lec16.device())
    x_test = torch.bernoulli(torch.rand(50, 784, generator=g)).to(lec16.device())
    data = experiment.Data(x_train, x_test, rbm.base_rate_bias(x_train))
    trained = experiment.train(setup, data, root=tmp_path)
    assert trained.small.sizes == (784, 3, 2) and trained.model.sizes == (784, 6, 4)
    for name in ("small_rbm", "small_dbm", "rbm", "dbm"):
        assert setup.checkpoint(name, tmp_path).exists(), name
    again = experiment.train(setup, data, root=tmp_path, parts=["dbm"])
    assert again.small is None
    assert torch.equal(again.model.weight2, trained.model.weight2)
    score = experiment.score(setup, data, trained)
    assert score.identity_gap < 1e-3  # the DBM with W2 = 0 is the RBM
    assert score.base_log_lik == rbm.base_rate_log_likelihood(x_test, data.base_bias)
    claim, posterior = score.claims()
    # AIS on the clamped posterior of the first digits, against their mean-field bounds
    assert score.posterior_log_lik.mean - score.mean_field_gap.mean == pytest.approx(
        posterior.reference
    )
    assert posterior.margin == -score.mean_field_gap.se
    assert (claim.value, claim.reference, claim.margin) == (
        score.dbm_bound,
        score.rbm_log_lik,
        score.ais_spread(),
    )
    # the ingredient removed: the DBM with W2 = 0 scores the RBM's log-likelihood, and fails
    assert not dataclasses.replace(score, dbm_bound=score.identity_bound).passes()
    assert score.ais_samples.shape == (5, 784)
    score.record("deep_boltzmann_machines", tmp_path)
    with pytest.raises(ValueError, match="part"):
        experiment.train(setup, data, root=tmp_path, parts=["rbm"])
