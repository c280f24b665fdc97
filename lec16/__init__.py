"""lec16: companion code for Stat 212b Lecture 16 (deep generative models).

The notebooks under ``notebooks/`` tell the story; this package holds what they share:
device and seed helpers (here), data loading (:mod:`lec16.data`), the run scales
(:mod:`lec16.scales`) and settings (:mod:`lec16.settings`), the training engine
(:mod:`lec16.train`, :mod:`lec16.checkpoints`), results that can fail (:mod:`lec16.results`),
one module per model, and one experiment per chapter (:mod:`lec16.experiments`).
"""

from __future__ import annotations

import random

import numpy as np
import torch

from lec16 import settings
from lec16.scales import (
    SCALES,
    check_seed,
    choose,
    default_scale,
    record_metrics,
)

__all__ = [
    "SCALES",
    "choose",
    "default_scale",
    "device",
    "record_metrics",
    "seed_everything",
]
__version__ = "0.1.0"

_DEVICE_KINDS = ("cuda", "mps", "cpu")


def _mps_available() -> bool:
    return (
        getattr(torch.backends, "mps", None) is not None
        and torch.backends.mps.is_available()
    )


def device() -> torch.device:
    """The device to train on: cuda > mps > cpu, or what ``LEC16_DEVICE`` names.

    ``LEC16_DEVICE`` accepts anything ``torch.device`` does whose kind is cuda, mps or cpu
    (e.g. ``cpu``, ``cuda:1``); asking for an accelerator that is not there is an error
    rather than a silent fall back to the CPU.
    """
    wanted = settings.device_name()
    if not wanted:
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        dev = torch.device(wanted)
    except RuntimeError:
        dev = None
    if dev is None or dev.type not in _DEVICE_KINDS:
        raise ValueError(
            f"LEC16_DEVICE={wanted!r} is not a device; use one of {', '.join(_DEVICE_KINDS)} "
            "(optionally with an index, e.g. cuda:0), or unset it to choose automatically"
        )
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"LEC16_DEVICE={wanted!r} but torch sees no CUDA device; unset LEC16_DEVICE or set it to cpu"
        )
    if dev.type == "mps" and not _mps_available():
        raise ValueError(
            f"LEC16_DEVICE={wanted!r} but MPS is not available; unset LEC16_DEVICE or set it to cpu"
        )
    return dev


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (all devices) so a run can be repeated."""
    check_seed("seed", seed)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds every CUDA device
