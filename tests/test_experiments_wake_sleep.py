"""lec16.experiments.wake_sleep: the chapter's numbers at each scale, and its train and score
on a few digits (loaded from the checkpoints on a rerun)."""

import dataclasses

import pytest
import torch

import lec16
from lec16.experiments import wake_sleep


def test_the_setup_keeps_the_chapter_s_numbers(tmp_path):
    expected = {  # n_train, epochs, k_eval, n_test, n_mc
        "smoke": (2000, 2, 100, 500, 100_000),
        "default": (60_000, 10, 1000, 1000, 400_000),
        "paper": (60_000, 500, 5000, 10_000, 400_000),
    }
    for scale, numbers in expected.items():
        setup = wake_sleep.Setup.at(scale, seed=3)
        assert (
            setup.n_train,
            setup.epochs,
            setup.k_eval,
            setup.n_test,
            setup.n_mc,
        ) == numbers
        assert setup.layers == (784, 200) and setup.seed == 3
    setup = wake_sleep.Setup.at("smoke").with_epochs(7)
    for machine in wake_sleep.MACHINES.values():
        config = setup.config(machine.rule)
        assert (config.epochs, config.rule, config.seed) == (7, machine.rule, 0)
    assert list(wake_sleep.PARTS) == list(wake_sleep.MACHINES)
    assert setup.checkpoint("vae", tmp_path) == tmp_path / "smoke/wake_sleep/vae.pt"
    with pytest.raises(ValueError, match="epochs"):
        setup.with_epochs(0)


def test_train_and_score_on_a_few_digits(tmp_path):
    device = lec16.device()
    setup = dataclasses.replace(
        wake_sleep.Setup.at("smoke"), epochs=1, k_eval=3, layers=(784, 8)
    )
    g = torch.Generator().manual_seed(0)
    x = torch.rand(40, 784, generator=g)
    data = wake_sleep.Data(
        x.to(device), torch.bernoulli(x[:10], generator=g).to(device)
    )
    parts = ["helmholtz", "vae"]
    trained = wake_sleep.train(setup, data, root=tmp_path, parts=parts)
    assert list(trained.models) == parts
    for part in parts:
        assert setup.checkpoint(part, tmp_path).exists()
    score = wake_sleep.score(setup, data, trained)
    assert list(score.lk) == parts and score.k == 3
    assert [c.margin for c in score.claims()] == [wake_sleep.MARGIN] * 2
    # cross-model differences are paired over the same digits
    assert list(score.lk_minus_vae) == ["helmholtz"]
    assert score.lk_minus_vae["helmholtz"].mean == pytest.approx(
        score.lk["helmholtz"].mean - score.lk["vae"].mean, abs=1e-4
    )
    again = wake_sleep.train(setup, data, root=tmp_path, parts=parts)
    assert wake_sleep.score(setup, data, again).lk == score.lk
    # the sleep phase's reference: the same machine trained by the wake phase alone, whose
    # recognition model is left as initialised
    alone = wake_sleep.train(setup, data, root=tmp_path, parts=["helmholtz_no_sleep"])
    untrained = alone.untrained["helmholtz_no_sleep"].recognition.state_dict()
    for name, value in (
        alone.models["helmholtz_no_sleep"].recognition.state_dict().items()
    ):
        assert torch.equal(value, untrained[name]), name
    trained.models.update(alone.models)
    trained.untrained.update(alone.untrained)
    trained.histories.update(alone.histories)
    score = wake_sleep.score(setup, data, trained)
    sleep = score.claims()[-1]
    assert sleep.reference == score.lk["helmholtz_no_sleep"].mean
    assert sleep.margin == wake_sleep.SES * score.sleep_gain["helmholtz"].se
    assert list(score.lk_minus_vae) == ["helmholtz"]
    with pytest.raises(ValueError, match="part"):
        wake_sleep.train(setup, data, root=tmp_path, parts=["vea"])
