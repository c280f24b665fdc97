"""The GAN chapters' experiments: their set-ups at each scale, their parts and checkpoints, and a
tiny run of train and score on random images (the LAPGAN chapter reusing the GAN chapter's DCGAN)."""

import dataclasses

import pytest
import torch

from lec16 import evaluation, gan
from lec16.experiments import gan_mnist, gan_theory
from lec16.experiments import lapgan as lapgan_experiment


def test_gan_mnist_setup_keeps_the_sizes_of_each_scale():
    table = {  # n_train, mlp_hidden, maxout_units, dcgan_width, epochs, fashion, samples
        "smoke": (10_000, 128, 32, 8, 2, 2, 500),
        "default": (50_000, 512, 240, 16, 5, 1, 10_000),
        "paper": (50_000, 1200, 240, 64, 50, 50, 10_000),
    }
    for scale, sizes in table.items():
        setup = gan_mnist.Setup.at(scale, seed=3)
        assert (
            setup.n_train,
            setup.mlp_hidden,
            setup.maxout_units,
            setup.dcgan_width,
            setup.config.epochs,
            setup.fashion_epochs,
            setup.n_samples,
        ) == sizes
        assert setup.config == gan.GANConfig(epochs=sizes[4], seed=3)
        assert setup.config_of("dcgan_fashion").epochs == sizes[5]
    longer = gan_mnist.Setup.at("smoke").with_epochs(7)
    assert all(longer.config_of(part).epochs == 7 for part in gan_mnist.PARTS)


def test_lapgan_setup_keeps_the_sizes_of_each_scale_and_the_gan_chapters_dcgan():
    table = {  # n_train, coarse_hidden, residual_width, level_epochs, samples
        "smoke": (10_000, 64, 4, (2, 2, 2), 500),
        "default": (50_000, 512, 16, (3, 4, 10), 10_000),
        "paper": (50_000, 1200, 64, (25, 25, 25), 10_000),
    }
    for scale, sizes in table.items():
        setup = lapgan_experiment.Setup.at(scale, seed=2)
        assert setup.levels == 3
        assert (
            setup.n_train,
            setup.coarse_hidden,
            setup.residual_width,
            setup.level_epochs,
            setup.n_samples,
        ) == sizes
        assert setup.gan == gan_mnist.Setup.at(scale, seed=2)
    longer = lapgan_experiment.Setup.at("smoke").with_epochs(4)
    assert longer.level_epochs == (4, 4, 4) and longer.gan.config.epochs == 4
    with pytest.raises(ValueError, match="one entry per level"):
        dataclasses.replace(longer, level_epochs=(1, 2))


def test_gan_theory_setup_keeps_the_sizes_of_each_scale():
    table = {
        "smoke": (3, 2, 2, 200),
        "default": (30, 40, 30, 1000),
        "paper": (100, 200, 100, 2000),
    }
    for scale, sizes in table.items():
        s = gan_theory.Setup.at(scale)
        assert (s.d_epochs, s.gan_epochs, s.ring_epochs, s.strong_d_steps) == sizes
    s = gan_theory.Setup.at("smoke").with_epochs(9)
    assert (s.d_epochs, s.gan_epochs, s.ring_epochs) == (9, 9, 9)
    assert s.checkpoint("gan_1d", "ck").as_posix() == "ck/smoke/gan_theory/gan_1d.pt"


def test_the_old_command_line_models_are_parts():
    assert {"gan", "dcgan"} <= set(gan_mnist.PARTS)
    assert "lapgan" in lapgan_experiment.PARTS
    assert set(gan_mnist.TITLES) == set(gan_mnist.PARTS) == set(gan_mnist.DATA_SETS)


def test_players_start_from_the_seed_and_have_the_chapters_sizes():
    setup = gan_mnist.Setup.at("smoke")
    g1, d1 = gan_mnist.players(setup, "gan")
    g2, _ = gan_mnist.players(setup, "gan")
    assert all(torch.equal(a, b) for a, b in zip(g1.parameters(), g2.parameters()))
    assert g1.net[0].out_features == 128 and isinstance(g1.net[1], torch.nn.Identity)
    assert isinstance(
        gan_mnist.players(setup, "gan_batch_norm")[0].net[1], torch.nn.BatchNorm1d
    )
    assert isinstance(gan_mnist.players(setup, "dcgan_fashion")[0], gan.DCGANGenerator)
    with pytest.raises(ValueError, match="choose one of"):
        gan_mnist.players(setup, "wgan")
    coarse, residual = lapgan_experiment.players(lapgan_experiment.Setup.at("smoke"))
    assert coarse[0](torch.randn(2, 100)).shape == (2, 1, 7, 7)
    assert len(residual) == 2


