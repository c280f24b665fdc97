"""A VAE whose approximate posterior is a normalizing flow (Rezende & Mohamed 2015, sections 4.2
and 6.2; slide "Normalizing Flows").

q_K(z | x): z_0 ~ N(mu(x), diag sigma^2(x)) and z_K = f_K o ... o f_1(z_0) with K planar flows
(:mod:`lec16.flows`) whose parameters u_k, w_k, b_k are outputs of the inference network, one set
per example (amortised, as in the paper). The bound (the paper's eq. 15),

    L(x) = E_{q_0}[log p(x, z_K) - log q_0(z_0) + sum_k log |1 + u_hat_k^T psi_k(z_{k-1})|],

is estimated with reparametrized samples of z_0. The generative model and the networks are the
VAE of :mod:`lec16.vae`; only q changes, so K = 0 *is* that VAE (its closed-form KL included).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import distributions as D
from torch import nn

from lec16 import checks, flows
from lec16.scales import check_non_negative_int
from lec16.vae import VAE, VAEConfig

__all__ = ["FlowVAEConfig", "FlowVAE", "sampled_kl_bound"]


@dataclass(frozen=True)
class FlowVAEConfig(VAEConfig):
    """:class:`~lec16.vae.VAEConfig` plus the number K of planar flows in q(z | x)."""

    flows: int = 4

    def __post_init__(self):
        super().__post_init__()
        check_non_negative_int("flows", self.flows, "the number K of planar flows")


class FlowVAE(VAE):
    """The VAE of :mod:`lec16.vae` with q(z | x) = N(mu, sigma^2) pushed through K planar flows.

    The encoder's last hidden layer gets one more linear head with the K (u, w, b) of every
    example. Its weights start small and its bias at an identity flow (``u`` parallel to ``w``
    with m(w^T u) = 0, so u_hat = 0): training starts from the plain VAE's posterior. The other
    parameters are created first and in the same order as the VAE's, so with the same seed every
    K starts from the same networks.
    """

    def __init__(self, config: FlowVAEConfig = FlowVAEConfig()):
        if not isinstance(config, FlowVAEConfig):
            raise ValueError(
                f"FlowVAE needs a FlowVAEConfig (a VAEConfig plus flows=K), got "
                f"{type(config).__name__}"
            )
        super().__init__(config)
        k, d = config.flows, config.latent
        if k:
            self.enc_flow = nn.Linear(config.hidden, k * (2 * d + 1))
            identity = flows.PlanarCascade(d, k, init_scale=0.0)
            with torch.no_grad():
                self.enc_flow.weight.mul_(0.01)
                self.enc_flow.bias.copy_(
                    torch.cat([identity.u.flatten(), identity.w.flatten(), identity.b])
                )

    def posterior(
        self, x: torch.Tensor
    ) -> tuple[D.Distribution, torch.Tensor, torch.Tensor, torch.Tensor]:
        """q_0(z | x) and the flow's (u_hat, w, b) for every example, shapes (B, K, d) and (B, K).
        A model with K = 0 flows has none: its q(z | x) is :meth:`encode`'s Gaussian."""
        if not self.config.flows:
            raise ValueError(
                "this FlowVAE has flows=0, so q(z | x) has no flow parameters: it is the VAE's "
                "Gaussian, whose mean and log-variance model.encode(x) returns"
            )
        self._check_batch(x)
        h = self.encoder(x)
        mu, logvar = self.enc_mu(h), self.enc_logvar(h)
        q0 = D.Independent(D.Normal(mu, (0.5 * logvar).exp()), 1)
        k, d = self.config.flows, self.config.latent
        u, w, b = self.enc_flow(h).split([k * d, k * d, k], -1)
        u, w = u.unflatten(-1, (k, d)), w.unflatten(-1, (k, d))
        return q0, flows.planar_u_hat(u, w), w, b

    def log_weights(self, x: torch.Tensor, k: int) -> torch.Tensor:
        """log p(x, z_K) - log q_K(z_K | x) for k reparametrized z_K ~ q_K(z | x): shape (k, B),
        with log q_K(z_K) = log q_0(z_0) - sum_j log |det df_j/dz_{j-1}| (slide "Normalizing Flows")."""
        if not self.config.flows:
            return super().log_weights(x, k)
        checks.count("k", k)
        q0, u_hat, w, b = self.posterior(x)
        z0 = q0.rsample((k,))
        z, log_det = flows.planar_steps(z0, u_hat, w, b)
        return self.log_joint(x, z) - (q0.log_prob(z0) - log_det)

    def forward(
        self, x: torch.Tensor, n_samples: int = 1, bound: str = "elbo"
    ) -> torch.Tensor:
        """The bound per example from ``n_samples`` samples of q_K (eq. 15); K = 0 is
        :meth:`lec16.vae.VAE.forward`, with the KL in closed form. ``bound="iwae"`` (or
        ``"vae"``): :meth:`lec16.vae.VAE.forward`'s bounds of this model's log-weights."""
        if self.config.flows and bound == "score_function":
            raise ValueError(
                "bound='score_function' trains q's Gaussian alone; a FlowVAE with flows "
                "has no score-function surrogate here: use K = 0 (FlowVAEConfig(flows=0))"
            )
        if not self.config.flows or bound != "elbo":
            return super().forward(x, n_samples, bound)
        checks.count("n_samples", n_samples)
        return self.log_weights(x, n_samples).mean(0)


def sampled_kl_bound(model: VAE, x: torch.Tensor) -> torch.Tensor:
    """The flows' estimator of the bound, log p(x, z) - log q(z | x) at one z ~ q, also for
    K = 0 (whose training objective otherwise takes the KL in closed form): the model's
    ``bound="vae"`` with one sample, through its ``forward``, so that DistributedDataParallel
    (which wraps the model under torchrun) averages its gradients."""
    return model(x, 1, bound="vae")
