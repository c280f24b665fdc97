"""Normalizing flows: closed-form log-determinants against autograd's Jacobians, the invertibility
constraints for arbitrary parameters, NICE's round trip and prior, and the Table 1 energies."""

import math

import pytest
import torch
from torch import distributions as D

from lec16 import flows


def _autograd_log_det(layer, z):
    """log |det J| of ``layer`` at each row of ``z``, from autograd's full Jacobian."""
    out = []
    for row in z:
        jac = torch.autograd.functional.jacobian(lambda v: layer(v[None])[0][0], row)
        out.append(torch.linalg.slogdet(jac).logabsdet)
    return torch.stack(out)


@pytest.mark.parametrize("make", [flows.PlanarFlow, flows.RadialFlow])
@pytest.mark.parametrize("dim", [1, 2, 5])
def test_closed_form_log_det_equals_autograds(make, dim):
    torch.manual_seed(dim)
    layer = make(dim, init_scale=1.0).double()
    z = torch.randn(6, dim, dtype=torch.float64)
    _, log_det = layer(z)
    assert torch.allclose(log_det, _autograd_log_det(layer, z), atol=1e-10)


def test_a_cascade_adds_the_log_dets_of_its_layers():
    torch.manual_seed(0)
    flow = flows.Flow(
        [flows.PlanarFlow(3, 1.0), flows.RadialFlow(3, 1.0), flows.PlanarFlow(3, 1.0)]
    ).double()
    z = torch.randn(4, 3, dtype=torch.float64)
    assert torch.allclose(flow(z)[1], _autograd_log_det(flow, z), atol=1e-10)


def test_planar_constraint_holds_for_any_parameters_with_the_squared_norm():
    torch.manual_seed(0)
    for _ in range(200):
        layer = flows.PlanarFlow(4).double()
        with torch.no_grad():
            layer.u.copy_(10 * torch.randn(4))
            layer.w.copy_(torch.randn(4) * 10 ** torch.empty(()).uniform_(-2, 2))
        wu = layer.w @ layer.u
        # w^T u_hat = m(w^T u) = -1 + softplus(w^T u) >= -1, exactly (a norm instead of the
        # squared norm in u_hat breaks the equality as soon as ||w|| != 1)
        w_u_hat = layer.w @ layer.u_hat()
        assert torch.allclose(w_u_hat, -1 + torch.nn.functional.softplus(wu), atol=1e-9)
        assert w_u_hat >= -1 - 1e-9


def test_radial_constraint_and_finite_log_det_for_any_parameters():
    torch.manual_seed(0)
    for _ in range(100):
        layer = flows.RadialFlow(2)
        with torch.no_grad():
            layer.alpha_raw.fill_(float(torch.randn(()) * 5))
            layer.beta_raw.fill_(float(torch.randn(()) * 5))
        alpha, beta = layer.alpha_beta()
        assert alpha > 0 and beta >= -alpha
        assert torch.isfinite(layer(torch.randn(50, 2))[1]).all()


def test_planar_flow_with_k_zero_is_the_identity_and_k_is_checked():
    z = torch.randn(3, 2)
    out, log_det = flows.planar_flow(2, 0)(z)
    assert torch.equal(out, z) and torch.equal(log_det, torch.zeros(3))
    with pytest.raises(ValueError, match="non-negative int"):
        flows.planar_flow(2, -1)


def test_flow_distribution_density_is_the_change_of_variables():
    torch.manual_seed(0)
    base = D.Independent(D.Normal(torch.zeros(2), torch.ones(2)), 1)
    q = flows.FlowDistribution(base, flows.planar_flow(2, 3))
    torch.manual_seed(1)
    z, log_q = q.rsample_with_log_prob(5)
    torch.manual_seed(1)
    z0 = base.rsample((5,))
    zk, log_det = q.flow(z0)
    assert torch.allclose(z, zk) and torch.allclose(log_q, base.log_prob(z0) - log_det)


