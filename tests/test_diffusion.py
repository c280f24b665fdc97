"""Diffusion probabilistic models (lec16.diffusion): the closed forms against the chain, the bound's
algebra against its definition, sampling and inpainting, and training that beats its untrained copy."""

import math

import pytest
import torch

from lec16 import diffusion as dm


@pytest.fixture
def chain():
    return dm.GaussianDiffusion(dm.sohl_dickstein_schedule(10).double())


def _simulate(chain, x0, upto):
    """States x_0 ... x_upto of the forward chain, one step at a time."""
    states = [x0]
    for t in range(1, upto + 1):
        states.append(chain.forward_step(states[-1], t))
    return states


def test_marginal_matches_the_chain_run_step_by_step(chain):
    torch.manual_seed(0)
    x0 = torch.tensor([[1.5, -2.0]], dtype=torch.float64).expand(200_000, 2)
    states = _simulate(chain, x0, chain.T)
    for t in (1, 4, chain.T):
        mean, var = chain.marginal(x0[:1], t)
        se = (var[0] / len(x0)).sqrt()
        assert ((states[t].mean(0) - mean[0]).abs() < 5 * se).all()
        assert torch.allclose(states[t].var(0), var[0], rtol=0.02)


def test_posterior_is_the_regression_of_the_previous_state_on_the_current(chain):
    """For fixed x_0, (x_{t-1}, x_t) is jointly Gaussian: the posterior mean leaves a residual with
    mean 0, uncorrelated with x_t, whose variance is the posterior variance."""
    torch.manual_seed(1)
    x0 = torch.full((200_000, 1), 0.7, dtype=torch.float64)
    states = _simulate(chain, x0, 6)
    for t in (2, 6):
        mean, var = chain.posterior(x0, states[t], t)
        residual = states[t - 1] - mean
        assert abs(residual.mean()) < 5 * (var[0, 0] / len(x0)).sqrt()
        correlation = torch.corrcoef(torch.stack([residual[:, 0], states[t][:, 0]]))
        assert abs(correlation[0, 1]) < 0.01
        assert torch.allclose(residual.var(), var[0, 0], rtol=0.02)


def test_posterior_at_the_first_step_is_the_data(chain):
    x0, x1 = torch.randn(3, 2).double(), torch.randn(3, 2).double()
    mean, var = chain.posterior(x0, x1, 1)
    assert torch.equal(mean, x0) and (var == 0).all()


def test_schedules():
    betas = dm.sohl_dickstein_schedule(40)
    assert betas[0] > 1e-3 and abs(betas[-1] - 0.5) < 1e-4
    alpha_bar_T = torch.prod(1 - betas.double())
    assert 0.01 < alpha_bar_T < 0.05, "about 1/T of the variance is left"
    linear = dm.linear_schedule(1000)
    assert linear[0] == pytest.approx(1e-4) and linear[-1] == pytest.approx(0.02)


def test_prior_kl_is_zero_when_the_chain_forgets_everything():
    chain = dm.GaussianDiffusion(torch.tensor([0.5, 1 - 1e-12], dtype=torch.float64))
    assert chain.prior_kl(torch.randn(4, 3).double()).abs().max() < 1e-9


def _small_model(T=5, dim=2, parametrization="mean", seed=0):
    torch.manual_seed(seed)
    net = dm.ReverseNet(
        torch.nn.Sequential(torch.nn.Linear(dim, 8), torch.nn.Tanh()), 8, dim, T
    )
    for p in net.readout.parameters():  # a model that is not the forward kernel
        torch.nn.init.normal_(p, std=0.3)
    model = dm.DiffusionModel(
        dm.GaussianDiffusion(dm.sohl_dickstein_schedule(T)), net, parametrization
    )
    return model.double()


