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

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import distributions as D
from torch import nn

from lec16 import flows
from lec16.scales import check_non_negative_int, choose
from lec16.vae import VAE, TrainConfig, VAEConfig, check_features


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
        """q_0(z | x) and the flow's (u_hat, w, b) for every example, shapes (B, K, d) and (B, K)."""
        check_features(x, self.config.x_dim, "FlowVAE")
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
        if not self.config.flows or bound != "elbo":
            return super().forward(x, n_samples, bound)
        return self.log_weights(x, n_samples).mean(0)


def sampled_kl_bound(model: VAE, x: torch.Tensor) -> torch.Tensor:
    """The flows' estimator of the bound, log p(x, z) - log q(z | x) at one z ~ q, also for
    K = 0 (whose training objective otherwise takes the KL in closed form)."""
    return model.log_weights(x, 1).mean(0)


@dataclass(frozen=True)
class MnistSetup:
    """The flows chapter's MNIST VAEs with K planar flows in q(z | x) at one scale
    (:func:`mnist_setup`), all on the VAE chapter's networks and data."""

    flow_lengths: tuple[int, ...]
    """the K compared; K = 0 is the VAE, trained twice (closed-form and sampled KL)"""
    latent: int
    n_train: int
    """the first training digits, binarized afresh at every batch"""
    config: TrainConfig
    n_test_nll: int
    """test digits of the L_5000 estimate"""

    def variants(self) -> dict[str, tuple[int, Callable | None]]:
        """name -> (K, the training objective: None for the model's own bound)."""
        variants = {"K=0": (0, None), "K=0, sampled KL": (0, sampled_kl_bound)}
        variants.update({f"K={k}": (k, None) for k in self.flow_lengths[1:]})
        return variants


def checkpoint_name(k: int, objective: Callable | None) -> str:
    """The checkpoint name of the VAE with ``k`` flows trained on ``objective``."""
    return f"flow_vae_k{k}" + ("_sampled_kl" if objective else "")


def mnist_setup(scale: str, seed: int = 0) -> MnistSetup:
    """The chapter's flow VAEs at ``scale`` (the chapter and ``python -m lec16 train
    flow_vae``); ``paper``: Rezende & Mohamed's 40 latents, K up to 80 and 500,000 updates of
    100 digits (834 epochs; Adam, not their annealed RMSprop)."""
    return MnistSetup(
        flow_lengths=choose(
            scale, smoke=(0, 2), default=(0, 4, 16), paper=(0, 10, 20, 40, 80)
        ),
        latent=choose(scale, smoke=20, default=20, paper=40),
        n_train=choose(scale, smoke=1000, default=60_000, paper=60_000),
        config=choose(
            scale,
            smoke=TrainConfig(epochs=1, seed=seed),
            default=TrainConfig(epochs=6, seed=seed),  # 10 minutes on 2 CPU cores
            paper=TrainConfig(epochs=834, seed=seed),
        ),
        n_test_nll=choose(scale, smoke=20, default=100, paper=10_000),
    )