@pytest.mark.parametrize("dim", [4, 5])
def test_nice_round_trip_log_det_and_prior(dim):
    torch.manual_seed(0)
    model = flows.NICE(dim, n_couplings=4, hidden=16, depth=2)
    with torch.no_grad():
        model.log_scale.normal_()
    x = torch.randn(10, dim)
    h, log_det = model(x)
    assert (model.inverse(h) - x).abs().max() < 1e-5
    auto = _autograd_log_det(model.double(), x.double())
    assert torch.allclose(log_det.double(), auto, atol=1e-8)
    prior = flows.logistic().log_prob(h.float())
    expected = -torch.nn.functional.softplus(h) - torch.nn.functional.softplus(-h)
    assert torch.allclose(prior, expected.float(), atol=1e-5)


def test_energies_match_the_table_at_hand_computed_points():
    def g(a):  # -1/2 a^2
        return -0.5 * a * a

    z1, z2 = 0.3, -0.7
    w1 = math.sin(2 * math.pi * z1 / 4)
    w2 = 3 * math.exp(g((z1 - 1) / 0.6))
    w3 = 3 / (1 + math.exp(-(z1 - 1) / 0.3))
    r = math.hypot(z1, z2)
    expected = {
        "U1": 0.5 * ((r - 2) / 0.4) ** 2
        - math.log(math.exp(g((z1 - 2) / 0.6)) + math.exp(g((z1 + 2) / 0.6))),
        "U2": 0.5 * ((z2 - w1) / 0.4) ** 2,
        "U3": -math.log(
            math.exp(g((z2 - w1) / 0.35)) + math.exp(g((z2 - w1 + w2) / 0.35))
        ),
        "U4": -math.log(
            math.exp(g((z2 - w1) / 0.4)) + math.exp(g((z2 - w1 + w3) / 0.35))
        ),
    }
    z = torch.tensor([[z1, z2]], dtype=torch.float64)
    for name, value in expected.items():
        assert flows.energy(name, z).item() == pytest.approx(value, rel=1e-12)


def test_planar_flows_start_at_the_identity():
    torch.manual_seed(0)
    flow = flows.planar_flow(2, 32)
    z = torch.randn(100, 2)
    out, log_det = flow(z)
    assert (out - z).abs().max() < 0.5 and log_det.abs().max() < 0.5


def test_fit_to_energy_lowers_the_kl_and_resumes(tmp_path):
    torch.manual_seed(0)
    base = D.Independent(D.Normal(torch.zeros(2), torch.ones(2)), 1)
    q = flows.FlowDistribution(base, flows.planar_flow(2, 4))

    def energy(z):
        return flows.energy("U1", z)

    before = flows.free_energy(q, energy, 5000).item()
    config = flows.EnergyFitConfig(
        steps=300, steps_per_epoch=100, anneal_steps=100, lr=1e-2, eval_samples=5000
    )
    history = flows.fit_to_energy(q, energy, config, checkpoint=tmp_path / "q.pt")
    assert history.last["free_energy"] < before - 1
    again = flows.fit_to_energy(
        flows.FlowDistribution(base, flows.planar_flow(2, 4)),
        energy,
        config,
        checkpoint=tmp_path / "q.pt",
    )
    assert again.last == history.last


