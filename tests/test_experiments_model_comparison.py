"""lec16.experiments.model_comparison: its sizes at each scale, its scores and claims (each seen
failing when its defect is put back), and the M2 density it adds to lec16.ssvae. The whole
comparison runs in its notebook (nbval at smoke)."""

import dataclasses

import pytest
import torch

import lec16
from lec16 import cli, evaluation, ssvae
from lec16.experiments import model_comparison as mc
from lec16.results import Estimate


def test_the_setup_keeps_the_chapter_s_numbers():
    expected = {  # n_samples, n_reference, n_likelihood, k, chain_steps
        "smoke": (200, 1000, 100, 10, 20),
        "default": (1000, 5000, 1000, 100, 1000),
        "paper": (5000, 5000, 10_000, 5000, 1000),
    }
    for scale, numbers in expected.items():
        setup = mc.Setup.at(scale, seed=2)
        assert (
            setup.n_samples,
            setup.n_reference,
            setup.n_likelihood,
            setup.k,
            setup.chain_steps,
        ) == numbers
        assert setup.n_reference + setup.n_samples <= 10_000  # the test digits


@pytest.mark.parametrize(
    "change, message",
    [
        ({"k": 0}, "k must be a positive"),
        ({"n_samples": 5}, "n_samples=5 must be at least 8"),
        ({"chain_steps": 1.5}, "chain_steps must be a positive"),
    ],
)
def test_bad_sizes_are_refused(change, message):
    with pytest.raises(ValueError, match=message):
        dataclasses.replace(mc.Setup.at("smoke"), **change)


def test_the_comparison_trains_nothing_of_its_own(capsys):
    setup = mc.Setup.at("smoke")
    with pytest.raises(ValueError, match="part"):
        mc.train(setup, None, parts=["vae"])
    with pytest.raises(SystemExit) as done:
        cli.main(["train", "model_comparison", "--epochs", "3"])
    assert done.value.code == 2
    assert "trains nothing of its own" in capsys.readouterr().err


def _row(frechet, untrained, se=1.0):
    return mc.Row(
        "chapter",
        mc.BOUND,
        Estimate(frechet, se),
        Estimate(0.5, 0.01),
        [0.1] * 10,
        untrained_frechet=Estimate(untrained, se),
    )


def _score(models, real):
    rows = dict(models)
    rows[mc.REAL] = mc.Row("", "", Estimate(real, 1.0), Estimate(0.9, 0.01), [0.1] * 10)
    return mc.Score(rows)


def test_the_claims_pass_on_a_sound_table_and_fail_with_each_defect():
    sound = _score({"a": _row(100, 500), "b": _row(50, 400)}, real=5)
    assert sound.passes(), sound.failures()
    # a model no better than its untrained copy (a broken training, or a broken sampler)
    broken = _score({"a": _row(100, 101), "b": _row(50, 400)}, real=5)
    assert [c.what for c in broken.claims() if not c.passes()] == [
        "a: Fréchet distance"
    ]
    # within three standard errors of its untrained copy is not enough
    noisy = _score({"a": _row(100, 103, se=1.0)}, real=5)
    assert not noisy.passes()
    # a metric under which a model beats real digits is broken
    beaten = _score({"a": _row(100, 500), "b": _row(4, 400)}, real=5)
    assert "real digits: Fréchet distance" in "\n".join(beaten.failures())
    # at smoke a model worse than its untrained copy is reported; the real row still counts
    smoke = _score({"a": _row(100, 101)}, real=5)
    smoke.scale = "smoke"
    assert smoke.passes()
    smoke.rows[mc.REAL].frechet = Estimate(200, 1.0)
    assert not smoke.passes()


def test_sample_scores_of_real_digits_against_themselves():
    device = lec16.device()
    lec16.data.fetch_mnist(quiet=True)
    images = lec16.data.load_mnist("test", device=device)[0]
    net, _ = evaluation.feature_net(device)
    reference = evaluation.features(net, images[:2000])
    same = mc.sample_scores(images[:400], reference, net)
    other = mc.sample_scores(torch.rand(400, 784, device=device), reference, net)
    assert same["frechet"].mean + 3 * same["frechet"].se < other["frechet"].mean
    assert same["confident"].mean > 0.8 > other["confident"].mean
    assert sum(same["classes"]) == pytest.approx(1) and min(same["classes"]) > 0.02
    assert same["frechet"].se > 0


def test_m2_as_a_density_over_x():
    torch.manual_seed(0)
    model = ssvae.M2(x_dim=12, y_dim=3, z_dim=2, hidden=8)
    x = torch.bernoulli(torch.full((5, 12), 0.3))
    log_w = model.log_weights(x, 4000)
    assert log_w.shape == (4000, 5)
    # the label summed out exactly beats U(x), which weights the labels by q(y | x): Jensen
    unlabelled = torch.stack([model.unlabelled_bound(x) for _ in range(4000)])
    gap = log_w.mean(0) - unlabelled.mean(0)
    assert (gap > -0.05).all(), gap
    # and the importance-sampled L_k rises above the mean of the log weights
    assert (log_w.logsumexp(0) - torch.log(torch.tensor(4000.0)) > log_w.mean(0)).all()


def test_m2_samples_images_and_refuses_codes():
    torch.manual_seed(0)
    images = ssvae.M2(x_dim=12, y_dim=3, z_dim=2, hidden=8).sample(7)
    assert images.shape == (7, 12) and 0 <= images.min() and images.max() <= 1
    codes = ssvae.M2(x_dim=12, y_dim=3, z_dim=2, hidden=8, likelihood="gaussian")
    with pytest.raises(ValueError, match="M1's codes"):
        codes.sample(2)
    with pytest.raises(ValueError, match="k"):
        codes.log_weights(torch.zeros(2, 12), 0)
