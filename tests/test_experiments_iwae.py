"""lec16.experiments.iwae: the chapter's numbers at each scale, and its train and score on a
few digits (loaded from the checkpoints on a rerun)."""

import dataclasses

import pytest
import torch

import lec16
from lec16.experiments import iwae


def test_the_setup_keeps_the_chapter_s_numbers(tmp_path):
    expected = {  # n_train, epochs, batch, n_test_nll
        "smoke": (1000, 1, 100, 20),
        "default": (60_000, 3, 100, 100),
        "paper": (60_000, 3280, 20, 10_000),
    }
    for scale, numbers in expected.items():
        setup = iwae.Setup.at(scale, seed=3)
        config = setup.config
        assert (
            setup.n_train,
            config.epochs,
            config.batch_size,
            setup.n_test_nll,
        ) == numbers
        assert config.seed == 3 and setup.lk_ks == (1, 5, 50, 500, 5000)
    paper = iwae.Setup.at("paper").config  # Burda et al.'s schedule
    assert (paper.lr, paper.adam_eps, paper.lr_schedule) == (1e-3, 1e-4, "burda")
    setup = iwae.Setup.at("paper").with_epochs(7)
    assert setup.config.epochs == 7 and setup.config.lr_schedule == "burda"
    assert list(iwae.PARTS) == [f"{kind}_k{k}" for kind, k in iwae.RUNS]
    assert "iwae_k50" in iwae.PARTS  # the old command line's model
    assert setup.checkpoint("iwae_k50", tmp_path) == tmp_path / "paper/iwae/iwae_k50.pt"


def test_train_and_score_on_a_few_digits(tmp_path):
    device = lec16.device()
    setup = dataclasses.replace(
        iwae.Setup.at("smoke"), n_test_nll=4, n_test_monitor=4, lk_ks=(1, 5, 50)
    )
    g = torch.Generator().manual_seed(0)
    x = torch.rand(60, 784, generator=g)
    data = iwae.Data(
        x.to(device),
        torch.bernoulli(x[:6], generator=g).to(device),
        torch.bernoulli(x[:10], generator=g).to(device),
    )
    parts = ["vae_k5", "iwae_k5"]
    trained = iwae.train(setup, data, root=tmp_path, parts=parts)
    assert list(trained.models) == [("vae", 5), ("iwae", 5)]
    for part in parts:
        assert setup.checkpoint(part, tmp_path).exists()
    score = iwae.score(setup, data, trained)
    assert {kind: list(by_k) for kind, by_k in score.nll.items()} == {
        "vae": [5],
        "iwae": [5],
    }
    assert len(score.lk_means["iwae"][5]) == 3 and list(score.iwae_minus_vae) == [5]
    gap = score.iwae_minus_vae[5].mean
    difference = score.nll["iwae"][5].mean - score.nll["vae"][5].mean
    assert gap == pytest.approx(difference, abs=1e-3)  # float32 means
    *sanity, objective = score.claims()
    assert [c.margin for c in sanity] == [iwae.MARGIN] * 2
    assert all(not c.higher and c.reference == score.untrained_nll for c in sanity)
    # the importance-weighted objective against the VAE of the same k (reported at smoke)
    assert objective.reference == score.nll["vae"][5].mean and not objective.higher
    assert objective.margin == iwae.SES * score.iwae_minus_vae[5].se
    assert score.scale == "smoke" and not objective.asserted
    again = iwae.train(setup, data, root=tmp_path, parts=parts)
    assert iwae.score(setup, data, again).nll == score.nll
    with pytest.raises(ValueError, match="part"):
        iwae.train(setup, data, root=tmp_path, parts=["iwae_k500"])
