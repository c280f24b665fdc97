"""lec16.experiments.generative_stochastic_networks: the chapter's numbers at each scale, its
DAEs and chains, its training of a few digits (loaded from the checkpoints on a rerun) and its
claims."""

import dataclasses

import pytest
import torch

import lec16
from lec16 import gsn
from lec16.experiments import generative_stochastic_networks as experiment


def test_the_setup_keeps_the_chapter_s_numbers(tmp_path):
    expected = {  # n_train, epochs, n_chains, ring walkbacks, epochs, points, steps
        "smoke": (20_000, 3, 200, (1, 2), 5, 4000, 200),
        "default": (50_000, 5, 1000, (1, 2, 4), 20, 10_000, 1000),
        "paper": (50_000, 100, 1000, (1, 2, 4), 100, 10_000, 5000),
    }
    for scale, numbers in expected.items():
        s = experiment.Setup.at(scale, seed=3)
        assert (
            s.n_train,
            s.epochs,
            s.n_chains,
            s.ring_walkbacks,
            s.ring_epochs,
            s.n_ring,
            s.ring_chain_steps,
        ) == numbers
        assert (s.walkbacks, s.hidden, s.depth, s.noise) == ((1, 2), 500, 2, 0.4)
        assert (s.chain_steps, s.keep_every, s.seed) == (200, 20, 3)
    s = experiment.Setup.at("smoke").with_epochs(7)
    assert s.config(2) == gsn.GSNConfig(epochs=7, walkback=2, seed=0)
    assert s.ring_config(4) == gsn.GSNConfig(
        epochs=7, walkback=4, binarize=False, seed=0
    )
    assert list(experiment.PARTS) == [f"walkback{w}" for w in s.walkbacks]
    path = tmp_path / "smoke/generative_stochastic_networks/walkback1.pt"
    assert s.checkpoint("walkback1", tmp_path) == path


def test_the_dae_and_its_chains():
    setup = dataclasses.replace(
        experiment.Setup.at("smoke"), epochs=1, hidden=8, n_chains=3
    )
    torch.manual_seed(0)
    dae = experiment.dae(setup)
    assert (dae.n_visible, dae.noise, len(dae.net)) == (784, 0.4, 5)
    means = experiment.chains(dae, setup)
    assert means.shape == (10, 3, 784)
    assert torch.equal(means, gsn.chains_from_noise(dae, 3, 200, 20, 0))


def test_train_loads_its_checkpoints(tmp_path):
    device = lec16.device()
    setup = dataclasses.replace(experiment.Setup.at("smoke"), epochs=1, hidden=8)
    x = torch.rand(30, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    data = experiment.Data(x.to(device), None, None, None, None)
    trained = experiment.train(setup, data, root=tmp_path, parts=["walkback2"])
    assert (
        list(trained.daes) == [2] and setup.checkpoint("walkback2", tmp_path).exists()
    )
    again = experiment.train(setup, data, root=tmp_path, parts=["walkback2"])
    assert torch.equal(again.daes[2].net[0].weight, trained.daes[2].net[0].weight)
    assert torch.equal(
        again.untrained[2].net[0].weight, trained.untrained[2].net[0].weight
    )
    with pytest.raises(ValueError, match="part"):
        experiment.train(setup, data, root=tmp_path, parts=["walkback3"])


def test_the_claims_are_the_chapter_s_checks():
    good = {"parzen": 100.0, "frechet": 10.0, "confident": 0.5}
    untrained = {"parzen": 40.0, "frechet": 20.0, "confident": 0.3}
    score = experiment.Score({1: good}, {1: untrained}, {}, {1: 1.0})
    assert score.passes() and len(score.claims()) == 3
    for key, value in (("parzen", 90.0), ("frechet", 20.0), ("confident", 0.4)):
        score = experiment.Score({1: {**good, key: value}}, {1: untrained}, {}, {})
        assert not score.passes(), key


def test_walkback_is_checked_against_the_dae_trained_without_it():
    plain = {"parzen": 100.0, "parzen_se": 2.0, "frechet": 10.0, "confident": 0.5}
    longer = {**plain, "parzen": 110.0}
    untrained = {"parzen": 40.0, "parzen_se": 2.0, "frechet": 20.0, "confident": 0.3}
    quality, references = {1: plain, 2: longer}, {1: untrained, 2: untrained}
    score = experiment.Score(quality, references, {}, {})
    walkback = score.claims()[-1]
    assert walkback.reference == 100.0 and walkback.margin == pytest.approx(8**0.5)
    assert score.passes()
    # walkback removed (the same Parzen as walkback 1): the check fails
    same = experiment.Score({1: plain, 2: {**plain}}, references, {}, {})
    assert not same.passes()
    # at smoke the claim is reported, not asserted
    assert (
        not experiment.Score(quality, references, {}, {}, "smoke").claims()[-1].asserted
    )
