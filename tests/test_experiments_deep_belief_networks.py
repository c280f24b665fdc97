"""lec16.experiments.deep_belief_networks: the DBN chapter's numbers at each scale, its part
(the old command line's ``dbn``), and a tiny run of train and score on random digits, where the
DBN with the transposed bottom RBM on top scores as that RBM."""

import dataclasses

import pytest
import torch

import lec16
from lec16 import rbm
from lec16.experiments import deep_belief_networks as experiment


def test_the_setup_keeps_the_chapters_numbers(tmp_path):
    expected = {  # n_train, n_hidden, n_top, epochs per layer, n_betas
        "smoke": (10_000, 64, 784, 5, 1000),
        "default": (60_000, 500, 784, 6, 14_500),
        "paper": (60_000, 500, 2000, 100, 14_500),
    }
    for scale, numbers in expected.items():
        s = experiment.Setup.at(scale, seed=2)
        assert (s.n_train, s.n_hidden, s.n_top, s.config.epochs, s.n_betas) == numbers
        assert s.config == rbm.RBMConfig(
            epochs=numbers[3], method="pcd", anneal=True, seed=2
        )
        assert (s.n_runs, s.n_draws) == (100, 5)
    assert experiment.Setup.at("smoke").with_epochs(7).config.epochs == 7
    path = tmp_path / "smoke/deep_belief_networks/top.pt"
    assert experiment.Setup.at("smoke").checkpoint("top", tmp_path) == path
    assert list(experiment.PARTS) == ["dbn"]


@pytest.mark.parametrize("n_top", [784, 5])
def test_train_and_score_a_tiny_dbn(tmp_path, n_top):
    setup = dataclasses.replace(
        experiment.Setup.at("smoke"),
        n_hidden=6,
        n_top=n_top,
        config=dataclasses.replace(experiment.Setup.at("smoke").config, epochs=1),
        n_betas=30,
        n_runs=5,
        n_draws=2,
    )
    g = torch.Generator().manual_seed(0)
    x_train = torch.rand(200, 784, generator=g).to(lec16.device())
    x_test = torch.bernoulli(torch.rand(50, 784, generator=g)).to(lec16.device())
    data = experiment.Data(x_train, x_test, rbm.base_rate_bias(x_train))
    trained = experiment.train(setup, data, root=tmp_path)
    assert trained.top.n_visible == 6 and trained.top.n_hidden == n_top
    assert trained.start.n_hidden == 784 and trained.h_test.shape == (50, 6)
    assert setup.checkpoint("bottom", tmp_path).exists()
    again = experiment.train(setup, data, root=tmp_path)
    assert torch.equal(again.top.weight, trained.top.weight)
    score = experiment.score(setup, data, trained)
    # the transposed bottom RBM on top: the bound is the RBM's log-likelihood
    assert score.identity_gap < 0.01
    assert score.initial_bound == pytest.approx(score.rbm_log_lik, abs=0.01)
    (claim,) = score.claims()
    assert (claim.value, claim.reference, claim.margin) == (
        score.trained_bound,
        score.initial_bound,
        -score.ais_spread(),
    )
    assert 0 < score.ais_spread() < float("inf")
    # a top layer that lowers the bound by more than AIS's spread fails the check
    lowered = score.initial_bound - 2 * score.ais_spread()
    assert not dataclasses.replace(score, trained_bound=lowered).passes()
    with pytest.raises(ValueError, match="part"):
        experiment.train(setup, data, root=tmp_path, parts=["top"])