@pytest.mark.parametrize("parametrization", ["mean", "epsilon"])
def test_bound_terms_equal_the_definition_of_the_bound(parametrization):
    """K's rearrangement (closed-form edge terms and per-step KLs, at x_t drawn from q) has the
    mean of its definition, log p(x_0..T) - log q(x_1..T | x_0) along whole trajectories."""
    model = _small_model(parametrization=parametrization)
    x0 = torch.tensor([[0.3, -1.1]], dtype=torch.float64).expand(100_000, 2)
    with torch.no_grad():
        closed = model.bound_terms(x0)["bound"]  # closed-form KLs at sampled x_t
        sampled = dm.trajectory_log_ratio(model, x0)
    se = ((sampled.var() + closed.var()) / len(x0)).sqrt()
    assert abs(sampled.mean() - closed.mean()) < 5 * se


def test_the_sampled_bound_is_unbiased():
    """One random step per example, times T - 1, estimates the sum of all T - 1 KL terms."""
    model = _small_model()
    x0 = torch.randn(4, 2, dtype=torch.float64).repeat(5000, 1)
    with torch.no_grad():
        every_step = model.bound_terms(x0)["bound"].reshape(5000, 4)
        one_step = model.bound(x0).reshape(5000, 4)
    se = ((every_step.var(0) + one_step.var(0)) / 5000).sqrt()
    assert ((one_step.mean(0) - every_step.mean(0)).abs() < 5 * se).all()


def _warmed_up_sampler(losses, kind="importance"):
    """A sampler that has seen each step t = 2 ... T draw the loss losses[t - 2], warmup times."""
    sampler = dm.TimeSampler(len(losses) + 1, kind)
    t = torch.arange(2, len(losses) + 2).repeat(sampler.warmup)
    sampler.record(t, losses.repeat(sampler.warmup))
    return sampler


def test_time_sampler_is_uniform_until_every_step_is_warmed_up():
    sampler = dm.TimeSampler(6, "importance")
    sampler.record(torch.tensor([2, 3, 4, 5, 6] * 9), torch.arange(45.0))
    assert torch.allclose(sampler.probabilities(), torch.full((5,), 0.2))
    t, weight = sampler.draw(1000)
    assert t.min() >= 2 and t.max() <= 6 and torch.allclose(weight, torch.ones(1000))


def test_importance_sampled_times_follow_the_root_mean_square_loss():
    """After the warm-up p_t is proportional to sqrt(E[L_t^2]) (mixed with 0.1 % uniform), and
    a batch that draws one step twice folds in the mean of its squared losses."""
    losses = torch.tensor([1.0, 2.0, 4.0, 8.0, 16.0])
    sampler = _warmed_up_sampler(losses)
    expected = 0.999 * losses / losses.sum() + 0.001 / 5
    assert torch.allclose(sampler.probabilities(), expected)
    before = sampler.second_moment.clone()
    sampler.record(torch.tensor([2, 2]), torch.tensor([3.0, 5.0]))  # mean square 17
    assert sampler.second_moment[0] == pytest.approx(0.9 * 1 + 0.1 * 17)
    assert torch.equal(sampler.second_moment[1:], before[1:])
    assert sampler.draws[0] == sampler.warmup + 2


@pytest.mark.parametrize("kind", ["uniform", "importance"])
def test_weighted_draws_estimate_the_sum_over_steps_without_bias(kind):
    """E[(T - 1) w_t L_t] = sum_t p_t (T - 1) L_t / ((T - 1) p_t) = sum_t L_t for any p: exactly
    over the probabilities, and by Monte Carlo over the draws."""
    losses = torch.tensor([50.0, 10.0, 3.0, 1.0, 0.5], dtype=torch.float64)
    sampler = _warmed_up_sampler(losses.float(), kind)
    p = sampler.probabilities().double()
    weights = 1 / (len(p) * p)
    assert torch.allclose((p * len(p) * weights * losses).sum(), losses.sum())
    torch.manual_seed(0)
    t, w = sampler.draw(400_000)
    estimate = len(p) * w.double() * losses[t - 2]
    assert abs(estimate.mean() - losses.sum()) < 5 * estimate.std() / len(t) ** 0.5
    if kind == "importance":  # the point of it: a smaller variance than uniform draws
        uniform = len(p) * losses
        assert estimate.var() < 0.2 * uniform.var()


