"""The diffusion chapters' experiments: the swiss roll's sizes, and the MNIST models' sizes at
every scale, ``--epochs``, and the models trained, scored and resumed on tiny stand-ins for
MNIST."""

import dataclasses
import json

import pytest
import torch

from lec16 import diffusion, evaluation
from lec16.experiments import diffusion as roll
from lec16.experiments import diffusion_mnist as experiment


def test_the_swiss_roll_sizes_at_every_scale():
    smoke, default, paper = (
        roll.Setup.at(s, seed=3) for s in ("smoke", "default", "paper")
    )
    assert smoke.roll_config == diffusion.DiffusionConfig(
        epochs=60, batch_size=100, lr=1e-2, ema_decay=0.99, seed=3
    )
    assert [s.n_roll for s in (smoke, default, paper)] == [3000, 15_000, 15_000]
    assert [s.n_chain for s in (smoke, paper)] == [50_000, 200_000]
    assert [s.n_repeats for s in (smoke, paper)] == [200, 1000]
    assert {s.roll_steps for s in (smoke, default, paper)} == {40}
    assert default.with_epochs(3).roll_config.epochs == 3
    assert default.slug == "diffusion"


def test_the_sizes_at_every_scale():
    smoke, default, paper = (
        experiment.Setup.at(s, seed=3) for s in ("smoke", "default", "paper")
    )
    assert [(s.steps, s.hidden, s.depth) for s in (smoke, default, paper)] == [
        (20, 100, 2),
        (200, 500, 3),
        (1000, 500, 3),
    ]
    assert smoke.config == diffusion.DiffusionConfig(
        epochs=5, batch_size=32, lr=3e-3, eval_times=1, seed=3
    )
    assert paper.config == diffusion.DiffusionConfig(
        epochs=8700, batch_size=512, seed=3
    )
    assert [(s.n_samples, s.n_test, s.n_inpainted) for s in (smoke, paper)] == [
        (200, 500, 200),
        (10_000, 10_000, 1000),
    ]
    assert default.shown_times == [200, 150, 100, 50, 20, 0]
    assert default.slug == "diffusion_mnist"


def test_epochs_change_every_training():
    assert experiment.Setup.at("default").with_epochs(3).config.epochs == 3


def test_the_paper_network_is_built_from_plain_sizes():
    model = experiment.Setup.at("paper").model("epsilon")
    same = diffusion.mnist_model(1000, "epsilon")
    assert model.T == 1000 and model.parametrization == "epsilon"
    assert [p.shape for p in model.parameters()] == [p.shape for p in same.parameters()]
    with pytest.raises(ValueError, match="n_inpainted"):
        dataclasses.replace(experiment.Setup.at("smoke"), n_inpainted=501)


def _tiny():
    setup = dataclasses.replace(
        experiment.Setup.at("smoke"),
        steps=4,
        n_train=64,
        hidden=16,
        depth=1,
        config=diffusion.DiffusionConfig(epochs=1, batch_size=32, eval_times=1),
        n_samples=20,
        n_test=30,
        n_inpainted=10,
    )
    g = torch.Generator().manual_seed(0)
    images = torch.rand(60, 1, 28, 28, generator=g)
    pixels = diffusion.Rescaling.to_unit_variance(images)
    x = pixels.apply(images).flatten(1)
    data = experiment.Data(
        x_fit=torch.cat([x, x])[: setup.n_train],
        x_test=x[: setup.n_test],
        pixels=pixels,
        test_images=images[: setup.n_test],
        test_labels=torch.randint(10, (setup.n_test,), generator=g),
        validation=images[:20],
        held_out=images[20:],
        feature_net=evaluation.MnistFeatureNet().eval(),
        classifier_accuracy=0.1,
    )
    return setup, data


def test_the_models_train_score_and_resume(tmp_path):
    setup, data = _tiny()
    trained = experiment.train(setup, data, root=tmp_path)
    names = ["paper's (mu, Sigma)", "Ho et al.'s eps"]
    assert list(trained.models) == names
    assert setup.checkpoint("mean", tmp_path).exists()
    assert setup.checkpoint("epsilon", tmp_path).exists()
    score = experiment.score(setup, data, trained)
    assert len(score.claims()) == 3 * 2
    # the references that isolate the claims: pi itself, and samples without structure
    assert {c.reference for c in score.claims() if c.unit} == {score.null_bound}
    assert experiment.INDEPENDENT in score.frechet
    assert score.frechet[experiment.INDEPENDENT] != score.frechet[experiment.REAL]
    broken = dataclasses.replace(
        score, bound={n: experiment.Estimate(score.null_bound) for n in names}
    )
    assert not any(c.passes() for c in broken.claims() if c.unit)
    assert list(score.confident) == [
        experiment.REAL,
        experiment.INDEPENDENT,
        names[0],
        f"{names[0]}, untrained",
        names[1],
        f"{names[1]}, untrained",
    ]
    assert score.images[f"{names[0]} chains"].shape == (6 * 6, 1, 28, 28)
    assert score.images[f"{names[1]} inpainted"].shape == (16, 1, 28, 28)
    again = experiment.train(setup, data, root=tmp_path)  # loaded, not retrained
    rescored = experiment.score(setup, data, again)
    assert rescored.bound == score.bound and rescored.inpainting == score.inpainting
    score.record("diffusion_mnist", tmp_path / "metrics")
    recorded = json.loads((tmp_path / "metrics" / "diffusion_mnist.json").read_text())
    assert recorded["images"] == {} and len(recorded["claims"]) == 6


def test_one_part_trains_and_scores_alone(tmp_path):
    setup, data = _tiny()
    trained = experiment.train(setup, data, root=tmp_path, parts=["epsilon"])
    assert list(trained.models) == ["Ho et al.'s eps"]
    assert not setup.checkpoint("mean", tmp_path).exists()
    assert len(experiment.score(setup, data, trained).claims()) == 3
    with pytest.raises(ValueError, match="part"):
        experiment.train(setup, data, parts=["diffusion_eps"])
