"""A deterministic autoencoder with a bottleneck (slides "Review: Auto encoders" and their
geometric interpretation): encoder Phi, decoder Psi, and the learned manifold Psi(R^k).

The slide's claim, checked in the notebook: the reconstruction error ||x - Psi(Phi(x))|| approximates
the distance from x to the covering manifold {Psi(z)}, because a well-trained encoder maps x
to (nearly) the code of its nearest point on the manifold.
"""

from __future__ import annotations

import torch
from torch import nn

from lec16.scales import check_positive


def mlp(sizes: list[int], activation=nn.Tanh) -> nn.Sequential:
    """Linear layers of the given sizes with ``activation`` between them (none after the last)."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes, sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(activation())
    return nn.Sequential(*layers)


class Autoencoder(nn.Module):
    """x (d) -> z = Phi(x) (k) -> Psi(z) (d), both MLPs with ``hidden`` units in two tanh layers."""

    def __init__(self, x_dim: int, code_dim: int, hidden: int = 64):
        super().__init__()
        for name, v in (("x_dim", x_dim), ("code_dim", code_dim), ("hidden", hidden)):
            check_positive(name, v, integer=True)
        self.encoder = mlp([x_dim, hidden, hidden, code_dim])
        self.decoder = mlp([code_dim, hidden, hidden, x_dim])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))

    def reconstruction_error(self, x: torch.Tensor) -> torch.Tensor:
        """||x - Psi(Phi(x))|| per point."""
        return (x - self(x)).norm(dim=-1)


def distance_to_manifold(
    x: torch.Tensor, manifold_points: torch.Tensor
) -> torch.Tensor:
    """min over a dense sample of the manifold of ||x - m||, per point of ``x``."""
    return torch.cdist(x, manifold_points).min(dim=1).values


def decoded_curve(
    model: Autoencoder, codes: torch.Tensor, n: int = 4000, margin: float = 0.1
) -> torch.Tensor:
    """A dense sample of the learned 1-D manifold Psi([min code, max code]) (widened by ``margin``)."""
    lo, hi = codes.min().item(), codes.max().item()
    pad = margin * (hi - lo)
    t = torch.linspace(lo - pad, hi + pad, n, device=codes.device, dtype=codes.dtype)[
        :, None
    ]
    with torch.no_grad():
        return model.decoder(t)