def test_model_records_its_training_losses():
    model = _small_model(T=4)
    model.times = dm.TimeSampler(4, "importance", warmup=2)
    x0 = torch.randn(300, 2, dtype=torch.float64)
    model(x0)
    assert model.times.draws.sum() == 300 and (model.times.draws >= 2).all()
    assert (model.times.second_moment > 0).all()
    assert not torch.allclose(model.times.probabilities(), torch.full((3,), 1 / 3))


def test_an_untrained_model_reverses_with_the_forward_kernel():
    net = dm.swiss_roll_net(6)
    model = dm.DiffusionModel(dm.GaussianDiffusion(dm.sohl_dickstein_schedule(6)), net)
    xt = torch.randn(5, 2)
    mean, var = model.reverse(xt, 4)
    beta = model.diffusion.betas[3]
    assert torch.allclose(mean, (1 - beta).sqrt() * xt)
    assert torch.allclose(var, beta.expand_as(var))


def test_temporal_basis_rows_sum_to_one():
    basis = dm.temporal_basis(100, 10)
    assert basis.shape == (100, 10)
    assert torch.allclose(basis.sum(1), torch.ones(100))
    assert torch.equal(dm.temporal_basis(7), torch.eye(7))


def test_sampling_keeps_the_requested_states_and_the_known_values():
    model = _small_model(T=6, dim=4).float()
    x, kept = model.sample(3, keep=(6, 3, 0))
    assert x.shape == (3, 4) and set(kept) == {6, 3, 0} and torch.equal(kept[0], x)
    known = torch.randn(3, 4)
    mask = torch.tensor([True, False, True, False])
    x, kept = model.sample(3, known=known, mask=mask, keep=(6,))
    assert torch.equal(x[:, mask], known[:, mask])
    assert torch.equal(kept[6][:, mask], known[:, mask])
    assert not torch.equal(x[:, ~mask], known[:, ~mask])


def test_swiss_roll_density_integrates_to_one():
    grid = torch.linspace(-16, 16, 321, dtype=torch.float64)
    points = torch.cartesian_prod(grid, grid)
    density = dm.swiss_roll_log_density(points, noise=0.5).exp()
    mass = density.sum() * (grid[1] - grid[0]) ** 2
    assert abs(mass - 1) < 1e-3


def test_rescaling_to_unit_variance_and_back():
    x = 3 + 2 * torch.randn(10_000, 2, dtype=torch.float64)
    rescaling = dm.Rescaling.to_unit_variance(x)
    y = rescaling.apply(x)
    assert abs(y.mean()) < 1e-9 and abs(y.std() - 1) < 1e-9
    assert torch.allclose(rescaling.undo(y), x)
    assert rescaling.log_det(2) == pytest.approx(2 * math.log(rescaling.scale))


@pytest.mark.parametrize("parametrization", ["mean", "epsilon"])
def test_training_beats_the_untrained_copy(parametrization, tmp_path):
    """A few seconds on the swiss roll: the trained bound clears the untrained one (the forward
    kernel run backwards) by a margin the seed's noise does not reach."""
    T = 40
    g = torch.Generator().manual_seed(0)
    raw = dm.swiss_roll(6000, generator=g)
    x = dm.Rescaling.to_unit_variance(raw).apply(raw)
    torch.manual_seed(0)
    model = dm.DiffusionModel(
        dm.GaussianDiffusion(dm.sohl_dickstein_schedule(T, first_beta=1e-3)),
        dm.swiss_roll_net(T),
        parametrization,
    )

    def bound(m):  # every step's KL term, not one sampled step per example
        with torch.no_grad():
            return m.bound_terms(x[5000:])["bound"].mean().item()

    untrained = bound(model)
    config = dm.DiffusionConfig(epochs=20, batch_size=100, lr=1e-2, ema_decay=0.99)
    history, ema = dm.train_diffusion(
        model, x[:5000], x[5000:], config, checkpoint=tmp_path / "roll.pt"
    )
    trained = bound(ema.module)
    assert trained > untrained + 0.3, (trained, untrained)
    assert len(history["test_bound"]) == config.epochs
