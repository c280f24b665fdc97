"""lec16.experiments.boltzmann_machines: the RBM chapter's numbers at each scale, its parts (the
old command line's ``rbm``), and a tiny run of train (loaded from its checkpoints on a rerun)
and score on random digits."""

import dataclasses
import json

import pytest
import torch

import lec16
from lec16 import rbm
from lec16.experiments import boltzmann_machines as experiment


def test_the_setup_keeps_the_chapters_numbers(tmp_path):
    expected = {  # n_train, n_hidden, epochs, n_betas, small epochs, finest AIS
        "smoke": (3000, 100, 10, 1000, 1, (1000, 500)),
        "default": (60_000, 500, 6, 14_500, 5, (14_500, 500)),
        "paper": (60_000, 500, 100, 14_500, 50, (14_500, 1000)),
    }
    for scale, numbers in expected.items():
        s = experiment.Setup.at(scale, seed=2)
        assert (
            s.n_train,
            s.n_hidden,
            s.epochs,
            s.n_betas,
            s.small_epochs,
            s.ais_schedules[-1],
        ) == numbers
        assert s.n_runs == 100 and s.small_hidden == 15
        assert s.methods[:3] == ("CD-1", "CD-3", "PCD-1")
        assert ("CD-25" in s.methods) == (scale == "paper")
        configs = s.configs()
        assert configs["PCD-1"] == rbm.RBMConfig(
            epochs=s.epochs, method="pcd", anneal=True, seed=2
        )
        assert configs["CD-3"].k == 3 and configs["CD-3"].method == "cd"
        assert s.small_config() == rbm.RBMConfig(epochs=s.small_epochs, seed=2)
    longer = experiment.Setup.at("smoke").with_epochs(7)
    assert {c.epochs for c in longer.configs().values()} == {7}
    assert longer.small_config().epochs == 7
    path = tmp_path / "smoke/boltzmann_machines/cd-1.pt"
    assert longer.checkpoint("cd-1", tmp_path) == path


def test_the_old_command_lines_rbm_is_its_methods():
    assert {"CD-1", "CD-3", "PCD-1", "CD-25"} <= set(experiment.PARTS)
    assert set(experiment.METHODS) < set(experiment.PARTS)


def _tiny(tmp_path):
    setup = dataclasses.replace(
        experiment.Setup.at("smoke"),
        n_hidden=6,
        epochs=1,
        small_hidden=4,
        n_betas=30,
        n_runs=5,
    )
    g = torch.Generator().manual_seed(0)
    x_train = torch.rand(200, 784, generator=g).to(lec16.device())
    x_test = torch.bernoulli(torch.rand(50, 784, generator=g)).to(lec16.device())
    return setup, experiment.Data(x_train, x_test, rbm.base_rate_bias(x_train))


def test_train_and_score_a_tiny_comparison(tmp_path):
    setup, data = _tiny(tmp_path)
    torch.manual_seed(0)
    trained = experiment.train(setup, data, root=tmp_path)
    assert list(trained.models) == list(setup.methods)
    assert trained.small.n_hidden == 4
    for part in ("784x15", "cd-1", "cd-3", "pcd-1"):
        assert setup.checkpoint(part, tmp_path).exists(), part
    # a rerun loads the checkpoints
    again = experiment.train(setup, data, root=tmp_path, parts=["PCD-1"])
    assert list(again.models) == ["PCD-1"] and again.small is None
    assert torch.equal(again.models["PCD-1"].weight, trained.models["PCD-1"].weight)
    score = experiment.score(setup, data, trained)
    assert score.base_log_lik == rbm.base_rate_log_likelihood(
        data.x_test, data.base_bias
    )
    claims = score.claims()
    assert [c.what for c in claims] == [f"{m}: test log p(v)" for m in setup.methods]
    assert all(c.reference == score.base_log_lik and c.margin == 10 for c in claims)
    assert score.ais_samples["CD-1"].shape == (5, 784)
    score.record("boltzmann_machines", tmp_path)  # the numbers, not the samples
    recorded = json.loads((tmp_path / "boltzmann_machines.json").read_text())
    assert recorded["ais_samples"] == {} and recorded["log_lik"] == score.log_lik


def test_parts_are_checked(tmp_path):
    setup, data = _tiny(tmp_path)
    with pytest.raises(ValueError, match="part"):
        experiment.train(setup, data, root=tmp_path, parts=["cd1"])
    with pytest.raises(ValueError, match="not trained at smoke scale"):
        experiment.train(setup, data, root=tmp_path, parts=["CD-25"])
