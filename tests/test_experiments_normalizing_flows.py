"""The flows chapter's experiment: its sizes at every scale, ``--epochs``, and its three parts
trained, scored and resumed on tiny stand-ins for MNIST."""

import dataclasses

import pytest
import torch

from lec16 import flows, vae
from lec16.experiments import normalizing_flows as nf


def test_the_sizes_at_every_scale():
    smoke, default, paper = (
        nf.Setup.at(s, seed=3) for s in ("smoke", "default", "paper")
    )
    assert (smoke.n_mc, default.n_mc, paper.n_mc) == (200_000, 1_000_000, 1_000_000)
    assert smoke.fit_config == flows.EnergyFitConfig(
        steps=200,
        steps_per_epoch=100,
        anneal_steps=100,
        lr=1e-2,
        eval_samples=2000,
        seed=3,
    )
    assert (paper.fit_config.steps, paper.fit_config.optimizer) == (500_000, "rmsprop")
    assert [(s.nice_n_train, s.nice_hidden, s.nice_depth) for s in (smoke, paper)] == [
        (5000, 100, 2),
        (50_000, 1000, 5),
    ]
    assert paper.nice_config == flows.NiceConfig(epochs=1000, seed=3)
    assert default.flow_lengths == (0, 4, 16) and paper.flow_lengths[-1] == 80
    assert (paper.latent, paper.n_test_nll) == (40, 10_000)
    assert paper.vae_config == vae.TrainConfig(epochs=834, seed=3)
    assert default.vae_config == vae.TrainConfig(epochs=6, seed=3)


def test_epochs_change_every_training():
    setup = nf.Setup.at("default").with_epochs(7)
    assert setup.fit_config.steps == 7 * setup.fit_config.steps_per_epoch
    assert setup.nice_config.epochs == setup.vae_config.epochs == 7


def test_the_old_command_line_models_are_parts():
    assert set(nf.PARTS) == {"planar", "nice", "flow_vae"}
    with pytest.raises(ValueError, match="part"):
        nf.train(nf.Setup.at("smoke"), None, parts=["nice_mnist"])


def _tiny():
    setup = dataclasses.replace(
        nf.Setup.at("smoke"),
        fit_config=flows.EnergyFitConfig(
            steps=20, steps_per_epoch=10, anneal_steps=10, lr=1e-2, eval_samples=200
        ),
        nice_n_train=200,
        nice_hidden=8,
        nice_depth=1,
        nice_config=flows.NiceConfig(epochs=1, batch_size=100),
        latent=2,
        vae_n_train=200,
        vae_config=vae.TrainConfig(epochs=1),
        n_test_nll=3,
    )
    g = torch.Generator().manual_seed(0)
    images = torch.rand(200, 1, 28, 28, generator=g)
    test = torch.rand(50, 784, generator=g)
    data = nf.Data(images, test, images.flatten(1), torch.bernoulli(test, generator=g))
    return setup, data


def test_the_parts_train_score_and_resume(tmp_path):
    setup, data = _tiny()
    trained = nf.train(setup, data, root=tmp_path, parts=["planar"])
    assert len(trained.fits) == 16 and set(trained.log_z) == set(flows.ENERGIES)
    assert setup.checkpoint("u1-k2", tmp_path).exists()
    assert setup.checkpoint("u4-nice", tmp_path).exists()
    trained.update(nf.train(setup, data, root=tmp_path, parts=["nice", "flow_vae"]))
    assert set(trained.flow_vaes) == {"K=0", "K=0, sampled KL", "K=2"}
    for name in ("nice", "nice_no_couplings", "vae-k0", "vae-k0-sampled-kl", "vae-k2"):
        assert setup.checkpoint(name, tmp_path).exists(), name
    # the reference NICE: couplings at zero and frozen by training, only the scale learned
    for coupling in trained.nice_no_couplings.couplings:
        assert not coupling[-1].weight.any() and not coupling[-1].bias.any()
    assert trained.nice_no_couplings.log_scale.any()
    score = nf.score(setup, data, trained)
    assert len(score.claims()) == 16 + 1 + 3
    nice_claim = next(c for c in score.claims() if c.what.startswith("NICE"))
    assert nice_claim.reference == score.nice_no_couplings_ll
    assert score.nice_gain.mean == pytest.approx(
        score.nice_ll - score.nice_no_couplings_ll, rel=1e-3, abs=1e-2
    )
    assert set(score.flow_vae_log_lik_gain) == {
        "K=0, sampled KL over K=0",
        "K=2 over K=0",
        "K=0 over K=0, sampled KL",
        "K=2 over K=0, sampled KL",
    }
    assert score.kl["U1 K=2"] == pytest.approx(
        trained.fit_histories["U1 K=2"].last["free_energy"] + trained.log_z["U1"]
    )
    again = nf.train(setup, data, root=tmp_path)  # every model loaded, none retrained
    assert nf.score(setup, data, again) == score
    score.record("normalizing_flows", tmp_path / "metrics")
    assert (tmp_path / "metrics" / "normalizing_flows.json").exists()


def test_a_score_holds_only_what_was_trained(tmp_path):
    setup, data = _tiny()
    score = nf.score(setup, data, nf.train(setup, data, tmp_path, parts=["nice"]))
    assert score.nice_ll is not None and not score.kl and not score.flow_vae_bound
    assert [c.what for c in score.claims()] == ["NICE on MNIST: test log-likelihood"]
