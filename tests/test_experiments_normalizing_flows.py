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
    assert (smoke.fit_lengths, smoke.fit_seeds) == ((2, 8), 2)
    assert (default.fit_lengths, default.fit_seeds) == ((2, 8, 32), 3)
    assert (paper.latent, paper.n_test_nll) == (40, 10_000)
    assert paper.vae_config == vae.TrainConfig(epochs=834, seed=3)
    assert default.vae_config == vae.TrainConfig(epochs=6, seed=3)


def test_epochs_change_every_training():
    setup = nf.Setup.at("default").with_epochs(7)
    assert setup.fit_config.steps == 7 * setup.fit_config.steps_per_epoch
    assert setup.nice_config.epochs == setup.vae_config.epochs == 7


def test_the_old_command_line_models_are_parts():
    assert set(nf.PARTS) == {"fits", "nice", "flow_vae"}
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
    trained = nf.train(setup, data, root=tmp_path, parts=["fits"])
    # U1-U4 x (planar, radial, NICE) x K = 2, 8, each of two seeds
    assert len(trained.fits) == 24 and set(trained.log_z) == set(flows.ENERGIES)
    assert all(len(models) == 2 for models in trained.fits.values())
    first, second = trained.fits["U3 radial K=8"]
    assert not torch.equal(first.flow.layers[0].z0, second.flow.layers[0].z0)
    for name in ("fits-planar-k2", "fits-radial-k8", "fits-nice-k8"):
        assert setup.checkpoint(name, tmp_path).exists(), name
    trained.update(nf.train(setup, data, root=tmp_path, parts=["nice", "flow_vae"]))
    assert set(trained.flow_vaes) == {"K=0", "K=0, sampled KL", "K=2"}
    names = ("nice", "nice_no_couplings", "vae-k0", "vae-k0-sampled-kl", "vae-k2")
    for name in (*names, "refine-k0", "refine-k2"):
        assert setup.checkpoint(name, tmp_path).exists(), name
    # the reference NICE: couplings at zero and frozen by training, only the scale learned
    for coupling in trained.nice_no_couplings.couplings:
        assert not coupling[-1].weight.any() and not coupling[-1].bias.any()
    assert trained.nice_no_couplings.log_scale.any()
    score = nf.score(setup, data, trained)
    # every fit against its untrained copy; K = 8 against K = 2 per energy and family
    # (reported at smoke); NICE; the flow VAE K = 2 against K = 0 (reported); the refined
    # q with K = 2 against K = 0 (reported at smoke); the flow VAEs against untrained
    assert len(score.claims()) == 24 + 12 + 1 + 1 + 1 + 3
    reported = [c for c in score.claims() if not c.asserted]
    assert [c.what for c in reported[-2:]] == [
        "flow VAE, K=2: test bound",
        "decoder frozen, q(z|x) with K = 2 flows: test bound",
    ]
    # the refined models kept the trained K = 0 decoder
    for model in trained.refined.values():
        decoder = trained.flow_vaes["K=0"].decoder.state_dict()
        assert all(
            torch.equal(v, decoder[k]) for k, v in model.decoder.state_dict().items()
        )
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
    last = trained.fit_histories["NICE K=2"].last  # replicas 2 and 3 fit U2
    assert score.kl["U2 NICE K=2"].mean == pytest.approx(
        (last["free_energy_2"] + last["free_energy_3"]) / 2 + trained.log_z["U2"]
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
