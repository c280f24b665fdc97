"""lec16.experiments.mcmc_and_vi: the chapter's numbers at each scale, its example, and its
train and score on short chains (loaded from the checkpoints on a rerun)."""

import pytest
import torch

from lec16 import iwae
from lec16.experiments import mcmc_and_vi


def test_the_setup_keeps_the_chapter_s_numbers(tmp_path):
    expected = {  # transitions, steps, steps per epoch, eval samples, Monte Carlo draws
        "smoke": ((1, 4), 200, 100, 5000, 100_000),
        "default": ((1, 2, 4, 8, 16), 2000, 500, 20_000, 400_000),
        "paper": ((1, 2, 4, 8, 16, 32), 20_000, 2000, 100_000, 400_000),
    }
    for scale, numbers in expected.items():
        setup = mcmc_and_vi.Setup.at(scale, seed=3)
        config = setup.config
        assert (
            setup.transitions,
            config.steps,
            config.steps_per_epoch,
            config.eval_samples,
            setup.n_mc,
        ) == numbers
        assert (config.lr, config.seed, setup.step_size) == (0.02, 3, 0.05)
    setup = mcmc_and_vi.Setup.at("default").with_epochs(3)
    assert setup.config.steps == 3 * 500
    assert "hvi" in mcmc_and_vi.PARTS  # the old command line's model
    assert setup.checkpoint("T1", tmp_path) == tmp_path / "default/mcmc_and_vi/T1.pt"


def test_the_example_is_the_iwae_chapter_s():
    ppca, x0, q0 = mcmc_and_vi.example_ppca()
    g = torch.Generator().manual_seed(0)  # as the IWAE chapter draws it
    W = torch.randn(6, 2, generator=g, dtype=torch.float64)
    b = torch.randn(6, generator=g, dtype=torch.float64)
    x = 2 * torch.randn(6, generator=g, dtype=torch.float64)
    expected = iwae.LinearGaussian(W, b, sigma=0.5).proposal(x, shift=0.5, widen=1.5)
    assert torch.equal(ppca.W, W) and torch.equal(ppca.b, b) and torch.equal(x0, x)
    assert torch.equal(q0.mean, expected.mean) and torch.equal(
        q0.stddev, expected.stddev
    )
    data = mcmc_and_vi.Data(ppca, x0, q0)
    z = torch.randn(3, 2, dtype=torch.float64)
    assert torch.equal(data.log_target(z), ppca.log_joint(x0, z))


def test_train_and_score_short_chains(tmp_path):
    setup = mcmc_and_vi.Setup.at("smoke")  # T = 1 and 4, 200 Adam steps each
    data = mcmc_and_vi.load_data(setup)
    trained = mcmc_and_vi.train(setup, data, root=tmp_path)
    assert list(trained.models) == [1, 4]
    assert setup.checkpoint("T4", tmp_path).exists()
    score = mcmc_and_vi.score(setup, data, trained)
    assert score.log_px == pytest.approx(data.ppca.log_marginal(data.x0).item())
    assert len(score.claims()) == 2 * 2 + 1 and score.passes(), score.summary()
    again = mcmc_and_vi.train(setup, data, root=tmp_path, parts=["hvi"])
    assert mcmc_and_vi.score(setup, data, again).bound == score.bound
    with pytest.raises(ValueError, match="part"):
        mcmc_and_vi.train(setup, data, root=tmp_path, parts=["T1"])