def _tiny(images=96):
    torch.manual_seed(0)
    x = torch.rand(4 * images, 1, 28, 28)
    mnist = gan_mnist.Images(
        x[:images], x[images : 2 * images], x[2 * images : 3 * images], x[3 * images :]
    )
    net = evaluation.MnistFeatureNet().eval()
    data = gan_mnist.Data(mnist, None, net, 0.0)
    setup = dataclasses.replace(
        gan_mnist.Setup.at("smoke"),
        n_train=64,
        mlp_hidden=16,
        maxout_units=8,
        dcgan_width=2,
        config=gan.GANConfig(epochs=1, batch_size=16),
        n_samples=40,
    )
    return setup, data


def test_gan_mnist_trains_scores_and_loads_its_checkpoints(tmp_path):
    setup, data = _tiny()
    with pytest.raises(ValueError, match="choose one of"):
        gan_mnist.train(setup, data, tmp_path, parts=["wgan"])
    trained = gan_mnist.train(
        setup, data, tmp_path, parts=["gan", "dcgan_fashion", "dcgan"]
    )
    assert list(trained.generators) == ["gan", "dcgan"]  # no Fashion-MNIST: skipped
    assert sorted(p.name for p in (tmp_path / "smoke" / "gan_mnist").glob("*.pt")) == [
        "dcgan.pt",
        "gan.pt",
    ]
    assert len(trained.histories["dcgan"].samples) == 1  # the fixed latents, each epoch
    score = gan_mnist.score(setup, data, trained)
    assert set(score.metrics) == set(score.memorisation) == {"gan", "dcgan"}
    assert set(score.references) == {"MNIST"}
    assert len(score.claims()) == 4
    again = gan_mnist.train(setup, data, tmp_path, parts=["dcgan", "gan"])
    # loaded, not trained: the snapshots come from the checkpoint
    loaded = again.histories["dcgan"].samples
    assert len(loaded) == 1 and torch.equal(
        loaded[0], trained.histories["dcgan"].samples[0]
    )
    assert gan_mnist.score(setup, data, again).metrics == score.metrics


def test_lapgan_trains_and_reuses_the_gan_chapters_dcgan(tmp_path):
    gan_setup, data = _tiny()
    setup = dataclasses.replace(
        lapgan_experiment.Setup.at("smoke"),
        n_train=64,
        coarse_hidden=16,
        residual_width=2,
        level_epochs=(1, 1, 1),
        n_samples=40,
        calibration_digits=32,
        gan=gan_setup,
    )
    trained = lapgan_experiment.train(setup, data, tmp_path)
    assert sorted(trained.histories) == [0, 1, 2]
    assert (tmp_path / "smoke" / "gan_mnist" / "dcgan.pt").exists()
    assert sorted(p.name for p in (tmp_path / "smoke" / "lapgan").glob("*.pt")) == [
        f"lapgan_level{k}.pt" for k in range(3)
    ]
    score = lapgan_experiment.score(setup, data, trained)
    assert list(score.metrics) == ["LAPGAN", "DCGAN"] and len(score.claims()) == 4
    assert [c.asserted for c in score.pyramid_claims()] == [False, False]  # smoke
    assert set(score.seconds) == {"LAPGAN", "DCGAN"}
    # the GAN chapter loads the same DCGAN and draws the same samples
    gan_trained = gan_mnist.train(gan_setup, data, tmp_path, parts=["dcgan"])
    assert len(gan_trained.histories["dcgan"].samples) == gan_setup.config.epochs
    drawn = lapgan_experiment.samples(setup, trained)
    assert torch.equal(
        drawn["DCGAN"], gan_mnist.samples(gan_setup, gan_trained.generators["dcgan"])
    )
    assert drawn["LAPGAN"].shape == (40, 1, 28, 28)
    only_lapgan = lapgan_experiment.train(setup, data, tmp_path, parts=["lapgan"])
    assert only_lapgan.dcgan is None
    assert list(lapgan_experiment.score(setup, data, only_lapgan).metrics) == ["LAPGAN"]


def test_each_ingredient_claim_fails_with_its_ingredient_removed():
    """Batch norm and the convolutions are each checked against the same GAN without them:
    a table where removing an ingredient changes nothing fails that claim, and only it."""

    def quality(frechet, se=1.0):
        return {
            "frechet": frechet,
            "frechet_se": se,
            "mean_intensity": 0.13,
            "untrained_mean_intensity": 0.5,
            "real_mean_intensity": 0.13,
        }

    sound = {"gan": quality(670), "gan_batch_norm": quality(258), "dcgan": quality(85)}
    score = gan_mnist.Score(sound, {}, {}, {})
    assert score.passes(), score.failures()
    no_batch_norm_gain = dict(sound, gan_batch_norm=quality(669))
    failed = gan_mnist.Score(no_batch_norm_gain, {}, {}, {}).failures()
    assert len(failed) == 1 and "without batch norm" in failed[0]
    smoke = gan_mnist.Score(no_batch_norm_gain, {}, {}, {}, scale="smoke")
    assert smoke.passes()  # reported there, not asserted
