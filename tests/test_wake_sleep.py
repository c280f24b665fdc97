"""lec16.wake_sleep: the Helmholtz machine against enumeration, and what each phase's sampled
gradient estimates."""

import pytest
import torch

from lec16 import iwae, rbm
from lec16 import wake_sleep as ws

F64 = {"dtype": torch.float64}


def _tiny(sharpness=3.0):
    """A 5-3-2 machine with its initial weights scaled by ``sharpness`` (sharper posteriors)."""
    torch.manual_seed(0)
    model = ws.HelmholtzMachine((5, 3, 2)).to(**F64)
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(sharpness)
    return model


def _visible():
    return torch.cat(list(rbm.binary_states(5, "cpu")))


def _gradient(loss, params):
    return torch.cat([g.flatten() for g in torch.autograd.grad(loss, params)])


def _relative(a, b):
    return ((a - b).norm() / b.norm()).item()


def test_the_generative_model_is_normalised_and_importance_sampling_agrees():
    model, x = _tiny(), _visible()
    assert torch.logsumexp(ws.exact_log_likelihood(model, x), 0).abs() < 1e-12
    model = _tiny(sharpness=1.0)  # q close enough to p(h | x) for 20,000 draws
    log_px = ws.exact_log_likelihood(model, x)
    torch.manual_seed(1)
    estimate = iwae.log_likelihood(model, x[:6], k=20_000, chunk=5000)
    assert (estimate - log_px[:6]).abs().max() < 0.02


def test_sampled_phases_estimate_the_exact_gradients_and_a_wrong_sleep_fails():
    model, visible = _tiny(), _visible()
    hidden = [h.unsqueeze(1) for h in ws.hidden_states(model)]
    x_data = visible[[1, 9, 22, 30]]
    generative = model.generative_parameters()
    recognition = list(model.recognition.parameters())
    log_q = model.log_recognition(x_data, hidden)
    log_w = model.log_joint(x_data, hidden) - log_q
    wake = _gradient(-(log_q.exp().detach() * log_w).sum(0).mean(), generative)
    dreams = model.log_joint(visible, hidden).exp().detach()
    sleep = _gradient(
        -(dreams * model.log_recognition(visible, hidden)).sum(), recognition
    )
    torch.manual_seed(0)
    sampled_wake = _gradient(model.wake_loss(x_data.repeat(50_000, 1)), generative)
    sampled_sleep = _gradient(model.sleep_loss(200_000), recognition)
    assert _relative(sampled_wake, wake) < 0.02
    assert _relative(sampled_sleep, sleep) < 0.02
    # a sleep phase that fits q to the posterior draws of the *data* (a plausible bug)
    # estimates another gradient, and the check sees it
    with torch.no_grad():
        h_data, _ = model.infer(x_data.repeat(50_000, 1))
    wrong = _gradient(
        -model.log_recognition(x_data.repeat(50_000, 1), h_data).mean(), recognition
    )
    assert _relative(wrong, sleep) > 0.1


def test_a_gaussian_machine_scores_the_vae_bound_and_trains_its_encoder():
    torch.manual_seed(0)
    model = ws.HelmholtzMachine((6, 2), "gaussian").to(**F64)
    x = (torch.rand(3, 6, dtype=torch.float64) > 0.5).to(torch.float64)
    q = model.recognize(0, x)
    kl = torch.distributions.kl_divergence(q, model.prior(x, (3,)))
    torch.manual_seed(1)
    h = q.sample((100_000,))
    closed = model.conditional(0, h).log_prob(x).mean(0) - kl
    torch.manual_seed(1)
    sampled = model.log_weights(x, 100_000).mean(0)
    assert (sampled - closed).abs().max() < 0.05
    grads = torch.autograd.grad(
        model.log_weights(x, 10).mean(), list(model.recognition.parameters())
    )
    assert all(g.abs().sum() > 0 for g in grads)  # reparametrized: the encoder learns


def _digits(n=400, seed=0):
    """Two noisy 12-pixel prototypes: data a 12-4 machine can learn in a few passes."""
    g = torch.Generator().manual_seed(seed)
    prototypes = torch.tensor([[1.0] * 6 + [0.0] * 6, [0.0] * 6 + [1.0] * 6])
    x = prototypes[torch.randint(0, 2, (n,), generator=g)]
    flips = torch.rand(n, 12, generator=g) < 0.1
    return torch.where(flips, 1 - x, x)


@pytest.mark.parametrize(
    "latent, rule", [("bernoulli", "wake-sleep"), ("gaussian", "elbo")]
)
def test_training_raises_the_test_bound_and_resumes(tmp_path, latent, rule):
    x = _digits()
    config = ws.WakeSleepConfig(epochs=10, batch_size=20, lr=0.05, rule=rule)
    torch.manual_seed(0)
    model = ws.HelmholtzMachine((12, 4), latent)
    before = iwae.bounds_by_k(model, x, (1,)).mean().item()
    history = ws.train_helmholtz(model, x, x, config, checkpoint=tmp_path / "h.pt")
    assert history.last["test_elbo"] > before + 1
    torch.manual_seed(0)
    again = ws.HelmholtzMachine((12, 4), latent)
    ws.train_helmholtz(again, x, x, config, checkpoint=tmp_path / "h.pt")
    assert torch.equal(again.generative[0].weight, model.generative[0].weight)


def test_refusals():
    with pytest.raises(ValueError, match="no reparametrized gradient"):
        ws.train_helmholtz(
            ws.HelmholtzMachine((4, 2)),
            torch.zeros(4, 4),
            torch.zeros(4, 4),
            ws.WakeSleepConfig(rule="elbo"),
        )
    with pytest.raises(ValueError, match="one hidden layer"):
        ws.HelmholtzMachine((4, 3, 2), "gaussian")
    with pytest.raises(ValueError, match="has 4 visible units"):
        ws.HelmholtzMachine((4, 2)).wake_loss(torch.zeros(3, 5))
    with pytest.raises(ValueError, match="2\\^30 configurations"):
        ws.hidden_states(ws.HelmholtzMachine((4, 30)))
