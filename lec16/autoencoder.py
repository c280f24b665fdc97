"""A deterministic autoencoder with a bottleneck (slides "Review: Auto encoders" and their
geometric interpretation): encoder Phi, decoder Psi, and the learned manifold Psi(R^k).

The slide's claim, checked in the notebook: the reconstruction error ||x - Psi(Phi(x))|| approximates
the distance from x to the covering manifold {Psi(z)}, because a well-trained encoder maps x
to (nearly) the code of its nearest point on the manifold.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from lec16 import checks
from lec16.scales import check_positive

__all__ = [
    "Autoencoder",
    "mlp",
    "distance_to_manifold",
    "decoded_curve",
]


def mlp(sizes: list[int], activation=nn.Tanh) -> nn.Sequential:
    """Linear layers of the given sizes with ``activation`` between them (none after the last)."""
    if isinstance(sizes, (str, int)) or not hasattr(sizes, "__len__") or len(sizes) < 2:
        raise ValueError(
            f"sizes must list at least two layer sizes (inputs, ..., outputs), got {sizes!r}"
        )
    for i, size in enumerate(sizes):
        check_positive(f"sizes[{i}]", size, integer=True)
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

    def _check_points(self, x: torch.Tensor) -> None:
        """Points of the model's dimension, dtype and device (types and shapes only)."""
        checks.tensor("x", x, non_empty=False)
        checks.like("x", x, self.encoder[0].weight, "the Autoencoder")
        x_dim = self.encoder[0].in_features
        if x.shape[-1] != x_dim:
            raise ValueError(
                f"the Autoencoder takes points of {x_dim} coordinates in the last dimension "
                f"(x_dim={x_dim}), got shape {tuple(x.shape)}"
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Psi(Phi(x)) for points ``x`` of shape (..., x_dim)."""
        self._check_points(x)
        return self.decoder(self.encoder(x))

    def reconstruction_error(self, x: torch.Tensor) -> torch.Tensor:
        """||x - Psi(Phi(x))|| per point."""
        return (x - self(x)).norm(dim=-1)


def distance_to_manifold(
    x: torch.Tensor, manifold_points: torch.Tensor
) -> torch.Tensor:
    """min over a dense sample of the manifold of ||x - m||, per point of ``x`` (points as rows,
    of one dimension, dtype and device in both)."""
    checks.tensor("x", x, min_dim=2, non_empty=False)
    checks.tensor("manifold_points", manifold_points, min_dim=2)
    checks.like("manifold_points", manifold_points, x, "x")
    if (
        x.ndim != 2
        or manifold_points.ndim != 2
        or x.shape[1] != manifold_points.shape[1]
    ):
        raise ValueError(
            "x and manifold_points must be (N, d) and (M, d) tables of points of one dimension "
            f"d, got shapes {tuple(x.shape)} and {tuple(manifold_points.shape)}"
        )
    return torch.cdist(x, manifold_points).min(dim=1).values


def decoded_curve(
    model: Autoencoder, codes: torch.Tensor, n: int = 4000, margin: float = 0.1
) -> torch.Tensor:
    """A dense sample of the learned 1-D manifold Psi([min code, max code]) (widened by ``margin``):
    ``model`` has a 1-D code, ``codes`` are codes of it (e.g. ``model.encoder(x)``)."""
    if not isinstance(model, Autoencoder):
        raise ValueError(
            f"model must be a lec16.autoencoder.Autoencoder, got {type(model).__name__}"
        )
    code_dim = model.decoder[0].in_features
    if code_dim != 1:
        raise ValueError(
            f"decoded_curve traces a 1-D manifold, but the model's code has {code_dim} "
            "dimensions: build it with code_dim=1"
        )
    checks.tensor("codes", codes)
    checks.like("codes", codes, model.decoder[0].weight, "the Autoencoder")
    if codes.shape[1:].numel() != 1:
        raise ValueError(
            f"codes must hold one 1-D code per point, shape (N, 1), got {tuple(codes.shape)}"
        )
    check_positive("n", n, integer=True)
    if (
        isinstance(margin, bool)
        or not isinstance(margin, (int, float))
        or not math.isfinite(margin)
    ):
        raise ValueError(f"margin must be a finite number, got {margin!r}")
    lo, hi = codes.min().item(), codes.max().item()
    pad = margin * (hi - lo)
    t = torch.linspace(lo - pad, hi + pad, n, device=codes.device, dtype=codes.dtype)[
        :, None
    ]
    with torch.no_grad():
        return model.decoder(t)