def test_the_annealing_follows_the_global_step_and_resumes_where_it_stopped(
    tmp_path, monkeypatch
):
    """beta_t = min(1, 0.01 + t / anneal_steps) with t counted over the whole fit
    (lec16.train.Steps), not restarted each epoch; a fit stopped in its second epoch resumes
    the schedule at the first step it had not finished and ends where an uninterrupted fit
    ends."""
    config = flows.EnergyFitConfig(
        steps=150, steps_per_epoch=50, anneal_steps=100, lr=1e-2, eval_samples=500
    )
    expected = [min(1.0, 0.01 + t / config.anneal_steps) for t in range(config.steps)]
    betas, free_energy = [], flows.free_energy

    def recording(q, energy_fn, n, beta=1.0):
        if n == config.batch_size:  # a training step, not an evaluation
            betas.append(beta)
        return free_energy(q, energy_fn, n, beta)

    monkeypatch.setattr(flows, "free_energy", recording)

    def fresh():
        torch.manual_seed(0)
        base = D.Independent(D.Normal(torch.zeros(2), torch.ones(2)), 1)
        return flows.FlowDistribution(base, flows.planar_flow(2, 4))

    def energy(z):
        return flows.energy("U1", z)

    whole = flows.fit_to_energy(fresh(), energy, config, checkpoint=tmp_path / "a.pt")
    assert betas == expected
    calls = []

    def stopping(z):  # one call per step, one per evaluation: stop in epoch 2
        calls.append(1)
        if len(calls) > 60:
            raise KeyboardInterrupt
        return energy(z)

    with pytest.raises(KeyboardInterrupt):
        flows.fit_to_energy(fresh(), stopping, config, checkpoint=tmp_path / "b.pt")
    betas.clear()
    resumed = flows.fit_to_energy(fresh(), energy, config, checkpoint=tmp_path / "b.pt")
    assert betas == expected[config.steps_per_epoch :]

    def timeless(history):
        return [{k: v for k, v in r.items() if k != "seconds"} for r in history.records]

    assert timeless(resumed) == timeless(whole)


def test_the_planar_cascade_is_the_chain_of_planar_layers_with_the_same_parameters():
    torch.manual_seed(1)
    cascade = flows.PlanarCascade(3, 5, init_scale=1.0).double()
    chain = flows.Flow([flows.PlanarFlow(3) for _ in range(5)]).double()
    with torch.no_grad():
        for i, layer in enumerate(chain.layers):
            layer.w.copy_(cascade.w[i])
            layer.u.copy_(cascade.u[i])
            layer.b.copy_(cascade.b[i])
    z = torch.randn(7, 3, dtype=torch.float64)
    (a, log_a), (b, log_b) = cascade(z), chain(z)
    assert torch.allclose(a, b, atol=1e-12) and torch.allclose(log_a, log_b, atol=1e-12)
    assert torch.allclose(log_a, _autograd_log_det(cascade, z), atol=1e-10)


def test_dequantisation_and_bits_per_dim():
    x = torch.tensor([[0.0, 1 / 255, 1.0]])
    d = flows.dequantize(x.expand(1000, 3), torch.Generator().manual_seed(0))
    assert (d[:, 0] < 1 / 256).all() and (d[:, 2] >= 255 / 256).all() and (d <= 1).all()
    assert ((d[:, 1] >= 1 / 256) & (d[:, 1] < 2 / 256)).all()
    assert flows.bits_per_dim(1980.50, 784) == pytest.approx(4.356, abs=1e-3)
    assert flows.bits_per_dim(0.0, 784) == pytest.approx(
        8.0
    )  # uniform on [0, 1]: 8 bits


def test_seeds_push_each_model_through_its_own_parameters():
    models = []
    for seed in range(3):
        torch.manual_seed(seed)
        models.append(flows.energy_fit_model("NICE", 3))
    seeds = flows.Seeds(models)
    torch.manual_seed(0)
    z, log_q = seeds.rsample_with_log_prob(5)
    torch.manual_seed(0)
    noise = [m.noise(5) for m in models]
    for i, model in enumerate(models):
        z_i, log_q_i = model.push(noise[i])
        assert torch.allclose(z[i], z_i) and torch.allclose(log_q[i], log_q_i)
    before = next(models[1].parameters()).clone()
    with torch.no_grad():
        seeds.stacked[0].add_(1.0)  # as a step of training would
    assert seeds.unstack()[1] is models[1]
    assert torch.allclose(next(models[1].parameters()), before + 1)


def test_seeds_refuse_different_models():
    with pytest.raises(ValueError, match="copies of one model"):
        flows.Seeds(
            [flows.energy_fit_model("planar", 2), flows.energy_fit_model("planar", 8)]
        )
