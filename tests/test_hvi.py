"""lec16.hvi: leapfrog's geometry, and the auxiliary bound against probabilistic PCA's exact
log p(x)."""

import math

import pytest
import torch
from torch import distributions as D

from lec16 import hvi, iwae


def _ppca():
    g = torch.Generator().manual_seed(0)
    W = torch.randn(6, 2, generator=g, dtype=torch.float64)
    b = torch.randn(6, generator=g, dtype=torch.float64)
    model = iwae.LinearGaussian(W, b, sigma=0.5)
    x = 2 * torch.randn(6, generator=g, dtype=torch.float64)
    return model, x, model.proposal(x, shift=0.5, widen=1.5)


def test_leapfrog_preserves_volume_and_reverses():
    def target(z):
        return -0.5 * z[..., 0] ** 2 - 0.5 * (z[..., 1] - z[..., 0] ** 2) ** 2

    step = torch.tensor([0.3, 0.2], dtype=torch.float64)

    def flow(state):
        return torch.cat(hvi.leapfrog(state[:2], state[2:], target, step, n_steps=4))

    start = torch.tensor([0.3, -0.2, 0.5, 1.0], dtype=torch.float64)
    det = torch.linalg.det(torch.autograd.functional.jacobian(flow, start))
    assert abs(det.item() - 1) < 1e-12
    end = flow(start)
    back = flow(torch.cat([end[:2], -end[2:]]))
    assert torch.allclose(torch.cat([back[:2], -back[2:]]), start, atol=1e-12)


def test_no_transitions_is_the_elbo_and_any_chain_stays_below_log_p():
    ppca, x, q0 = _ppca()
    log_px = ppca.log_marginal(x).item()
    elbo = log_px - D.kl_divergence(
        D.MultivariateNormal(q0.mean, torch.diag(q0.variance)), ppca.posterior(x)
    )
    torch.manual_seed(0)
    none = hvi.HamiltonianVI(2, 0).double()
    w = hvi.log_weights(none, q0, lambda z: ppca.log_joint(x, z), 100_000).detach()
    assert abs(w.mean() - elbo) < 4 * w.std() / math.sqrt(len(w))
    chain = hvi.HamiltonianVI(2, 3, n_leapfrog=2, step_size=0.1).double()
    with torch.no_grad():
        for p in chain.reverse.parameters():
            p.normal_(0, 0.3)
    w = hvi.log_weights(chain, q0, lambda z: ppca.log_joint(x, z), 50_000).detach()
    assert w.mean() < log_px + 3 * w.std() / math.sqrt(len(w))


def test_fit_hvi_tightens_the_bound_and_resumes(tmp_path):
    ppca, x, q0 = _ppca()
    config = hvi.HVIConfig(steps=200, steps_per_epoch=100, lr=0.02, eval_samples=4000)
    torch.manual_seed(0)
    model = hvi.HamiltonianVI(2, 2, step_size=0.05).double()
    history = hvi.fit_hvi(
        model, q0, lambda z: ppca.log_joint(x, z), config, checkpoint=tmp_path / "h.pt"
    )
    assert history["bound"][-1] > history["bound"][0]
    again = hvi.HamiltonianVI(2, 2, step_size=0.05).double()
    hvi.fit_hvi(
        again, q0, lambda z: ppca.log_joint(x, z), config, checkpoint=tmp_path / "h.pt"
    )
    assert torch.equal(again.log_step_size, model.log_step_size)


def test_refusals():
    with pytest.raises(ValueError, match="nothing to train"):
        hvi.fit_hvi(hvi.HamiltonianVI(2, 0), None, None, hvi.HVIConfig())
    with pytest.raises(ValueError, match="z has 3 coordinates"):
        hvi.HamiltonianVI(2, 1)(torch.zeros(4, 3), lambda z: z.sum(-1))
