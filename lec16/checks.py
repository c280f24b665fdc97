"""Checks of the tensors a public function of lec16 is given: one clear error, saying what to do,
instead of a wrong number or a traceback from deep inside torch.

Every check returns its tensor, so a function can write ``x = checks.tensor("x", x)``. Checks of
values (ranges, binary, labels) are skipped on the ``meta`` device, which has no values.
"""

from __future__ import annotations

from typing import Any

import torch

__all__ = [
    "tensor",
    "intensities",
    "binary",
    "labels",
    "like",
    "count",
]


def _has_values(x: torch.Tensor) -> bool:
    return x.device.type != "meta" and x.numel() > 0


def tensor(
    name: str,
    x: Any,
    *,
    floating: bool = True,
    min_dim: int = 1,
    non_empty: bool = True,
) -> torch.Tensor:
    """``x`` if it is a tensor (floating point when ``floating``) with at least ``min_dim``
    dimensions and (when ``non_empty``) at least one example; otherwise a ValueError."""
    if not isinstance(x, torch.Tensor):
        raise ValueError(
            f"{name} must be a torch.Tensor, got a {type(x).__name__}: wrap it with "
            "torch.as_tensor(...)"
        )
    if floating and not x.is_floating_point():
        raise ValueError(
            f"{name} is {x.dtype}, not floating point: convert it with {name}.float() (images "
            "as intensities in [0, 1]: divide 8-bit pixels by 255)"
        )
    if x.ndim < min_dim:
        raise ValueError(
            f"{name} must have at least {min_dim} dimension(s) (examples first), got shape "
            f"{tuple(x.shape)}"
        )
    if non_empty and (x.ndim == 0 or len(x) == 0):
        raise ValueError(
            f"{name} is empty (shape {tuple(x.shape)}): pass at least one example"
        )
    return x


def intensities(name: str, x: Any, **kwargs) -> torch.Tensor:
    """``x`` as :func:`tensor`, holding values in [0, 1] (grey levels, probabilities)."""
    x = tensor(name, x, **kwargs)
    if _has_values(x):
        low, high = x.min().item(), x.max().item()
        if low < 0 or high > 1:
            hint = ": divide 8-bit pixels by 255" if high > 1 and high <= 255 else ""
            raise ValueError(
                f"{name} must hold intensities in [0, 1], got values in [{low:.3g}, "
                f"{high:.3g}]{hint}"
            )
    return x


def binary(name: str, x: Any, **kwargs) -> torch.Tensor:
    """``x`` as :func:`tensor`, every value 0 or 1."""
    x = tensor(name, x, **kwargs)
    if _has_values(x) and not bool(((x == 0) | (x == 1)).all()):
        raise ValueError(
            f"{name} must be binary (0 or 1): binarize grey levels with "
            "lec16.data.binarize_threshold or binarize_dynamic"
        )
    return x


def labels(
    name: str, y: Any, n: int | None = None, n_classes: int = 10
) -> torch.Tensor:
    """``y`` if it is a 1-D integer tensor (of ``n`` labels, when given) of class indices in
    [0, n_classes); one-hot or float labels get a ValueError that says how to convert them."""
    if not isinstance(y, torch.Tensor):
        raise ValueError(
            f"{name} must be a torch.Tensor of class indices, got {type(y).__name__}"
        )
    if y.is_floating_point() or y.dtype == torch.bool or y.ndim != 1:
        raise ValueError(
            f"{name} must be a 1-D integer tensor of class indices, got dtype {y.dtype} and "
            f"shape {tuple(y.shape)} (one-hot labels: pass {name}.argmax(-1))"
        )
    if n is not None and len(y) != n:
        raise ValueError(f"{name} has {len(y)} labels for {n} examples")
    if _has_values(y):
        low, high = int(y.min()), int(y.max())
        if low < 0 or high >= n_classes:
            raise ValueError(
                f"{name} must lie in 0..{n_classes - 1}, got values from {low} to {high}"
            )
    return y.long()


def like(
    name: str, x: torch.Tensor, reference: torch.Tensor, owner: str
) -> torch.Tensor:
    """``x`` if it has ``reference``'s dtype and device (a model's parameter: ``owner`` names
    the model); otherwise a ValueError that says how to convert it."""
    if x.dtype != reference.dtype or x.device != reference.device:
        raise ValueError(
            f"{name} is {x.dtype} on {x.device} but {owner} is {reference.dtype} on "
            f"{reference.device}; convert it with {name}.to(device={str(reference.device)!r}, "
            f"dtype={reference.dtype})"
        )
    return x


def count(name: str, value: Any, minimum: int = 1) -> int:
    """``value`` if it is an int (not a bool, not a float such as 2.5) of at least
    ``minimum``; otherwise a ValueError."""
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
    return value
